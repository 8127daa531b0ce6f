#!/usr/bin/env bash
# Set up everything on a fresh machine: a virtual environment in .venv with the pinned CPU torch,
# the project (editable) and its test tools, and the offline course models.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first and pinned: 2.13.0 is the CPU wheel these machines have on disk; anything else may
# download a multi-GB CUDA build. The constraint keeps later installs from replacing it.
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -c scripts/constraints.txt -e '.[dev]'
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m reference.models build >/dev/null
echo "setup: ok (.venv ready, course models built)"
