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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scale-lib/scale_lib/blob/main/notebooks/02_rescaling_discovery.ipynb)
#
# # 02 · Rescaling discovery: multiply one activation, move the answer
#
# The ScAle paper starts from one observation. *[abstract]* Rescaling activations "in selected
# transformer layers", without changing weights, "can significantly influence downstream
# performance". *[secondary]* Digests read it as: **multiplying the output of a single layer or
# attention head by a constant, at the last token, moves a vision-language model's accuracy a lot**,
# and differently for spatial and non-spatial questions.
# This notebook makes that observation on the book's tiny VLM (notebook 01 shows how it was trained:
# it once answered the Spatial-Grid corner question perfectly, then was tuned on non-spatial
# questions only, so the skill is still inside but used less), and then, in an optional last
# section, on a **real pretrained transformer**, all-MiniLM-L6-v2.
#
# | section | what |
# |---|---|
# | 1 | one question, one head switched off: the answer distribution moves |
# | 2 | layer × scale heatmaps for attention and MLP outputs, spatial vs non-spatial |
# | 3 | every head at the most sensitive layers: which heads carry spatial answers, which the rest |
# | 4 | the same discovery on seven independently pretrained testbeds: what holds beyond one draw |
# | 5 | an explorer that answers in a fraction of a second, thanks to cached prompts |
# | 6 | *optional:* the same idea on a pretrained MiniLM: rescaling changes how much it notices who is left of whom |
#
# Every sweep runs each prompt's prefix **once**: only the last position is scaled, and the model
# is causal, so nothing before the last token changes — the keys and values of the earlier positions
# (their *KV cache*, see the [glossary](glossary.md)) are computed once and reused
# (`scale_lib.scaling.sweep`; the test suite checks it equals the naive sweep).
#
# **You will learn to** run a rescaling sweep and read it as a change of accuracy with its noise;
# tell a *selective* site (spatial moves, non-spatial does not) from a merely important one; check a
# single-testbed finding on independently trained testbeds; judge a gain against its paired noise
# (the items that flip) and the winner's curse of a best-of-many; and write a one-site sweep and a
# binomial interval yourself. **Prerequisites**: chapters 00 and 01. **Time**: a few minutes to run
# (it varies by machine; the recorded run's time is `notebook_seconds` in the chapter's
# `metrics.json`), about 1½ hours to read and do, the exercises about an hour of it (section 6 is
# optional).

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
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", "/tmp/scale_lib-constraints.txt", "-e", "/content/scale_lib[notebooks,minilm]"], check=True)
    if "/content/scale_lib" not in sys.path:
        sys.path.insert(0, "/content/scale_lib")
    os.chdir("/content/scale_lib/notebooks")

import textwrap
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

import scale_lib as sl
from scale_lib.book import exercises as ex
from scale_lib.book import solutions
from scale_lib.book.verify import SHORT_TIMING, TIMING
from scale_lib.core.stats import mcnemar
from scale_lib.data.spatial import render
from scale_lib.models import minilm, testbed
from scale_lib.scaling.sweep import PromptCache, naive_sweep, rescaling_sweep

NB = "02_rescaling_discovery"
FAST = sl.is_fast()
sl.use_style()
sl.seed_everything(0)
sl.use_cores()
NOTEBOOK_START = time.perf_counter()
print("fast mode" if FAST else "full mode")

# %% [markdown]
# ### The model and the questions
#
# The frozen testbed and held-out Spatial-Grid items: the **spatial** question asks for the animal
# in a corner; the **non-spatial** ones ask whether an animal is present and how many kinds there
# are. The model answers with a word, scored over the item's own options.

# %%
model, tok, record = testbed.load_testbed()
sl.freeze(model)
items = testbed.testbed_items(sl.pick(250, 40), "test", seed=record["seed"])
batch = testbed.encode_items(items, tok)
groups = [i.kind for i in items]
mm = sl.model_map(model)
print(mm.describe())
print(f"{len(items)} items: " + ", ".join(f"{k} {groups.count(k)}" for k in sorted(set(groups))))
base = testbed.evaluate(model, batch)
print(f"unscaled accuracy: spatial {base['spatial']:.3f}, non-spatial {base['nonspatial']:.3f}")

# %% [markdown]
# ## 1 · One question, one switch
#
# Switch off the first layer's attention output — at the last token only. The prompt, the image and
# every weight are unchanged; one block's contribution at one position is multiplied by 0 (or by
# 3). We show a corner question whose answer this flips (the first such question in the test set).

# %%
cache = PromptCache(model, batch.inputs(), option_ids=batch.option_ids)
SITE = "L0.attn"
settings = {"unscaled": {}, f"{SITE} × 0": {SITE: 0.0}, f"{SITE} × 3": {SITE: 3.0}}
plain, off = cache.predictions(), cache.predictions({SITE: 0.0})
flipped = [r for r, i in enumerate(items) if i.kind == "spatial" and plain[r] == batch.labels[r] and off[r] != batch.labels[r]]
example = flipped[0] if flipped else next(r for r, i in enumerate(items) if i.kind == "spatial")
item = items[example]
print(f"{SITE} × 0 turns {len(flipped)} of {groups.count('spatial')} correct corner answers wrong")
probs = pd.DataFrame({name: cache.option_probs(s)[example].numpy() for name, s in settings.items()}, index=list(item.options))
fig, (ax_img, ax) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1, 2.5]})
ax_img.imshow(render(item.layout, 24))
ax_img.set(title="\n".join(textwrap.wrap(item.question.replace(" of the grid", ""), 34)), xticks=[], yticks=[])
ax_img.title.set_fontsize(8)
probs.plot.bar(ax=ax, rot=0)
ax.set(ylabel="probability over the options", title=f"answer: {item.answer}")
fig.tight_layout()
sl.save_figure(fig, NB, "one_question")
plt.show()

# %% [markdown]
# *What to see:* unscaled, the model puts most of its probability on the right animal. Switched off
# (× 0) or tripled (× 3), the same block at the same position sends it to a different animal — one
# number, no weight changed.
#
# ## 2 · Layer × scale: attention and MLP outputs
#
# Every layer's attention output and MLP output, at the last token, multiplied by each scale from 0
# (switched off) to 3, on every item. Δ accuracy is against the unscaled model, per group.

# %%
SCALES = [0.0, 0.25, 0.5, 0.75, 1.25, 1.5, 2.0, 3.0] if not FAST else [0.0, 2.0]
block_sites = [f"L{l}.{k}" for l in range(mm.n_layers) for k in ("attn", "mlp")]
start = time.perf_counter()
blocks = rescaling_sweep(model, batch.inputs(), batch.labels, block_sites, SCALES, option_ids=batch.option_ids, groups=groups)
block_seconds = time.perf_counter() - start
fig, axes = plt.subplots(2, 2, figsize=(11, 6), sharex=True, sharey=True)
for col, group in enumerate(("spatial", "nonspatial")):
    for row, kind in enumerate(("attn", "mlp")):
        grid = blocks[(blocks.kind == kind) & (blocks.group == group)].pivot(index="layer", columns="scale", values="delta")
        sns.heatmap(grid, ax=axes[row, col], cmap="RdBu", center=0, vmin=-0.6, vmax=0.6, annot=False if FAST else grid.round(2) + 0.0,  # + 0.0: no "-0.00"
                    fmt=".2f", cbar=col == 1, annot_kws={"size": 9},
                    cbar_kws={"label": "Δ accuracy vs unscaled"})
        axes[row, col].set(title=f"{group}: {kind} output", xlabel="scale" if row else "", ylabel="layer")
fig.suptitle("Δ accuracy when one block's output is scaled at the last token")
sl.save_figure(fig, NB, "layer_scale_heatmaps")
plt.show()
print(f"{len(block_sites) * len(SCALES)} settings × {len(items)} items in {block_seconds:.1f} s")

# %% [markdown]
# *What to see:* red is lost accuracy. Most of the change is in the left column (× 0) of the first
# two layers' attention, but only layer 0 is clearly *selective* there: switching it off costs the
# spatial question about four times what it costs the non-spatial ones (−0.412<!--m:max_spatial_delta--> against
# −0.104<!--m:nonspatial_delta_at_max-->), while switching off layer 1 costs the two groups amounts of the same order. The
# right column (× 3) matters too: tripling layer 0's attention costs the non-spatial questions at
# least as much as the spatial one. Scales between 0.5<!--x--> and 2 barely matter anywhere, and the MLPs
# hardly at all.
#
# ## 3 · Every head
#
# Now each of the 32 heads alone, switched off (× 0) and doubled (× 2). One map per group and scale:
# red cells are heads whose change at the last token hurts, blue cells help.

# %%
head_scales = [0.0, 2.0]
head_sites = [f"L{l}.H{h}" for l in range(mm.n_layers) for h in range(mm.n_heads)]
start = time.perf_counter()
heads = rescaling_sweep(model, batch.inputs(), batch.labels, head_sites, head_scales, option_ids=batch.option_ids, groups=groups)
head_seconds = time.perf_counter() - start
fig, axes = plt.subplots(2, 2, figsize=(12, 6.5), sharex=True, sharey=True)
for col, group in enumerate(("spatial", "nonspatial")):
    for row, s in enumerate(head_scales):
        grid = heads[(heads.scale == s) & (heads.group == group)].pivot(index="layer", columns="head", values="delta")
        sns.heatmap(grid, ax=axes[row, col], cmap="RdBu", center=0, vmin=-0.4, vmax=0.4, annot=False if FAST else grid.round(2) + 0.0,  # + 0.0: no "-0.00"
                    fmt=".2f", cbar=col == 1, annot_kws={"size": 8},
                    cbar_kws={"label": "Δ accuracy vs unscaled"})
        axes[row, col].set(title=f"{group}: head × {s:g}", xlabel="head" if row else "", ylabel="layer")
fig.suptitle("Δ accuracy when one head is scaled at the last token")
sl.save_figure(fig, NB, "head_maps")
plt.show()
wide = heads.pivot_table(index=["site", "scale"], columns="group", values="delta").reset_index()
wide["selectivity"] = wide.spatial.abs() - wide.nonspatial.abs()
print("heads that move spatial answers most, and what they do to the rest:")
print(wide.reindex(wide.spatial.abs().sort_values(ascending=False).index).head(8).round(3).to_string(index=False))
print(f"{len(head_sites) * len(head_scales)} settings in {head_seconds:.1f} s")

# %% [markdown]
# **What the maps say** (about this one testbed; section 4 asks whether it holds on others). The
# corner answer leans on a few heads: switching one of them off at the last token costs many points
# of spatial accuracy while the non-spatial answers move by at most a point or two — such heads are
# *selective* (the table above lists the largest effects).
#
# Some settings raise spatial accuracy, but only a little: the largest gain of any single site in
# sections 2 and 3 is +0.032<!--m:best_spatial_gain--> (a head doubled). Two cautions before reading it as "a scale
# undoes part of the tuning":
#
# * **It is the best of 128 settings** (64 for the blocks, 64 for the heads). The largest of many
#   noisy numbers is biased upward, the *winner's curse*: even if no setting did anything, the best
#   of 128 would come out above zero. Exercise 2 measures how far above, and Exercise 2b re-measures
#   a chosen head on items it was not chosen on.
# * **Its noise is not the standard error of one accuracy.** That standard error, √(p(1−p)/n), is
#   about 0.03<!--x--> at p = 0.7<!--x--> and n = 250, but it answers another question: how far one accuracy
#   is from the true one. A Δ between two settings on the *same* items is *paired*: an item both
#   settings answer alike adds nothing to it, and only the **discordant** items, right under one
#   setting and wrong under the other, carry it. If d items are discordant and the setting does
#   nothing, each one goes either way with even odds, so the net change has a standard deviation of
#   √d items; McNemar's exact test turns this into a p-value. Exercise 1 counts d for this gain.
#
# That is the observation ScAle turns into an adapter (notebook 03): learn one bounded scale per
# head instead of trying them by hand, and judge the result on held-out items.

# %% [markdown]
# **Cached vs naive.** The sweeps above ran each prompt's prefix once. The naive way runs the whole
# prompt again for every setting. Same answers, measured here on a slice of the items:

# %%
rows = slice(0, sl.pick(96, 16))
sub = {k: v[rows] for k, v in batch.inputs().items()}
probe_sites = [f"L{l}.attn" for l in range(mm.n_layers)]
start = time.perf_counter()
fast_sweep = rescaling_sweep(model, sub, batch.labels[rows], probe_sites, SCALES, option_ids=batch.option_ids[rows], progress=False)
cached_seconds = time.perf_counter() - start
start = time.perf_counter()
slow_sweep = naive_sweep(model, sub, batch.labels[rows], probe_sites, SCALES, option_ids=batch.option_ids[rows], progress=False)
naive_seconds = time.perf_counter() - start
sweep_speedup = naive_seconds / cached_seconds
assert fast_sweep.accuracy.equals(slow_sweep.accuracy), "the cached sweep must give the naive sweep's answers"
print(f"naive {naive_seconds:.2f} s, cached {cached_seconds:.2f} s: {sweep_speedup:.1f}× faster, identical accuracies")

# %% [markdown]
# ## 4 · One testbed, or every testbed?
#
# The numbers above describe **one** testbed: one pretraining seed, itself a random draw of
# layouts, initialisation and batch order. The book ships seven made with the same recipe; seed 0,
# used above, is the one the recipe was chosen on, so only seeds 1–6 are fresh evidence (the
# figure's "earlier run of seed 0" is told in [chapter 01, section 5](01_spatial_benchmark.ipynb),
# with why a re-run of the same seed is another model). Here is the same discovery on each of them:
# the first layer's attention switched off, and, over heads, the largest loss from a *selective*
# head (one that keeps non-spatial accuracy within 2 points) and the largest spatial gain of any
# single head setting (× 0 or × 2) that keeps non-spatial accuracy within 2 points
# (`scale_lib.scaling.latent.discovery`). The green bars are each a best of 64 head
# settings, so they carry section 3's winner's curse: read them, at most 0.056<!--m:best_head_gain_by_testbed.1-->, as upper
# estimates (the figure draws no noise band).

# %%
from scale_lib.scaling import latent

TESTBEDS = sl.pick(testbed.TESTBED_SEEDS, (0, 1))
across = latent.discovery_across(TESTBEDS, n_test_layouts=sl.pick(250, 40), progress=not FAST)
print(across[["frozen_spatial", "L0_attn_off_spatial", "L0_attn_off_nonspatial", "head_selective_drop", "head_selective_drop_site",
              "head_best_gain", "head_best_gain_site", "head_best_gain_nonspatial"]].round(3).to_string())

fig, ax = plt.subplots(figsize=(10, 3.4))
x = np.arange(len(across))
w = 0.2
ax.bar(x - 1.5 * w, across.L0_attn_off_spatial, w, label="L0.attn × 0: spatial", color=sl.PALETTE[0])
ax.bar(x - 0.5 * w, across.L0_attn_off_nonspatial, w, label="L0.attn × 0: non-spatial", color=sl.PALETTE[0], alpha=0.45)
ax.bar(x + 0.5 * w, across.head_selective_drop, w, label="most harmful selective head: spatial", color=sl.PALETTE[3])
ax.bar(x + 1.5 * w, across.head_best_gain, w, label="best single head: spatial gain", color=sl.PALETTE[2])
for i, r in enumerate(across.itertuples()):
    low = min(r.head_selective_drop, r.L0_attn_off_spatial, r.L0_attn_off_nonspatial)  # under the lowest bar: no label overlaps a bar
    ax.annotate(r.head_selective_drop_site.replace(" x ", "×"), (i + 0.5 * w, low), textcoords="offset points", xytext=(0, -4),
                ha="center", va="top", fontsize=7)
ax.axhline(0, color="k", lw=0.8)
ax.set(xticks=x, xticklabels=[f"{s}*" if s == testbed.RECIPE_SEED else str(s) for s in across.index], xlabel="testbed seed (* the testbed used above; the recipe was chosen on an earlier run of seed 0)",
       ylabel="Δ accuracy", title="The discovery on every testbed: one site scaled at the last token")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
sl.save_figure(fig, NB, "across_testbeds")
plt.show()

# %%
claims01 = latent.claims_table(across, latent.DISCOVERY_CLAIMS)
print("claims about every testbed, written before the other testbeds were swept:")
print(claims01.replace({True: "holds", False: "FAILS"}).to_string())

# %% [markdown]
# **What holds beyond one draw.** The observation the paper starts from holds on every testbed:
# scaling one block at the last token moves spatial accuracy by many points. The details do not.
# *Which* head is the selective one differs from testbed to testbed (last table column of the
# first table), so a sentence like "head L0.H1 carries the corner answer" is about one trained
# model. Selectivity itself varies: on some testbeds switching off the first layer's attention
# costs the non-spatial questions *more* than the spatial one, and on one the most selective head
# costs only a couple of points. Two of the three claims we wrote down before sweeping these
# testbeds failed somewhere (the holds/FAILS table); we report them rather than drop them.

# %% [markdown]
# ## 5 · Explore
#
# Pick a site and a scale; accuracy per group and the example's answer distribution update from the
# cached prompts (no prefix is recomputed). The default — the first layer's attention switched
# off — redraws section 1's middle bars.

# %%
site_choices = block_sites + head_sites
gold = batch.labels
spatial_rows = torch.tensor([g == "spatial" for g in groups])


def draw_explorer(site=SITE, scale=0.0):
    pred = cache.predictions({site: scale})
    right = (pred == gold).float()
    p = cache.option_probs({site: scale})[example].numpy()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    accs = [right[spatial_rows].mean().item(), right[~spatial_rows].mean().item()]
    ax1.bar(["spatial", "non-spatial"], accs, color=sl.PALETTE[:2])
    ax1.bar(["spatial", "non-spatial"], [base["spatial"], base["nonspatial"]], fill=False, edgecolor="k", ls="--", label="unscaled")
    ax1.set(ylim=(0, 1.05), ylabel="accuracy", title=f"{site} × {scale:g}")
    ax1.legend(loc="lower right")
    ax2.bar(list(item.options), p, color=[sl.PALETTE[2] if o == item.answer else "lightgrey" for o in item.options])
    ax2.set(ylim=(0, 1), title="the example's answer distribution")


start = time.perf_counter()
draw_explorer()
plt.close()
widget_update_seconds = time.perf_counter() - start
print(f"one explorer update (every item re-scored + the plot): {widget_update_seconds:.2f} s")
sl.explorer(
    draw_explorer, save=(NB, "explorer"),
    site=widgets.Dropdown(options=site_choices, value=SITE, description="site"),
    scale=widgets.FloatSlider(value=0.0, min=0.0, max=3.0, step=0.25, description="scale"),
)

# %% [markdown]
# *What to see:* the default figure is the first layer's attention switched off, the strongest
# single switch of section 2: the spatial bar falls far below its dashed unscaled outline, the
# non-spatial bar only a little, and the example's answer (green) loses to another animal. Move the
# scale towards 1 and both bars climb back to their outlines.
#
# ## 6 · Optional: a real pretrained transformer, MiniLM, and who is left of whom
#
# *No later chapter uses this section; skip it on a first reading* (chapter 06 returns to real
# pretrained models, with a decoder and the last token).
#
# The tiny VLM was trained here; is the effect an artefact of toy models? all-MiniLM-L6-v2 is a
# pretrained sentence encoder (6 layers × 12 heads), installed from PyPI as a package — no hub
# needed. It was never trained on spatial questions. We measure its **spatial sensitivity**: the
# distance `1 − cos` between the embeddings of "the cup is left of the plate" and "the plate is left
# of the cup" (32 such pairs), against a paraphrase control ("left of" vs "located left of").
#
# **A different intervention.** An encoder has no answering last token, so here the scale applies
# at **every position**, and what moves is an embedding distance, not an accuracy. This section asks
# a narrower question than sections 1–4: does scaling one block of a network trained by others move
# a *spatial* property of its output more than a non-spatial one? The control is what answers it: a
# change of the spatial-swap distance means something only if the paraphrase distance (which no
# spatial relation separates) does not move the same way. (Chapter 06 returns to the last-token
# question on a real pretrained decoder.)

# %%
if minilm.minilm_available():
    lm, lm_tok = minilm.load_minilm()
    lm_scales = [0.0, 0.5, 1.5, 2.0] if not FAST else [0.5, 2.0]
    lm_sweep = minilm.sensitivity_sweep(lm, lm_tok, lm_scales)
    base_spatial, base_para = lm_sweep.attrs["base_spatial"], lm_sweep.attrs["base_paraphrase"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.4), sharey=True)
    for row, (value, label) in enumerate((("spatial_change", "swap who is left of whom"), ("paraphrase_change", "paraphrase (control)"))):
        for col, kind in enumerate(("attn", "mlp")):
            grid = lm_sweep[lm_sweep.kind == kind].pivot(index="layer", columns="scale", values=value)
            sns.heatmap(np.log2(grid), ax=axes[row, col], cmap="PuOr", center=0, vmin=-2, vmax=2, annot=grid.round(2), fmt="",
                        cbar=col == 1, cbar_kws={"label": "log₂(distance ÷ unscaled)"}, annot_kws={"size": 8})
            axes[row, col].set(title=f"{kind} output × scale: {label}", xlabel="scale (every position)" if row else "", ylabel="layer")
    fig.suptitle("all-MiniLM-L6-v2: embedding distance relative to the unscaled model (annotations: the ratio)", y=1.0)
    fig.tight_layout()
    sl.save_figure(fig, NB, "minilm_sensitivity")
    plt.show()
    top = lm_sweep.reindex((lm_sweep.spatial - base_spatial).abs().sort_values(ascending=False).index).head(5)
    print(f"unscaled: spatial-swap distance {base_spatial:.4f}, paraphrase distance {base_para:.4f} "
          f"(MiniLM hardly notices who is left of whom: swapping the objects moves the embedding {base_para / base_spatial:.1f}× less than a paraphrase)")
    print(top[["layer", "kind", "scale", "spatial", "spatial_change", "paraphrase_change"]].round(3).to_string(index=False))
    minilm_max_delta = float((lm_sweep.spatial - base_spatial).abs().max())
    minilm_base = dict(spatial_swap=float(base_spatial), paraphrase=float(base_para))
    lm_sweep["selectivity"] = np.log2(lm_sweep.spatial_change) - np.log2(lm_sweep.paraphrase_change)
    lm_selective = lm_sweep.loc[lm_sweep.selectivity.abs().idxmax()]
    print(f"most selective setting: L{lm_selective.layer}.{lm_selective.kind} × {lm_selective.scale:g} — swap distance × {lm_selective.spatial_change:.2f}, "
          f"paraphrase distance × {lm_selective.paraphrase_change:.2f}")
else:
    print("all-MiniLM-L6-v2 is not installed: pip install -c constraints.txt -e \".[minilm]\" (84 MB from PyPI), then re-run this cell.")
    minilm_max_delta = float("nan")
    minilm_base = None

# %% [markdown]
# *What to see:* compare each top panel with the panel under it. Switching off the attention of the
# middle layers (orange, left column, top) pulls "A left of B" and "B left of A" closer together —
# but the paraphrase distance below does not shrink the same way, so this is about the swap, not
# about every distance. Elsewhere the two rows move together or not at all: most changes are not
# specifically spatial.
#
# ## 7 · Exercises
#
# Exercises 1, 2 and 2b are **predict, then measure**: write your prediction in the first cell and
# run it, then run the cell below it, which measures the answer and compares (a prediction changed
# after the measurement is shown is not accepted). Exercises 3 and 4 are code: write the function,
# the cell under it tests it. Together they are section 3's two cautions, measured.
#
# **Exercise 1 — how many items does a small gain move?** (★★☆ · 10 min). The best single head of
# section 3 raises spatial accuracy by +0.032<!--m:best_spatial_gain--> over about 250 spatial items: a net of about
# 8 items. A net is a difference: items the setting turns from wrong to right, minus items it turns
# from right to wrong. How many spatial items does that head setting change **in either direction**
# (the discordant items, d)? Predict a number; within a factor of about two counts.

# %%
PREDICTION_1 = None  # your prediction: the number of discordant spatial items, an integer
ex.predict("exercise 1", PREDICTION_1)

# %%
spatial_heads = heads[heads.group == "spatial"]
best_head = spatial_heads.loc[spatial_heads.delta.idxmax()]  # the best of the 64 head settings
right_plain = (cache.predictions() == gold)[spatial_rows]
right_best = (cache.predictions({best_head.site: float(best_head.scale)}) == gold)[spatial_rows]
flips = mcnemar(right_plain, right_best)  # a_only: right only unscaled; b_only: right only with the head scaled
discordant, n_spatial = flips["a_only"] + flips["b_only"], int(spatial_rows.sum())
ex.reveal("exercise 1", discordant, tol=0.5,
          explanation="the items both settings answer alike cancel in the Δ; only the discordant ones carry it. If the head did "
          "nothing, each discordant item would go either way with even odds: the net would be 0 ± √d items (one SD).")
print(f"{best_head.site} × {best_head.scale:g}: {flips['b_only']} wrong → right, {flips['a_only']} right → wrong; net "
      f"{flips['b_only'] - flips['a_only']:+d} of {n_spatial} items. Noise of the net if the head did nothing: ±{discordant ** 0.5:.1f} "
      f"items (1 SD); exact McNemar test p = {flips['p']:.2g}")

# %% [markdown]
# **Exercise 2 — the best of 64, when nothing works** (★★☆ · 10 min). Imagine that none of the 64
# head settings of section 3 had any real effect on the spatial answers: each one just flipped d
# spatial items (Exercise 1's d), every flip going either way with even odds. The best of the 64 net
# gains would still come out above zero. How large, in accuracy, on average? Predict a number (a
# prediction within a factor of two of the measurement counts as right), then compare the
# measurement with the +0.032<!--m:best_spatial_gain--> actually found. (A deliberately crude model: real
# heads flip different numbers of items. It shows the size of the bias, not its exact value.)
#
# <details><summary>Hint</summary> One setting's net, in items, has a standard deviation of √d;
# the largest of 64 independent standard normal draws is, on average, a little under 2.5<!--x-->.</details>

# %%
PREDICTION_2 = None  # your prediction: the average best of 64 null gains, in accuracy (e.g. 0.01)
ex.predict("exercise 2", PREDICTION_2)

# %%
rng = np.random.default_rng(0)
null_net = 2 * rng.binomial(discordant, 0.5, size=(10_000, len(spatial_heads))) - discordant  # 10,000 worlds where no head does anything
null_best = null_net.max(1) / n_spatial
ex.reveal("exercise 2", float(null_best.mean()), tol=0.5,
          explanation="the maximum of many noisy numbers is biased upward (the winner's curse): the best of 64 lies about "
          "2.4 of its standard deviations (√d / n each, in accuracy) above zero, although no head does anything.")
print(f"best of {len(spatial_heads)} null gains: mean {null_best.mean():+.3f}, 95th percentile {np.quantile(null_best, 0.95):+.3f}; "
      f"measured best gain {best_head.delta:+.3f}")

# %% [markdown]
# **Exercise 2b — choose on one half, measure on the other** (★★☆ · 10 min). Exercise 2 measured
# the winner's curse; the cure for it is to choose on some items and measure on others. Split the
# spatial items into two halves (alternate items of the test set). Choose the head setting (32 heads
# × {0, 2}) with the largest spatial gain on the **first** half, then measure that same setting's
# gain on the **second** half. Predict how the held-out gain compares with the gain on the half it
# was chosen on: `"higher"`, `"half or more"` (at least half of it, not higher), `"under half"`
# (positive, but under half) or `"zero or negative"`. (Optional, not checked: before you run the
# measuring cell, try writing it yourself with `cache.predictions`, one call per setting, compared
# with `gold` on each half's rows.)

# %%
PREDICTION_2B = None  # your prediction: "higher", "half or more", "under half" or "zero or negative"
ex.predict("exercise 2b", PREDICTION_2B)

# %%
spatial_index = spatial_rows.nonzero().flatten()
first, second = torch.zeros_like(spatial_rows), torch.zeros_like(spatial_rows)
first[spatial_index[0::2]], second[spatial_index[1::2]] = True, True
right0 = (cache.predictions() == gold).float()
right_by_setting = {(site, s): (cache.predictions({site: s}) == gold).float() for site in head_sites for s in head_scales}
gain_first = {k: float(r[first].mean() - right0[first].mean()) for k, r in right_by_setting.items()}
chosen = max(gain_first, key=gain_first.get)
held_out = float(right_by_setting[chosen][second].mean() - right0[second].mean())
if held_out > gain_first[chosen]:
    measured_2b = "higher"
elif held_out >= 0.5 * gain_first[chosen]:
    measured_2b = "half or more"
else:
    measured_2b = "under half" if held_out > 0 else "zero or negative"
ex.reveal("exercise 2b", measured_2b,
          explanation="the chosen setting's gain on its own half is a best of 64, so it includes the luck it was chosen for; "
          "the other half has no such luck, and what remains there is the honest estimate (itself noisy: half the items).")
print(f"chosen on the first half: {chosen[0]} × {chosen[1]:g}, gain {gain_first[chosen]:+.3f} there; "
      f"on the second half {held_out:+.3f} ({int(first.sum())} and {int(second.sum())} items)")

# %% [markdown]
# **Exercise 3 — derive the Wilson interval** (★★☆ · 20 min). A cell of the heatmaps is an accuracy
# p̂ = k/n over a few hundred items. The usual interval p̂ ± z·√(p̂(1−p̂)/n) (Wald's) puts the
# *measured* p̂ into the standard error. At k = 0 or k = n that standard error is 0, so the interval
# has zero width — certainty from a handful of items — and near 0 and 1 it can reach outside [0, 1].
# Wilson's idea: keep every true accuracy p that a two-sided z-test would *not* reject, using the
# standard error that p itself implies, i.e. every p with |p̂ − p| ≤ z·√(p(1−p)/n). Derive the two
# ends of that set of p, then write `wilson_interval(k, n)` returning `(low, high)` for 95 %
# (z = 1.96<!--x-->). Check your result by hand at k = 0: the low end is 0, and the width shrinks as n grows.
#
# <details><summary>Hint</summary> Square both sides: you get a quadratic inequality in p whose
# leading coefficient is 1 + z²/n. The set is the interval between its two roots; write them as
# centre ± half-width.</details>

# %%
def wilson_interval(k, n):
    return solutions.discovery.wilson_interval(k, n)  # SOLUTION


ex.test_wilson_interval(wilson_interval)
n_spatial = groups.count("spatial")
lo, hi = wilson_interval(int(round(base["spatial"] * n_spatial)), n_spatial)
print(f"the frozen model's spatial accuracy {base['spatial']:.3f} on {n_spatial} items: 95 % interval {lo:.3f}–{hi:.3f}")

# %% [markdown]
# **Exercise 4 — a one-site sweep** (★☆☆ · 5 min). With `cache`, the explorer's `PromptCache` (each
# prompt's prefix computed once), write `site_sweep(cache, labels, site, scales)` returning
# `{scale: accuracy}` — one token per prompt and setting. `cache.predictions({site: s})` gives the
# predicted answer token of every prompt with `site` scaled by `s`.
#
# <details><summary>Hint</summary> One <code>cache.predictions</code> call per scale; compare with
# <code>labels</code>, average, and key the dict by <code>float(s)</code>.</details>

# %%
def site_sweep(cache, labels, site, scales):
    return solutions.discovery.site_sweep(cache, labels, site, scales)  # SOLUTION


ex.test_site_sweep(site_sweep, cache, batch.labels, SITE, (0.0, 1.0, 2.0))

# %% [markdown]
# ## 8 · Checked
#
# The observation that motivates ScAle, as numbers (`figures/02_rescaling_discovery/metrics.json`):
# the largest change of spatial accuracy from scaling one site at the last token, and what the same
# setting does to non-spatial accuracy.

# %%
every = pd.concat([blocks, heads])
wide_all = every.pivot_table(index=["site", "scale"], columns="group", values="delta").reset_index()
at_max = wide_all.loc[wide_all.spatial.abs().idxmax()]
gain = wide_all.loc[wide_all.spatial.idxmax()]
metrics = dict(
    sweep_speedup=sweep_speedup,
    max_spatial_delta=float(at_max.spatial),
    max_spatial_delta_site=f"{at_max.site} x {at_max.scale:g}",
    nonspatial_delta_at_max=float(at_max.nonspatial),
    best_spatial_gain=float(gain.spatial),
    best_spatial_gain_site=f"{gain.site} x {gain.scale:g}",
    nonspatial_delta_at_best_gain=float(gain.nonspatial),
    widget_update_seconds=widget_update_seconds,
    minilm_max_delta=minilm_max_delta,
    minilm_base_distances=minilm_base,
    testbed_seeds=[int(x) for x in across.index],
    L0_attn_off_spatial_by_testbed=[float(x) for x in across.L0_attn_off_spatial],
    L0_attn_off_nonspatial_by_testbed=[float(x) for x in across.L0_attn_off_nonspatial],
    selective_head_drop_by_testbed=[float(x) for x in across.head_selective_drop],
    selective_head_by_testbed=list(across.head_selective_drop_site),
    best_head_gain_by_testbed=[float(x) for x in across.head_best_gain],
    claims_hold_by_testbed={c: [bool(v) for v in claims01[c]] for c in claims01},
    notebook_seconds=time.perf_counter() - NOTEBOOK_START,
)
tolerances = {
    "notebook_seconds": TIMING,
    "widget_update_seconds": SHORT_TIMING,
    "sweep_speedup": (0, 0.5, "a ratio of two timings measured in the same run: machine load moves it (the chapter asserts equal answers, not the ratio)"),
}
sl.save_metrics(NB, metrics, tolerances=tolerances)
print(pd.Series(metrics).to_string())

# timings (the explorer update, the sweep speed-up) are reported above and measured by benchmarks/, never asserted here
if not FAST:
    assert abs(at_max.spatial) >= 0.05, "some single site should move spatial accuracy by several points"
    assert abs(at_max.nonspatial) < abs(at_max.spatial), "...while non-spatial accuracy moves less"
    # across testbeds: of the claims written down before the other testbeds were swept, the first two
    # FAILED on some testbeds (claims_hold_by_testbed in metrics.json; section 4 says so) and are not asserted.
    # What section 4 says holds everywhere, with this section's own threshold of 5 points:
    assert claims01["some site moves spatial accuracy ≥ 5 points"].all(), "on every testbed one block scaled at the last token moves spatial accuracy by >= 5 points"
# §6's printed claim (asserted since 2026-12-02, after the teaching review; the values were known):
# swapping the objects moves MiniLM's embedding less than a paraphrase does
if minilm_base is not None:
    assert minilm_base["paraphrase"] > minilm_base["spatial_swap"], "MiniLM: a paraphrase should move the embedding more than swapping the objects"

# %% [markdown]
# ## Summary
#
# * Scaling one block or head at the last token — no weight changed — moves the tiny VLM's spatial
#   accuracy by many points; some heads move it while leaving the non-spatial answers within a point
#   or two (selective), but which ones differs between independently trained testbeds.
# * A cell of a sweep is an accuracy over a few hundred items. A change between two settings on the
#   same items is paired: its noise is set by the items that flip (McNemar), not by one accuracy's
#   standard error. And the best of many settings is biased upward: judge it on items it was not
#   chosen on.
# * *(Optional section 6.)* On a pretrained encoder (MiniLM), scaling a block at every position
#   changes how far apart "A left of B" and "B left of A" land — read against the paraphrase control
#   beside it.
#
# **Questions for discussion.** If a single head's switch-off *helps* spatial accuracy, what does
# that say about what the non-spatial tuning did? Why might the selective heads differ between
# testbeds trained with the same recipe? What would convince you that a site is "spatial" rather
# than merely fragile?
#
# **Further reading.** Meng et al., *Locating and Editing Factual Associations in GPT* (ROME, 2022)
# on causal interventions; Wu et al., *pyvene* (2024) on intervention libraries; Reimers & Gurevych,
# *Sentence-BERT* (2019) for MiniLM-style encoders; `references.bib`.
