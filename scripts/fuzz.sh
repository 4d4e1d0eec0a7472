#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME (default 60s) each, one after the other,
# and keeps what the fuzzer found new: the inputs it added to its cache are copied into the
# package's testdata/fuzz/<Target>/, where `go test` replays them as seeds ever after.
#   scripts/fuzz.sh                         # every target, 60 s each
#   FUZZTIME=10m scripts/fuzz.sh ./internal/sigv4 ./internal/prefix
#   FUZZ_KEEP=0 scripts/fuzz.sh             # do not copy new inputs into testdata
#   FUZZ_ONLY='^FuzzParse$' scripts/fuzz.sh ./internal/prefix   # only the targets matching
# A failure stops the run and leaves the failing input in testdata/fuzz (go test's own doing).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOWORK=off
fuzztime=${FUZZTIME:-60s}
keep=${FUZZ_KEEP:-1}
maxkeep=${FUZZ_MAX_KEEP:-200} # inputs kept per target, the smallest first
cache=$(go env GOCACHE)/fuzz
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
  mapfile -t pkgs < <(go list ./...)
fi
for pkg in "${pkgs[@]}"; do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  import=$(go list -f '{{.ImportPath}}' "$pkg")
  for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E "${FUZZ_ONLY:-.}" || true); do
    echo "== $import $f for $fuzztime"
    start=$(date +%s)
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$fuzztime" -parallel "${FUZZ_PARALLEL:-1}" "$pkg" 2>&1 | tail -n 3
    echo "   took $(( $(date +%s) - start )) s"
    if [ "$keep" = 1 ] && [ -d "$cache/$import/$f" ]; then
      mkdir -p "$dir/testdata/fuzz/$f"
      have=$(find "$dir/testdata/fuzz/$f" -type f | wc -l)
      room=$(( maxkeep - have ))
      if [ "$room" -gt 0 ]; then
        # The smallest new inputs first: they are the clearest seeds.
        # (head closes the pipe early: its writers' SIGPIPE is expected, not a failure.)
        { find "$cache/$import/$f" -type f -printf '%s %p\n' | sort -n | head -n "$room" || true; } | while read -r _ p; do
          cp -n "$p" "$dir/testdata/fuzz/$f/"
        done
      fi
      echo "   corpus: $(find "$dir/testdata/fuzz/$f" -type f | wc -l) inputs in ${dir#"$PWD"/}/testdata/fuzz/$f"
    fi
  done
done
