#!/usr/bin/env bash
# Installs the TF.js baseline (npm, into bench/tfjs/node_modules, ignored by git) once, then runs it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/@tensorflow/tfjs-backend-wasm" ]; then
  (cd "$here" && npm install --silent --no-audit --no-fund >/dev/null)
fi
exec node "$here/run.js" "$@"
