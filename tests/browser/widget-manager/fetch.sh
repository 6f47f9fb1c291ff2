#!/usr/bin/env bash
# Fetch the standalone Jupyter widget manager (@jupyter-widgets/html-manager, the manager
# that front ends outside Jupyter build on) and RequireJS from the npm registry into vendor/,
# for tests/browser/test_widget_manager.py. Only the two packages' own files are needed
# (dist/embed-amd.js is a self-contained bundle), so `npm pack` fetches their tarballs alone;
# the versions and their sha512 are pinned here.
set -euo pipefail
cd "$(dirname "$0")"
PINNED=(
  "@jupyter-widgets/html-manager@1.0.15 html-manager sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA=="
  "requirejs@2.3.8 requirejs sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw=="
)
mkdir -p vendor
for entry in "${PINNED[@]}"; do
  read -r spec dir integrity <<<"$entry"
  if [ -f "vendor/$dir/.integrity" ] && [ "$(cat "vendor/$dir/.integrity")" = "$integrity" ]; then
    continue
  fi
  tmp=$(mktemp -d)
  got=$(cd "$tmp" && npm pack --silent --json "$spec" | python3 -c "import json,sys; d=json.load(sys.stdin)[0]; print(d['filename'], d['integrity'])")
  read -r file sum <<<"$got"
  if [ "$sum" != "$integrity" ]; then
    echo "fetch.sh: $spec has integrity $sum, expected $integrity" >&2
    rm -rf "$tmp"
    exit 1
  fi
  rm -rf "vendor/$dir" && mkdir -p "vendor/$dir"
  tar -xzf "$tmp/$file" -C "vendor/$dir" --strip-components=1
  echo "$integrity" >"vendor/$dir/.integrity"
  rm -rf "$tmp"
done
