#!/usr/bin/env bash
# Installs the ONNX Runtime baseline (npm onnxruntime-node, into bench/ort/node_modules, ignored by
# git) once, then runs bench/ort/run.js with the arguments given.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/onnxruntime-node" ]; then
  # --ignore-scripts: the package carries its CPU library; its install script only fetches GPU ones
  (cd "$here" && npm install --ignore-scripts --silent --no-audit --no-fund >/dev/null)
fi
exec node "$here/run.js" "$@"
