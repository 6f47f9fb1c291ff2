#!/usr/bin/env bash
# Set up a virtual environment and run the whole test suite (what .ci/run calls).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,examples]"
exec .venv/bin/python -m pytest "$@"
