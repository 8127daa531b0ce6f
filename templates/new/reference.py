"""The reference implementation: the expected value of every case is computed by these functions, on the
grader's host only (imported from this file by `grader`, never shipped to students)."""

import torch


def rms_norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)
