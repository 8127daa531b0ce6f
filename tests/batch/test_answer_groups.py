"""Answer groups: what counts as the same answer, and a TA's split."""

from grader.batch.answer_groups import group_answers


def groups(answers: dict[str, str], split=frozenset()) -> list[list[str]]:
    by_key: dict[str, list[str]] = {}
    for sid, key in group_answers(list(answers.items()), set(split)).items():
        by_key.setdefault(key, []).append(sid)
    return sorted(by_key.values())


def test_case_markdown_and_spaces_do_not_matter_a_typo_does_not_either():
    answers = {
        "a": "Scaling keeps the softmax out of saturation.",
        "b": "scaling   keeps the **softmax** out of saturation",
        "c": "Scaling keeps the softmax out of saturaton!",
        "d": "Because the variance of q.k grows with d_k.",
    }
    assert groups(answers) == [["a", "b", "c"], ["d"]]


def test_different_answers_on_the_same_topic_stay_apart():
    answers = {
        "a": "Without the mask each position sees the next token and copies it.",
        "b": "Without the mask the weights would not sum to one.",
    }
    assert groups(answers) == [["a"], ["b"]]


def test_blank_answers_form_one_group_and_a_split_answer_is_alone():
    answers = {"a": "", "b": "  ", "c": "", "d": "x"}
    assert groups(answers) == [["a", "b", "c"], ["d"]]
    assert groups(answers, split={"b"}) == [["a", "c"], ["b"], ["d"]]


def test_grouping_is_deterministic_in_student_order():
    answers = {
        "s3": "The same answer, said once.",
        "s1": "the same answer, said once",
        "s2": "The same answer said once.",
    }
    assert set(group_answers(list(answers.items())).values()) == {"s3"}  # the first in the order given
