"""Rescaling sweeps — the ScAle paper's discovery step: multiply one site at the last token by a
constant and measure how downstream accuracy moves, for every (layer, site, scale).

Only the last position changes, so each minibatch's prompt is run **once** (a prefix cache) and the
settings cost last-token passes only — one per setting, or stacked along the batch, many settings in one
pass (``max_stack_mb``, which repeats the prefix per setting, or ``share_prefix``, which lets them all read
one): :func:`rescaling_sweep`. :func:`naive_sweep` runs the
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
from scale_lib.core.prefix import _cache_bytes, last_token_logits, n_rows, prefix_cache, select_rows
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


def _row_multipliers(mmap, settings, rows: int, dtype, device) -> tuple[dict, dict]:
    """For settings stacked along the batch (setting k owns rows ``k*rows .. (k+1)*rows``): per layer, the
    ``(S*rows, n_heads)`` head multipliers and the ``(S*rows,)`` attention / MLP block multipliers (1 = untouched)."""
    n = len(settings)
    heads: dict[int, torch.Tensor] = {}
    blocks: dict[tuple[int, str], torch.Tensor] = {}
    for k, (site, x) in enumerate(settings):
        if site is None:
            continue
        sl = slice(k * rows, (k + 1) * rows)
        if site.kind in ("head", "heads"):
            m = heads.setdefault(site.layer, torch.ones(n * rows, mmap.n_heads, dtype=dtype, device=device))
            if site.kind == "head":
                m[sl, site.head] = x
            else:
                m[sl] = x
        else:
            blocks.setdefault((site.layer, site.kind), torch.ones(n * rows, dtype=dtype, device=device))[sl] = x
    return heads, blocks


def _settings_last_token(model, mmap, cache, sub, settings, *, share: bool = False) -> torch.Tensor:
    """Last-token logits of ``sub`` under every setting at once: ``(len(settings) * rows, vocab)``.

    The last token of every setting runs in **one** forward pass, each block of rows scaled by its own
    setting (hooks that multiply the whole one-token chunk: in a cached step it *is* the last position).
    ``share=False``: the prefix cache is repeated along the batch once per setting; ``share=True``: it is
    not repeated, and the merged attention (:func:`scale_lib.core.prefix.merged_attention`) lets every
    block read the one prefix. Equal to running the settings one by one (``tests/test_sweep.py``); the
    cache is restored afterwards."""
    rows, n = sub["input_ids"].shape[0], len(settings)
    layers = cache.layers
    saved = [(layer.keys, layer.values) for layer in layers]
    saved_pos = getattr(cache, "scale_lib_last_positions", None)
    dtype = saved[0][0].dtype
    heads, blocks = _row_multipliers(mmap, settings, rows, dtype, saved[0][0].device)
    handles = []

    def head_hook(mult):
        def hook(module, args):
            x = args[0]
            b, t, w = x.shape
            return (x.view(b, t, mmap.n_heads, w // mmap.n_heads).mul(mult.to(x.dtype)[:, None, :, None]).view(b, t, w), *args[1:])
        return hook

    def block_hook(mult):
        def hook(module, args, output):
            out = output[0] if isinstance(output, tuple) else output
            m = mult.to(out.dtype)
            y = out * (m[:, None] if out.dim() == 2 else m[:, None, None])
            return (y, *output[1:]) if isinstance(output, tuple) else y
        return hook

    try:
        for layer, mult in heads.items():
            handles.append(mmap.attn_out(layer).register_forward_pre_hook(head_hook(mult)))
        for (layer, kind), mult in blocks.items():
            module = mmap.attn_block(layer) if kind == "attn" else mmap.mlp_block(layer)
            handles.append(module.register_forward_hook(block_hook(mult)))
        if not share:
            for layer, (k, v) in zip(layers, saved):
                layer.keys, layer.values = k.repeat(n, *([1] * (k.dim() - 1))), v.repeat(n, *([1] * (v.dim() - 1)))
        if saved_pos is not None:
            cache.scale_lib_last_positions = saved_pos.repeat(1, n, 1)
        ids, mask = sub["input_ids"].repeat(n, 1), sub["attention_mask"].repeat(n, 1)
        return last_token_logits(model, cache, ids, mask, attention="merged" if share else "model")
    finally:
        for h in handles:
            h.remove()
        for layer, (k, v) in zip(layers, saved):
            layer.keys, layer.values = k, v
        if saved_pos is not None:
            cache.scale_lib_last_positions = saved_pos


def _stackable(cache) -> bool:
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(hasattr(x, "keys") and isinstance(x.keys, torch.Tensor) for x in layers) and hasattr(cache, "crop")


@torch.no_grad()
def _sweep(model, inputs, labels, sites, scales, *, option_ids, groups, batch_size, cached, progress, max_stack_mb: float = 0, share_prefix: int = 0):
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
        if cached and (share_prefix or (max_stack_mb and _stackable(cache))):  # many settings per forward pass
            if share_prefix:
                group = share_prefix
            else:
                per_setting = max(1, _cache_bytes(cache))
                group = max(1, int(max_stack_mb * 2**20 // per_setting))
            for start in range(0, len(settings), group):
                part = settings[start : start + group]
                logits = _settings_last_token(model, mmap, cache, sub, part, share=bool(share_prefix)).view(len(part), sub["input_ids"].shape[0], -1)
                for j, k in enumerate(range(start, start + len(part))):
                    correct[k][rows] = answer_predictions(logits[j], opts) == labels[rows]
            continue
        for k, (site, scale) in enumerate(settings):
            with scaled(model, {} if site is None else {site: scale}, mmap=mmap):
                logits = last_token_logits(model, cache, sub["input_ids"], sub["attention_mask"]) if cached else model(**sub).logits[:, -1]
            correct[k][rows] = answer_predictions(logits, opts) == labels[rows]
    records = [dict(site="none" if s is None else str(s), scale=x, correct=correct[k].numpy()) for k, (s, x) in enumerate(settings)]
    return _tidy(records, groups, labels)


def rescaling_sweep(model: nn.Module, inputs: dict, labels: torch.Tensor, sites: Sequence[str | Site], scales: Sequence[float], *,
                    option_ids: torch.Tensor | None = None, groups: Sequence[str] | None = None, batch_size: int = 64, progress: bool = True,
                    max_stack_mb: float = 0, share_prefix: int = 0) -> pd.DataFrame:
    """Accuracy change when each site is scaled at the last token, per group — prefix cached.

    Args:
        inputs: left-padded ``input_ids`` / ``attention_mask`` (+ e.g. ``pixel_values``), N rows, or a
            batch object with ``inputs(rows)`` (:func:`scale_lib.core.prefix.select_rows`).
        labels: the correct answer token of each row.
        sites, scales: every site is tried at every scale (``"L3.H5"``, ``"L2.attn"``, ``"L1.mlp"``...).
        option_ids: ``(N, K)`` answer tokens each row may choose from (``-1`` pads); ``None``: the whole vocabulary.
        groups: a label per row (e.g. task or "spatial" / "nonspatial"); accuracy is reported per group.

        max_stack_mb: ``> 0`` runs the settings **stacked**: each minibatch's prefix cache is repeated once
            per setting, up to this many MB at a time, and all their last tokens go through one forward
            pass (the same answers). ``0`` (default): one setting per pass. Measured on 2026-12-02
            (``benchmarks/bench_sweep.py``): stacking (512 MB) is 3.0x faster on SmolLM2-135M, whose
            per-pass cost is large, and 1.8x *slower* on the tiny testbed, where copying the repeated
            cache costs more than the passes it saves — so it is opt-in (decided after that measurement).
        share_prefix: ``> 0`` runs this many settings per pass, stacked **without** repeating the prefix
            cache: every setting's last token reads the one prefix through the merged attention
            (:func:`scale_lib.core.prefix.merged_attention`; decoders with full attention in every layer,
            see :func:`scale_lib.core.prefix.last_token_logits`). Overrides ``max_stack_mb``; opt-in.
            Measured on 2026-12-03 (``benchmarks/results/sweep.json``, 60 settings): 28.3x the naive sweep on the
            tiny LLaVA and 20.2x on SmolLM2-135M, 3.3x and 4.8x faster than one setting per pass.

    Returns a tidy DataFrame: ``site, layer, kind, head, scale, group, accuracy, baseline, delta, n``.
    """
    if share_prefix < 0:
        raise ValueError(f"share_prefix={share_prefix}: the number of settings per pass, >= 1 (or 0: off)")
    return _sweep(model, inputs, labels, sites, scales, option_ids=option_ids, groups=groups, batch_size=batch_size, cached=True, progress=progress,
                  max_stack_mb=max_stack_mb, share_prefix=int(share_prefix))


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
