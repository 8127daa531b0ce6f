#!/usr/bin/env bash
# Grading speed vs nbgrader and vs plain notebook execution, one table (see bench/speed.py's docstring).
#   bash bench/speed.sh            # N = 40 submissions, about 15 minutes on 2 cores
#   bash bench/speed.sh --quick    # N = 8, one repetition: about 5 minutes
#   bash bench/speed.sh --n 20     # any bench/speed.py option (--n, --reps, --skip, --quick)
# Needs scripts/setup.sh done (.venv, course model); installs nbgrader into .bench/nbgrader-venv once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/nbgrader_setup.sh >&2
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python bench/speed.py "$@"
