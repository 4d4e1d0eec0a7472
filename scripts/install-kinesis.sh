#!/usr/bin/env bash
# Installs the Kinesis-compatible servers the source tests run against (internal/testenv):
# the npm packages kinesis-local (kinesis-mock compiled to JavaScript) and kinesalite, into
# ${HYDRANT_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hydrant/npm}, outside the repository.
# Idempotent and quiet when both are already installed. moto_server (the third server) is
# preinstalled on the project's machines; the script only checks that it exists.
set -euo pipefail

dir="${HYDRANT_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hydrant/npm}"
packages=(kinesis-local kinesalite)

missing=()
for p in "${packages[@]}"; do
  [[ -f "$dir/node_modules/$p/package.json" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  if ! command -v npm >/dev/null; then
    echo "setup: installing nodejs and npm (Debian) for ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  fi
  echo "setup: installing ${missing[*]} into $dir"
  start=$SECONDS
  mkdir -p "$dir"
  [[ -f "$dir/package.json" ]] || echo '{"private": true}' >"$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "${missing[@]}" >/dev/null
  echo "setup: installed ${missing[*]} in $((SECONDS - start))s"
fi

command -v moto_server >/dev/null || { echo "setup: moto_server is required by the Kinesis source tests (pip install 'moto[server]')" >&2; exit 1; }
