#!/bin/sh
# Runs the delivery benchmark: a plain stream, JQ partitioning over 1,000 customers, the memory
# and flush of 5,000 active partitions, the flush of 5,000 partitions to the local directory and
# to MinIO with writesPerStream 1 and with the default (fresh servers, in turn, two rounds), and
# Lambda batching of 10,000 single-record puts; it appends a dated section to bench/RESULTS.md.
# Flags go through, e.g.:
#   bench/run-partition.sh                                        # full run: 20 s loads
#   bench/run-partition.sh -duration 3s -customers 100 -mem-customers 300 -mem-mb 10 \
#       -flush-rounds 1 -lambda-records 500 -results ''           # smoke test
#   bench/run-partition.sh -phases jq -profile bench/out          # CPU profile of hydrant under JQ
#   bench/run-partition.sh -phases flush,lambda                   # only the new phases
# The flush phase's s3 target needs a minio binary: $HYDRANT_MINIO, $(go env GOPATH)/bin/minio
# (scripts/install-minio.sh) or minio on PATH; -flush-targets local skips it.
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/partition "$@"
