"""Manual grading in the gradebook: answers stored "to review", rubric scores, conflicts, groups, the audit trail."""

from __future__ import annotations

import nbformat
import pytest

from grader.batch.gradebook import Gradebook
from grader.batch.reviews import Conflict, Reviews
from grader.errors import GraderError
from grader.grading.answers import collect_answers
from tests.batch.helpers import WHY, fake_result, manual_gradebook, notebook

ANSWERS = {
    "s1": "Scaling keeps the softmax out of saturation.",
    "s2": "scaling keeps the **softmax** out of saturation",  # identical once normalized
    "s3": "Scaling keeps the softmax out of saturaton!",  # a typo: near-identical
    "s4": "Because the variance of q.k grows with d_k.",
    "s5": None,  # deleted the answer cell
}


@pytest.fixture
def book(tmp_path, mini_plan):
    out = manual_gradebook(tmp_path, mini_plan, ANSWERS)
    with Reviews.open(out) as rv:
        yield rv


def test_answers_are_stored_to_review_with_a_status(book):
    answers = {a.student_id: a for a in book.answers("why-scale")}
    assert all(a.to_review for a in answers.values())
    assert answers["s5"].status == "missing" and "deleted" in answers["s5"].note
    assert answers["s1"].status == "ok" and answers["s1"].name == "Name s1"
    assert book.progress() == {"why-scale": (0, 5)}


def test_a_review_scores_from_the_current_rubric_and_an_edit_applies_to_every_answer(book):
    book.save_review("why-scale", "s1", items=["1"], who="ta-anna", base_version=0, comment="Good.")
    book.save_review("why-scale", "s4", items=["1", "2"], who="ta-ben", base_version=0)
    assert [s.score for s in book.manual_scores("s1")] == [2.0]
    assert [s.score for s in book.manual_scores("s4")] == [1.0]
    item = book.question("why-scale").rubric[1]
    book.edit_item("why-scale", "2", points=-0.5, text="No variance argument", who="ta-anna", base_version=item.version)
    assert [s.score for s in book.manual_scores("s4")] == [1.5]
    assert book.progress() == {"why-scale": (2, 5)}
    actions = [(a["who"], a["action"]) for a in book.audit("why-scale")]
    assert actions == [("ta-anna", "review"), ("ta-ben", "review"), ("ta-anna", "edit item")]


def test_two_tas_saving_the_same_answer_lose_nothing(book):
    first = book.save_review("why-scale", "s1", items=["1"], who="ta-anna", base_version=0)
    with pytest.raises(Conflict) as conflict:  # ta-ben started from the unreviewed answer
        book.save_review("why-scale", "s1", items=["2"], who="ta-ben", base_version=0)
    assert conflict.value.current == first
    assert book.answer("why-scale", "s1").review.items == ["1"]
    again = book.save_review("why-scale", "s1", items=["1", "2"], who="ta-ben", base_version=first.version)
    assert again.version == 2


def test_scores_are_clamped_to_the_questions_points(book):
    book.save_review("why-scale", "s1", items=["2"], who="ta", base_version=0)
    book.save_review("why-scale", "s4", items=["1"], adjustment=5, who="ta", base_version=0)
    assert [s.score for s in book.manual_scores("s1")] == [0.0]
    assert [s.score for s in book.manual_scores("s4")] == [2.0]


def test_identical_and_near_identical_answers_form_one_group_that_a_ta_can_split(book):
    assert book.groups("why-scale")[0] == ["s1", "s2", "s3"]
    versions = {a.student_id: 0 for a in book.answers("why-scale") if a.group == "s1"}
    book.save_group("why-scale", versions, items=["1"], who="ta")
    assert [book.manual_scores(s)[0].score for s in ("s1", "s2", "s3")] == [2.0, 2.0, 2.0]
    book.split("why-scale", "s3", who="ta")
    assert ["s3"] in book.groups("why-scale")


def test_a_group_save_with_one_conflict_changes_nothing(book):
    book.save_review("why-scale", "s2", items=["2"], who="ta-ben", base_version=0)
    with pytest.raises(Conflict):
        book.save_group("why-scale", {"s1": 0, "s2": 0, "s3": 0}, items=["1"], who="ta-anna")
    assert book.answer("why-scale", "s1").review is None


def test_bad_saves_are_refused_with_one_line(book):
    with pytest.raises(GraderError, match="no rubric item"):
        book.save_review("why-scale", "s1", items=["99"], who="ta", base_version=0)
    with pytest.raises(GraderError, match="no answer of student"):
        book.save_review("why-scale", "nobody", items=[], who="ta", base_version=0)
    with pytest.raises(GraderError, match="reviewer name"):
        book.save_review("why-scale", "s1", items=[], who=" ", base_version=0)


def test_a_changed_resubmission_is_to_review_again(book, tmp_path):
    book.save_review("why-scale", "s1", items=["1"], who="ta", base_version=0)
    out = tmp_path / "out"
    with Gradebook.open(out) as gb:
        run = gb.start_run(jobs=1, isolation="local", source="x", layout="folder", issues=[])
        found = collect_answers(notebook(tmp_path, "s1", "A new answer."), [WHY])
        gb.record(run, fake_result("s1", {"greedy_next_token: random": True}), "fp2", found)
    assert book.answer("why-scale", "s1").to_review
    assert book.manual_scores("s1")[0].reviewed is False


def test_answer_statuses(tmp_path):
    untagged = collect_answers(notebook(tmp_path, "u", "An answer.", tagged=False), [WHY])[0]
    assert (untagged.status, untagged.text) == ("unmarked", "An answer.")
    blank = collect_answers(notebook(tmp_path, "b", "YOUR ANSWER HERE"), [WHY])[0]
    assert blank.status == "blank"
    huge = collect_answers(notebook(tmp_path, "h", "x" * 5_000_000), [WHY])[0]
    assert huge.status == "too_large" and len(huge.text) == 100_000
    nb = nbformat.read(notebook(tmp_path, "d", "First."), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("Second.", metadata={"tags": ["answer:why-scale"]}))
    nbformat.write(nb, tmp_path / "d.ipynb")
    twice = collect_answers(tmp_path / "d.ipynb", [WHY])[0]
    assert twice.status == "duplicated" and twice.text == "First.\n\nSecond."
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert collect_answers(tmp_path / "broken.ipynb", [WHY])[0].status == "missing"


def test_a_code_answer_keeps_its_images_and_text_outputs_but_never_svg(tmp_path):
    from grader.assignment.manual import ManualQuestion

    plot = ManualQuestion("plot", "code", 1.0, "Plot the attention weights", ())
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("# answer: plot\nplt.imshow(w)", metadata={"tags": ["answer:plot"]})
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="weights computed\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=\n", "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg onload='alert(1)'/>"}),
        nbformat.v4.new_output("display_data", data={"image/gif": '" onerror="alert(1)'}),
    ]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "p.ipynb")
    answer = collect_answers(tmp_path / "p.ipynb", [plot])[0]
    assert answer.status == "ok" and answer.text == "plt.imshow(w)"
    assert answer.images == ["data:image/png;base64,iVBORw0KGgo="]
    assert answer.outputs == "weights computed\n<Figure>\n"


def test_an_nbgrader_task_is_answered_by_the_cells_added_after_it(tmp_path):
    from grader.assignment.manual import ManualQuestion

    task = ManualQuestion(
        "task1", "markdown", 2.0, "Plot and explain", (), "task-cell", True, frozenset({"task-cell", "next"})
    )
    nb = nbformat.v4.new_notebook()
    cells = [
        nbformat.v4.new_markdown_cell("Describe the plot below.", metadata={"tags": ["answer:task1"]}),
        nbformat.v4.new_code_cell("plt.plot(x)"),
        nbformat.v4.new_markdown_cell("It grows linearly."),
        nbformat.v4.new_markdown_cell("## Next part"),
    ]
    for cell, cell_id in zip(cells, ["task-cell", "added-1", "added-2", "next"], strict=True):
        cell.id = cell_id
    nb.cells = cells
    nbformat.write(nb, tmp_path / "t.ipynb")
    answer = collect_answers(tmp_path / "t.ipynb", [task])[0]
    assert (answer.status, answer.text) == ("ok", "plt.plot(x)\n\nIt grows linearly.")
    nb.cells = [cells[0], cells[3]]
    nbformat.write(nb, tmp_path / "t.ipynb")
    assert collect_answers(tmp_path / "t.ipynb", [task])[0].status == "blank"


def test_a_question_dropped_from_the_spec_leaves_progress_and_scores(book):
    book.db.execute("DELETE FROM manual_questions")  # what sync_questions does when the spec drops it
    assert book.progress() == {} and book.unreviewed() == 0
    assert book.manual_scores("s1") == []


def test_a_written_question_added_after_grading_gets_the_answers_without_regrading(tmp_path, mini_plan):
    from grader.batch.intake import Submission
    from grader.batch.run import assignment_info

    out = tmp_path / "out"
    with Gradebook.open(out) as gb:  # graded before the spec had a written question
        gb.bind(assignment_info(mini_plan), regrade=False)
        run = gb.start_run(jobs=1, isolation="local", source="x", layout="folder", issues=[])
        for sid in ("s1", "s2"):
            gb.record(run, fake_result(sid, {"greedy_next_token: random": True}), "fp")
        gb.sync_manual([WHY])
        subs = [Submission("s1", notebook(tmp_path, "s1", "An answer.")), Submission("s9", tmp_path / "none.ipynb")]
        assert gb.backfill_answers(subs, [WHY]) == 1  # s9 was never graded: nothing to attach an answer to
        assert gb.backfill_answers(subs, [WHY]) == 0  # once only
        attempts = gb.db.execute("SELECT count(*) FROM attempts").fetchone()[0]
    with Reviews.open(out) as rv:
        assert [(a.student_id, a.text) for a in rv.answers("why-scale")] == [("s1", "An answer.")]
    assert attempts == 2


def test_a_code_questions_manual_part_shows_the_ta_the_cell_that_defines_the_function(tmp_path):
    from grader.assignment.manual import ManualQuestion, manual_name

    style = ManualQuestion(manual_name("top_k_filter"), "function", 1.0, "Vectorized: no loop over the vocabulary", ())
    assert style.function == "top_k_filter"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("def top_k_filter(logits, k):\n    raise NotImplementedError"),
        nbformat.v4.new_code_cell("import torch\n\ndef top_k_filter(logits, k):\n    return logits.topk(k)"),
        nbformat.v4.new_code_cell("print(top_k_filter(x, 2))"),
    ]
    nbformat.write(nb, tmp_path / "f.ipynb")
    answer = collect_answers(tmp_path / "f.ipynb", [style])[0]
    assert (answer.status, answer.text) == ("ok", nb.cells[1].source)  # the last definition is the one graded
    nb.cells = nb.cells[2:]
    nbformat.write(nb, tmp_path / "f.ipynb")
    missing = collect_answers(tmp_path / "f.ipynb", [style])[0]
    assert missing.status == "missing" and "top_k_filter" in missing.note


def test_the_spec_reads_a_manual_part_and_counts_its_points():
    from grader.assignment.spec import AssignmentSpec

    spec = AssignmentSpec.model_validate(
        {
            "id": "x", "title": "t", "notebook": "n.ipynb", "reference": "ref",
            "questions": [{
                "function": "f", "points": 2, "cases": [{"name": "c"}],
                "manual": {"points": 1, "prompt": "Vectorized", "rubric": [{"points": 1, "text": "no loop"}]},
            }],
            "written": [{"id": "why", "points": 2}],
        }
    )  # fmt: skip
    assert (spec.max_score, spec.manual_points) == (5.0, 3.0)
    assert spec.questions[0].manual.rubric[0].id == "1"
