#!/usr/bin/env bash
# Set up everything on a fresh machine: bubblewrap (the sandbox), chromium (the report tests) and SLURM with
# munge (the test of `--cluster slurm:N` runs its own one-node SLURM; its daemons are not started here), when
# root on Debian/Ubuntu; a virtual environment in .venv with the pinned CPU torch, the project (editable) with
# its test tools, and the offline course model. Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null 2>&1 \
    || echo "setup: could not install bubblewrap; grading will need --no-sandbox" >&2
fi
# A headless browser for the test that renders the HTML reports (it is skipped without one).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "setup: could not install chromium; the browser test of the reports will be skipped" >&2
fi
if ! command -v slurmctld >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge) >/dev/null 2>&1 \
    || echo "setup: could not install SLURM; the test of --cluster slurm:N will be skipped" >&2
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first and pinned: 2.13.0 is the CPU wheel these machines have on disk; anything else may
# download a multi-GB CUDA build. The constraint keeps later installs from replacing it.
quiet() { "$@" 2>&1 | grep -v -e "^WARNING: Location" -e "^$" || true; }
quiet .venv/bin/pip install -q torch==2.13.0
quiet .venv/bin/pip install -q -c scripts/constraints.txt -e '.[dev]'
.venv/bin/python -c "import grader, reference, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m reference.models build
echo "setup: ok (.venv ready, course model built)"
