#!/usr/bin/env bash
# The console's modules (web/js) checked by ESLint and Prettier (pinned in tests/js). Exit 77
# (skipped) where scripts/setup has not fetched them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
web=$(cd "$here/../../web" && pwd)
if [ ! -x "$here/node_modules/.bin/eslint" ] || [ ! -x "$here/node_modules/.bin/prettier" ]; then
  echo "ESLint or Prettier missing: run scripts/setup"; exit 77
fi
cd "$web/.."
"$here/node_modules/.bin/eslint" -c "$here/eslint.config.js" --max-warnings 0 web/js
"$here/node_modules/.bin/prettier" --config "$here/.prettierrc.json" --check web/js web/app.css
echo "console lint: ESLint and Prettier clean over $(find "$web/js" -name '*.js' | wc -l) modules"
