"""The batch interface every study in the book trains and scores on, declared once.

A prompt batch holds left-padded prompts whose answer is predicted at the last position, and the
answer's token among each row's options. Three classes implement it — the testbed's
:class:`~scale_lib.models.testbed.EncodedBatch`, the real model's :class:`~scale_lib.data.cloze.ClozeBatch`
and the hub VLMs' :class:`~scale_lib.models.hub_vlm.HubBatch` — and every trainer and sweep accepts any
of them, or a plain dict of tensors (:func:`scale_lib.core.prefix.select_rows`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

__all__ = ["PromptBatch", "answer_labels", "left_pad", "is_batch"]


@runtime_checkable
class PromptBatch(Protocol):
    """``inputs(rows)`` → the model's input dict for those rows (all rows for ``None``); ``labels``: each
    row's answer token; ``option_ids``: ``(rows, K)`` option tokens, ``-1`` past a row's last option;
    ``items``: the items the rows came from; ``len()``: the number of rows."""

    labels: torch.Tensor
    option_ids: torch.Tensor
    items: list

    def inputs(self, rows=None) -> dict: ...

    def __len__(self) -> int: ...


def is_batch(inputs) -> bool:
    """A batch object that selects its own rows (has ``inputs(rows)``), as opposed to a plain dict of tensors.
    (Only ``inputs`` and ``len`` are needed to train; a full :class:`PromptBatch` is needed to score.)"""
    return callable(getattr(inputs, "inputs", None))


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` with every row right-aligned, so each row's last token is in the last column."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
    return ids, mask


def answer_labels(option_ids: torch.Tensor, answer_index) -> torch.Tensor:
    """Each row's answer token: ``option_ids[row, answer_index[row]]``."""
    index = torch.as_tensor(answer_index, dtype=torch.long)
    return option_ids[torch.arange(len(option_ids)), index]
