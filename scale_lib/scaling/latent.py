"""How latent is the testbed's skill? ScAle across independently pretrained testbeds, and why it varies.

A claim measured on one pretrained model is a claim about one random draw. The book ships
:data:`scale_lib.models.testbed.TESTBED_SEEDS`: the same recipe (pretrain on spatial + non-spatial
questions, then tune the language model's attention on non-spatial questions only) run with
different seeds — different layouts, initialisation and minibatch order. :func:`study_testbed`
runs chapter 03's comparison (frozen, ScAle, LoRA r=1 on the same batches) on one of them and the
diagnostics below; :func:`across_testbeds` does it for several and returns one row per testbed.

The diagnostics ask *what kind of damage* the tuning did, with tools the book already has:

* :func:`tuning_change` — how far the tuning moved each head's query, key and value rows and its
  output-projection columns (relative Frobenius change): which heads were touched;
* :func:`restored` — put the pre-tuning weights of some projections back (in place, undone on
  exit): is the damage in *where the last token looks* (queries and keys: routing) or in *what the
  heads write* (values and output projection)?
* a **linear probe** on the last token's final hidden state, before and after tuning: is the answer
  still readable there (the skill *suppressed* at the readout) or gone from the last position;
* **one-head sweeps** (:func:`scale_lib.scaling.sweep.rescaling_sweep`): the best accuracy a single head's
  scale can buy back, which is what ScAle's coefficients combine.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from scale_lib.core.arch import freeze, model_map
from scale_lib.core.stats import share_interval, t_interval
from scale_lib.models import testbed
from scale_lib.scaling.adapt import adapt
from scale_lib.scaling.sweep import rescaling_sweep

__all__ = ["TestbedData", "load_data", "discovery", "discovery_across", "DISCOVERY_CLAIMS", "SCALE_CLAIMS", "claims_table", "gain_summary", "tuning_change", "restored", "PROJECTIONS", "sweep_summary", "study_testbed", "across_testbeds",
           "share_interval"]

#: The attention projections of the testbed's language model, by role.
PROJECTIONS = {"routing": ("q_proj", "k_proj"), "content": ("v_proj", "o_proj")}
_ALL_PROJ = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass
class TestbedData:
    """One testbed and chapter 03's data for it: training items half spatial, half non-spatial; held-out test layouts."""

    seed: int
    directory: object  # the checkpoint folder
    model: nn.Module
    tokenizer: testbed.WordTokenizer
    record: dict
    train: testbed.EncodedBatch
    spatial_train: testbed.EncodedBatch
    test: testbed.EncodedBatch = field(repr=False)

    def pretrained(self) -> nn.Module:
        """The same testbed before its non-spatial tuning (frozen, eval mode)."""

        model, _, _ = testbed.load_testbed(self.directory, stage="pretrained")
        freeze(model)
        return model


def load_data(seed: int | None = None, *, directory=None, n_per_kind: int = 1000, n_test_layouts: int = 250) -> TestbedData:
    """Testbed ``seed`` (or the one in ``directory``), frozen, with chapter 03's split: ``n_per_kind``
    spatial + ``n_per_kind`` non-spatial training items from its own training layouts, and every
    question of ``n_test_layouts`` held-out layouts."""


    if (seed is None) == (directory is None):
        raise ValueError("give exactly one of seed= (a shipped testbed) or directory= (a checkpoint folder)")
    directory = Path(directory) if directory is not None else testbed.testbed_dir(seed)
    model, tok, record = testbed.load_testbed(directory)
    freeze(model)
    items = testbed.testbed_items(record["n_train_layouts"], "train", seed=record["seed"])
    spatial = [i for i in items if i.kind == "spatial"][:n_per_kind]
    nonspatial = [i for i in items if i.kind == "nonspatial"][:n_per_kind]
    test = _test_batch(tok, record, n_test_layouts)
    return TestbedData(record["seed"], directory, model, tok, record, testbed.encode_items(spatial + nonspatial, tok), testbed.encode_items(spatial, tok), test)


def _test_batch(tok, record: dict, n_test_layouts: int):
    return testbed.encode_items(testbed.testbed_items(n_test_layouts, "test", seed=record["seed"]), tok)


def _attn(model: nn.Module, layer: int) -> nn.Module:
    return model_map(model).layers[layer].self_attn


def tuning_change(before: nn.Module, after: nn.Module) -> pd.DataFrame:
    """Per head and projection, ``‖W_after − W_before‖ / ‖W_before‖`` over that head's slice.

    A head's slice is its rows of ``q_proj`` / ``k_proj`` / ``v_proj`` (its key/value head under
    grouped-query attention) and its columns of ``o_proj``. Returns a tidy frame:
    ``layer, head, projection, change``.
    """
    mb, ma = model_map(before), model_map(after)
    if (mb.n_layers, mb.n_heads, mb.head_dim) != (ma.n_layers, ma.n_heads, ma.head_dim):
        raise ValueError(f"the two models differ in shape: {mb.n_layers}×{mb.n_heads}×{mb.head_dim} vs {ma.n_layers}×{ma.n_heads}×{ma.head_dim}")
    d, group = mb.head_dim, mb.n_heads // mb.n_kv_heads
    rows = []
    for layer in range(mb.n_layers):
        for proj in _ALL_PROJ:
            w0 = getattr(_attn(before, layer), proj).weight.detach()
            w1 = getattr(_attn(after, layer), proj).weight.detach()
            for h in range(mb.n_heads):
                k = h if proj == "q_proj" or proj == "o_proj" else h // group
                sl = (slice(None), slice(k * d, (k + 1) * d)) if proj == "o_proj" else (slice(k * d, (k + 1) * d), slice(None))
                rows.append(dict(layer=layer, head=h, projection=proj,
                                 change=float((w1[sl] - w0[sl]).norm() / w0[sl].norm().clamp_min(1e-12))))
    return pd.DataFrame(rows)


@contextlib.contextmanager
def restored(tuned: nn.Module, source: nn.Module, projections=_ALL_PROJ, layers=None):
    """Temporarily give ``tuned`` the weights of ``source`` for these attention ``projections`` (and ``layers``).

    ``projections``: names among ``q_proj, k_proj, v_proj, o_proj``, or a key of :data:`PROJECTIONS`
    (``"routing"``: queries and keys; ``"content"``: values and output). The tuned weights come back
    on exit, also when the block raises.
    """
    if isinstance(projections, str):
        if projections not in PROJECTIONS:
            raise ValueError(f"unknown projection group {projections!r}; valid groups are {sorted(PROJECTIONS)} (or a tuple of {_ALL_PROJ})")
        projections = PROJECTIONS[projections]
    bad = [p for p in projections if p not in _ALL_PROJ]
    if bad:
        raise ValueError(f"unknown projections {bad}; valid projections are {_ALL_PROJ}")
    n = model_map(tuned).n_layers
    layers = list(range(n)) if layers is None else list(layers)
    for layer in layers:
        model_map(tuned).check_layer(layer)
    saved = []
    try:
        with torch.no_grad():
            for layer in layers:
                for proj in projections:
                    dst, src = getattr(_attn(tuned, layer), proj), getattr(_attn(source, layer), proj)
                    saved.append((dst, dst.weight.detach().clone()))
                    dst.weight.copy_(src.weight)
        yield tuned
    finally:
        with torch.no_grad():
            for module, w in saved:
                module.weight.copy_(w)


def _spatial_acc(model: nn.Module, batch) -> float:
    return testbed.evaluate(model, batch)["spatial"]


def sweep_summary(sweep: pd.DataFrame, *, tolerance: float = 0.02) -> dict:
    """What a one-site sweep (``rescaling_sweep`` with groups ``spatial`` / ``nonspatial``) finds.

    * ``best_gain``: the largest spatial gain any single site and scale buys while non-spatial
      accuracy falls by at most ``tolerance`` (0 if none helps), and where;
    * ``selective_drop``: the largest spatial loss from a site that moves non-spatial accuracy by at
      most ``tolerance`` (a *selective* site), and where.
    """
    wide = sweep.pivot_table(index=["site", "scale"], columns="group", values="delta").reset_index()
    if not {"spatial", "nonspatial"} <= set(wide.columns):
        raise ValueError(f"the sweep needs groups 'spatial' and 'nonspatial'; it has {sorted(set(sweep.group))}")
    safe = wide[wide.nonspatial >= -tolerance]
    best = safe.loc[safe.spatial.idxmax()] if len(safe) else None
    selective = wide[wide.nonspatial.abs() <= tolerance]
    drop = selective.loc[selective.spatial.idxmin()] if len(selective) else None
    return {
        "best_gain": max(0.0, float(best.spatial)) if best is not None else 0.0,
        "best_gain_site": f"{best.site} x {best.scale:g}" if best is not None and best.spatial > 0 else "none",
        "best_gain_nonspatial": float(best.nonspatial) if best is not None and best.spatial > 0 else 0.0,
        "selective_drop": float(drop.spatial) if drop is not None else 0.0,
        "selective_drop_site": f"{drop.site} x {drop.scale:g}" if drop is not None else "none",
        "selective_drop_nonspatial": float(drop.nonspatial) if drop is not None else 0.0,
    }


def discovery(model: nn.Module, test, *, head_scales=(0.0, 2.0), tolerance: float = 0.02, progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """Chapter 02's discovery on one testbed: every head at ``head_scales`` and every attention block
    switched off, at the last token, on ``test`` (spatial and non-spatial items), prefix-cached.

    Returns the tidy sweep and a summary: ``L0_attn_off_spatial`` / ``_nonspatial`` (the first
    layer's attention switched off) and, over heads, :func:`sweep_summary`'s entries prefixed ``head_``.
    """
    mm = model_map(model)
    sites = [f"L{l}.attn" for l in range(mm.n_layers)] + [f"L{l}.H{h}" for l in range(mm.n_layers) for h in range(mm.n_heads)]
    scales = sorted({0.0, *map(float, head_scales)})
    groups = [i.kind for i in test.items]
    sweep = rescaling_sweep(model, test.inputs(), test.labels, sites, scales, option_ids=test.option_ids, groups=groups, progress=progress)
    sweep = sweep[(sweep.kind == "head") & sweep.scale.isin([float(x) for x in head_scales]) | (sweep.kind == "attn") & (sweep.scale == 0.0)]
    summary = {f"head_{k}": v for k, v in sweep_summary(sweep[sweep.kind == "head"], tolerance=tolerance).items()}
    blocks = sweep[sweep.kind == "attn"].pivot_table(index="layer", columns="group", values="delta")
    summary["L0_attn_off_spatial"], summary["L0_attn_off_nonspatial"] = float(blocks.loc[0, "spatial"]), float(blocks.loc[0, "nonspatial"])
    return sweep.reset_index(drop=True), summary


def study_testbed(data: TestbedData, *, steps: int = 300, lrs: dict | None = None, seed: int = 0, probes: bool = True,
                  head_scales=(0.0, 2.0), progress: bool = False) -> dict:
    """Chapter 03's comparison and the damage diagnostics on one testbed.

    Returns a dict (one row of :func:`across_testbeds`) and, under ``"_details"``, the trained ScAle
    adapter, the per-head tuning change, and the one-head sweep.
    """
    lrs = lrs or {}
    test, spatial = data.test, torch.tensor([i.kind == "spatial" for i in data.test.items])
    frozen = adapt(data.model, "frozen", data.train)
    right0 = frozen.correct(test)
    scale = adapt(data.model, "scale", data.train, steps=steps, lr=lrs.get("scale"), seed=seed, progress=progress)
    lora = adapt(data.model, "lora_r1", data.train, steps=steps, lr=lrs.get("lora_r1"), seed=seed, progress=progress)
    r_scale, r_lora = scale.correct(test), lora.correct(test)
    acc = lambda r, m: float(r[m].mean())  # noqa: E731
    f0, fs, fl = acc(right0, spatial), acc(r_scale, spatial), acc(r_lora, spatial)
    d = (r_scale - right0)[spatial]
    row = dict(testbed=data.seed, fresh=data.seed in testbed.FRESH_SEEDS,
               pretrained_spatial=data.record["before_tuning"]["spatial"], frozen_spatial=f0, scale_spatial=fs, lora_r1_spatial=fl,
               frozen_nonspatial=acc(right0, ~spatial), scale_nonspatial=acc(r_scale, ~spatial), lora_r1_nonspatial=acc(r_lora, ~spatial),
               scale_gain=fs - f0, lora_r1_gain=fl - f0, share=(fs - f0) / (fl - f0) if fl > f0 else float("nan"),
               fixed=int((d > 0).sum()), broken=int((d < 0).sum()), n_spatial=int(spatial.sum()),
               scale_params=scale.n_params, lora_r1_params=lora.n_params)
    row["share_low"], row["share_high"] = share_interval(right0[spatial], r_scale[spatial], r_lora[spatial])
    lost = row["pretrained_spatial"] - f0  # what the non-spatial tuning took away (LoRA may also learn beyond it)
    row["lost"] = lost
    row["scale_recovers_of_lost"] = (fs - f0) / lost if lost > 0 else float("nan")
    details = {"scale": scale.module}
    pre = data.pretrained()
    with restored(data.model, pre, "routing"):
        row["restore_routing_spatial"] = _spatial_acc(data.model, test)
    with restored(data.model, pre, "content"):
        row["restore_content_spatial"] = _spatial_acc(data.model, test)
    change = tuning_change(pre, data.model)
    details["change"] = change
    row["change_routing"] = float(change[change.projection.isin(PROJECTIONS["routing"])].change.mean())
    row["change_content"] = float(change[change.projection.isin(PROJECTIONS["content"])].change.mean())
    if probes:
        row["probe_tuned_spatial"] = adapt(data.model, "linear_probe", data.train, steps=steps, seed=seed, progress=False).accuracy(test)["spatial"]
        row["probe_pretrained_spatial"] = adapt(pre, "linear_probe", data.train, steps=steps, seed=seed, progress=False).accuracy(test)["spatial"]
    sweep, summary = discovery(data.model, test, head_scales=head_scales)
    details["sweep"] = sweep
    row.update(summary)
    row["_details"] = details
    return row


def across_testbeds(seeds=testbed.TESTBED_SEEDS, *, n_per_kind: int = 1000, n_test_layouts: int = 250, progress: bool = True, **kwargs):
    """:func:`study_testbed` on each testbed. Returns ``(table, details)``: one row per testbed, and per seed the adapter, change and sweep."""

    rows, details = [], {}
    for s in tqdm(list(seeds), desc="testbeds", disable=not progress):
        if s not in testbed.TESTBED_SEEDS:
            raise ValueError(f"unknown testbed seed {s!r}; shipped seeds are {testbed.TESTBED_SEEDS}")
        row = study_testbed(load_data(seed=s, n_per_kind=n_per_kind, n_test_layouts=n_test_layouts), **kwargs)
        details[s] = row.pop("_details")
        rows.append(row)
    return pd.DataFrame(rows).set_index("testbed"), details


def discovery_across(seeds=testbed.TESTBED_SEEDS, *, n_test_layouts: int = 250, progress: bool = True) -> pd.DataFrame:
    """Chapter 02's :func:`discovery` on each testbed: one row per seed (frozen spatial accuracy and the summary)."""

    rows = []
    for s in tqdm(list(seeds), desc="testbeds", disable=not progress):
        if s not in testbed.TESTBED_SEEDS:
            raise ValueError(f"unknown testbed seed {s!r}; shipped seeds are {testbed.TESTBED_SEEDS}")
        model, tok, record = testbed.load_testbed(seed=s)
        test = _test_batch(tok, record, n_test_layouts)
        _, summary = discovery(model, test)
        rows.append(dict(testbed=s, frozen_spatial=testbed.evaluate(model, test)["spatial"], **summary))
    return pd.DataFrame(rows).set_index("testbed")


#: The claims about every testbed that chapters 02 and 03 wrote down before the fresh testbeds were
#: trained and swept (a claim -> a test of one row). The chapters report which hold where.
DISCOVERY_CLAIMS = {
    "L0.attn × 0 costs spatial more than non-spatial": lambda r: r.L0_attn_off_spatial < r.L0_attn_off_nonspatial,
    "a selective head costs ≥ 5 points": lambda r: r.head_selective_drop <= -0.05,
    "some site moves spatial accuracy ≥ 5 points": lambda r: abs(r.L0_attn_off_spatial) >= 0.05,
}
SCALE_CLAIMS = {
    "ScAle fixes more items than it breaks (sign test, 2σ)": lambda r: r.fixed - r.broken > 2 * np.sqrt(r.fixed + r.broken),
    "non-spatial within 1 point": lambda r: abs(r.scale_nonspatial - r.frozen_nonspatial) <= 0.01,
    "LoRA r=1 gains": lambda r: r.lora_r1_gain > 0,
}


def claims_table(table: pd.DataFrame, claims: dict) -> pd.DataFrame:
    """Which claim holds on which testbed: a boolean frame, one column per claim, one row per testbed."""
    return pd.DataFrame({name: [bool(test(r)) for r in table.itertuples()] for name, test in claims.items()}, index=table.index)


def gain_summary(table: pd.DataFrame) -> dict:
    """ScAle's gain over testbeds (mean and 95 % t interval), its share of LoRA r=1's gain where that is
    defined, and its share of the accuracy the tuning took away."""

    n = len(table)
    mean, low, high = t_interval(table.scale_gain)
    defined = table.share.notna()
    return {"gain_mean": mean, "gain_ci": (low, high), "share_defined": defined,
            "share_mean": float(table.share.mean()), "share_sd": float(table.share.std(ddof=1)) if n > 1 else float("nan")}
