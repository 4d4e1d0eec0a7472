#!/usr/bin/env bash
# Sets up what the tests need on a fresh machine, then runs every test of every module.
# Under this script (and in CI) tests whose external tool is missing fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

export HYDRANT_REQUIRE_TOOLS=1
# Each module is tested with its own go.mod: the go.work that ties them together for
# development would otherwise resolve the server's dependencies to Beam's versions.
export GOWORK=off
GOTESTSUM_VERSION=v1.13.0

# Debian packages used by the tests: independent decoders (gzip, unzip, python-snappy,
# snappy-java with a JDK to run it) and a real browser for the console.
apt_packages=(gzip unzip python3 python3-snappy libsnappy-java chromium)
command -v javac >/dev/null || apt_packages+=(default-jdk-headless)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The AWS CLI and boto3 drive the end-to-end tests (preinstalled on the project's machines).
for tool in aws python3; do
  command -v "$tool" >/dev/null || { echo "setup: $tool is required by the end-to-end tests" >&2; exit 1; }
done

gobin="$(go env GOPATH)/bin"
if ! "$gobin/gotestsum" --version 2>/dev/null | grep -q "${GOTESTSUM_VERSION#v}"; then
  echo "setup: installing gotestsum $GOTESTSUM_VERSION"
  go install "gotest.tools/gotestsum@${GOTESTSUM_VERSION}"
fi

# A real S3-compatible server for the S3 destination tests (built once, cached in GOPATH/bin).
./scripts/install-minio.sh
./scripts/install-kinesis.sh

go build ./...
results=$(mktemp -d)
status=0
"$gobin/gotestsum" --jsonfile "$results/main.json" --format pkgname-and-test-fails -- -count=1 -timeout 20m ./... "$@" || status=$?
# The Apache Beam sink is its own module (firehoseio/go.mod): vet and test it there.
(cd firehoseio && go vet ./... && "$gobin/gotestsum" --jsonfile "$results/firehoseio.json" --format pkgname-and-test-fails -- -count=1 -timeout 20m ./...) || status=$?

# One closing line for both modules.
python3 - "$results"/*.json <<'PY'
import json, sys
counts = {"pass": 0, "fail": 0, "skip": 0}
for path in sys.argv[1:]:
    for line in open(path):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("Test") and ev.get("Action") in counts:
            counts[ev["Action"]] += 1
print(f"tests: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
PY
rm -rf "$results"
exit "$status"
