"""reference.tokenization: minbpe-style byte-level BPE, with the `tokenizers` library as the oracle."""

import json

import pytest

from reference.models.corpus import stories
from reference.tokenization import (
    bytes_to_unicode,
    decode,
    encode,
    get_pair_counts,
    hf_tokenizer_from_merges,
    merge_pair,
    pieces,
    train_bpe,
)

CORPUS = " ".join(stories(200, seed=7))
TEXTS = [
    "Once upon a time, Lily went to the park.",
    "aaabdaaabac",
    "",
    "x",
    'Tom said, "Can I see?"\n\tTabs   and  spaces',
    "Ünïcödé, 漢字 and 😀 emoji",
    "ababababab",
]


def test_get_pair_counts_counts_overlapping_pairs_in_first_occurrence_order():
    counts = get_pair_counts([1, 2, 3, 1, 2])
    assert counts == {(1, 2): 2, (2, 3): 1, (3, 1): 1} and list(counts) == [(1, 2), (2, 3), (3, 1)]
    assert get_pair_counts([5, 5, 5]) == {(5, 5): 2}
    assert get_pair_counts([7]) == {} == get_pair_counts([])


def test_merge_pair_is_non_overlapping_left_to_right():
    assert merge_pair([1, 1, 1, 2], (1, 1), 9) == [9, 1, 2]
    assert merge_pair([1, 1, 1, 1], (1, 1), 9) == [9, 9]
    assert merge_pair([3, 1, 2, 1, 2], (1, 2), 9) == [3, 9, 9]
    ids = [1, 2]
    merge_pair(ids, (1, 2), 9)
    assert ids == [1, 2]  # the input is not modified


def test_train_bpe_hand_computed():
    assert train_bpe("aaabdaaabac", 259) == {(97, 97): 256, (256, 97): 257, (257, 98): 258}


def test_train_bpe_ties_go_to_first_occurrence():
    assert train_bpe("abcd", 257) == {(97, 98): 256}
    assert list(train_bpe("cdab ab cd", 257)) == [(99, 100)]  # (c,d) and (a,b) both occur twice


def test_train_bpe_stops_when_fewer_than_two_ids_remain():
    assert train_bpe("", 300) == {} == train_bpe("a", 300)
    assert train_bpe("ab", 300) == {(97, 98): 256}
    assert train_bpe("aaaa", 300) == {(97, 97): 256, (256, 256): 257}


def test_train_bpe_makes_vocab_size_minus_256_merges_with_consecutive_ids():
    merges = train_bpe(CORPUS, 300)
    assert list(merges.values()) == list(range(256, 300))


def test_encode_applies_the_earliest_learned_merge_first():
    merges = {(98, 99): 256, (97, 98): 257}
    assert encode("abc", merges) == [97, 256]  # not [257, 99]
    assert encode("aaabdaaabac", train_bpe("aaabdaaabac", 259)) == [258, 100, 258, 97, 99]


@pytest.mark.parametrize("text", TEXTS)
def test_encode_decode_round_trip(text):
    merges = train_bpe(CORPUS, 320)
    assert decode(encode(text, merges), merges) == text


def test_decode_replaces_invalid_utf8():
    assert decode([0xE2, 0x82], {}) == "\ufffd"  # two bytes of the three of '€'
    assert decode([0xE2, 0x82, 0xAC], {}) == "€"


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: train_bpe(b"bytes", 300), "text"),
        (lambda: train_bpe("a", 100), "vocab_size"),
        (lambda: train_bpe("a", 300.0), "vocab_size"),
        (lambda: encode(None, {}), "text"),
        (lambda: decode([-1], {}), "ids"),
        (lambda: decode([256], {}), "ids"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        call()


def test_bytes_to_unicode_is_gpt2s_table():
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256
    assert (table[32], table[10], table[ord("a")], table[0]) == ("Ġ", "Ċ", "a", "Ā")


# ----------------------------------------------------------------------------- `tokenizers` as the oracle


@pytest.mark.parametrize("vocab_size", [260, 300, 400])
def test_encode_matches_tokenizers_library_given_same_merges(vocab_size):
    merges = train_bpe(CORPUS, vocab_size)
    hf = hf_tokenizer_from_merges(merges)
    for text in TEXTS + stories(20, seed=99):
        assert encode(text, merges) == hf.encode(text).ids, text


def first_tie(text: str, n_merges: int) -> int:
    """How many merges train_bpe makes before the first step with a tie for the top count."""
    ids = list(text.encode("utf-8"))
    for step in range(n_merges):
        counts = get_pair_counts(ids)
        top = max(counts.values())
        if list(counts.values()).count(top) > 1:
            return step
        pair = max(counts, key=counts.get)
        ids = merge_pair(ids, pair, 256 + step)
    return n_merges


@pytest.mark.parametrize("text, n_merges", [(CORPUS, 60), ("aaabdaaabac", 3), ("ababababa cdcd abab", 10)])
def test_training_matches_tokenizers_library_until_the_first_tie(text, n_merges):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)  # the text is one word
    trainer = trainers.BpeTrainer(
        vocab_size=256 + n_merges,
        special_tokens=[],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([text], trainer=trainer)
    theirs = [
        tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in json.loads(tok.to_str())["model"]["merges"]
    ]
    merges = train_bpe(text, 256 + n_merges)
    b2u, spelled = bytes_to_unicode(), {}
    for i in range(256):
        spelled[i] = b2u[i]
    for (a, b), new_id in merges.items():
        spelled[new_id] = spelled[a] + spelled[b]
    ours = [(spelled[a], spelled[b]) for a, b in merges]
    agree = first_tie(text, n_merges)
    assert agree >= 1 and ours[:agree] == theirs[:agree]


def test_pieces_of_the_course_tokenizer(course_lm):
    _, tok = course_lm
    text = "Once upon a time, Lily went to the park."
    assert "".join(pieces(tok, text)) == text
    assert " the" in pieces(tok, text)
