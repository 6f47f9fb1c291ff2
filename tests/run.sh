#!/usr/bin/env bash
# Set up a virtual environment and run the whole test suite (what .ci/run calls).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# builds the JupyterLab extension from labextension/ (needs Node.js) and installs it
.venv/bin/python -m pip install -q -e ".[test,examples]"
# the prebuilt JupyterLab extension is installed and enabled; its unit tests (Jest) pass
.venv/bin/jupyter labextension list 2>&1 | grep -q "jupyter-mlpipe.*enabled.*OK"
(cd labextension && ../.venv/bin/jlpm install && ../.venv/bin/jlpm test)
# the standalone widget manager for tests/browser/test_widget_manager.py (two pinned npm tarballs)
bash tests/browser/widget-manager/fetch.sh
exec .venv/bin/python -m pytest "$@"
