"""Solutions for chapter 02 (rescaling discovery)."""

from __future__ import annotations

import math


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for k successes in n trials."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def site_sweep(cache, labels, site: str, scales) -> dict[float, float]:
    """Accuracy at each scale of one site, from a :class:`scale_lib.scaling.sweep.PromptCache` (one token per prompt and setting)."""
    return {float(s): float((cache.predictions({site: s}) == labels).float().mean()) for s in scales}
