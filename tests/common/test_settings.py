"""The grader's timeouts: one model, every field documented, and the modules read it at call time."""

from __future__ import annotations

import dataclasses

import pytest

from grader.common.settings import TIMEOUTS, Timeouts, describe


def test_every_setting_says_what_it_is_for_and_has_a_positive_default():
    rows = describe()
    assert len(rows) == len(dataclasses.fields(Timeouts)) >= 20
    for name, value, help in rows:
        assert value > 0, name
        assert len(help) > 20 and help[0].isupper() and help.endswith((".", ")")), (name, help)
        assert name.endswith(("_s", "_ms")), f"{name}: say the unit"


def test_settings_cannot_be_changed_in_place_only_replaced():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TIMEOUTS.kernel_start_s = 1  # type: ignore[misc]
    assert dataclasses.replace(TIMEOUTS, kernel_start_s=1).kernel_start_s == 1
