"""Chapter 07's study, one seed at a time, and its summary over seeds (see :mod:`scale_lib.scaling.causal`).

:func:`study_seed` takes one testbed's **pre-tuning** weights and damages the spatial skill in
several ways (*arms*):

* ``"recipe"`` — the shipped tuned testbed (every attention projection tuned 300 steps, cosine: the
  book's recipe, unmatched damage);
* ``"qk"`` and ``"vo"`` — :func:`scale_lib.scaling.causal.hide` with one scope each and matched damage;
* ``"damp_last"`` — the most selective heads damped at the last token (positive control);
* ``"damp_all"`` — the same damping baked into the weights at every position.

On each arm it fits every method of its list (:func:`scale_lib.scaling.causal.fit_method`: grid, validation
choice, test score) and records test accuracy per item. :func:`summarize` turns the rows of
several seeds into the chapter's metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from scale_lib.core.arch import freeze
from scale_lib.core.stats import mcnemar, paired_difference, ratio_of_sums, sign_test
from scale_lib.models import testbed
from scale_lib.scaling.causal import (
    METHODS,
    SCOPES,
    Damped,
    Frozen,
    HidingRule,
    baked_damping,
    correct,
    fit_method,
    hide,
    included,
    recovery,
    selective_heads,
)

__all__ = ["ARMS", "ARM_METHODS", "StudyData", "load_study_data", "study_seed", "summarize"]

ARMS = ("recipe", "qk", "vo", "damp_last", "damp_all")
#: Which methods run on which arm (claims/07_causal.md).
ARM_METHODS = {
    "recipe": ("scale", "logit", "lora_last", "lora_all"),
    "qk": ("scale", "logit", "lora_last", "lora_all"),
    "vo": ("scale", "logit", "lora_last", "lora_all"),
    "damp_last": ("scale", "scale_b4"),
    "damp_all": ("scale", "scale_b4"),
}


@dataclass
class StudyData:
    """One testbed for the study: pre-tuning and shipped tuned model, and its items (train / val / test layouts)."""

    seed: int
    pretrained: nn.Module = field(repr=False)
    tuned: nn.Module = field(repr=False)
    tokenizer: testbed.WordTokenizer = field(repr=False)
    record: dict = field(repr=False)
    train: testbed.EncodedBatch = field(repr=False)  # spatial + non-spatial, what every method trains on
    nonspatial: testbed.EncodedBatch = field(repr=False)  # what the hiding tunes on
    val: testbed.EncodedBatch = field(repr=False)
    test: testbed.EncodedBatch = field(repr=False)


def load_study_data(seed: int, *, n_per_kind: int = 1000, n_val_layouts: int = 200, n_test_layouts: int = 250, directory=None) -> StudyData:
    """Testbed ``seed`` (or the checkpoint in ``directory``) with ``n_per_kind`` spatial + non-spatial
    training items from its training layouts (chapter 03's split), every non-spatial question of its
    training layouts for the hiding, the corner question of ``n_val_layouts`` validation layouts (what
    the hiding's stopping rule and every choice of rate and steps read) and every question of
    ``n_test_layouts`` test layouts."""

    directory = Path(directory) if directory is not None else testbed.testbed_dir(seed)
    tuned, tok, record = testbed.load_testbed(directory)
    pre, _, _ = testbed.load_testbed(directory, stage="pretrained")
    items = testbed.testbed_items(record["n_train_layouts"], "train", seed=record["seed"])
    spatial = [i for i in items if i.kind == "spatial"][:n_per_kind]
    nonspatial = [i for i in items if i.kind == "nonspatial"]
    enc = lambda xs: testbed.encode_items(xs, tok)  # noqa: E731
    val = enc([i for i in testbed.testbed_items(n_val_layouts, "val", seed=record["seed"]) if i.kind == "spatial"])  # every choice reads spatial accuracy only
    test = enc(testbed.testbed_items(n_test_layouts, "test", seed=record["seed"]))
    return StudyData(record["seed"], freeze(pre), freeze(tuned), tok, record, enc(spatial + nonspatial[:n_per_kind]), enc(nonspatial), val, test)


def _acc(right: torch.Tensor, mask: torch.Tensor) -> float:
    return float(right[mask].mean())


def study_seed(data: StudyData, *, arms=ARMS, rule: HidingRule = HidingRule(), k_heads: int = 3, factor: float = 0.25,
               methods: dict | None = None, steps: tuple[int, ...] | None = None, lrs: dict | None = None, seed: int = 0,
               progress: bool = True) -> dict:
    """Every arm of the study on one testbed. Returns a JSON-ready row (per-item vectors under ``"items"``).

    ``methods``: ``{arm: method names}`` replacing :data:`ARM_METHODS` for those arms; ``steps`` / ``lrs``
    (``{method: rates}``) replace the methods' grids (fast mode and tests only: the study uses the stated grids)."""

    bad = [a for a in arms if a not in ARMS]
    if bad:
        raise ValueError(f"unknown arms {bad}; valid arms are {ARMS}")
    arm_methods = {**ARM_METHODS, **(methods or {})}
    spatial = torch.tensor([i.kind == "spatial" for i in data.test.items])
    ok, why = included(data.record)
    pre_right = correct(Frozen(data.pretrained), data.test)
    row = {"seed": data.seed, "included": ok, "inclusion": why, "pretrained_spatial": _acc(pre_right, spatial),
           "pretrained_nonspatial": _acc(pre_right, ~spatial), "n_test_spatial": int(spatial.sum()), "arms": {}, "items": {"pretrained": pre_right.tolist()}}
    heads = selective_heads(data.pretrained, data.val, k_heads) if {"damp_last", "damp_all"} & set(arms) else None
    row["selective_heads"] = heads
    bar = tqdm(total=sum(len(arm_methods[a]) for a in arms), desc=f"seed {data.seed}", disable=not progress, leave=False)
    for arm in arms:
        damp = None
        info: dict = {}
        if arm == "recipe":
            model = data.tuned
        elif arm in SCOPES:
            hidden = hide(data.pretrained, data.nonspatial, data.val, data.tokenizer, arm, rule, seed=seed + 1)
            model = hidden.model
            info = {"status": hidden.status, "lr": hidden.lr, "steps": hidden.steps, "val_spatial": hidden.val_spatial, "curve": hidden.curve,
                    "tried": hidden.tried}
        elif arm == "damp_last":
            model, damp = data.pretrained, (heads, factor)
        else:
            model = baked_damping(data.pretrained, heads, factor)
        base = Damped(Frozen(model), *damp) if damp else Frozen(model)
        right0 = correct(base, data.test)
        info.update(damaged_spatial=_acc(right0, spatial), damaged_nonspatial=_acc(right0, ~spatial), methods={})
        row["items"][arm] = {"damaged": right0.tolist()}
        for name in arm_methods[arm]:
            fitted = fit_method(name, model, data.train, data.val, data.test, damp=damp, seed=seed, steps=steps, lrs=(lrs or {}).get(name))
            acc_s, acc_n = _acc(fitted.test, spatial), _acc(fitted.test, ~spatial)
            info["methods"][name] = dict(lr=fitted.lr, steps=fitted.steps, val_spatial=fitted.val_spatial, params=fitted.n_params,
                                         spatial=acc_s, nonspatial=acc_n, gain=acc_s - info["damaged_spatial"],
                                         recovery=recovery(row["pretrained_spatial"], info["damaged_spatial"], acc_s),
                                         mcnemar=mcnemar(right0[spatial], fitted.test[spatial]), grid=fitted.grid)
            row["items"][arm][name] = fitted.test.tolist()
            bar.update()
        row["arms"][arm] = info
    bar.close()
    return row


def _matched(row: dict) -> bool:
    return row["included"] and all(row["arms"].get(s, {}).get("status") == "matched" for s in SCOPES)


def summarize(rows: list[dict], *, n_boot: int = 10_000) -> dict:
    """The chapter's metrics from :func:`study_seed` rows (one per seed; names as chapter 07 writes them)."""
    out: dict = {}
    out["causal_seeds_included"] = [r["seed"] for r in rows if _matched(r)]
    out["causal_seeds_excluded"] = {str(r["seed"]): (r["inclusion"] if not r["included"] else
                                                      "; ".join(f"{s}: {r['arms'][s]['status']}" for s in SCOPES if r["arms"][s]["status"] != "matched"))
                                    for r in rows if not _matched(r)}
    used = [r for r in rows if _matched(r)]

    def per(arm, method, what="recovery"):
        return [r["arms"][arm]["methods"][method][what] for r in used]

    def sums(arm, method):
        return ([r["arms"][arm]["methods"][method]["gain"] for r in used], [r["pretrained_spatial"] - r["arms"][arm]["damaged_spatial"] for r in used])

    if used:
        for scope in SCOPES:
            out[f"causal_scale_recovery_{scope}"] = per(scope, "scale")
            out[f"causal_damage_{scope}"] = [r["pretrained_spatial"] - r["arms"][scope]["damaged_spatial"] for r in used]
        out["causal_share"] = {f"{scope}.{m}": ratio_of_sums(*sums(scope, m), n_boot=n_boot) for scope in ("recipe",) + tuple(SCOPES)
                               for m in METHODS if m in used[0]["arms"].get(scope, {}).get("methods", {})}
        diffs = {m: paired_difference(*sums("qk", m), *sums("vo", m), n_boot=n_boot) for m in used[0]["arms"]["qk"]["methods"]}
        out["causal_difference_ci"] = diffs["scale"]["ci"]
        out["causal_difference"] = diffs
        out["causal_sign_test"] = sign_test(np.array(per("vo", "scale")) - np.array(per("qk", "scale")))
        ctrl = {}
        for arm in ("damp_last", "damp_all"):
            if arm in used[0]["arms"]:
                for m in used[0]["arms"][arm]["methods"]:
                    ctrl[f"{arm}.{m}"] = ratio_of_sums(*sums(arm, m), n_boot=n_boot)
        out["positive_control_recovery"] = ctrl
        arms = used[0]["arms"]
        if "damp_last" in arms and {"scale", "scale_b4"} <= set(arms["damp_last"]["methods"]):
            out["positive_control_bound_difference"] = paired_difference(*sums("damp_last", "scale"), *sums("damp_last", "scale_b4"), n_boot=n_boot)
        if {"damp_last", "damp_all"} <= set(arms) and "scale_b4" in arms["damp_all"]["methods"]:
            out["positive_control_position_difference"] = paired_difference(*sums("damp_all", "scale_b4"), *sums("damp_last", "scale_b4"), n_boot=n_boot)
        out["causal_nonspatial_change_max"] = max(abs(r["arms"][a]["methods"]["scale"]["nonspatial"] - r["arms"][a]["damaged_nonspatial"])
                                                  for r in used for a in ("recipe", "qk", "vo") if "scale" in r["arms"].get(a, {}).get("methods", {}))
    lookup = lambda arm, m: {str(r["seed"]): r["arms"][arm]["methods"][m]["gain"] for r in rows if m in r["arms"].get(arm, {}).get("methods", {})}  # noqa: E731
    out["lora_last_gain_by_testbed"] = lookup("recipe", "lora_last")
    out["lora_all_gain_by_testbed"] = lookup("recipe", "lora_all")
    out["scale_gain_by_testbed"] = lookup("recipe", "scale")
    out["logit_variant_gain_by_testbed"] = lookup("recipe", "logit")
    return out
