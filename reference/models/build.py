"""Build the course language model: a byte-level BPE tokenizer and a tiny GPT-2, trained here.

The recipe (all of it deterministic, so two builds give byte-identical files):
1. Generate the corpus with corpus.stories(N_STORIES, seed=0).
2. Train a byte-level BPE tokenizer with the `tokenizers` library (GPT-2's byte-to-unicode
   alphabet, vocabulary VOCAB_SIZE including `<|endoftext|>`, which is bos, eos and pad).
3. Train a 2-layer, 64-dim GPT-2 (transformers' GPT2LMHeadModel) with AdamW for a fixed number
   of steps on random windows of the tokenized corpus, one CPU thread, seeded.
4. save_pretrained() both into a folder that AutoModelForCausalLM / AutoTokenizer load.

Sources: the GPT-2 architecture (Radford et al., 2019) as implemented by transformers; the
training loop follows karpathy/nanoGPT train.py, reduced to its core.

subtle: byte-identical output needs the same torch version and one thread (the reduction order
of a matmul depends on the thread count); set_num_threads(1) is applied during the build and
restored afterwards.
"""

from pathlib import Path

import torch

from reference.models import DEFAULT_STEPS
from reference.models.corpus import stories

EOS = "<|endoftext|>"
N_STORIES = 4000
VOCAB_SIZE = 512
BLOCK_SIZE = 128  # training window; the model has N_POSITIONS >= BLOCK_SIZE positions
N_POSITIONS = 256
BATCH_SIZE = 16
LEARNING_RATE = 3e-3
SEED = 0


def train_tokenizer(texts: list[str]):
    """A byte-level BPE tokenizer trained on texts, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[EOS],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=EOS,
        eos_token=EOS,
        unk_token=EOS,
        pad_token=EOS,
        clean_up_tokenization_spaces=False,
    )


def new_model(vocab_size: int):
    """An untrained tiny GPT-2 (about 150k parameters), without dropout."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=N_POSITIONS,
        n_embd=64,
        n_layer=2,
        n_head=4,
        n_inner=256,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"  # the default; set so that transformers does not warn about it
    return model


def train(model, data: torch.Tensor, steps: int, seed: int = SEED) -> list[float]:
    """AdamW on random (BATCH_SIZE, BLOCK_SIZE) windows of data (N,) int64; returns the losses."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    model.train()
    losses = []
    for step in range(steps):
        lr = LEARNING_RATE * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * step / steps)).item())
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, data.numel() - BLOCK_SIZE, (BATCH_SIZE,), generator=gen)  # (B,)
        x = torch.stack([data[s : s + BLOCK_SIZE] for s in starts.tolist()])  # (B, T)
        loss = model(input_ids=x, labels=x).loss  # HF shifts the labels by one inside
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses


def _make_readable(folder: Path) -> None:
    """World-readable files: the sandboxed kernel runs as another user and reads the model."""
    folder.chmod(0o755)
    for f in folder.iterdir():
        f.chmod(0o644)


def build_course_lm(out_dir: Path, steps: int = DEFAULT_STEPS) -> Path:
    """Train the course model and tokenizer and save both into out_dir (created); returns out_dir."""
    out_dir = Path(out_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(SEED)
        texts = stories(N_STORIES, seed=SEED)
        tokenizer = train_tokenizer(texts)
        eos_id = tokenizer.convert_tokens_to_ids(EOS)
        ids = [i for enc in tokenizer(texts)["input_ids"] for i in enc + [eos_id]]
        model = new_model(len(tokenizer))
        losses = train(model, torch.tensor(ids, dtype=torch.long), steps)
        model.generation_config.pad_token_id = eos_id
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        (out_dir / "training.txt").write_text(
            f"steps {steps}, tokens {len(ids)}, loss first {losses[0]:.4f} last {losses[-1]:.4f}\n"
        )
        _make_readable(out_dir)
    finally:
        torch.set_num_threads(threads)
    return out_dir
