"""Grading a retrieval-augmented generation pipeline on what it does, whatever its prompt's wording.

The student's ``rag_answer(question, documents, embed, model, tokenizer, k, max_new_tokens)`` runs in the
kernel with a lookup ``embed`` (it knows exactly the question and the documents) and a tokenizer that
records every text it tokenizes. On the host:

1. the case's reference, ``reference.retrieval:expected_contexts``, retrieves the top-k documents with the
   reference's cosine retrieval on the same embeddings;
2. :func:`judge` finds the student's prompt (the last tokenized text that contains the question) and
   checks that it holds every retrieved document, in retrieval order, before the question, and no other
   document (a pipeline that skips retrieval puts all or none of them there);
3. the answer must equal the greedy continuation of that prompt by the reference decoder, with or without
   stopping at the end-of-text token, compared after stripping surrounding whitespace.
"""

from __future__ import annotations

import torch

from grader.compare.rules import PromptCompare, RagCompare
from grader.compare.verdict import PASS, CallContext, Verdict


def judge_prompt(rule: PromptCompare, parts: dict, prompt, context: CallContext) -> Verdict:
    """``parts`` from ``reference.retrieval:prompt_parts``: the contexts, in order, then the question."""
    if not isinstance(prompt, str):
        return Verdict(False, f"build_prompt should return a str, got {type(prompt).__name__}")
    return _prompt_structure(prompt, parts["question"], parts["contexts"], [])


def judge(rule: RagCompare, contexts: list[str], answer, context: CallContext) -> Verdict:
    """``contexts``: the documents retrieval must put into the prompt, in order. ``context.resolve(handle)``
    gives the host's model and tokenizer for the case's handles."""
    if not isinstance(answer, str):
        return Verdict(False, f"rag_answer should return a str, got {type(answer).__name__}")
    args, resolve = context.args, context.resolve
    question, documents = args["question"], args["documents"]
    prompts = [t for t in (context.observed or {}).get("tokenized", []) if question in t]
    if not prompts:
        return Verdict(False, "no prompt containing the question was tokenized with the `tokenizer` argument")
    verdict = _prompt_structure(prompts[-1], question, contexts, [d for d in documents if d not in contexts])
    if not verdict.passed:
        return verdict
    continuations = _greedy_continuations(
        prompts[-1], resolve(args["model"]), resolve(args["tokenizer"]), args.get("max_new_tokens", 20)
    )
    if answer.strip() in {c.strip() for c in continuations}:
        return PASS
    return Verdict(
        False,
        f"the answer is not the greedy continuation of your prompt: expected "
        f"{continuations[0].strip()[:120]!r}, got {answer.strip()[:120]!r}",
    )


def _prompt_structure(prompt: str, question: str, contexts: list[str], others: list[str]) -> Verdict:
    leaked = [d for d in others if d in prompt]
    if leaked:
        return Verdict(
            False,
            f"the prompt contains {len(leaked)} document(s) that are not among the top-k most similar "
            f"(wrong retrieval, or retrieval skipped?), e.g. {leaked[0][:60]!r}",
        )
    cursor = 0
    for rank, context in enumerate(contexts, start=1):
        found = prompt.find(context, cursor)
        if found < 0:
            where = "is missing from the prompt" if context not in prompt else "is out of retrieval order"
            return Verdict(False, f"retrieved document #{rank} {where}: {context[:60]!r}")
        cursor = found + len(context)
    if prompt.rfind(question) < cursor:
        return Verdict(False, "the question must come after the retrieved documents in the prompt")
    return PASS


@torch.no_grad()
def _greedy_continuations(prompt: str, model, tokenizer, max_new_tokens: int) -> list[str]:
    """The greedy continuation, stopping at end-of-text, and the one that runs on for all the tokens."""
    from reference.sampling import generate

    ids = tokenizer(prompt, return_tensors="pt").input_ids.to(model.device)  # (1, L)
    texts = []
    for eos in (tokenizer.eos_token_id, None):
        out = generate(model, ids, max_new_tokens, eos_token_id=eos)  # (1, L + n)
        texts.append(tokenizer.decode(out[0, ids.shape[1] :].tolist(), skip_special_tokens=True))
    return texts
