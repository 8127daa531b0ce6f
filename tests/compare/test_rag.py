"""RAG pipelines are graded on what they do: any correct prompt wording passes; skipping retrieval fails."""

import dataclasses

import pytest

from grader.assignment.groundtruth import build_plan
from grader.assignment.spec import Limits, load_assignment
from tests.helpers import grade, notebook

SPEC = """
id = "rag-mini"
title = "RAG"
notebook = "rag.ipynb"
reference = "reference.retrieval"

[assets.course-lm]
kind = "course-lm"

[[questions]]
function = "rag_answer"
points = 1
reference = "reference.retrieval:expected_contexts"
  [[questions.cases]]
  name = "the retrieved paragraph reaches the prompt"
  compare = { kind = "rag" }
  [questions.cases.args]
  question = "Who won the race in 2024?"
  documents = [
      "The cat sat on the mat all day long.",
      "In 2024 the race was won by Max, who drove a red car.",
      "Mia went to the shop and bought a big red ball.",
      "The weather was sunny and the birds were singing.",
  ]
  embed = { embedder = "course-lm", texts = ["question", "documents"] }
  model = { model = "course-lm" }
  tokenizer = { tokenizer = "course-lm" }
  k = 2
  max_new_tokens = 8
"""

PIPELINE = """
import torch

def rag_answer(question, documents, embed, model, tokenizer, k=2, max_new_tokens=20):
    vectors = embed([question] + documents)
    q, docs = vectors[0], vectors[1:]
    sims = (docs @ q) / (docs.norm(dim=-1) * q.norm())
    order = sorted(range(len(documents)), key=lambda i: (-float(sims[i]), i))[:k]
    contexts = [documents[i] for i in order]
    prompt = {prompt}
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_id = model(ids).logits[:, -1, :].argmax(-1, keepdim=True)
            ids = torch.cat([ids, next_id], dim=-1)
            {stop}
    return tokenizer.decode(ids[0, len(tokenizer(prompt).input_ids):], skip_special_tokens=True)
"""
STOP = "if next_id.item() == tokenizer.eos_token_id: break"


def pipeline(prompt: str, stop: str = STOP) -> str:
    return PIPELINE.replace("{prompt}", prompt).replace("{stop}", stop)


@pytest.fixture(scope="module")
def rag_plan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rag")
    (folder / "assignment.toml").write_text(SPEC)
    notebook(folder, "rag", pipeline('"\\n".join(contexts) + "\\nQuestion: " + question + "\\nAnswer:"'))
    plan = build_plan(load_assignment(folder))
    return dataclasses.replace(plan, limits=Limits(cell_timeout_s=30, call_timeout_s=30))


@pytest.mark.slow
@pytest.mark.parametrize(
    "prompt, stop",
    [
        ('"Context:\\n" + "\\n".join(contexts) + "\\n\\nQuestion: " + question + "\\nAnswer:"', STOP),
        ('"Use these facts. " + " | ".join(contexts) + " Now answer: " + question', STOP),
        ('"Context:\\n" + "\\n".join(contexts) + "\\nQ: " + question + "\\nA:"', "pass"),  # no EOS stop
    ],
)
def test_any_correct_pipeline_passes_whatever_its_wording(rag_plan, tmp_path, prompt, stop):
    result = grade(rag_plan, notebook(tmp_path, "ok", pipeline(prompt, stop)), tmp_path)
    assert result.score == 1.0, result.tests[0].output


@pytest.mark.slow
def test_a_pipeline_that_skips_retrieval_fails(rag_plan, tmp_path):
    code = pipeline('"\\n".join(documents) + "\\nQuestion: " + question').replace(
        "contexts = [documents[i] for i in order]", "contexts = documents"
    )
    result = grade(rag_plan, notebook(tmp_path, "skip", code), tmp_path)
    assert result.score == 0 and "retrieval skipped?" in result.tests[0].output


@pytest.mark.slow
def test_contexts_in_the_wrong_order_fail(rag_plan, tmp_path):
    code = pipeline('"\\n".join(contexts[::-1]) + "\\nQuestion: " + question')
    result = grade(rag_plan, notebook(tmp_path, "order", code), tmp_path)
    assert result.score == 0 and "retrieval order" in result.tests[0].output


@pytest.mark.slow
def test_an_answer_that_is_not_the_continuation_fails(rag_plan, tmp_path):
    code = pipeline('"\\n".join(contexts) + "\\nQuestion: " + question').replace(
        "return tokenizer.decode(", "return 'Max' or tokenizer.decode("
    )
    result = grade(rag_plan, notebook(tmp_path, "fake", code), tmp_path)
    assert result.score == 0 and "greedy continuation" in result.tests[0].output


@pytest.mark.slow
def test_embedding_a_reworded_question_is_reported(rag_plan, tmp_path):
    code = pipeline('"\\n".join(contexts) + "\\nQuestion: " + question').replace(
        "embed([question] + documents)", "embed(['Q: ' + question] + documents)"
    )
    result = grade(rag_plan, notebook(tmp_path, "reworded", code), tmp_path)
    assert result.score == 0 and "neither the question nor a document" in result.tests[0].output


@pytest.mark.parametrize(
    "prompt, passes",
    [
        ("Context:\nA first.\nB second.\n\nQuestion: Why?\nAnswer:", True),
        ("A first. | B second. -> Why?", True),
        ("Question: Why?\nA first.\nB second.", False),  # question before the contexts
        ("B second.\nA first.\nWhy?", False),  # contexts out of order
        ("A first.\nWhy?", False),  # a context missing
    ],
)
def test_prompt_structure_not_wording(prompt, passes):
    from grader.compare import compare
    from grader.compare.rules import PromptCompare
    from reference.retrieval import prompt_parts

    verdict = compare(PromptCompare(), prompt_parts("Why?", ["A first.", "B second."]), prompt)
    assert verdict.passed is passes, verdict.message
