"""reference.retrieval: chunking, similarity, retrieval, prompts and a small end-to-end RAG."""

import pytest
import torch
import torch.nn.functional as F

from reference.retrieval import (
    build_prompt,
    chunk_text,
    cosine_similarity,
    course_embedder,
    rag_answer,
    retrieve,
)
from reference.sampling import generate

WORDS = "a b c d e f"


@pytest.mark.parametrize(
    "text, size, overlap, expected",
    [
        ("a b c d e", 3, 1, ["a b c", "c d e"]),
        (WORDS, 3, 1, ["a b c", "c d e", "e f"]),
        (WORDS, 2, 0, ["a b", "c d", "e f"]),
        (WORDS, 10, 3, [WORDS]),
        (WORDS, 4, 3, ["a b c d", "b c d e", "c d e f"]),
        ("  a\n\tb   c ", 2, 0, ["a b", "c"]),
        ("", 3, 1, []),
        (" \n\t ", 3, 1, []),
    ],
)
def test_chunk_text(text, size, overlap, expected):
    assert chunk_text(text, size, overlap) == expected


def test_chunks_cover_every_word_in_order():
    words = [f"w{i}" for i in range(103)]
    chunks = chunk_text(" ".join(words), 10, 4)
    assert chunks[-1].split()[-1] == "w102" and chunks[0].split() == words[:10]
    assert all(len(c.split()) == 10 for c in chunks[:-1])


@pytest.mark.parametrize(
    "size, overlap, name",
    [(0, 0, "chunk_size"), (3, 3, "overlap"), (3, -1, "overlap"), (2.0, 0, "chunk_size")],
)
def test_chunk_text_rejects_bad_sizes(size, overlap, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        chunk_text(WORDS, size, overlap)


def test_cosine_similarity_matches_torch():
    g = torch.Generator().manual_seed(0)
    q, docs = torch.randn(16, generator=g), torch.randn(9, 16, generator=g)
    torch.testing.assert_close(cosine_similarity(q, docs), F.cosine_similarity(q[None], docs, dim=-1))
    torch.testing.assert_close(
        cosine_similarity(torch.tensor([1.0, 0.0]), torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]])),
        torch.tensor([1.0, 0.0, -1.0]),
    )


def test_cosine_similarity_of_a_zero_vector_is_zero():
    out = cosine_similarity(torch.tensor([1.0, 2.0]), torch.tensor([[0.0, 0.0], [1.0, 2.0]]))
    torch.testing.assert_close(out, torch.tensor([0.0, 1.0]))


def test_retrieve_orders_by_similarity_and_breaks_ties_by_index():
    docs = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [1.0, 1.0]])
    assert retrieve(torch.tensor([1.0, 0.0]), docs, 3) == [1, 2, 3]
    assert retrieve(torch.tensor([1.0, 0.0]), docs, 10) == [1, 2, 3, 0]
    with pytest.raises(ValueError, match="`k`"):
        retrieve(torch.tensor([1.0, 0.0]), docs, 0)


def test_build_prompt_puts_contexts_in_order_before_the_question():
    prompt = build_prompt("Who has the kite?", ["Mia has the kite.", "Tom has a ball."])
    assert prompt == "Context:\nMia has the kite.\nTom has a ball.\n\nQuestion: Who has the kite?\nAnswer:"
    assert build_prompt("Q?", []) == "Context:\n\nQuestion: Q?\nAnswer:"


def keyword_embedder(vocabulary=("kite", "ball", "park", "cake", "dog")):
    """A transparent embedder for tests: counts of a few keywords."""

    def embed(texts):
        return torch.tensor([[t.lower().count(w) for w in vocabulary] for t in texts], dtype=torch.float32)

    return embed


DOCS = [
    "Tom went to the park with his dog.",
    "Mia found a red kite.",
    "Ben ate the cake.",
    "Lily has a kite and a ball.",
]


def test_rag_answer_is_the_greedy_continuation_of_the_retrieved_prompt(course_lm):
    model, tok = course_lm
    answer = rag_answer("Who has a kite?", DOCS, keyword_embedder(), model, tok, k=2, max_new_tokens=15)
    prompt = build_prompt("Who has a kite?", [DOCS[1], DOCS[3]])  # the kite documents, lower index first
    ids = tok(prompt, return_tensors="pt").input_ids
    expected = generate(model, ids, 15, eos_token_id=tok.eos_token_id)
    assert answer == tok.decode(expected[0, ids.size(1) :], skip_special_tokens=True) and answer.strip()


def test_course_embedder(course_lm):
    embed = course_embedder(*course_lm)
    e = embed(DOCS + [DOCS[2]])
    assert e.shape == (5, course_lm[0].config.n_embd) and torch.isfinite(e).all()
    assert torch.equal(e[2], e[4])
    assert retrieve(e[2], e[:4], 1) == [2]


def test_duplicate_documents_tie_exactly_and_go_to_the_lower_index():
    """A matrix-vector product can make equal rows differ by an ulp; the reference must not."""
    for seed in range(200):
        g = torch.Generator().manual_seed(seed)
        q, docs = torch.randn(6, generator=g), torch.randn(7, 6, generator=g)
        docs[5] = docs[2]
        sims = cosine_similarity(q, docs)
        assert sims[5] == sims[2]
        top = retrieve(q, docs, 7)
        assert top.index(2) < top.index(5)
