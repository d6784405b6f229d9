"""The statistics both halves use, from the standard tools (scipy, a seeded bootstrap).

* intervals: :func:`t_interval` (Student-t over seeds), :func:`wilson` (a proportion), :func:`share_interval`
  (a bootstrap ratio of two per-seed quantities);
* chapter 07's: :func:`ratio_of_sums` and :func:`paired_difference` (bootstrap intervals, every dropped
  resample counted), :func:`sign_test` (exact binomial), :func:`mcnemar` (exact, on paired items).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["t_quantile", "t_interval", "wilson", "share_interval", "ratio_of_sums", "paired_difference", "sign_test", "mcnemar"]


def t_quantile(dof: int, level: float = 0.95) -> float:
    """Two-sided Student-t quantile (``scipy.stats.t``)."""
    from scipy.stats import t

    return float(t.ppf(0.5 + level / 2, dof))


def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` (one per seed) with its Student-t interval.
    With one value the interval is ``nan`` (one draw says nothing about the spread)."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        raise ValueError("t_interval needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        return mean, float("nan"), float("nan")
    half = t_quantile(x.size - 1, level) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (95 % by default)."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def share_interval(frozen: torch.Tensor, scale: torch.Tensor, lora: torch.Tensor, *, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % paired bootstrap interval over test items of ``(scale − frozen) / (lora − frozen)`` (1/0 per item)."""
    n = len(frozen)
    if not (len(scale) == len(lora) == n) or n == 0:
        raise ValueError(f"need three equal, non-empty per-item vectors; got {len(frozen)}, {len(scale)}, {len(lora)}")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n, (n_boot, n), generator=g)
    f, s, lo = frozen.float()[idx].mean(1), scale.float()[idx].mean(1), lora.float()[idx].mean(1)
    ratio = ((s - f) / (lo - f)).numpy()
    ratio = ratio[np.isfinite(ratio)]
    if not len(ratio):
        return float("nan"), float("nan")
    return float(np.quantile(ratio, 0.025)), float(np.quantile(ratio, 0.975))


def ratio_of_sums(gains, losts, *, n_boot: int = 10_000, seed: int = 0) -> dict:
    """Σ gain / Σ lost over seeds, with a 95 % percentile bootstrap over seeds; resamples whose Σ lost ≤ 0 are counted in ``dropped``."""
    g, l = np.asarray(gains, float), np.asarray(losts, float)
    if g.shape != l.shape or g.ndim != 1 or not len(g):
        raise ValueError(f"gains and losts must be equal, non-empty 1-D sequences; got shapes {g.shape} and {l.shape}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(g), (n_boot, len(g)))
    den = l[idx].sum(1)
    ok = den > 0
    ratios = g[idx].sum(1)[ok] / den[ok]
    point = g.sum() / l.sum() if l.sum() > 0 else float("nan")
    low, high = (np.quantile(ratios, [0.025, 0.975]) if len(ratios) else (float("nan"), float("nan")))
    return {"share": float(point), "ci": [float(low), float(high)], "n": int(len(g)), "n_boot": n_boot, "dropped": int((~ok).sum())}


def paired_difference(gains_a, losts_a, gains_b, losts_b, *, n_boot: int = 10_000, seed: int = 0) -> dict:
    """(Σ gain_b / Σ lost_b) − (Σ gain_a / Σ lost_a) over the same seeds, bootstrap over seeds (paired)."""
    arrays = [np.asarray(x, float) for x in (gains_a, losts_a, gains_b, losts_b)]
    if len({a.shape for a in arrays}) != 1 or not len(arrays[0]):
        raise ValueError(f"need four equal, non-empty sequences (one value per seed); got shapes {[a.shape for a in arrays]}")
    ga, la, gb, lb = arrays
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(ga), (n_boot, len(ga)))
    da, db = la[idx].sum(1), lb[idx].sum(1)
    ok = (da > 0) & (db > 0)
    diff = gb[idx].sum(1)[ok] / db[ok] - ga[idx].sum(1)[ok] / da[ok]
    point = gb.sum() / lb.sum() - ga.sum() / la.sum() if la.sum() > 0 and lb.sum() > 0 else float("nan")
    low, high = (np.quantile(diff, [0.025, 0.975]) if len(diff) else (float("nan"), float("nan")))
    return {"difference": float(point), "ci": [float(low), float(high)], "n": int(len(ga)), "n_boot": n_boot, "dropped": int((~ok).sum())}


def sign_test(differences) -> dict:
    """Exact two-sided sign test (scipy's binomial test) of per-seed differences; zeros are dropped and counted."""
    from scipy.stats import binomtest

    d = np.asarray(differences, float)
    d = d[np.isfinite(d)]
    pos, neg = int((d > 0).sum()), int((d < 0).sum())
    p = binomtest(pos, pos + neg, 0.5).pvalue if pos + neg else float("nan")
    return {"positive": pos, "negative": neg, "zero": int((d == 0).sum()), "p": float(p)}


def mcnemar(right_a, right_b) -> dict:
    """Exact McNemar test on paired 1/0 vectors: ``b_only`` items only b gets right, ``a_only`` only a; two-sided p."""
    from scipy.stats import binomtest

    a, b = torch.as_tensor(right_a).bool(), torch.as_tensor(right_b).bool()
    if a.shape != b.shape:
        raise ValueError(f"paired vectors differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    a_only, b_only = int((a & ~b).sum()), int((b & ~a).sum())
    p = binomtest(b_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"a_only": a_only, "b_only": b_only, "p": float(p)}
