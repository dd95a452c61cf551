"""One seed drives python, numpy and torch."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(requested: str, prefers_gpu: bool) -> str:
    """``auto`` -> a GPU only for algorithms that gain from one; otherwise as asked."""
    import torch

    if requested == "auto":
        return "cuda" if prefers_gpu and torch.cuda.is_available() else "cpu"
    return requested
