#!/bin/sh
# Runs the S3 delivery benchmark (hydrant → MinIO, UNCOMPRESSED and GZIP, next to the machine's
# own gzip and PutObject rates) and appends a dated section to bench/RESULTS.md. Flags go
# through, e.g.:
#   bench/run-s3.sh                                                     # full run: 30 s per format
#   bench/run-s3.sh -duration 3s -natural-duration 2s -interval 5 -size-mb 8 \
#       -baseline-mb 8 -baseline-time 500ms -put-objects 2 -results ''  # smoke test
# It needs a minio binary: $HYDRANT_MINIO, $(go env GOPATH)/bin/minio (scripts/install-minio.sh)
# or minio on PATH.
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/s3 "$@"
