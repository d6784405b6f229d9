"""Paired pre-training experiments: same initial weights, same data order, only the variant differs.

Seed-to-seed spread of a small model's loss (a few hundredths of a nat) is larger than the effect
of γ (about one hundredth), so overlaid loss curves hide it. Pairing removes the spread: for every
seed, both arms start from the same weights (a γ variant is the same function at initialisation)
and see the same batches, and we look at the *difference* of their validation losses.

    >>> runs = paired_runs(make_model, {"learnable": {}, "removed": {"gamma": "removed"}}, seeds=range(4), config=cfg, corpus=corpus)
    >>> paired_gap(runs, "removed", "learnable")      # mean, 95 % CI, wins ...
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from torch import nn
from tqdm.auto import tqdm

from scale_lib.core.stats import t_interval
from scale_lib.data.corpus import CharCorpus
from scale_lib.norms.gamma import NormVariant, apply_variant
from scale_lib.norms.pretrain import PretrainConfig, pretrain

__all__ = ["Arm", "paired_runs", "paired_gap", "gap_curve", "steps_ratio", "t_interval", "plot_gap", "plot_paired"]


class Arm(dict):
    """One arm of a paired experiment: a norm variant (``gamma``, ``hg``, ``placement``) plus any
    :class:`~scale_lib.norms.pretrain.PretrainConfig` overrides (``lr``, ``optimizer``, ``weight_decay`` ...)."""

    def split(self) -> tuple[NormVariant, dict]:
        variant = {k: v for k, v in self.items() if k in ("gamma", "hg", "placement")}
        return NormVariant(**variant), {k: v for k, v in self.items() if k not in variant}


def paired_runs(make_model: Callable[[int], nn.Module], arms: dict[str, dict], *, seeds: Iterable[int], config: PretrainConfig,
                corpus: CharCorpus, progress: bool = True, models: dict | None = None) -> pd.DataFrame:
    """Train every arm for every seed from ``make_model(seed)`` with data order ``seed``.

    Returns a tidy DataFrame (arm, seed, step, val_loss, seconds, tokens_per_s). Pass a dict as
    ``models`` to keep the trained models, keyed by ``(arm, seed)``.
    """
    seeds = list(seeds)
    if not arms or not seeds:
        raise ValueError("paired_runs needs at least one arm and one seed")
    rows = []
    bar = tqdm(total=len(arms) * len(seeds), desc="paired runs", disable=not progress, leave=False)
    for seed in seeds:
        for name, arm in arms.items():
            variant, overrides = Arm(arm).split()
            bad = set(overrides) - set(PretrainConfig.__dataclass_fields__)
            if bad:
                raise ValueError(f"arm {name!r} sets unknown options {sorted(bad)}; valid: gamma, hg, placement, {sorted(PretrainConfig.__dataclass_fields__)}")
            model = apply_variant(make_model(seed), variant)
            start = time.perf_counter()
            hist = pretrain(model, corpus, config, seed=seed, progress=False, **overrides)
            seconds = time.perf_counter() - start
            rows += [dict(arm=name, seed=seed, step=s, val_loss=v, seconds=seconds, tokens_per_s=hist.tokens_per_second)
                     for s, v in zip(hist.val_steps, hist.val_loss)]
            if models is not None:
                models[(name, seed)] = model
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def gap_curve(runs: pd.DataFrame, arm: str, reference: str) -> pd.DataFrame:
    """Per step: mean over seeds of ``val_loss[arm] - val_loss[reference]`` with a 95 % t interval."""
    arms = set(runs.arm)
    for a in (arm, reference):
        if a not in arms:
            raise ValueError(f"unknown arm {a!r}; the runs have {sorted(arms)}")
    wide = runs.pivot_table(index=["seed", "step"], columns="arm", values="val_loss")
    diff = (wide[arm] - wide[reference]).rename("gap").reset_index()
    out = []
    for step, g in diff.groupby("step"):
        mean, low, _ = t_interval(g.gap)
        out.append(dict(step=step, gap=mean, ci95=mean - low, n=len(g), wins=(g.gap > 0).mean()))
    return pd.DataFrame(out)


def paired_gap(runs: pd.DataFrame, arm: str, reference: str) -> dict:
    """The paired difference ``arm - reference`` of validation loss (nats; positive = ``arm`` worse).

    ``gap``/``ci95``: mean over seeds at the last step and its 95 % t half-width;
    ``wins``: fraction of (seed, checkpoint) pairs where ``reference`` is better;
    ``seed_spread``: std over seeds of the reference's own final loss (what overlaid curves show).
    """
    curve = gap_curve(runs, arm, reference)
    last = curve.iloc[-1]
    wide = runs.pivot_table(index=["seed", "step"], columns="arm", values="val_loss")
    final = runs[(runs.arm == reference) & (runs.step == runs.step.max())].val_loss
    return {"gap": float(last.gap), "ci95": float(last.ci95), "n_seeds": int(last.n),
            "wins": float(((wide[arm] - wide[reference]) > 0).mean()), "seed_spread": float(final.std(ddof=1)) if len(final) > 1 else float("nan")}


def steps_ratio(runs: pd.DataFrame, arm: str, reference: str) -> dict:
    """Compute efficiency, seed by seed: ``reference``'s final step divided by the step at which ``arm``
    first reaches ``reference``'s final validation loss (linear interpolation between checkpoints).

    A ratio of 1.25 means ``arm`` gets there in 80 % of the steps — the form of the paper's
    "1.22–1.25× compute efficiency". An arm that reaches the loss already at its first checkpoint
    is credited with that checkpoint, so its ratio is a *lower bound* (``lower_bound`` counts those
    seeds); an arm that never reaches it gets ``nan``. Returns ``ratio`` (mean), ``low``/``high``
    (95 % t interval over seeds), ``by_seed`` and ``lower_bound``.
    """
    for a in (arm, reference):
        if a not in set(runs.arm):
            raise ValueError(f"unknown arm {a!r}; the runs have {sorted(set(runs.arm))}")
    by_seed, lower = {}, 0
    for seed, g in runs.groupby("seed"):
        ref = g[g.arm == reference].sort_values("step")
        own = g[g.arm == arm].sort_values("step")
        target, last = float(ref.val_loss.iloc[-1]), float(ref.step.iloc[-1])
        steps, losses = own.step.to_numpy(float), own.val_loss.to_numpy(float)
        hit = np.flatnonzero(losses <= target)
        if hit.size == 0:
            by_seed[seed] = float("nan")
            continue
        k = int(hit[0])
        if k == 0:
            reached, lower = steps[0], lower + 1
        else:  # the loss crosses the target between checkpoints k-1 and k
            frac = (losses[k - 1] - target) / (losses[k - 1] - losses[k])
            reached = steps[k - 1] + frac * (steps[k] - steps[k - 1])
        by_seed[seed] = last / reached
    values = [v for v in by_seed.values() if v == v]
    mean, low, high = t_interval(values) if values else (float("nan"),) * 3
    return {"ratio": mean, "low": low, "high": high, "by_seed": by_seed, "lower_bound": lower}


def plot_gap(ax, runs: pd.DataFrame, arm: str, reference: str, *, color=None, label: str | None = None, band_label: str | None = None,
             lw: float = 1.5, alpha: float = 0.15):
    """The paired difference ``arm - reference`` per step on ``ax``: mean over seeds, with its 95 % band."""
    curve = gap_curve(runs, arm, reference)
    line, = ax.plot(curve.step, curve.gap, marker="o", color=color, lw=lw, label=label)
    ax.fill_between(curve.step, curve.gap - curve.ci95, curve.gap + curve.ci95, color=line.get_color(), alpha=alpha, label=band_label)
    return curve


def plot_paired(runs: pd.DataFrame, arm: str, reference: str, axes=None, *, colors=("tab:grey", "tab:red")):
    """Left: every seed's validation curve for both arms (what overlaid curves show). Right: the
    paired difference ``arm - reference`` per step, mean over seeds with its 95 % band."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    left, right = axes
    for name, color in zip((reference, arm), colors):
        for seed, g in runs[runs.arm == name].groupby("seed"):
            left.plot(g.step, g.val_loss, color=color, alpha=0.6, lw=1.2, label=name if seed == runs.seed.min() else None)
    left.set(xlabel="step", ylabel="validation loss (nats/char)", title="every seed, both arms")
    left.legend()
    right.axhline(0, color="k", lw=0.8)
    plot_gap(right, runs, arm, reference, color=colors[1], lw=2, alpha=0.2, band_label="95 % CI over seeds")
    for _seed, g in runs.pivot_table(index=["seed", "step"], columns="arm", values="val_loss").reset_index().groupby("seed"):
        right.plot(g.step, g[arm] - g[reference], color=colors[1], alpha=0.25, lw=0.8)
    right.set(xlabel="step", ylabel=f"{arm} − {reference} (nats)", title=f"paired difference (above 0: {arm} is worse)")
    right.legend()
    return axes
