"""Byte-level byte-pair encoding (BPE), the way GPT-2's tokenizer works, without the regex split.

Start from the UTF-8 bytes of the text (ids 0..255) and repeatedly replace the most frequent
adjacent pair of ids by a new id (256, 257, ...). The merges, in the order they were made, are
the tokenizer. Example with text "aaabdaaabac" and vocab_size 259:

    merges = {(97, 97): 256, (256, 97): 257, (257, 98): 258}     # "aa", "aaa", "aaab"
    encode("aaabdaaabac", merges) == [258, 100, 258, 97, 99]

Sources: karpathy/minbpe (minbpe/base.py get_stats/merge, minbpe/basic.py train/encode/decode);
GPT-2's byte-to-unicode table (openai/gpt-2 src/encoder.py), used to hand our merges to the
Hugging Face `tokenizers` library as an oracle.

subtle: training ties. When two pairs are equally frequent we take the one that occurs first in
the current sequence (minbpe's rule: Python's max() returns the first maximum in dict order, and
the counts dict is in order of first occurrence). The `tokenizers` library breaks ties by its own
internal ids instead, so its merges may differ from ours after the first tie.
"""

from collections import Counter


def _check_ids(ids) -> None:
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
        raise ValueError(f"`ids` has to be a list of non-negative integers, but is {ids!r:.80}")


def get_pair_counts(ids: list[int]) -> dict[tuple[int, int], int]:
    """How often each adjacent pair occurs (overlapping), keys in order of first occurrence.

    get_pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    """
    return dict(Counter(zip(ids, ids[1:], strict=False)))  # Counter keeps insertion (first occurrence) order


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each occurrence of pair by new_id, non-overlapping, left to right (a new list).

    merge_pair([1, 1, 1, 2], (1, 1), 9) == [9, 1, 2]
    """
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_bpe(text: str, vocab_size: int) -> dict[tuple[int, int], int]:
    """Learn vocab_size - 256 merges from text; returns {pair: new_id} in the order made.

    Stops early when fewer than two ids remain (nothing left to merge).
    """
    if not isinstance(text, str):
        raise ValueError(f"`text` has to be a str, but is {type(text).__name__}")
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < 256:
        raise ValueError(f"`vocab_size` has to be an integer >= 256 (the byte alphabet), but is {vocab_size!r}")
    ids = list(text.encode("utf-8"))
    merges = {}
    for new_id in range(256, vocab_size):
        if len(ids) < 2:
            break
        counts = get_pair_counts(ids)
        pair = max(counts, key=counts.get)  # subtle: ties go to the pair seen first
        merges[pair] = new_id
        ids = merge_pair(ids, pair, new_id)
    return merges


def encode(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """Token ids of text: its UTF-8 bytes, then the earliest-learned merge present, repeatedly."""
    if not isinstance(text, str):
        raise ValueError(f"`text` has to be a str, but is {type(text).__name__}")
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        counts = get_pair_counts(ids)
        pair = min(counts, key=lambda p: merges.get(p, float("inf")))  # the lowest new id
        if pair not in merges:
            break  # no pair present can be merged any more
        ids = merge_pair(ids, pair, merges[pair])
    return ids


def vocab_bytes(merges: dict[tuple[int, int], int]) -> dict[int, bytes]:
    """The bytes each id stands for: 0..255 are single bytes, a merge concatenates its pair."""
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), new_id in sorted(merges.items(), key=lambda item: item[1]):  # parents first
        vocab[new_id] = vocab[a] + vocab[b]
    return vocab


def decode(ids: list[int], merges: dict[tuple[int, int], int]) -> str:
    """The text of ids. subtle: a token may hold part of a UTF-8 character, so decoding a slice
    of ids can give invalid UTF-8; those bytes become U+FFFD (errors="replace")."""
    _check_ids(ids)
    vocab = vocab_bytes(merges)
    unknown = [i for i in ids if i not in vocab]
    if unknown:
        raise ValueError(f"`ids` contains ids that are neither bytes nor merges: {unknown[:5]}")
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------- looking at real tokenizers


def pieces(tokenizer, text: str) -> list[str]:
    """The text pieces a Hugging Face tokenizer cuts text into, one string per token.

    pieces(gpt2_tokenizer, "Hello world") == ["Hello", " world"]. A piece that holds only part of
    a multi-byte character shows as U+FFFD.
    """
    ids = tokenizer.encode(text, add_special_tokens=False)
    return [tokenizer.decode([i]) for i in ids]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable characters (space -> 'Ġ')."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars, n = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:  # control characters, space, etc. are shifted past 255
            chars[b] = chr(256 + n)
            n += 1
    return chars


def hf_tokenizer_from_merges(merges: dict[tuple[int, int], int]):
    """A `tokenizers.Tokenizer` that applies our merges (ids identical to ours), as an oracle.

    subtle: `tokenizers` needs one string per id; two merges spelling the same bytes (e.g. (a, bc)
    and (ab, c)) cannot both be represented, and this raises ValueError.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    b2u = bytes_to_unicode()
    spelled = {i: "".join(b2u[b] for b in bs) for i, bs in vocab_bytes(merges).items()}
    if len(set(spelled.values())) != len(spelled):
        raise ValueError("`merges` spell the same bytes with two ids; `tokenizers` cannot represent that")
    vocab = {s: i for i, s in spelled.items()}
    hf_merges = [(spelled[a], spelled[b]) for (a, b), _ in sorted(merges.items(), key=lambda it: it[1])]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=hf_merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)  # no split
    tok.decoder = decoders.ByteLevel()
    return tok
