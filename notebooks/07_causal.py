# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scale-lib/scale_lib/blob/main/notebooks/07_causal.ipynb)
#
# # 07 · What a last-token scale can bring back: a causal test
#
# Chapter 03 found that ScAle's gain changes from testbed to testbed, and chapter 06 that on a real
# model its gain sits on items a word-level shortcut answers. This chapter asks the question both
# leave open, and answers it with an experiment instead of a correlation: **when a skill is hidden,
# what kind of damage can a few last-token scales undo?**
#
# An earlier version of chapter 03 explained the varying gain by *where* the tuning had done its
# damage — ScAle helps, it said, *because* the tuning mostly changed where the last token looks
# (queries and keys). That was read off a correlation over six testbeds, and the correlation itself
# leaned the other way (ScAle's gain tracked what restoring the values and outputs gave back:
# Pearson 0.98, against 0.51 for queries and keys). Here we **cause** each kind of damage on purpose,
# match its size, and measure what comes back.
#
# **You will learn to**
# * turn a correlational explanation into an intervention with matched damage, a stopping rule fixed
#   in advance and an inclusion rule for the units;
# * use positive controls: damage a method should be able to undo, to see whether it can;
# * compare a method with reference baselines tuned the same way (validation grid for every method);
# * report shares as ratios of sums with bootstrap intervals over the unit of replication, and exact
#   sign and McNemar tests from scipy.
#
# **Before this chapter**: 02 (one-head sweeps), 03 (ScAle and its trainer), 06 (the real model).
# **Time**: about 30 minutes to run in full mode on 2 CPU cores (2 in fast mode), 40 minutes to read.
#
# **The claims under test** are in `claims/07_causal.md`, committed before any run of this study
# (a test reads the git history to check it). *[ours]* All of them: the ScAle paper does not discuss
# what kind of damage its scales can undo.

# %%
import os
import sys

if "google.colab" in sys.modules:  # Colab: fetch the book and install it (nothing to do elsewhere)
    import subprocess

    subprocess.run(["git", "clone", "--depth", "1", "https://github.com/scale-lib/scale_lib", "/content/scale_lib"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/scale_lib[notebooks]"], check=True)
    sys.path.insert(0, "/content/scale_lib")
    os.chdir("/content/scale_lib/notebooks")

import json
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

import scale_lib as sl
from scale_lib import causal, testbed
from scale_lib import causal_study as cs
from scale_lib import claims as claims_lib

NB = "07_causal"
FAST = sl.is_fast()
sl.use_style()
sl.seed_everything(0)
CORES = sl.use_cores()
NOTEBOOK_START = time.perf_counter()
CLAIMS = claims_lib.load_claims(NB)
print("fast mode" if FAST else "full mode", f"| {CORES} CPU threads | {len(CLAIMS)} pre-registered claims")

# %% [markdown]
# ## 1 · The two settings side by side
#
# The book tests ScAle in two settings that differ in almost everything. Before comparing their
# numbers, here is what each one is (the real model's numbers are read from chapter 06's metrics).

# %%
ch06 = json.loads((sl.output_dir("06_real_model") / "metrics.json").read_text())
settings = pd.DataFrame({
    "testbeds (chapters 03, 07)": {
        "model": "tiny LLaVA trained here (4 layers × 8 heads, 2.3 M weights)",
        "unit of replication": "a pretraining seed (its layouts, initialisation, batch order)",
        "how the skill was hidden": "tuning on non-spatial questions (recipe; or q/k only, v/o only, matched damage)",
        "task": "corner question on a 5 × 5 image, 4 options",
        "ScAle coefficients": "36 (4 layers × 8 heads + 4 MLPs)",
        "reference baselines": "LoRA r = 1 on q/v at the last token and at every position",
        "hyper-parameters": "rate and steps chosen on validation layouts, for every method",
    },
    "real model (chapter 06)": {
        "model": "SmolLM2-135M-Instruct (30 layers × 9 heads), pretrained by others",
        "unit of replication": "a training draw (items, batch order, initialisation); one pretraining",
        "how the skill was hidden": "not hidden: whatever skill the model has",
        "task": "text grid and map questions (cloze scoring), shortcut-prone and shortcut-proof levels",
        "ScAle coefficients": f"{ch06['real_scale_params']} (30 layers × 9 heads + 30 MLPs)",
        "reference baselines": "LoRA r = 1 on q/v at the last token and at every position",
        "hyper-parameters": "rate chosen on a validation split; steps fixed (60)",
    },
})
settings

# %% [markdown]
# ## 2 · The units: which pretrained testbeds learned the skill
#
# A causal test needs a skill to hide. The inclusion rule (claims file, written before seeds 7 and up
# were pretrained): a seed is included when pretraining taught it the corner question (≥ 0.90 on its
# test layouts) and both non-spatial questions (≥ 0.95). New seeds were pretrained in order until
# eight qualified.

# %%
SEEDS = sl.pick(testbed.CAUSAL_SEEDS, (0, 1))
seeds_table = pd.DataFrame([{"seed": s, **dict(zip(("included", "why"), causal.included(testbed.load_testbed(seed=s)[2])))} for s in SEEDS]).set_index("seed")
seeds_table

# %% [markdown]
# ## 3 · Five ways to damage the skill, one study per seed
#
# From each included seed's **pre-tuning** weights, `causal_study.study_seed` makes five damaged models:
#
# | arm | what is damaged | what a last-token scale could undo |
# |---|---|---|
# | `recipe` | the shipped testbed: every attention projection tuned on non-spatial questions (chapter 03's model) | unknown: the question chapter 03 asked |
# | `qk` | only queries and keys tuned (where the last token **looks**), stopped by the rule below | re-weighting heads can't re-aim them |
# | `vo` | only values and output projections tuned (what the heads **write**), same rule | re-weighting heads can't rewrite them |
# | `damp_last` | the 3 most selective heads × 0.25 at the last token (positive control) | exactly: coefficients of 4 |
# | `damp_all` | the same damping baked into the weights, at every position | only the last position's share |
#
# **Matched damage.** The hiding tunes at a constant rate and measures spatial accuracy on validation
# layouts every 10 steps; it stops at the first check at or below 0.75, and the damage counts as
# matched if that check is at least 0.45. A seed that never gets there is reported, not dropped.
#
# On every arm each method is trained on the same 1,000 spatial + 1,000 non-spatial items of the
# seed's training layouts, with the same trainer and batches; its learning rate (3 values) and steps
# (150 or 300) are chosen by spatial accuracy on validation layouts, and it is scored once on the
# test layouts. The methods: ScAle with bound (0, 2) and (0, 4); a **logit scale** (one temperature per
# head on the last token's attention logits — the other reading of "last-token attention
# activations"); LoRA r = 1 on q/v at the last token only, and at every position.

# %%
RULE = causal.HidingRule() if not FAST else causal.HidingRule(max_steps=60, check_every=10)
FAST_GRID = dict(steps=(20,), lrs={"scale": (0.1,), "scale_b4": (0.1,), "logit": (0.1,), "lora_last": (1e-2,), "lora_all": (1e-2,)}) if FAST else {}
SIZES = dict(n_per_kind=1000, n_val_layouts=200, n_test_layouts=250) if not FAST else dict(n_per_kind=64, n_val_layouts=40, n_test_layouts=40)
rows = []
for s in tqdm(SEEDS, desc="seeds"):
    data = cs.load_study_data(s, **SIZES)
    if not seeds_table.loc[s, "included"]:
        rows.append({"seed": s, "included": False, "inclusion": seeds_table.loc[s, "why"], "arms": {}})
        continue
    rows.append(cs.study_seed(data, rule=RULE, **FAST_GRID))
summary = cs.summarize([r for r in rows if r["included"]] , n_boot=sl.pick(10_000, 500))
summary["causal_seeds_excluded"].update({str(r["seed"]): r["inclusion"] for r in rows if not r["included"]})
study_rows = [r for r in rows if r["included"]]
print("included and matched in both scopes:", summary["causal_seeds_included"])
print("excluded:", summary["causal_seeds_excluded"])

# %% [markdown]
# ## 4 · Hiding the skill two ways, with matched damage

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for ax, scope in zip(axes, causal.SCOPES):
    ax.axhspan(RULE.floor, RULE.stop_at, color="lightgrey", alpha=0.5, label="matched band")
    for r in study_rows:
        steps, acc = zip(*r["arms"][scope]["curve"])
        ax.plot(steps, acc, marker=".", lw=1, label=f"seed {r['seed']} (rate {r['arms'][scope]['lr']:g})")
    ax.set(title=f"tuning only {' + '.join(causal.SCOPES[scope])} on non-spatial questions", xlabel="tuning steps (at the rate that reached the band)",
           ylabel="corner accuracy (validation layouts)" if scope == "qk" else None, ylim=(0.2, 1.03))
    ax.legend(fontsize=7, ncol=2, loc="lower left")
fig.tight_layout()
sl.save_figure(fig, NB, "hiding_curves")
plt.show()
hiding = pd.DataFrame([{"seed": r["seed"], **{f"{s} {k}": r["arms"][s][k] for s in causal.SCOPES for k in ("status", "steps", "damaged_spatial")}}
                       for r in study_rows]).set_index("seed")
hiding

# %% [markdown]
# ## 5 · What each method brings back
#
# The share of the lost accuracy a method recovers on one seed is
# (after − damaged) / (before − damaged), on the test layouts' corner questions. Over seeds we report
# the **ratio of sums** (Σ gains / Σ losses: seeds with more damage weigh more, and one seed with
# almost no damage cannot blow the ratio up) with a 95 % bootstrap interval over seeds.

# %%
ARM_ORDER = ("recipe", "qk", "vo", "damp_last", "damp_all")
share = pd.DataFrame([{"arm": k.split(".")[0], "method": k.split(".")[1], "share": v["share"], "low": v["ci"][0], "high": v["ci"][1], "n": v["n"],
                       "dropped resamples": v["dropped"]}
                      for k, v in {**summary.get("causal_share", {}), **summary.get("positive_control_recovery", {})}.items()])
fig, ax = plt.subplots(figsize=(11, 4.6))
methods = list(causal.METHODS)
width = 0.8 / len(methods)
for j, m in enumerate(methods):
    sub = share[share.method == m].set_index("arm").reindex(ARM_ORDER)
    x = np.arange(len(ARM_ORDER)) + (j - (len(methods) - 1) / 2) * width
    ax.errorbar(x, sub.share, yerr=[sub.share - sub.low, sub.high - sub.share], fmt="o", capsize=3, color=sl.PALETTE[j], label=causal.METHODS[m].label)
    for i, arm in enumerate(ARM_ORDER):
        per_seed = [r["arms"][arm]["methods"][m]["recovery"] for r in study_rows if arm in r["arms"] and m in r["arms"][arm]["methods"]]
        ax.scatter(np.full(len(per_seed), x[i]) + 0.03, per_seed, s=6, color=sl.PALETTE[j], alpha=0.4)
ax.axhline(0, color="k", lw=0.8)
ax.axhline(1, color="k", lw=0.8, ls=":")
ARM_LABELS = {"recipe": "recipe\n(all attention tuned)", "qk": "q + k tuned\n(where it looks)", "vo": "v + o tuned\n(what heads write)",
              "damp_last": "3 heads × 0.25\nat the last token", "damp_all": "3 heads × 0.25\nat every position"}
ax.set(xticks=range(len(ARM_ORDER)), xticklabels=[ARM_LABELS[a] for a in ARM_ORDER], xlim=(-0.6, len(ARM_ORDER) - 0.4),
       ylabel="share of the lost corner accuracy\nthat comes back", ylim=(-0.6, 1.4),
       title="what each method brings back (dots: seeds; bars: ratio of sums with 95 % bootstrap interval over seeds)")
ax.legend(fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.22))
fig.tight_layout()
sl.save_figure(fig, NB, "recovery")
plt.show()
share.round(3)

# %% [markdown]
# ## 6 · The causal question: routing or content?

# %%
diff = summary["causal_difference"]
print(f"ScAle's share, v/o damage minus q/k damage: {diff['scale']['difference']:+.3f} "
      f"[{diff['scale']['ci'][0]:+.3f}, {diff['scale']['ci'][1]:+.3f}] over {diff['scale']['n']} seeds ({diff['scale']['dropped']} resamples dropped)")
print(f"exact sign test on the per-seed differences: {summary['causal_sign_test']}")
pd.DataFrame({m: {"difference (vo − qk)": d["difference"], "low": d["ci"][0], "high": d["ci"][1]} for m, d in diff.items()}).T.round(3)

# %% [markdown]
# ## 7 · Reference baselines on the shipped testbeds, tuned the same way

# %%
chosen = pd.DataFrame([{"seed": r["seed"], "arm": arm, "method": m, "lr": v["lr"], "steps": v["steps"], "gain": v["gain"]}
                       for r in study_rows for arm, a in r["arms"].items() for m, v in a["methods"].items()])
chosen.pivot_table(index=["arm", "method"], columns="seed", values="gain").round(3)

# %%
chosen.groupby(["method", "lr", "steps"]).size().unstack(["lr"]).fillna(0).astype(int)

# %% [markdown]
# ## 8 · What the claims said, and what held

# %%
def value(path):
    """A claim's metric: the top-level key, then the rest of the dotted name as one key (``causal_share.qk.scale``)."""
    top, _, rest = path.partition(".")
    v = summary_all.get(top)
    return v.get(rest) if (rest and isinstance(v, dict)) else v


summary_all = {**summary, "causal_seeds_learned": [r["seed"] for r in rows if r["included"]]}
nan = float("nan")
low = lambda v: v["ci"][0] if v else nan  # noqa: E731
high = lambda v: v["ci"][1] if v else nan  # noqa: E731
DECIDE = {  # each claim's rule, as written in claims/07_causal.md
    "enough_seeds": lambda v: len(v) >= 8,
    "matched_seeds": lambda v: len(v) >= 8,
    "routing_more": lambda v: bool(v) and v[1] < 0,
    "content_more": lambda v: bool(v) and v[0] > 0,
    "scale_recovers_qk": lambda v: low(v) > 0,
    "scale_recovers_vo": lambda v: low(v) > 0,
    "control_recovered": lambda v: bool(v) and v["share"] >= 0.80,
    "bound_limits": lambda v: low(v) > 0,
    "last_token_only": lambda v: low(v) > 0,
    "logit_recovers_qk": lambda v: low(v) > 0,
    "lora_all_recovers_recipe": lambda v: bool(v) and v["share"] >= 0.90,
    "nonspatial_kept": lambda v: v is not None and v <= 0.02,
}


def shown(v):
    if isinstance(v, list):
        return f"[{', '.join(f'{x:+.3f}' if isinstance(x, float) else str(x) for x in v)}]"
    if isinstance(v, dict) and "ci" in v:
        point = v.get("share", v.get("difference"))
        return f"{point:+.3f} [{v['ci'][0]:+.3f}, {v['ci'][1]:+.3f}], n = {v['n']}"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


verdicts = {c["id"]: bool(DECIDE[c["id"]](value(c["metric"]))) for c in CLAIMS}
measured = {c["id"]: shown(value(c["metric"])) for c in CLAIMS}
held = claims_lib.claims_report(CLAIMS, verdicts, measured)
held

# %% [markdown]
# ## 9 · Metrics

# %%
metrics = {
    **summary,
    "causal_seeds_learned": summary_all["causal_seeds_learned"],
    "causal_rows": [{k: v for k, v in r.items() if k != "items"} for r in rows],
    "causal_claims_held": {k: bool(v) for k, v in verdicts.items()},
    "claims_files": [f"claims/{NB}.md"],
    "notebook_seconds": time.perf_counter() - NOTEBOOK_START,
}
print(sl.save_metrics(NB, metrics))
print(f"chapter ran in {metrics['notebook_seconds']:.0f} s")
