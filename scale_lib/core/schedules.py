"""Learning-rate schedules and minibatch orders, shared by every training loop of the book.

* :func:`lr_factor` — warmup, then cosine / warmup-stable-decay / constant (nanoGPT's ``get_lr``);
* :func:`warmup_cosine` — the same as a ``LambdaLR`` scheduler;
* :func:`batch_schedule` — fixed minibatches of one seeded permutation, visited in a new order each epoch.
"""

from __future__ import annotations

import math

import torch

__all__ = ["batch_schedule", "SCHEDULES", "lr_factor", "warmup_cosine"]


def batch_schedule(n: int, batch_size: int, steps: int, seed: int = 0) -> list[torch.Tensor]:
    """The rows of each step: fixed minibatches of one seeded permutation, visited in a new order every epoch.

    Minibatches keep their content across epochs, so a prefix cache keyed by minibatch is reused.
    """
    if n < 1 or batch_size < 1 or steps < 0:
        raise ValueError(f"need n >= 1, batch_size >= 1 and steps >= 0; got n={n}, batch_size={batch_size}, steps={steps}")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=gen)
    chunks = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    out = []
    for step in range(steps):
        epoch, k = divmod(step, len(chunks))
        if k == 0 and epoch > 0:
            perm = torch.randperm(len(chunks), generator=gen).tolist()
            chunks = [chunks[i] for i in perm]
        out.append(chunks[k])
    return out


SCHEDULES = ("cosine", "wsd", "constant")


def lr_factor(step: int, steps: int, warmup: int, schedule: str = "cosine", decay_fraction: float = 0.2) -> float:
    """Learning-rate multiplier at ``step``: linear warmup, then ``"cosine"`` decay to 0,
    ``"wsd"`` (warmup-stable-decay: constant, then linear to 0 over the last ``decay_fraction``) or ``"constant"``."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid schedules are {SCHEDULES}")
    warm = min(1.0, (step + 1) / max(1, warmup))
    if schedule == "cosine":
        return warm * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))
    if schedule == "wsd":
        decay_start = steps * (1 - decay_fraction)
        return warm * (1.0 if step < decay_start else max(0.0, (steps - step) / max(1e-9, steps - decay_start)))
    return warm


def warmup_cosine(opt: torch.optim.Optimizer, steps: int, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup`` steps, then cosine decay to 0 at ``steps`` (as a torch scheduler)."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps, warmup, "cosine"))
