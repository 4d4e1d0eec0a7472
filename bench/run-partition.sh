#!/bin/sh
# Runs the dynamic partitioning benchmark (a plain stream, then JQ partitioning over 1,000
# customers, then the memory of 5,000 active partitions) and appends a dated section to
# bench/RESULTS.md. Flags go through, e.g.:
#   bench/run-partition.sh                                        # full run: 20 s loads
#   bench/run-partition.sh -duration 3s -customers 100 -mem-customers 300 -mem-mb 10 -results ''   # smoke test
#   bench/run-partition.sh -phases jq -profile bench/out          # CPU profile of hydrant under JQ
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/partition "$@"
