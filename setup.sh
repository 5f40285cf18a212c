#!/usr/bin/env bash
# Set up a virtual environment in .venv, install tfpose3d with its test extras,
# then run the main job on the embedded data.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/tfpose3d --version
.venv/bin/tfpose3d model summary --preset cpu-quick
