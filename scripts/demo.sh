#!/usr/bin/env bash
# Quick start: set up, then grade the bundled example submissions of 03-sampling into out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
rm -rf out/demo
.venv/bin/grader grade assignments/03-sampling assignments/03-sampling/examples --out out/demo "$@"
echo "reports: out/demo/reports/  gradebook: out/demo/gradebook.csv"
