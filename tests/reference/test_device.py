"""reference/device.py: determinism, and the one private torch setter it relies on (contract: a failure here
means an upgrade removed it; the fallback still works, but every command pays ~1 s for torch._inductor)."""

from __future__ import annotations

import torch

from reference.device import configure_determinism, provenance


def test_the_eager_deterministic_flag_has_its_private_setter():
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    assert callable(setter), f"torch {torch.__version__}: torch._C._set_deterministic_algorithms is gone"


def test_configure_determinism_turns_deterministic_algorithms_on_with_warnings_only():
    configure_determinism()
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert provenance()["deterministic_algorithms"] is True
