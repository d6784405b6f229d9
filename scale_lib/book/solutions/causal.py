"""Solutions for chapter 07 (the causal test)."""

from __future__ import annotations

import numpy as np


def share_from_seeds(shares, losses) -> float:
    """The ratio of sums Σ gain / Σ loss from each seed's share (gain / loss) and loss.

    A seed's gain is its share times its loss, so the ratio of sums is the loss-weighted mean of the shares.
    """
    shares, losses = np.asarray(shares, float), np.asarray(losses, float)
    return float((shares * losses).sum() / losses.sum())
