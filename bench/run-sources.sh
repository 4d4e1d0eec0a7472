#!/bin/sh
# Runs the source read benchmark (Hydrant's Kinesis reader on one kinesis-local and one moto
# shard, its Kafka reader on one kfake partition, each next to a bare client reading the same
# records in the same run) and appends a dated section to bench/RESULTS.md. Flags go
# through, e.g.:
#   bench/run-sources.sh                                            # 50,000 records per Kinesis shard, 200,000 Kafka
#   bench/run-sources.sh -records 5000 -kafka-records 20000 -results ''   # smoke test
# It needs node with kinesis-local (scripts/install-kinesis.sh) and moto_server.
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/sources "$@"
