#!/usr/bin/env bash
# Galata (Playwright) tests of the JupyterLab extension, headless, with Debian's Chromium.
# Needs the package installed first (bash tests/run.sh does it): JupyterLab and
# jupyter-mlpipe (server extension + prebuilt labextension) in ../../.venv or on PATH.
# Screenshots land in labextension/ui-tests/test-results/.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
if [ -x "$ROOT/.venv/bin/jupyter" ]; then
  export PATH="$ROOT/.venv/bin:$PATH"
fi
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "No Chromium at $CHROMIUM: install Debian's chromium (apt-get install chromium) or set CHROMIUM." >&2
  exit 2
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 CI=${CI:-1} RAY_USAGE_STATS_ENABLED=0
jupyter labextension list 2>&1 | grep -q "jupyter-mlpipe.*enabled" || {
  echo "The jupyter-mlpipe labextension is not installed: run bash tests/run.sh first." >&2
  exit 2
}
jlpm install
exec jlpm playwright test "$@"
