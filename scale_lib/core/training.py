"""The one optimisation loop every method in the book trains with (ScAle, its baselines, the testbed).

nanoGPT's loop, written once: for each minibatch, the loss, ``zero_grad``, ``backward``, an optional
gradient clip, ``step``, an optional scheduler step, and the loss recorded. What differs between
methods — which parameters, how a minibatch becomes a loss — is passed in, so a method is an object
that says those two things (see :mod:`scale_lib.scaling.adapt`), not another copy of the loop.

    >>> losses = fit(adapter.parameters(), batch_schedule(n, 64, 300), lambda rows: loss_of(rows), lr=0.05)

Chapter 05's pre-training loop (:func:`scale_lib.norms.pretrain.pretrain`) keeps its own, longer
loop — Accelerate, several optimisers, weight-decay groups, evaluation — and is benchmarked against a
bare loop like this one (``benchmarks/bench_pretrain_loop.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from tqdm.auto import tqdm

__all__ = ["fit"]


def fit(
    params: Iterable[torch.nn.Parameter] | torch.optim.Optimizer,
    schedule: Iterable,
    loss_of: Callable[[object], torch.Tensor],
    *,
    lr: float | None = None,
    scheduler: Callable[[torch.optim.Optimizer], object] | None = None,
    clip: float | None = None,
    on_step: Callable[[int], bool | None] | None = None,
    desc: str = "train",
    progress: bool = True,
    total: int | None = None,
) -> list[float]:
    """Minimise ``loss_of(rows)`` over ``schedule`` (one entry per step: the rows of its minibatch).

    Args:
        params: the trainable parameters (Adam at ``lr``), or a ready optimiser (``lr`` then unused).
        scheduler: ``optimizer -> LR scheduler``, stepped after every optimiser step.
        clip: clip the gradient norm of ``params`` to this value before each step.
        on_step: called as ``on_step(step)`` after each step (1-based); returning ``True`` stops training.
        total: the number of steps, for the progress bar when ``schedule`` is a generator.
    Returns the loss of every step taken.
    """
    if isinstance(params, torch.optim.Optimizer):
        opt = params
    else:
        params = list(params)
        if not params:
            raise ValueError("no trainable parameters: set requires_grad on what should train")
        if lr is None:
            raise ValueError("fit needs lr when it builds the optimiser")
        opt = torch.optim.Adam(params, lr=lr)
    clipped = [p for group in opt.param_groups for p in group["params"]] if clip is not None else None
    sched = scheduler(opt) if scheduler is not None else None
    losses: list[float] = []
    for rows in tqdm(schedule, desc=desc, disable=not progress, leave=False, total=total):
        loss = loss_of(rows)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clipped is not None:
            torch.nn.utils.clip_grad_norm_(clipped, clip)
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
        if on_step is not None and on_step(len(losses)):
            break
    return losses
