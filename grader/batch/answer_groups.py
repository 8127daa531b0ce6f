"""Answer groups: identical and near-identical answers together, so that a TA grades a group once.

Two answers are in one group when their normalized texts (lower case, Markdown punctuation and extra spaces
dropped) are equal, or nearly equal: ``difflib``'s similarity ratio at least :data:`NEAR` (a typo, a reworded
word). Blank and missing answers form a group of their own. A TA can take an answer out of its group (a split);
the gradebook remembers it (:meth:`grader.batch.reviews.Reviews.split`). Grouping is deterministic: answers are
taken in student order and each joins the first group whose first member it matches.
"""

from __future__ import annotations

import difflib
import re

NEAR = 0.9  # difflib ratio from which two answers count as near-identical
_MARKUP = re.compile(r"[`*_#>\[\]()~|-]+")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """What grouping compares: lower case, no Markdown punctuation, single spaces."""
    return _SPACE.sub(" ", _MARKUP.sub(" ", text.lower())).strip()


def group_answers(answers: list[tuple[str, str]], split: set[str] = frozenset()) -> dict[str, str]:
    """``answers``: (student id, text) in student order; return student id -> group key (the first member's id).

    Students in ``split`` are each a group of their own."""
    groups: list[tuple[str, str, difflib.SequenceMatcher]] = []  # (key, normalized text, its matcher)
    exact: dict[str, str] = {}
    out = {}
    for sid, text in answers:
        if sid in split:
            out[sid] = sid
            continue
        norm = normalize(text)
        if norm in exact:
            out[sid] = exact[norm]
            continue
        key = _near(norm, groups) or sid
        if key == sid:
            matcher = difflib.SequenceMatcher(None, autojunk=False)
            matcher.set_seq2(norm)
            groups.append((sid, norm, matcher))
        exact[norm] = out[sid] = key
    return out


def _near(norm: str, groups) -> str | None:
    """The key of the first group whose first answer is near-identical to ``norm``."""
    if not norm:
        return None
    for key, other, matcher in groups:
        if not other or min(len(norm), len(other)) < NEAR * max(len(norm), len(other)):
            continue
        matcher.set_seq1(norm)
        if matcher.real_quick_ratio() >= NEAR and matcher.quick_ratio() >= NEAR and matcher.ratio() >= NEAR:
            return key
    return None
