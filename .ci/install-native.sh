#!/usr/bin/env bash
# CI: install the native TensorFlow backend (CPU) from the tensorflow-cpu wheel, the same way a
# user does with `npx iwsft backend install`. Needs only the package registries (PyPI for the
# wheel, npm for tfjs-node's sources, Debian for build tools). Idempotent: an install in the
# cache that still verifies is kept (about 3 s). Run from anywhere, as root on a fresh machine,
# after `npm ci`. The cache is ${IWSFT_CACHE_DIR:-~/.cache/iwsft}; Python is needed to build
# (node-gyp runs gyp with it), not to run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

echo "== build tools for the native binding"
need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v make >/dev/null 2>&1 || need+=(make)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v tar >/dev/null 2>&1 || need+=(tar)
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ ! -f "$node_prefix/include/node/node_api.h" ] && [ ! -f /usr/include/node/node_api.h ] && [ ! -f /usr/local/include/node/node_api.h ]; then
  # Node.js from NodeSource or nodejs.org ships its headers; Debian's nodejs needs libnode-dev.
  need+=(libnode-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing build tools: ${need[*]} (install them, e.g. apt-get install -y ${need[*]})" >&2
    exit 1
  fi
fi
npm_gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
if [ ! -f "$npm_gyp" ] && ! command -v node-gyp >/dev/null 2>&1; then
  echo "installing node-gyp (npm has no bundled copy here)"
  npm install -g --no-audit --no-fund node-gyp
fi

echo "== iwsft backend install"
# The same command as `npx iwsft backend install`; -j2 keeps the build to the 2 CI cores.
node bin/iwsft.mjs backend install --jobs 2 "$@"

echo "== iwsft backend status"
node bin/iwsft.mjs backend status
echo "native backend ready in $(( $(date +%s) - start )) s"
