#!/usr/bin/env bash
# A separate virtual environment with nbgrader 0.9.6 + nbconvert for bench/speed.py (the peer baseline).
# The recipe: torch==2.13.0 first (the local CPU wheel;
# never another torch), then nbgrader, nbconvert and ipykernel under a constraint that keeps that torch.
# Everything lives in .bench/ (git-ignored): the venv and the Jupyter/IPython state dirs. Idempotent.
#
#   bash bench/nbgrader_setup.sh          # then: .venv/bin/python bench/speed.py
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=$PWD/.bench
VENV=$BENCH/nbgrader-venv
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$BENCH"
if [ -x "$VENV/bin/nbgrader" ] && "$VENV/bin/nbgrader" --version 2>/dev/null | grep -q '0\.9\.6'; then
  echo "nbgrader_setup: $VENV already has nbgrader 0.9.6"
  exit 0
fi
# pip's notes about the extra local indexes, and torch's "no numpy" warning, are noise here
quiet() { "$@" 2>&1 | grep -v -e "^WARNING: Location" -e "Failed to initialize NumPy" -e "_conversion_method_template" -e "^$" || true; }
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
quiet "$VENV/bin/pip" install -q torch==2.13.0
echo 'torch==2.13.0+cpu' >"$BENCH/torch-pin.txt"    # guard: no other torch may be pulled in
quiet "$VENV/bin/pip" install -q -c "$BENCH/torch-pin.txt" nbgrader==0.9.6 nbconvert ipykernel
"$VENV/bin/python" -W ignore -c "import torch, nbgrader, nbconvert; assert torch.__version__ == '2.13.0+cpu', torch.__version__"
echo "nbgrader_setup: ok ($("$VENV/bin/nbgrader" --version 2>/dev/null | tail -1), $VENV)"
