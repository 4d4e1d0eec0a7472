#!/bin/sh
# Runs the lease benchmark (bench/leases): the current internal/lease at 5,000 and 50,000
# streams, then the design it replaced (per-stream renewal, revision OLD) at 2,000 and 5,000 in
# a temporary git worktree, and appends one section with every row to bench/RESULTS.md.
#   bench/run-leases.sh                                  # full run, about 10 minutes
#   STREAMS=2000 OLD_STREAMS=1000 bench/run-leases.sh -window 6s   # smoke test
set -eu
cd "$(dirname "$0")/.."
OLD=${OLD:-855dfc2}
STREAMS=${STREAMS:-5000 50000}
OLD_STREAMS=${OLD_STREAMS:-2000 5000}
RESULTS=${RESULTS:-bench/RESULTS.md}
export GOWORK=off
rows=$(mktemp)
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt/old" >/dev/null 2>&1 || true; rm -rf "$rows" "$wt"' EXIT
for n in $STREAMS; do
	go run ./bench/leases -streams "$n" -row "$rows" "$@"
done
git worktree add --detach "$wt/old" "$OLD" >/dev/null 2>&1
mkdir -p "$wt/old/bench/leases"
cp bench/leases/main.go "$wt/old/bench/leases/"
for n in $OLD_STREAMS; do
	(cd "$wt/old" && go run ./bench/leases -design "per-stream renewal" -rev "$OLD" -lease-ttl 6s -streams "$n" -row "$rows" "$@")
done
go run ./bench/leases -report "$RESULTS" -rows "$rows"
