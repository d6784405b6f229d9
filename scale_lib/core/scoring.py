"""Scoring a multiple-choice prompt from next-token logits: the options' logits and the predicted option.
"""

from __future__ import annotations

import torch

__all__ = ["option_scores", "answer_predictions"]


def option_scores(logits: torch.Tensor, option_ids: torch.Tensor) -> torch.Tensor:
    """``(batch, K)`` logits of each row's option tokens; ``-1`` pads score ``-inf``."""
    return logits.gather(-1, option_ids.clamp_min(0)).masked_fill(option_ids < 0, float("-inf"))


def answer_predictions(logits: torch.Tensor, option_ids: torch.Tensor | None) -> torch.Tensor:
    """Predicted token per row: argmax over each row's option tokens (``-1`` pads), or over the vocabulary."""
    if option_ids is None:
        return logits.argmax(-1)
    return option_ids.gather(-1, option_scores(logits, option_ids).argmax(-1, keepdim=True)).squeeze(-1)
