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
# leaned the other way: over the six testbeds, ScAle's gain tracked what restoring the values and
# outputs gave back much more closely than what restoring the queries and keys gave back (chapter
# 03 §7 gives the two rank correlations). Six points cannot settle a cause. Here we **cause** each kind of
# damage on purpose, match its size, and measure what comes back.
#
# **You will learn to**
# * turn a correlational explanation into an intervention with matched damage, a stopping rule fixed
#   in advance and an inclusion rule for the units;
# * use positive controls: damage a method should be able to undo, to see whether it can;
# * compare a method with reference baselines tuned the same way (validation grid for every method);
# * report shares as ratios of sums with bootstrap intervals over the unit of replication, and an
#   exact sign test from scipy (each method's per-seed McNemar test, on the test items, is stored
#   with its row in `metrics.json`).
#
# **Before this chapter**: 02 (one-head sweeps), 03 (ScAle and its trainer), 06 (the real model).
# **Time**: about 80 minutes to run in full mode on 2 CPU cores (eight seeds × five arms × a
# validation grid per method; `notebook_seconds` in the metrics has the recorded run), 2 minutes in
# fast mode; about 50 minutes to read and do, the two exercises 15 minutes of it.
#
# **Words used below.** An **arm** is one way of damaging the skill (section 3). The **share** a
# method brings back is the fraction of the lost accuracy it recovers (section 5). A **positive
# control** is damage the method should be able to undo by construction: if it could not undo that,
# its failures elsewhere would say nothing about the damage.
#
# **The claims under test** are in `claims/07_causal.md`, committed before any run of this study
# (a test reads the git history to check it). *[ours]* All of them: the ScAle paper does not discuss
# what kind of damage its scales can undo.

# %%
import os
import sys

if "google.colab" in sys.modules:  # Colab: fetch the book once and install it at its tested versions (safe to re-run)
    import subprocess

    if not os.path.isdir("/content/scale_lib/.git"):
        subprocess.run(["git", "clone", "--depth", "1", "https://github.com/scale-lib/scale_lib", "/content/scale_lib"], check=True)
    with open("/content/scale_lib/constraints.txt") as f:  # every tested pin but torch: Colab keeps its own CUDA build
        pins = [line for line in f if line.strip() and not line.startswith(("#", "torch=="))]
    with open("/tmp/scale_lib-constraints.txt", "w") as f:
        f.writelines(pins)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", "/tmp/scale_lib-constraints.txt", "-e", "/content/scale_lib[notebooks]"], check=True)
    if "/content/scale_lib" not in sys.path:
        sys.path.insert(0, "/content/scale_lib")
    os.chdir("/content/scale_lib/notebooks")

import json
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

import scale_lib as sl
from scale_lib.book import claims as claims_lib
from scale_lib.book import exercises as ex
from scale_lib.book import solutions
from scale_lib.models import testbed
from scale_lib.scaling import causal
from scale_lib.scaling import causal_study as cs

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
from scale_lib.book.env import repo_root

ch06 = json.loads((repo_root() / "figures" / "06_real_model" / "metrics.json").read_text())  # chapter 06's full run, in either mode
TESTBED_WEIGHTS = sum(p.numel() for p in testbed.load_testbed(seed=0)[0].parameters())
settings = pd.DataFrame({
    "testbeds (chapters 03, 07)": {
        "model": f"tiny LLaVA trained here (4 layers × 8 heads, {TESTBED_WEIGHTS / 1e6:.2f} M weights)",
        "unit of replication": "a pretraining seed (its layouts, initialisation, batch order)",
        "how the skill was hidden": "tuning on non-spatial questions (recipe; or q/k only, v/o only, matched damage)",
        "task": "corner question on a 5 × 5 image, 4 options",
        "ScAle coefficients": "36 (4 layers × 8 heads + 4 MLPs)",
        "reference baselines": "LoRA r = 1 on q/v at the last token and at every position",
        "hyper-parameters": "07: rate and steps chosen on validation layouts, every method (03: set by hand)",
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
# were pretrained): a seed is included when pretraining taught it the corner question (≥ 0.90<!--x--> on its
# test layouts) and both non-spatial questions (≥ 0.95<!--x-->). New seeds were pretrained in order until
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
# | `damp_last` | the 3 most selective heads × 0.25<!--x--> at the last token (positive control) | exactly, with coefficients of 4 — if the bound allows them |
# | `damp_all` | the same damping baked into the weights, at every position | only the last position's share |
#
# The **most selective heads** are the three whose removal at the last token lowers the right
# answer's log-probability on the seed's validation corner questions the most
# (`causal.selective_heads`).
#
# **Matched damage.** The hiding tunes at a constant rate and measures spatial accuracy on validation
# layouts every 10 steps; it stops at the first check at or below 0.75<!--x-->, and the damage counts as
# matched if that check is at least 0.45<!--x-->. If 300 steps at 3e-3 do not get there, it starts again
# from the same weights at 1e-2, then 3e-2 (the pilot on seed 0 found values + outputs stalling at
# 3e-3: the non-spatial loss reaches zero and nothing more moves). A seed that never gets there is reported, not dropped.
#
# On every arm each method is trained on the same 1,000 spatial + 1,000 non-spatial items of the
# seed's training layouts, with the same trainer and batches; its learning rate (2 values) and steps
# (150 or 300) are chosen by spatial accuracy on validation layouts, and it is scored once on the
# test layouts. The methods: ScAle with bound (0, 2) (and (0, 4) on the positive controls, where a
# coefficient beyond 2 is exactly what undoing the damage needs); a **logit scale** (one temperature per
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
    ax.set(title=f"tuning only {' + '.join(causal.SCOPES[scope])}\n(on non-spatial questions)", xlabel="tuning steps (at the rate that reached the band)",
           ylabel="corner accuracy (validation layouts)" if scope == "qk" else None, ylim=(0.2, 1.03))
    ax.legend(fontsize=7, ncol=2, loc="lower left")
fig.tight_layout()
sl.save_figure(fig, NB, "hiding_curves")
plt.show()
hiding = pd.DataFrame([{"seed": r["seed"], **{f"{s} {k}": r["arms"][s][k] for s in causal.SCOPES for k in ("status", "steps", "damaged_spatial")}}
                       for r in study_rows]).set_index("seed")
hiding

# %% [markdown]
# **What the hiding did** (written after this study's first full run; the checks at the end bind it).
# Every included seed reached the band in both scopes — none overshot, none stalled. Values +
# outputs needed the second rate (1e-2) on every seed and at most 25 steps; queries + keys got there at
# 3e-3 on four seeds and at 1e-2 on the other four. On the test layouts the damage is matched on
# average, as the rule intended, though not seed by seed: the queries + keys tuning cost
# 0.148<!--m:causal_damage_qk.7--> to 0.348<!--m:causal_damage_qk.6--> of corner accuracy, the
# values + outputs tuning 0.200<!--m:causal_damage_vo.5--> to 0.344<!--m:causal_damage_vo.7-->. That is
# why shares below are ratios of sums: a seed's weight is the damage it took.

# %% [markdown]
# ## 5 · What each method brings back
#
# The share of the lost accuracy a method recovers on one seed is
# (after − damaged) / (before − damaged), on the test layouts' corner questions. Over seeds we report
# the **ratio of sums** (Σ gains / Σ losses: seeds with more damage weigh more, and one seed with
# almost no damage cannot blow the ratio up) with a 95 % bootstrap interval over seeds.
#
# **Exercise 1 — on how many seeds?** (★☆☆ · 5 min). Before you run the cell that draws the figure,
# predict: on how many of the included seeds (section 3's inclusion rule; the full run has eight) does
# ScAle (bound (0, 2)) bring back a **larger** share of the damage done by tuning values + outputs
# (what heads write) than of the damage done by tuning queries + keys (where they look)? Give a whole
# number. Think about what a scale on each head's output at the last token can change, and what it
# cannot. (An earlier version of this exercise asked for the arm with the smallest share; two arms'
# intervals overlapped there, so the data could not settle the answer. This one they settle.)

# %%
PREDICTION_1 = None  # your prediction: a whole number of seeds
ex.predict("exercise 1", PREDICTION_1)

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
       title="what each method brings back\n(small dots: seeds; large dots with error bars: ratio of sums and its 95 % bootstrap interval over seeds)")
ax.legend(fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.22))
fig.tight_layout()
sl.save_figure(fig, NB, "recovery")
plt.show()
share.round(3)

# %%
sign = summary.get("causal_sign_test", {})
if sign:
    ex.reveal("exercise 1", int(sign["positive"]),
              explanation=f"of {sign['positive'] + sign['negative'] + sign['zero']} seeds, v/o's share was larger on {sign['positive']} "
              f"and smaller on {sign['negative']} (exact sign test p = {sign['p']:.3g}): a scale on what a head writes can turn a changed "
              "write back up or down, but it cannot move where the head looks.")

# %% [markdown]
# **Read the figure from the right.** The positive controls come first, because they say whether the
# rest can be read at all. ScAle recovers all of a last-token damping of the three most selective
# heads (1.00<!--m:positive_control_recovery.damp_last.scale.share--> of the lost accuracy) and most of
# the same damping baked into the weights at every position
# (0.94<!--m:positive_control_recovery.damp_all.scale.share-->). So when the damage *is* a head turned
# down, 36 scalars and their trainer undo it — and a failure elsewhere is a property of the damage,
# not of the method. (The bound (0, 2) did not get in the way, though undoing × 0.25<!--x--> exactly needs a
# coefficient of 4: bound (0, 4) recovers no more, see section 9.)
#
# On the damage that tuning does, ScAle brings back much less: about a quarter of the recipe's
# (0.248<!--m:causal_share.recipe.scale.share-->), 0.302<!--m:causal_share.qk.scale.share--> of the
# damage of tuning queries + keys and 0.554<!--m:causal_share.vo.scale.share--> of the damage of tuning
# values + outputs. The two LoRAs, tuned the same way, bring back far more on every arm: all-position
# LoRA r = 1 0.828<!--m:causal_share.recipe.lora_all.share-->, 0.921<!--m:causal_share.qk.lora_all.share-->
# and 0.903<!--m:causal_share.vo.lora_all.share-->; last-token LoRA r = 1
# 0.595<!--m:causal_share.recipe.lora_last.share-->, 0.752<!--m:causal_share.qk.lora_last.share--> and
# 0.692<!--m:causal_share.vo.lora_last.share-->. The last-token logit scale — one temperature per head —
# brings back little anywhere (0.063<!--m:causal_share.recipe.logit.share-->,
# 0.077<!--m:causal_share.qk.logit.share-->, 0.170<!--m:causal_share.vo.logit.share-->).

# %% [markdown]
# **Exercise 2 — the ratio of sums by hand** (★☆☆ · 10 min). Every share above is a ratio of sums,
# not a mean of the seeds' shares. The summary keeps, for each included seed, ScAle's share on the
# queries + keys arm (`summary["causal_scale_recovery_qk"]`) and the damage that arm did
# (`summary["causal_damage_qk"]`). Write `share_from_seeds(shares, losses)`, returning Σ gain / Σ loss
# over seeds. Don't call `stats.ratio_of_sums`: the check could not tell a wrapper from your own code.
# The check runs your function on cases with known answers, then on the chapter's seeds, and compares
# the result with section 5's number. It then prints the plain mean of the shares. Before you run it,
# decide which seeds pull the two numbers apart.
#
# <details><summary>Hint</summary> A seed's share is its gain divided by its loss, so its gain is its
# share times its loss. Σ sᵢ lᵢ / Σ lᵢ is a mean of the shares weighted by the losses.</details>

# %%
def share_from_seeds(shares, losses):
    return solutions.causal.share_from_seeds(shares, losses)  # SOLUTION


ex.test_share_from_seeds(share_from_seeds)
if summary.get("causal_share"):
    qk_shares, qk_losses = summary["causal_scale_recovery_qk"], summary["causal_damage_qk"]
    heavy = int(np.argmax(qk_losses))
    ex.check("exercise 2", share_from_seeds(qk_shares, qk_losses), summary["causal_share"]["qk.scale"]["share"], tol=1e-9,
             explanation=f"the plain mean of the {len(qk_shares)} shares is {np.mean(qk_shares):.3f}, the ratio of sums "
             f"{summary['causal_share']['qk.scale']['share']:.3f}: each seed weighs by its loss (the mean loss is {np.mean(qk_losses):.3f}; "
             f"the largest share, {max(qk_shares):.3f}, came with a loss of {qk_losses[int(np.argmax(qk_shares))]:.3f}, and the "
             f"heaviest seed, with a loss of {qk_losses[heavy]:.3f}, had a share of {qk_shares[heavy]:.3f})")

# %% [markdown]
# ## 6 · The causal question: routing or content?

# %%
diff = summary["causal_difference"]
print(f"ScAle's share, v/o damage minus q/k damage: {diff['scale']['difference']:+.3f} "
      f"[{diff['scale']['ci'][0]:+.3f}, {diff['scale']['ci'][1]:+.3f}] over {diff['scale']['n']} seeds ({diff['scale']['dropped']} resamples dropped)")
print(f"exact sign test on the per-seed differences: {summary['causal_sign_test']}")
pd.DataFrame({m: {"difference (vo − qk)": d["difference"], "low": d["ci"][0], "high": d["ci"][1]} for m, d in diff.items()}).T.round(3)

# %% [markdown]
# **The answer is the opposite of chapter 03's old explanation.** ScAle recovers a *larger* share of
# the damage done to what the heads write than of the damage done to where they look: the difference
# (v/o − q/k) is +0.252<!--m:causal_difference.scale.difference--> (95 % interval
# +0.131<!--m:causal_difference_ci.0--> to +0.368<!--m:causal_difference_ci.1--> over 8 seeds), and it
# has the same sign on all eight (exact sign test p = 0.0078<!--m:causal_sign_test.p-->). The correlation
# that chapter 03 had leaned this way too; the intervention settles it on these testbeds. Neither LoRA
# shows a difference between the scopes (last-token −0.060<!--m:causal_difference.lora_last.difference-->,
# all-position −0.018<!--m:causal_difference.lora_all.difference-->, both intervals contain 0), so the
# two damages are equally repairable in principle; it is the *scale* that reaches one better.
#
# *[ours, not tested here]* A reading that fits: tuning values and outputs changes what each head
# adds to the last token — partly its size, which a scale can undo; tuning queries and keys makes
# heads read other positions, and a scale on what they then write cannot turn the wrong content into
# the right one. The logit scale, which acts on routing, could in principle re-aim a head only by
# sharpening or flattening it; it did not (its v/o − q/k difference,
# +0.092<!--m:causal_difference.logit.difference-->, has an interval containing 0).

# %% [markdown]
# ## 7 · Reference baselines on the shipped testbeds, tuned the same way

# %%
chosen = pd.DataFrame([{"seed": r["seed"], "arm": arm, "method": m, "lr": v["lr"], "steps": v["steps"], "gain": v["gain"]}
                       for r in study_rows for arm, a in r["arms"].items() for m, v in a["methods"].items()])
chosen.pivot_table(index=["arm", "method"], columns="seed", values="gain").round(3)

# %%
chosen.groupby(["method", "lr", "steps"]).size().unstack(["lr"]).fillna(0).astype(int)

# %% [markdown]
# **The baselines, tuned.** On the shipped testbeds (the `recipe` arm) last-token LoRA r = 1 gains
# between −0.004<!--m:lora_last_gain_by_testbed.3--> (seed 3) and +0.296<!--m:lora_last_gain_by_testbed.9-->,
# all-position LoRA between +0.072<!--m:lora_all_gain_by_testbed.3--> (seed 3) and
# +0.392<!--m:lora_all_gain_by_testbed.2-->. Chapter 03's zero for LoRA on testbed 3 was therefore not
# only an untuned rate: with the rate and steps chosen on validation, both LoRAs still recover little
# of testbed 3's recipe damage — while on seed 3's own q/k hiding last-token LoRA brings the corner
# question back almost completely (table above). We have not found why the recipe's 300 cosine steps
# on every attention projection leave seed 3 in a state rank-1 q/v updates cannot reach; it is reported,
# not explained. **A limitation to keep in mind:** the top of a grid was chosen often (the table
# above: for ScAle 0.1<!--x--> in 24 of 40 fits), so larger rates might do better — for every method alike.

# %% [markdown]
# ## 8 · The same question on the real model — why it cannot be asked yet
#
# The causal test needs a skill that is there and then hidden. Chapter 06 looked for one in
# SmolLM2-135M-Instruct and found none it could trust: on every level where the model was partly
# right, a word-level shortcut (copying the stated direction, picking the most frequent animal)
# explained the right answers, and on every level built so that no shortcut beats chance, the frozen
# model was itself at chance (every interval of its scan contains chance). Hiding a skill the model
# does not show, and measuring what comes back, would measure nothing. What would be needed is a
# level where the model is partly right *for the right reason* — for example retrieving the one
# stated relation that was asked, among several stated ones, with every option equally often
# present — and then the two hidings of this chapter (a cheap tuning of q/k vs v/o, or last-token
# head damping). The book has not found such a level in SmolLM2; a larger real model is the natural
# place to look (`scale_lib.models.hub_vlm`, on a GPU).

# %% [markdown]
# ## 9 · What the claims said, and what held

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
# **Which claims held** (this paragraph was written after the first full run; the checks bind it).
# Eight of the twelve held: enough seeds learned the skill and all eight reached matched damage;
# ScAle recovers part of both damages, and **more of the values + outputs damage** (`content_more`;
# its rival `routing_more` failed); the positive control is recovered; ScAle recovers more of a
# damping at the last token than of the same damping at every position; the logit scale recovers a
# little of the q/k damage. Four failed, and each failure says something:
#
# * `routing_more` — chapter 03's old explanation, refuted on these testbeds (section 6).
# * `bound_limits` — the bound (0, 2) did not limit the positive control: ScAle at (0, 2) already
#   recovered all of it, so the bound ablation found nothing to ablate on this damage (interval of
#   the difference +0.000<!--m:positive_control_bound_difference.ci.0--> to
#   +0.043<!--m:positive_control_bound_difference.ci.1-->). Other heads and the MLP coefficients can
#   make up for what a capped coefficient cannot.
# * `lora_all_recovers_recipe` — all-position LoRA r = 1 brings back 0.828<!--m:causal_share.recipe.lora_all.share-->
#   of the recipe's damage, not the 0.90<!--x--> the claim asked: "LoRA brings it back almost entirely
#   everywhere" (an old sentence of chapter 03) overstated it; on seed 3 it does not.
# * `nonspatial_kept` — ScAle moved non-spatial accuracy by up to 0.046<!--m:causal_nonspatial_change_max-->
#   on one seed and arm, beyond the 2-point bound. The direction matters: every such change is an
#   *increase*, on the values + outputs arm, where the hiding had also cost non-spatial accuracy and
#   ScAle, trained on both kinds of question, gave some of it back. Non-spatial accuracy was not
#   harmed, but "within 2 points" is what was written down, and it failed.

# %% [markdown]
# ## 10 · Metrics

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

# %% [markdown]
# ### Checks (full mode)
# What the chapter states, asserted from the metrics it just wrote. (Written after the first full run,
# and checked against that run's `metrics.json`; every later full run executes them in place.)

# %%
if not FAST:
    m = metrics
    sh, pc = m["causal_share"], m["positive_control_recovery"]
    assert m["causal_seeds_included"] == m["causal_seeds_learned"] and len(m["causal_seeds_included"]) == 8, "the prose says all eight learned seeds were matched"
    assert all(r["arms"][a]["status"] == "matched" for r in m["causal_rows"] if r["included"] for a in causal.SCOPES), "the prose says none overshot or stalled"
    assert all(r["arms"]["vo"]["lr"] == 1e-2 and r["arms"]["vo"]["steps"] <= 25 for r in m["causal_rows"] if r["included"]), "v/o: the second rate, at most 25 steps"
    assert sorted(r["arms"]["qk"]["lr"] for r in m["causal_rows"] if r["included"]) == [3e-3] * 4 + [1e-2] * 4, "q/k: four seeds at each rate"
    assert pc["damp_last.scale"]["share"] >= 0.99 and pc["damp_all.scale"]["share"] >= 0.9, "the positive controls are recovered"
    assert sh["vo.scale"]["share"] > sh["qk.scale"]["share"] > sh["recipe.scale"]["share"], "ScAle's shares: v/o > q/k > recipe"
    for arm in ("recipe", "qk", "vo"):
        assert sh[f"{arm}.lora_all"]["share"] > sh[f"{arm}.lora_last"]["share"] > sh[f"{arm}.scale"]["share"] > sh[f"{arm}.logit"]["share"], \
            f"{arm}: the prose orders all-position LoRA > last-token LoRA > ScAle > logit scale"
    assert m["causal_difference_ci"][0] > 0 and m["causal_sign_test"]["positive"] == 8, "v/o − q/k above 0, on all eight seeds"
    for k in ("lora_last", "lora_all", "logit"):
        assert m["causal_difference"][k]["ci"][0] < 0 < m["causal_difference"][k]["ci"][1], f"{k}: the prose says its interval contains 0"
    assert min(m["lora_last_gain_by_testbed"], key=m["lora_last_gain_by_testbed"].get) == "3" == min(m["lora_all_gain_by_testbed"], key=m["lora_all_gain_by_testbed"].get)
    row3 = next(r for r in m["causal_rows"] if r["seed"] == 3)
    assert row3["arms"]["qk"]["methods"]["lora_last"]["recovery"] > 0.9, "the prose says last-token LoRA repairs seed 3's q/k hiding"
    big = [(r["seed"], a) for r in m["causal_rows"] if r["included"] for a in ("recipe", "qk", "vo")
           if abs(r["arms"][a]["methods"]["scale"]["nonspatial"] - r["arms"][a]["damaged_nonspatial"]) > 0.02]
    assert big and all(a == "vo" and r["arms"][a]["methods"]["scale"]["nonspatial"] > r["arms"][a]["damaged_nonspatial"]
                       for s, a in big for r in m["causal_rows"] if r["seed"] == s), "the prose says every change beyond 2 points is an increase on the v/o arm"
    assert m["causal_claims_held"] == {"enough_seeds": True, "matched_seeds": True, "routing_more": False, "content_more": True,
                                       "scale_recovers_qk": True, "scale_recovers_vo": True, "control_recovered": True, "bound_limits": False,
                                       "last_token_only": True, "logit_recovers_qk": True, "lora_all_recovers_recipe": False,
                                       "nonspatial_kept": False}, f"the prose reports these claims as held / failed: {m['causal_claims_held']}"

# %% [markdown]
# ## Summary — what a last-token scale can and cannot bring back
#
# On eight independently pretrained testbeds, with the damage caused on purpose and matched:
#
# * **It can** undo damage that is itself a change of how much a head contributes at the last token —
#   all of it (positive control), and most of it when the same change acts at every position.
# * **It partly can** undo damage to what heads write (values + outputs): about half
#   (0.554<!--m:causal_share.vo.scale.share-->).
# * **It mostly cannot** undo damage to where heads look (queries + keys): under a third
#   (0.302<!--m:causal_share.qk.scale.share-->), and a per-head temperature on the attention logits does no better
#   (0.077<!--m:causal_share.qk.logit.share-->). The book's earlier explanation had
#   this backwards.
# * **Reference baselines with the same tuning** bring back much more of every tuning damage: rank-1
#   LoRA at the last token 0.595<!--m:causal_share.recipe.lora_last.share--> to
#   0.752<!--m:causal_share.qk.lora_last.share--> of it, at every position
#   0.828<!--m:causal_share.recipe.lora_all.share--> to 0.921<!--m:causal_share.qk.lora_all.share-->.
#
# Chapter 06 reaches the same limit on a real model from the other side: there, ScAle's gain sat on
# items a word-level shortcut answers, and no shortcut-proof level showed a skill to bring back (so the
# causal test could not be run there, section 8). A last-token scale re-weights what the network
# already computes at the last position; it does not rebuild a read-out that tuning redirected.
#
# **Questions for discussion.** Why might rescaling repair a change in *what* heads write better than
# a change in *where* they look? Would an (IA)³-style scale at every position (on keys and values)
# reach routing damage? What damage would a real VLM's instruction tuning do — and how would you find
# out which kind it is?
