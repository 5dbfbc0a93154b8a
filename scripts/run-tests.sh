#!/usr/bin/env bash
# Install gradebot with its test dependencies into .venv and run the whole suite.
# Extra arguments go to pytest, e.g. `scripts/run-tests.sh -k drive -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
.venv/bin/python -m pytest "$@"
