"""Rescaling sweeps — the ScAle paper's discovery step: multiply one site at the last token by a
constant and measure how downstream accuracy moves, for every (layer, site, scale).

Only the last position changes, so each minibatch's prompt is run **once** (a prefix cache) and
every setting costs one last-token pass: :func:`rescaling_sweep`. :func:`naive_sweep` runs the
whole prompt per setting; it exists to test the fast path against and to measure the speed-up.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from scale_lib.core.arch import model_map
from scale_lib.core.hooks import Site, parse_site, scaled
from scale_lib.core.prefix import last_token_logits, n_rows, prefix_cache, select_rows
from scale_lib.core.scoring import answer_predictions, option_scores

__all__ = ["rescaling_sweep", "naive_sweep", "answer_predictions", "option_scores", "PromptCache"]


def _chunks(n: int, batch_size: int):
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def _tidy(records, groups, labels) -> pd.DataFrame:
    """Accuracy per (site, scale, group) with the unscaled accuracy and the delta."""
    frame = pd.DataFrame(records)
    group_of = pd.Series(groups if groups is not None else ["all"] * len(labels))
    rows = []
    base = frame[frame.site == "none"].iloc[0]["correct"]
    for _, r in frame.iterrows():
        if r.site == "none":
            continue
        site = parse_site(r.site)
        for g in sorted(group_of.unique()):
            m = (group_of == g).to_numpy()
            acc, acc0 = float(r["correct"][m].mean()), float(base[m].mean())
            rows.append(dict(site=r.site, layer=site.layer, kind=site.kind, head=site.head if site.head is not None else -1,
                             scale=r.scale, group=g, accuracy=acc, baseline=acc0, delta=acc - acc0, n=int(m.sum())))
    return pd.DataFrame(rows)


@torch.no_grad()
def _sweep(model, inputs, labels, sites, scales, *, option_ids, groups, batch_size, cached, progress):
    sites = [parse_site(s) for s in sites]
    n = len(labels)
    if n_rows(inputs) != n:
        raise ValueError(f"inputs have {n_rows(inputs)} rows but labels has {n}")
    if groups is not None and len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries but there are {n} rows")
    mmap = model_map(model)  # built once: every setting below reuses it
    settings: list[tuple[Site | None, float]] = [(None, 1.0)] + [(s, float(x)) for s in sites for x in scales]
    correct = {k: torch.zeros(n, dtype=torch.bool) for k in range(len(settings))}
    for rows in tqdm(_chunks(n, batch_size), desc="sweep", disable=not progress, leave=False):
        sub = select_rows(inputs, rows)
        opts = option_ids[rows] if option_ids is not None else None
        cache = prefix_cache(model, sub, causal=mmap.causal) if cached else None
        for k, (site, scale) in enumerate(settings):
            with scaled(model, {} if site is None else {site: scale}, mmap=mmap):
                logits = last_token_logits(model, cache, sub["input_ids"], sub["attention_mask"]) if cached else model(**sub).logits[:, -1]
            correct[k][rows] = answer_predictions(logits, opts) == labels[rows]
    records = [dict(site="none" if s is None else str(s), scale=x, correct=correct[k].numpy()) for k, (s, x) in enumerate(settings)]
    return _tidy(records, groups, labels)


def rescaling_sweep(model: nn.Module, inputs: dict, labels: torch.Tensor, sites: Sequence[str | Site], scales: Sequence[float], *,
                    option_ids: torch.Tensor | None = None, groups: Sequence[str] | None = None, batch_size: int = 64, progress: bool = True) -> pd.DataFrame:
    """Accuracy change when each site is scaled at the last token, per group — prefix cached.

    Args:
        inputs: left-padded ``input_ids`` / ``attention_mask`` (+ e.g. ``pixel_values``), N rows, or a
            batch object with ``inputs(rows)`` (:func:`scale_lib.core.prefix.select_rows`).
        labels: the correct answer token of each row.
        sites, scales: every site is tried at every scale (``"L3.H5"``, ``"L2.attn"``, ``"L1.mlp"``...).
        option_ids: ``(N, K)`` answer tokens each row may choose from (``-1`` pads); ``None``: the whole vocabulary.
        groups: a label per row (e.g. task or "spatial" / "nonspatial"); accuracy is reported per group.

    Returns a tidy DataFrame: ``site, layer, kind, head, scale, group, accuracy, baseline, delta, n``.
    """
    return _sweep(model, inputs, labels, sites, scales, option_ids=option_ids, groups=groups, batch_size=batch_size, cached=True, progress=progress)


def naive_sweep(model: nn.Module, inputs: dict, labels: torch.Tensor, sites, scales, *, option_ids=None, groups=None, batch_size: int = 64, progress: bool = True) -> pd.DataFrame:
    """The same sweep running the whole prompt for every setting (reference and benchmark baseline)."""
    return _sweep(model, inputs, labels, sites, scales, option_ids=option_ids, groups=groups, batch_size=batch_size, cached=False, progress=progress)


class PromptCache:
    """A fixed set of prompts whose prefixes are computed once; every evaluation then runs only the
    last token — what makes an interactive explorer answer in a fraction of a second.

        >>> cache = PromptCache(model, batch.inputs(), option_ids=batch.option_ids)
        >>> cache.predictions({"L2.H5": 0.0})          # one token per row, hooks removed after
        >>> cache.option_probs({"L1.mlp": 2.0})        # (N, K) softmax over each row's options
    """

    def __init__(self, model: nn.Module, inputs: dict, *, option_ids: torch.Tensor | None = None, batch_size: int = 64, progress: bool = True):
        self.model, self.option_ids = model, option_ids
        self.map = model_map(model)  # built once: every call of logits() reuses it
        self.n = n = n_rows(inputs)
        if option_ids is not None and len(option_ids) != n:
            raise ValueError(f"option_ids has {len(option_ids)} rows but inputs have {n}")
        self.chunks = _chunks(n, batch_size)
        self.caches, self.rows = [], []
        with torch.no_grad():
            for rows in tqdm(self.chunks, desc="prefix caches", disable=not progress, leave=False):
                sub = select_rows(inputs, rows)
                self.caches.append(prefix_cache(model, sub, causal=self.map.causal))
                self.rows.append({k: sub[k] for k in ("input_ids", "attention_mask")})

    def __len__(self) -> int:
        return self.n

    @torch.no_grad()
    def logits(self, scales: dict | None = None, *, adapter=None) -> torch.Tensor:
        """``(N, vocab)`` last-token logits with ``scales`` applied at the last token.

        ``adapter``: a trained last-token adapter (:class:`scale_lib.scaling.adapter.ScAle`,
        :class:`scale_lib.scaling.baselines.LastTokenLoRA`) to apply instead; its model must compute the
        same prefix as this cache's (a ScAle adapter on this model, or a LoRA copy of it).
        """
        if adapter is not None and scales:
            raise ValueError("pass scales or adapter, not both")
        out = []
        model = self.model if adapter is None else adapter.model
        with (scaled(self.model, scales or {}, mmap=self.map) if adapter is None else adapter.applied()):
            for sub, cache in zip(self.rows, self.caches):
                out.append(last_token_logits(model, cache, sub["input_ids"], sub["attention_mask"]))
        return torch.cat(out)

    def predictions(self, scales: dict | None = None, *, adapter=None) -> torch.Tensor:
        """Predicted token per row (argmax over the row's options when ``option_ids`` was given)."""
        return answer_predictions(self.logits(scales, adapter=adapter), self.option_ids)

    def option_probs(self, scales: dict | None = None, *, adapter=None) -> torch.Tensor:
        """``(N, K)`` probabilities over each row's options (padding options get 0)."""
        if self.option_ids is None:
            raise ValueError("option_probs needs option_ids; build the PromptCache with option_ids=...")
        return option_scores(self.logits(scales, adapter=adapter), self.option_ids).softmax(-1)
