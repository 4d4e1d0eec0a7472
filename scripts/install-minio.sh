#!/usr/bin/env bash
# Installs the MinIO server the S3 destination tests run against (internal/testenv), into
# $(go env GOPATH)/bin/minio. Idempotent: does nothing when a working binary is already there.
# The version is pinned to one verified to build with this repository's Go toolchain; MinIO's
# RELEASE.* tags are not semver, so the Go proxy serves it as a pseudo-version. The build
# takes about 4 minutes on 2 cores and needs ~2 GB of module cache.
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

bin="$(go env GOPATH | cut -d: -f1)/bin/minio"
if [[ -x "$bin" ]] && "$bin" --version >/dev/null 2>&1; then
  echo "install-minio: $bin present ($("$bin" --version | head -1)); nothing to do"
  exit 0
fi
echo "install-minio: building github.com/minio/minio@${MINIO_VERSION} into $bin"
start=$SECONDS
GOBIN="$(dirname "$bin")" go install "github.com/minio/minio@${MINIO_VERSION}"
"$bin" --version >/dev/null
echo "install-minio: installed $bin in $((SECONDS - start))s"
