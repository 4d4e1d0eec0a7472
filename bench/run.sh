#!/bin/sh
# Runs the ingest benchmark (Hydrant vs moto, same aws-sdk-go-v2 client code) and appends a
# dated section to bench/RESULTS.md. Flags go through, e.g.:
#   bench/run.sh                                   # full run: 30 s Hydrant, 10 s moto
#   bench/run.sh -duration 5s -moto-duration 3s -natural-duration 2s -results ''   # smoke test
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/ingest "$@"
