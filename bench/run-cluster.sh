#!/bin/sh
# Runs the cluster ingest benchmark (three hydrant nodes on loopback, R3, against one node of
# the same binary in the same run; one stream and three) and appends a dated section to
# bench/RESULTS.md. All nodes share this machine, so it measures the replication cost, not
# scale-out. Flags go through, e.g.:
#   bench/run-cluster.sh                                   # 20 s per configuration
#   bench/run-cluster.sh -duration 5s -results ''          # smoke test
#   bench/run-cluster.sh -profile-dir /tmp/prof            # CPU profiles of every node per load
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/cluster "$@"
