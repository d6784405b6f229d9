"""Solutions for chapter 03 (ScAle)."""

from __future__ import annotations

import math

import torch
from torch import nn


class BoundedScale(nn.Module):
    """``n`` coefficients ``s = lo + (hi − lo)·σ(θ)``, with θ initialised so that every ``s`` is exactly 1."""

    def __init__(self, n: int, lo: float = 0.0, hi: float = 2.0):
        super().__init__()
        self.lo, self.hi = lo, hi
        self.theta = nn.Parameter(torch.full((n,), math.log((1 - lo) / (hi - 1))))

    def forward(self) -> torch.Tensor:
        return self.lo + (self.hi - self.lo) * torch.sigmoid(self.theta)


def cached_step(adapter, inputs: dict, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy at the last position through a prefix cache, backward to the adapter; returns the logits."""
    from scale_lib.core.prefix import last_token_logits, prefix_cache

    cache = prefix_cache(adapter.model, inputs)  # outside the hooks: the frozen prefix (a VLM's image is in it)
    with adapter.applied():
        logits = last_token_logits(adapter.model, cache, inputs["input_ids"], inputs["attention_mask"])
    torch.nn.functional.cross_entropy(logits, labels).backward()
    return logits.detach()
