#!/bin/sh
# Runs the many-streams benchmark (5,000 streams created under load, idle memory, restart) and
# appends a dated section to bench/RESULTS.md. Flags go through, e.g.:
#   bench/run-streams.sh                              # full run
#   bench/run-streams.sh -streams 500 -idle 5s -results ''   # smoke test
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/streams "$@"
