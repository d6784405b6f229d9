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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scale-lib/scale_lib/blob/main/notebooks/03_scale_spatial.ipynb)
#
# # 03 · ScAle: can a few dozen scalars bring back a spatial skill?
#
# Notebook 02 multiplied one head's output by a constant, by hand, and watched spatial accuracy
# move. **ScAle** ("Attention Head Scaling as a Minimal Adapter for Spatial Reasoning in VLMs",
# arXiv:2606.29579, 2026) learns those constants instead:
#
# * *[abstract]* the backbone — vision tower, projector, language model — is **frozen**, and "a
#   small set of scalar coefficients" modulates "last-token attention and MLP activations";
# * *[ours]* every attention head of the chosen layers gets one coefficient, and every chosen
#   layer's MLP one more: 36 for the book's 4-layer × 8-head testbed; *[abstract]* the paper has
#   "about 1K" — *[ours]* 32 layers × (32 heads + 1 MLP) = 1,056 for a 7B LLaMA-family model;
# * a coefficient multiplies its head's (or MLP's) output **at the last token only** — the position
#   that predicts the answer;
# * *[abstract]* coefficients are **bounded**; *[ours]* `s = lo + (hi − lo)·sigmoid(θ)`, by default
#   in (0, 2), with θ chosen so that `s = 1` exactly at the start: the adapted model begins as the frozen one;
# * *[ours]* they are trained with the cross-entropy of the answer token; *[secondary]* on spatial questions.
#
# *[abstract]* The paper reports up to **134.1 %<!--x--> relative accuracy gain**, on SpatialEval and on
# real-image spatial VQA (COCO-QA / VG-QA subsets), across several VLM families; that this
# "recovers a substantial fraction" of LoRA's gain with a small fraction of its parameters (for
# LoRA r = 1 on the query and value projections of a 7B model, ≈ 524 K parameters — about 500×
# ScAle's ≈ 1K; the paper's LoRA rank is not known to us); and that non-spatial VQA accuracy is
# preserved. This notebook puts that claim
# to the test on the book's tiny vision-language model, against LoRA, (IA)³, a linear probe and full
# fine-tuning, all on the same data, batches and number of steps — first on one testbed, up close,
# then on six more, pretrained independently. **What it finds:** on one testbed ScAle can look
# strong; across testbeds its gain ranges from slightly negative to large, and its mean is not
# reliably above zero. Section 7 looks for the reason with correlations over six testbeds, which
# cannot settle it; chapter 07 tests it causally and finds that a last-token scale undoes more of a
# change in *what* heads write than of a change in *where* they look.
#
# | section | what |
# |---|---|
# | 1 | the adapter on the testbed: its sites, its parameter count, identity at the start |
# | 2 | the prefix-cached trainer: why a step costs about one token, checked against the plain path |
# | 3 | training ScAle, and why it also sees non-spatial questions here |
# | 4 | ScAle vs frozen, LoRA r=1/r=4, (IA)³, a linear probe and full fine-tuning, on one testbed |
# | 5 | what was learned: the coefficients as a layers × heads map, accuracy per question type |
# | 6 | **one testbed is one draw**: ScAle vs LoRA r=1 on six more testbeds, pretrained independently and never used to choose anything |
# | 7 | why ScAle's share varies: what kind of damage the tuning did |
# | 8 | an explorer: retrain with another bound, other layers or other data |
# | 9 | exercises |
# | 10 | the same code on a real hub VLM and the real SpatialEval (opt-in, GPU; not run here) |
# | 11 | checked: the claims as assertions |
#
# **Where the paper is silent, our choices** (the docstrings of `scale_lib.scaling.adapter` and
# `scale_lib.scaling.adapt` give the details): one coefficient per head at the input of the attention
# output projection, one per layer on the MLP output; bound (0, 2); Adam at learning rate 0.05<!--x--> for
# 300 steps of 64; training items half spatial, half non-spatial (section 3 says why, and reports
# the paper's spatial-only protocol beside it). Every method's learning rate was set by hand in
# short trial runs on this testbed, not tuned on held-out data (`scale_lib.scaling.adapt.DEFAULT_LR`).
#
# **You will learn to** build and train a last-token adapter on a frozen model; check that its
# prefix-cached trainer equals the plain one; compare it fairly with LoRA, (IA)³, a probe and full
# fine-tuning; and judge a result by the spread over independently trained testbeds, not one run.
# In the exercises you write the bounded coefficient and the cached step yourself.
# **Prerequisites**: chapters 00–02; what LoRA is (below, and the [glossary](glossary.md)).
# **Time**: about 15 minutes to run in full mode on 2 CPU cores (the last full run's `notebook_seconds` in
# its metrics), about two hours to read and do (the three exercises about 45 minutes of it), best in two sessions:
#
# **In two sessions.** A course can split the chapter: **03a**, one testbed up close — §§1–5 and 8–9
# (the adapter, the cached trainer, the baselines, what was learned, the explorer, the exercises);
# **03b**, one testbed is one draw — §§6–7 and 11 (six more testbeds, the claims written down in
# advance, the diagnostics). 03b still runs the notebook from the top: §6 reuses §1's data settings.
# §10 is opt-in (a GPU and the hub).
#
# **The baselines in one line each.** **LoRA** (Hu et al., 2021) adds to a weight W a trainable
# low-rank update B A (rank r: A is r × d_in, B is d_out × r and starts at zero), here on the language
# model's query and value projections; **(IA)³** (Liu et al., 2022) learns a vector that multiplies
# keys, values and the MLP's hidden activations channel by channel at every position — ScAle's
# closest published relative; a **linear probe** is a new linear layer from the frozen model's last
# hidden state to the answer words; **full fine-tuning** trains every weight.

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

import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
import transformers as tf
from torch import nn  # Exercise 1 writes an nn.Module

import scale_lib as sl
from scale_lib.book import exercises as ex
from scale_lib.book import solutions
from scale_lib.book.verify import TIMING
from scale_lib.core.prefix import last_token_logits, prefix_cache  # noqa: F401 (the two calls Exercise 2 needs)
from scale_lib.data.spatial.scoring import majority_rate
from scale_lib.models import testbed
from scale_lib.scaling.adapt import adapt, coefficient_frame, compare, sweep_agreement
from scale_lib.scaling.adapter import ScAle, ScAleConfig, cache_check, cached_step_speedup

NB = "03_scale_spatial"
FAST = sl.is_fast()
sl.use_style()
sl.seed_everything(0)
sl.use_cores()
NOTEBOOK_START = time.perf_counter()
print("fast mode" if FAST else "full mode")

# %% [markdown]
# ## 1 · The adapter on the testbed
#
# The frozen model is the book's tiny LLaVA (notebook 01 shows how it was made): it once answered
# the Spatial-Grid corner question — *which animal is in the top-left corner?* — perfectly; then
# its language model's attention was tuned on non-spatial questions only (*is there a cat?*, *how
# many kinds of animals?*). The corner skill is still inside, used less. Training data and test
# data come from different layouts.

# %%
model, tok, record = testbed.load_testbed()
sl.freeze(model)
train_items = testbed.testbed_items(2000, "train", seed=record["seed"])
N_PER_KIND = sl.pick(1000, 96)
spatial_train = [i for i in train_items if i.kind == "spatial"][:N_PER_KIND]
nonspatial_train = [i for i in train_items if i.kind == "nonspatial"][:N_PER_KIND]
train = testbed.encode_items(spatial_train + nonspatial_train, tok)
test_items = testbed.testbed_items(sl.pick(250, 40), "test", seed=record["seed"])
test = testbed.encode_items(test_items, tok)
STEPS = sl.pick(300, 20)
print(f"training: {len(spatial_train)} spatial + {len(nonspatial_train)} non-spatial items; test: {len(test_items)} items "
      f"({sum(i.kind == 'spatial' for i in test_items)} spatial); {STEPS} steps of 64 for every method")

adapter = ScAle(model)
print(adapter)
print("sites:", ", ".join(list(adapter.sites())[:4]), "…")
with torch.no_grad():
    plain = model(**test.inputs(slice(0, 8))).logits
    with adapter.applied():
        adapted = model(**test.inputs(slice(0, 8))).logits
print(f"at initialisation every coefficient is {adapter.coefficients()['heads'].unique().tolist()} and the logits "
      f"change by at most {float((plain - adapted).abs().max()):.1e}")

# %% [markdown]
# ## 2 · Why a training step costs about one token
#
# Only the last position is scaled and the decoder is causal, so **nothing before the last token
# depends on the coefficients**. The image tokens and the prompt — the *prefix* — are run once
# without gradients and their keys and values cached; each step then runs, and back-propagates
# through, the last token only (`scale_lib.scaling.adapter.train_scale`). Same logits, same gradients:

# %%
probe_adapter = ScAle(model)
with torch.no_grad():
    probe_adapter.head_theta.normal_(generator=torch.Generator().manual_seed(0))  # away from the identity
rows = slice(0, 16)
diffs = cache_check(probe_adapter, train.inputs(rows), train.labels[rows])
print(f"prefix-cached vs plain path on 16 testbed prompts: max |Δ logit| {diffs['max_logit_diff']:.1e}, "
      f"max |Δ gradient| {diffs['max_grad_diff']:.1e}")

# %% [markdown]
# The testbed's prompts are short (about 45 tokens), so the saving here is modest. Real VLM prompts
# carry hundreds of image tokens; on a small Llama at 512 tokens (the benchmark's model,
# `benchmarks/bench_prefix_cache.py`, which also runs 64–1024 tokens and the tiny LLaVA):

# %%
torch.manual_seed(0)
llama = tf.LlamaForCausalLM(tf.LlamaConfig(vocab_size=1000, hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=8,
                                           num_key_value_heads=8, max_position_embeddings=1024)).eval()
long_batch = sl.tiny_batch(llama, batch=4, seq=512, padding="none")
speed = cached_step_speedup(ScAle(llama), long_batch, torch.arange(4) + 3, repeats=sl.pick(5, 2))
print(f"one ScAle step at {speed['tokens']} tokens: plain {speed['plain_ms']:.0f} ms, prefix cached {speed['cached_ms']:.1f} ms "
      f"-> {speed['speedup']:.0f}× faster")
del llama, long_batch

# %% [markdown]
# ## 3 · Training ScAle — and on what
#
# *[secondary]* The paper trains on spatial questions and reports that non-spatial accuracy is
# preserved. On the
# testbed, coefficients trained on spatial items alone do raise the corner accuracy, but they also
# cost non-spatial accuracy (below): with 36 knobs shared by every question, nothing tells them to
# leave the other questions alone. **Our choice:** train ScAle — and every baseline — on spatial and
# non-spatial items together, half and half. That is the honest way to ask for "better at spatial,
# no worse at the rest", and it is cheap: the non-spatial questions are the ones the model already
# answers.

# %%
frozen_acc = adapt(model, "frozen", train).accuracy(test)
spatial_only = adapt(model, "scale", testbed.encode_items(spatial_train, tok), steps=STEPS, progress=not FAST)
mixed = adapt(model, "scale", train, steps=STEPS, progress=not FAST)
trained_on = pd.DataFrame({"frozen": frozen_acc, "ScAle, spatial items only": spatial_only.accuracy(test),
                           "ScAle, spatial + non-spatial": mixed.accuracy(test)}).T[["spatial", "nonspatial"]]
print(trained_on.round(3).to_string())
print("the paper's protocol (spatial items only) is the middle row: it costs non-spatial accuracy here; the book's protocol is the last row")
fig, ax = plt.subplots(figsize=(6.5, 3.4))
ax.plot(pd.Series(mixed.losses).rolling(10).mean(), color=sl.PALETTE[0])  # from step 10 on: earlier means would average one or two batches
ax.set(xlabel="step", ylabel="cross-entropy (10-step mean)",
       title=f"ScAle, spatial + non-spatial items: {mixed.n_params} coefficients, {mixed.seconds:.1f} s")
ax.title.set_fontsize(10)
sl.save_figure(fig, NB, "scale_loss")
plt.show()

# %% [markdown]
# *What to see:* the loss (over both kinds of item) falls fast in the first few dozen steps and then
# flattens: 36 numbers cannot fit much, and most of what they can fit is found early.
#
# ## 4 · Against the baselines, over seeds
#
# Every method trains on the same items, in the same minibatches (`scale_lib.core.schedules.batch_schedule`),
# for the same number of steps, with the same loss — the cross-entropy of the answer token at the
# last position, over the whole vocabulary — and is scored the same way (the argmax over the item's
# own options). The one exception is the linear probe: it outputs only answer words, so its
# cross-entropy is taken over the item's own options (e.g. the four animals offered) instead. LoRA
# and (IA)³ adapt the language model only (peft); the linear probe is a new head
# from the last hidden state to the answer words seen in training (the classic VQA answer
# classifier); full fine-tuning trains every weight. ScAle runs over three seeds, every other method
# once (so only ScAle's bars below carry an error bar); a seed changes
# ScAle only through the order it sees batches in — it does **not** change the testbed, which is
# why section 6 repeats the comparison on other testbeds. The testbed only sees images, so its one
# modality is VQA, and its one task Spatial-Grid; the per-question columns split the task.

# %%
SEEDS = sl.pick((0, 1, 2), (0,))
methods = ("frozen", "scale", "lora_r1", "lora_r4", "ia3", "linear_probe", "full_ft")
comparison = compare(model, train, test, methods, seeds=(0,), seeds_for={"scale": SEEDS}, steps=STEPS,
                     names=testbed.QTYPE_NAMES, progress=not FAST)
summary = comparison.summary()
LABELS = {"frozen": "frozen", "scale": "ScAle", "lora_r1": "LoRA r=1", "lora_r4": "LoRA r=4", "ia3": "(IA)³", "linear_probe": "linear probe",
          "full_ft": "full fine-tuning"}
table = summary.rename(index=LABELS)[["params", "seconds", "seeds", "spatial", "spatial_sd", *comparison.question_types, "nonspatial",
                                      "fraction_of_lora_r1_gain"]]
table.style.format({"params": "{:,.0f}", "seconds": "{:.1f}", "seeds": "{:.0f}", "fraction_of_lora_r1_gain": "{:.0%}"}, precision=3, na_rep="–")

# %%
gain = comparison.gain("scale")
flips = comparison.flips("scale")
scale_params, lora_params = int(summary.loc["scale", "params"]), int(summary.loc["lora_r1", "params"])
fraction = comparison.fraction_of_gain("scale", "lora_r1")
print(f"ScAle's spatial gain over the frozen model, per seed: {', '.join(f'{g:+.3f}' for g in gain)} "
      f"(mean {gain.mean():+.3f}, seed sd {gain.std(ddof=1) if len(gain) > 1 else float('nan'):.3f})")
print("spatial test items ScAle fixed and broke, per seed:", flips.to_dict("index"))
print(f"ScAle: {scale_params} parameters, LoRA r=1: {lora_params:,} ({lora_params / scale_params:.0f}× more); "
      f"ScAle recovers {fraction:.0%} of LoRA r=1's spatial gain with {scale_params / lora_params:.1%} of its parameters")

# %% [markdown]
# ## 5 · What was learned
#
# The coefficients, averaged over the seeds, one row per layer: red above 1 (amplified at the last
# token), blue below (damped).

# %%
scale_runs = [comparison.adapted["scale", s].module for s in SEEDS]
coef = coefficient_frame(scale_runs)
fig, ax = plt.subplots(figsize=(8, 3))
sns.heatmap(coef, ax=ax, cmap="RdBu_r", center=1.0, vmin=0.0, vmax=2.0, annot=True, fmt=".2f", annot_kws={"size": 8},
            cbar_kws={"label": "coefficient"})
ax.axvline(coef.shape[1] - 1, color="k", lw=2)
ax.set(title=f"ScAle coefficients after {STEPS} steps (mean of {len(scale_runs)} seed(s)); 1 = unchanged", xlabel="head  |  MLP")
sl.save_figure(fig, NB, "coefficients")
plt.show()

# %% [markdown]
# *What to see:* coefficients far from 1 (dark) are where training moved them (on average over the
# seeds: a coefficient that moved one way on one seed and the other way on another averages out); several sit at the bounds
# 0 or 2 (saturated) — see the caveat after the next figure before reading them as importance.
#
# **Does ScAle turn the heads notebook 02 would have picked?** For each head, notebook 02's kind of
# sweep — that head alone × 1.5<!--x-->, then × 0.5<!--x-->, on the spatial training items — gives a direction:
# positive if amplifying it helps the corner answers. Against the learned coefficient (seed 0):

# %%
agreement, rho = sweep_agreement(comparison.adapted["scale", 0].module, testbed.encode_items(spatial_train, tok))
fig, ax = plt.subplots(figsize=(6.5, 3.6))
ax.scatter(agreement.sweep_direction, agreement.coefficient, color=sl.PALETTE[0])
for _, r in agreement.reindex(agreement.sweep_direction.abs().sort_values().index[-6:]).iterrows():
    ax.annotate(r.site, (r.sweep_direction, r.coefficient), textcoords="offset points", xytext=(4, 3), fontsize=8)
ax.axhline(1, color="grey", lw=1, ls=":")
ax.axvline(0, color="grey", lw=1, ls=":")
ax.set(yscale="log", xlabel="one-head sweep: Δ spatial accuracy at × 1.5 minus at × 0.5", ylabel="learned coefficient (log)",
       title=f"ScAle vs one-at-a-time sweeps: Spearman ρ = {rho:.2f}")
sl.save_figure(fig, NB, "sweep_agreement")
plt.show()
top_sweep = agreement.sort_values("sweep_direction", ascending=False).head(2)
print("the two heads the sweep most wants amplified, and where seed 0's training left them:",
      ", ".join(f"{r.site}: sweep {r.sweep_direction:+.3f}, coefficient {r.coefficient:.2f}" for r in top_sweep.itertuples()))

# %% [markdown]
# If ScAle simply followed the sweep, the points would rise from left to right: heads a sweep says
# to amplify amplified, those it says to damp damped. The title's ρ says how far that holds here —
# loosely at best. ScAle also moves heads whose single change does nothing: the
# coefficients are trained *jointly*, and some sit near the bounds 0 or 2 — Adam's steps barely
# depend on a gradient's size, so a coefficient with a tiny gradient can still drift far. Read the
# map as "what this one training run settled on", not as importance. A sweep finds where to look;
# training finds a combination. The line under the figure shows the sharpest case to look for: the
# heads the sweep most wants amplified, and the coefficient training gave them. A coefficient below 1
# there means training *damped* a head that helps when it is amplified alone (chapter 02 found
# L0.H0 × 2 the best single gain): with every other coefficient moving at the same time, less of that
# head lowered the training loss more.

# %%
per_q = comparison.per_question().replace({"method": LABELS})
fig, ax = plt.subplots(figsize=(10, 3.4))
sns.barplot(per_q, x="question", y="accuracy", hue="method", errorbar=("sd", 1), ax=ax, palette=sl.PALETTE[: len(methods)])
ax.set(ylim=(0, 1.05), xlabel="", title="Accuracy per question type (error bars: seed sd where there are several seeds)")
for k, q in enumerate(comparison.question_types):  # chance: 1 / number of options of that question
    n_opt = next(len(i.options) for i in test.items if testbed.QTYPE_NAMES.get(i.qtype, i.qtype) == q)
    ax.hlines(1 / n_opt, k - 0.45, k + 0.45, color="black", ls="--", lw=1, label="chance (1 / options)" if k == 0 else None)
    if q == testbed.QTYPE_NAMES["exist"]:  # a Yes/No control whose answers are mostly "Yes" (chapter 01 §2): that is the floor to beat
        floor = majority_rate([i for i in test.items if i.qtype == "exist"])
        ax.hlines(floor, k - 0.45, k + 0.45, color="tab:red", ls=":", lw=1.5, label="always the commonest answer")
ax.legend(*ax.get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(1, 1), title="method")
sl.save_figure(fig, NB, "per_question")
plt.show()

# %% [markdown]
# **Reading the table and the bars.** The corner question is where the methods differ; the two
# non-spatial questions stay near perfect for every method, since every method also saw them. Full
# fine-tuning brings the corner question back entirely (1.00<!--m:full_ft_spatial_acc-->), LoRA r=4
# as well (1.00<!--m:lora_r4_spatial_acc-->) and (IA)³ almost (0.992<!--m:ia3_spatial_acc-->); LoRA r=1 at the
# book's learning rate gets most of the way, from 0.676<!--m:frozen_spatial_acc--> to 0.908<!--m:lora_r1_spatial_acc-->;
# ScAle, with 36 numbers, reaches 0.772<!--m:scale_spatial_acc--> (mean of its seeds), 41 %<!--m:scale_fraction_of_lora_r1_gain--> of LoRA
# r=1's gain — a real gain on this testbed (its fixed items far outnumber the broken
# ones), but a partial one. The linear probe, with many times ScAle's parameters (the table's
# `params` column), lands close to
# ScAle: part of the answer is readable from the final hidden state already, and the rest needs a
# change *inside* the network. How the skill was damaged decides what can undo it: when the first
# testbed was tuned on **every** weight, the image features eroded too, and ScAle recovered only
# 6 %<!--x--> of LoRA's gain (27 %<!--x--> when every language-model weight was tuned; `scale_lib.models.testbed`'s
# docstring has the table) — scalars on the last token re-weight what is there; they cannot rebuild
# what is gone. But is this testbed's number a property of the recipe, or of one draw? Section 6.
#
# (On "is there a …", the dashed line at one half is 1 / options, but always answering "Yes" scores
# well above it on these testbeds — chapter 01 §2 measures that majority rate — so read those bars
# against the majority rate, not against the line.)

# %% [markdown]
# ## 6 · One testbed is one draw: ScAle across independently pretrained testbeds
#
# Everything above ran on one testbed — one pretraining seed. The "seeds" of section 4 only
# reorder ScAle's minibatches on that model. But the testbed is itself random: another seed gives
# other layouts, another initialisation, another minibatch order, and so another model with its
# own way of having learned (and then half-forgotten) the corner question. Worse, the testbed's
# recipe was **chosen on seed 0**, among four recipes, by ScAle's share of LoRA's gain
# (`scale_lib.models.testbed`'s docstring has the table). A number measured on the draw that chose the
# recipe is not evidence for the recipe.
#
# So the book ships seven testbeds made with the same recipe (`python -m scale_lib.models.testbed --seed N`
# remakes any of them): seed 0 (the one above) and seeds 1–6, made after the recipe was fixed and
# **never used to choose anything**. (Even seed 0 is a new draw: the recipe was chosen on an earlier
# run of it, where ScAle recovered 74 %<!--x--> of LoRA r=1's gain — [chapter 01, section 5](01_spatial_benchmark.ipynb)
# tells that story once, with why a re-run seed is another model. The seed-0 testbed the book ships,
# and section 4 measured, gives 41 %<!--m:scale_fraction_of_lora_r1_gain-->; the 74 %<!--x--> is quoted
# below only as the number the recipe was chosen by.)
# On each fresh testbed, `scale_lib.scaling.latent.study_testbed` runs this chapter's comparison — frozen,
# ScAle, LoRA r=1, the same data sizes, steps and learning rates — and reports ScAle's share of
# LoRA's gain with a 95 % paired-bootstrap interval over test items, and, because LoRA's own
# recovery varies, the share of the accuracy the tuning **took away** (before tuning − frozen) that
# ScAle gives back.
#
# Before these testbeds were trained, we wrote down what a reader should be able to rely on
# (section 11): on every fresh testbed, (1) ScAle fixes more test items than it breaks, beyond
# test-set noise; (2) non-spatial accuracy stays within a point; (3) LoRA r=1 recovers part of
# the skill. Here is what happened.

# %%
from scale_lib.scaling import latent

TESTBEDS = sl.pick(testbed.FRESH_SEEDS, (1, 2))
study, study_details = latent.across_testbeds(TESTBEDS, n_per_kind=N_PER_KIND, n_test_layouts=sl.pick(250, 40), steps=STEPS, progress=not FAST)
fresh = study[study.fresh]
shown = study[["pretrained_spatial", "frozen_spatial", "scale_spatial", "lora_r1_spatial", "share", "share_low", "share_high", "scale_recovers_of_lost",
               "fixed", "broken", "frozen_nonspatial", "scale_nonspatial"]].copy()
shown.rename_axis("testbed seed").style.format(precision=3).format({"share": "{:.0%}", "share_low": "{:.0%}", "share_high": "{:.0%}", "scale_recovers_of_lost": "{:.0%}"})

# %%
across_summary = latent.gain_summary(fresh)
gain_mean, gain_ci, defined = across_summary["gain_mean"], across_summary["gain_ci"], across_summary["share_defined"]
share_mean, share_sd = across_summary["share_mean"], across_summary["share_sd"]
claims = latent.claims_table(fresh, latent.SCALE_CLAIMS)
print(f"{len(fresh)} fresh testbeds. ScAle's gain over the frozen model: {', '.join(f'{g:+.3f}' for g in fresh.scale_gain)} "
      f"(mean {gain_mean:+.3f}, 95 % interval over testbeds {gain_ci[0]:+.3f} to {gain_ci[1]:+.3f})")
print(f"share of LoRA r=1's gain, where LoRA gained: {fresh.share[defined].min():.0%} to {fresh.share[defined].max():.0%} (mean {share_mean:.0%}); "
      f"undefined on {list(fresh.index[~defined])} (LoRA r=1 gained nothing)")
print(f"share of the accuracy tuning took away that ScAle gives back: {fresh.scale_recovers_of_lost.min():.0%} to {fresh.scale_recovers_of_lost.max():.0%} "
      f"(mean {fresh.scale_recovers_of_lost.mean():.0%})")
print("\nthe claims written down before training these testbeds, per testbed:")
print(claims.replace({True: "holds", False: "FAILS"}).to_string())

fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 4.4), gridspec_kw={"width_ratios": [1.3, 1.1, 1]})
x = np.arange(len(study))
labels = [str(s) for s in study.index]
for key, name, colour, dx in (("frozen_spatial", "frozen", "grey", -0.2), ("scale_spatial", "ScAle", sl.PALETTE[0], 0.0), ("lora_r1_spatial", "LoRA r=1", sl.PALETTE[1], 0.2)):
    ax1.scatter(x + dx, study[key], color=colour, label=name, zorder=3)
for i, (_, r) in enumerate(study.iterrows()):
    ax1.plot([i - 0.2, i, i + 0.2], [r.frozen_spatial, r.scale_spatial, r.lora_r1_spatial], color="lightgrey", zorder=1)
ax1.scatter(x - 0.3, study.pretrained_spatial, color="k", marker="_", s=200, label="before tuning")
ax1.set(xticks=x, xticklabels=labels, xlabel="testbed seed", ylabel="corner-question accuracy", ylim=(0.35, 1.04),
        title="spatial accuracy per testbed")
ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, fontsize=8, frameon=False)
ax2.axhline(0, color="k", lw=0.8)
ax2.bar(x - 0.18, study.scale_gain, 0.36, color=sl.PALETTE[0], label="ScAle − frozen")
ax2.bar(x + 0.18, study.lora_r1_gain, 0.36, color=sl.PALETTE[1], label="LoRA r=1 − frozen")
ax2.bar(x - 0.18, study.lost, 0.72, fill=False, edgecolor="k", ls="--", lw=1, label="taken away by tuning")
for i, r in enumerate(study.itertuples()):
    ax2.annotate(f"{r.fixed}/{r.broken}", (i - 0.18, max(r.scale_gain, 0)), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=7)
ax2.set(xticks=x, xticklabels=labels, xlabel="testbed seed", ylabel="Δ corner accuracy", title="gains (numbers: items ScAle fixed/broke)")
ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8, frameon=False)
ax3.axhspan(-1, 1, color="lightgrey", alpha=0.5, label="± 1 point")
ax3.bar(x, 100 * (study.scale_nonspatial - study.frozen_nonspatial), color=sl.PALETTE[0])
ax3.set(xticks=x, xticklabels=labels, xlabel="testbed seed", ylabel="points", ylim=(-4, 4), title="non-spatial: ScAle − frozen")
ax3.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8, frameon=False)
fig.tight_layout()
sl.save_figure(fig, NB, "across_testbeds")
plt.show()

# %% [markdown]
# **What holds across testbeds.** One claim survived: non-spatial accuracy stayed within a point on
# every testbed — ScAle trained on mixed items does not buy spatial gains with the controls. The
# other two did not. ScAle's gain over the frozen model ranges from slightly negative to about
# fifteen points; it clears test-set noise (the sign test) on only some testbeds, and the 95 %
# interval of its mean over testbeds contains zero (printed above). LoRA r=1, at the learning rate
# set by hand on the first testbed, recovers most of the skill on four testbeds and little or
# nothing on two. So "ScAle recovers X % of LoRA's gain" is not one number: where the share is
# defined it spans −50 %<!--m:scale_lora_share_min--> to 39 %<!--m:scale_lora_share_max-->, and every fresh testbed sits below
# both the shipped seed 0's 41 %<!--m:scale_fraction_of_lora_r1_gain--> and, well below, the 74 %<!--x--> of the run the
# recipe was chosen on. The left panel also shows something the recipe promised and did not
# deliver: on two seeds pretraining never learned the corner question well (black marks, before
# tuning), so there was little to make latent in the first place.
#
# This is the chapter's main lesson, and it is about method more than about ScAle: **a number
# measured on one pretrained model is one draw**, and a recipe chosen by the number it produces will
# flatter that number on the draw that chose it.

# %% [markdown]
# ## 7 · Why does the share vary? What kind of damage did tuning do
#
# Every testbed was made the same way, yet ScAle brings back very different fractions of the skill.
# LoRA r = 1 brings back most of it on four of the six testbeds and little or nothing on the other
# two (section 6; chapter 07 re-measures rank-1 LoRA with learning rates chosen on validation
# items). Even on testbed 3, where LoRA r = 1 gained nothing, putting back the pre-tuning queries
# and keys raises the corner accuracy by +0.276<!--m:restore_routing_gain_by_testbed.2--> (below): the rest of the
# network still carries the skill. So the skill is seldom *gone* — the question is what ScAle's few knobs can
# reach. `scale_lib.scaling.latent` measures the damage four ways (correlations over six testbeds;
# chapter 07 tests the question causally):
#
# * **restore routing / content** — put back the pre-tuning queries and keys of every layer (where
#   the last token *looks*), or the values and output projections (what the heads *write*), and
#   score the corner question (`latent.restored`, undone on exit);
# * **probe** — a linear probe on the last token's final hidden state: is the answer still
#   readable there? (before tuning it always is);
# * **best single head** — the most one head at × 0 or × 2 buys back (notebook 02's sweep), with
#   non-spatial accuracy within 2 points;
# * **how far tuning moved the heads** — the relative weight change of each head's query, key,
#   value and output slices.

# %%
diagnostics = {"restore_routing_spatial": "corner accuracy with the\npre-tuning queries + keys", "restore_content_spatial": "corner accuracy with the\npre-tuning values + outputs",
               "probe_tuned_spatial": "linear probe on the\ntuned final state", "head_best_gain": "best single-head gain\n(one-head sweep)",
               "frozen_spatial": "corner accuracy\nafter tuning", "change_routing": "mean relative change,\nqueries + keys"}
fig, axes = plt.subplots(1, 4, figsize=(14, 3.8), sharey=True)
correlations = {}
for ax, key in zip(axes, ["frozen_spatial", "restore_routing_spatial", "probe_tuned_spatial", "head_best_gain"]):
    rho = study[key].corr(study.scale_recovers_of_lost, method="spearman") if len(study) > 2 else float("nan")  # NaN rows dropped
    correlations[key] = float(rho)
    ax.scatter(study[key], study.scale_recovers_of_lost, color=sl.PALETTE[0], zorder=3)
    for s, r in study.iterrows():
        ax.annotate(str(s), (r[key], r.scale_recovers_of_lost), textcoords="offset points", xytext=(4, 2 if s % 2 else -10), fontsize=8)  # odd above, even below: no two labels collide
    ax.set(xlabel=diagnostics[key], title=f"Spearman ρ = {rho:.2f}")
    ax.title.set_fontsize(10)
axes[0].set_ylabel("ScAle's share of the lost accuracy")
axes[0].yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
fig.suptitle("What predicts how much of the lost accuracy ScAle gives back? (one point per testbed)", y=1.02)
fig.tight_layout()
sl.save_figure(fig, NB, "share_diagnostics")
plt.show()
print(study[["pretrained_spatial", *diagnostics, "scale_spatial", "scale_recovers_of_lost"]].round(3).to_string())

# %%
fig, ax = plt.subplots(figsize=(9, 3.4))
bars = {"frozen (after tuning)": "frozen_spatial", "pre-tuning values + outputs restored": "restore_content_spatial",
        "pre-tuning queries + keys restored": "restore_routing_spatial", "before tuning": "pretrained_spatial"}
for k, (name, key) in enumerate(bars.items()):
    style = dict(color=["grey", sl.PALETTE[2], sl.PALETTE[4]][k], alpha=0.9) if k < 3 else dict(fill=False, edgecolor="k", lw=1.2, hatch="//")
    ax.bar(x + (k - 1.5) * 0.2, study[key], 0.2, label=name, **style)
ax.set(xticks=x, xticklabels=labels, xlabel="testbed seed", ylabel="corner-question accuracy", ylim=(0.3, 1.02),
       title="Where is the damage? Put back part of the pre-tuning attention weights")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
sl.save_figure(fig, NB, "damage_location")
plt.show()

# %%
lo_seed, hi_seed = study.scale_recovers_of_lost.idxmin(), study.scale_recovers_of_lost.idxmax()
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4), sharey=True)
for ax, s in zip(axes, (lo_seed, hi_seed)):
    ch = study_details[s]["change"].pivot_table(index="layer", columns="head", values="change", aggfunc="mean")
    sns.heatmap(ch, ax=ax, cmap="Reds", vmin=0, vmax=float(max(study_details[t]["change"].groupby(["layer", "head"]).change.mean().max() for t in (lo_seed, hi_seed))),
                annot=True, fmt=".2f", annot_kws={"size": 7}, cbar_kws={"label": "relative weight change"})
    ax.set(title=f"testbed {s}: ScAle gives back {study.scale_recovers_of_lost[s]:.0%} of the lost accuracy", xlabel="head")
    ax.title.set_fontsize(10)
fig.suptitle("How far the non-spatial tuning moved each head (mean over its q, k, v and o slices)", y=1.02)
sl.save_figure(fig, NB, "tuning_change")
plt.show()

# %% [markdown]
# **What the diagnostics say** (six points make correlations exploratory, so read the panels as
# cases, not laws).
#
# * **Routing or content?** Putting back the pre-tuning queries and keys recovers more of the corner
#   question than putting back the values and output projections on three of the four testbeds where
#   pretraining learned the skill (the bar chart) — but only testbed 3 is clear-cut
#   (+0.276<!--m:restore_routing_gain_by_testbed.2--> against +0.028<!--m:restore_content_gain_by_testbed.2-->). On testbeds 1 and 2 the two
#   differ by a few points (+0.172<!--m:restore_routing_gain_by_testbed.0--> vs +0.100<!--m:restore_content_gain_by_testbed.0-->,
#   +0.320<!--m:restore_routing_gain_by_testbed.1--> vs +0.272<!--m:restore_content_gain_by_testbed.1-->), differences of a size 250 test items
#   can produce by chance (we did not test them), and on testbed 4 content is slightly ahead
#   (+0.112<!--m:restore_content_gain_by_testbed.3--> vs +0.104<!--m:restore_routing_gain_by_testbed.3-->). Nor does the routing restore predict
#   ScAle's share of the lost accuracy (panel 2, ρ = 0.37<!--m:share_spearman_with.restore_routing_spatial-->): testbeds 1 and 4 get
#   about the same share (23 %<!--m:scale_recovers_of_lost_by_testbed.0--> and 22 %<!--m:scale_recovers_of_lost_by_testbed.3-->) with opposite
#   orders of routing and content. An earlier version of this chapter concluded that ScAle fails
#   *because* the damage is in routing; six testbeds cannot carry that, and ScAle's gain in fact
#   tracks what restoring the values and outputs gives back more closely than what restoring the
#   queries and keys does: over the six testbeds, the rank correlation of ScAle's gain with the
#   content restore's gain is ρ = 0.89<!--m:scale_gain_spearman_with_restore.content-->, with the routing restore's
#   ρ = 0.43<!--m:scale_gain_spearman_with_restore.routing--> (six points each: suggestive, not a test). **Chapter 07 tests it causally** — hiding the skill by tuning only the
#   queries and keys, or only the values and outputs, with matched damage, on eight testbeds — and
#   finds the opposite of the old explanation: ScAle gives back about half of the damage to what
#   heads write and about a third of the damage to where they look, and the difference favours
#   what heads write on every one of the eight (chapter 07 §6).
# * **Spread, not local.** The tuning moved every head's weights by a similar amount (the two
#   heatmaps: for most heads a quarter to a third of their norm, on the testbed where ScAle did worst
#   and where it did best), so the damage is not confined to a few heads a scalar could switch off.
# * **Single heads.** The best single-head gain of notebook 02's sweep is a few points at most on
#   every testbed; where no head helps alone (testbed 3), ScAle did not help either.
# * **Less latent, less to unlock.** On the two seeds whose pretraining never learned the corner
#   question well, the skill was weak before any tuning: their before-tuning accuracy caps what any
#   restoration can give back (black bars), and ScAle's share of the lost accuracy is modest on one
#   and negative on the other.
# * **ScAle lands near a linear readout.** Compare ScAle's accuracy with the linear probe's on the
#   tuned final state (the table printed above, and panel 3): on every testbed they are within a few
#   points of each other, one ahead on some testbeds, the other on others (`probe_tuned_spatial_by_testbed`
#   in the metrics). Re-weighting heads at the last token gets about as far as
#   reading the final state better.
#
# What would make the skill *reliably* latent? A rule fixed in advance — e.g. pretrain until the
# skill is learned on validation layouts, then tune until a stated drop — and checked on seeds not
# used to choose it. The book has not done that yet; until then its ScAle claims are the
# distribution above, not the first testbed's number.

# %% [markdown]
# ## 8 · Explore: another bound, other layers, other data
#
# Retrain ScAle with an upper bound `hi` for `s ∈ (0, hi)`, only some layers, or spatial items only.
# A retrain takes a few seconds (the prefix cache makes it cheap); results are remembered. The
# default — bound 2, all layers, both kinds of item, seed 0 — redraws section 5's map for one seed.

# %%
N_LAYERS = sl.model_map(model).n_layers
_runs = {(2.0, tuple(range(N_LAYERS)), "spatial + non-spatial"): comparison.adapted["scale", 0]}
spatial_batch = testbed.encode_items(spatial_train, tok)


def draw_explorer(hi=2.0, layers=tuple(range(N_LAYERS)), data="spatial + non-spatial"):
    key = (float(hi), tuple(sorted(layers)), data)
    if not key[1]:
        print("choose at least one layer")
        return
    if key not in _runs:
        _runs[key] = adapt(model, "scale", train if data == "spatial + non-spatial" else spatial_batch, steps=STEPS,
                           scale_config=ScAleConfig(layers=list(key[1]), bound=(0.0, float(hi))), progress=False)
    run = _runs[key]
    acc = run.accuracy(test)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3), gridspec_kw={"width_ratios": [2.6, 1]})
    sns.heatmap(coefficient_frame(run.module), ax=ax1, cmap="RdBu_r", center=1.0, vmin=0.0, vmax=max(2.0, hi), annot=True, fmt=".2f",
                annot_kws={"size": 7}, cbar=False)
    ax1.set(title=f"coefficients, s ∈ (0, {hi:g}), layers {list(key[1])}, {run.n_params} parameters", xlabel="head  |  MLP")
    ax2.bar(["spatial", "non-spatial"], [acc["spatial"], acc["nonspatial"]], color=sl.PALETTE[:2])
    ax2.bar(["spatial", "non-spatial"], [frozen_acc["spatial"], frozen_acc["nonspatial"]], fill=False, edgecolor="k", ls="--", label="frozen")
    ax2.set(ylim=(0, 1.05), title=f"trained on {data}")
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)


sl.explorer(
    draw_explorer, save=(NB, "explorer"),
    hi=widgets.FloatSlider(value=2.0, min=1.25, max=4.0, step=0.25, description="bound hi"),
    layers=widgets.SelectMultiple(options=list(range(N_LAYERS)), value=tuple(range(N_LAYERS)), description="layers"),
    data=widgets.Dropdown(options=["spatial + non-spatial", "spatial only"], value="spatial + non-spatial", description="data"),
)

# %% [markdown]
# *What to see:* left, the trained coefficients — blue below 1 (damped), red above 1 (amplified),
# white unchanged; right, the accuracies they give against the frozen model's (dashed outlines).
# Try "spatial only" — the paper's protocol, measured in section 3 — and watch the non-spatial bar:
# nothing in the training data protects it any more.
#
# ## 9 · Exercises
#
# **Exercise 1 — the bounded coefficient** (★★☆ · 15 min). Write `BoundedScale(n, lo, hi)`, an
# `nn.Module` with one trainable number θ per coefficient whose `forward()` returns
# `lo + (hi − lo)·σ(θ)`, with θ initialised so that every coefficient is **exactly 1** (solve
# σ(θ₀) = (1 − lo)/(hi − lo) for θ₀). The cell gives the class's skeleton; you write two lines: θ as
# an `nn.Parameter` in `__init__`, and the body of `forward`. The check tries three bounds, pushes
# θ to extremes and back-propagates.
#
# <details><summary>Hint</summary> θ₀ is the logit of p = (1 − lo)/(hi − lo), log(p / (1 − p));
# wrap <code>torch.full((n,), θ₀)</code> in <code>nn.Parameter</code>, so that <code>parameters()</code> finds it.</details>

# %%
class BoundedScale(nn.Module):
    def __init__(self, n, lo=0.0, hi=2.0):
        super().__init__()
        self.lo, self.hi = lo, hi
        self.theta = solutions.scale.BoundedScale(n, lo, hi).theta  # SOLUTION

    def forward(self):
        return solutions.scale.BoundedScale.forward(self)  # SOLUTION


ex.test_bounded_scale(BoundedScale)

# %% [markdown]
# **Exercise 2 — the cached step** (★★☆ · 20 min). Write `cached_step(adapter, inputs, labels)`: one
# training step of section 2's trainer. Two library functions, imported at the top, do the work:
# `prefix_cache(model, inputs)` runs everything but the last position once, without gradients, and
# returns its keys and values (a VLM's image is part of that prefix), and
# `last_token_logits(model, cache, input_ids, attention_mask)` runs only the last position on top of
# the cache. The step must back-propagate the answer token's cross-entropy (`labels`) into the
# coefficients and return the detached last-position logits; `adapter.applied()` attaches the
# coefficients. The check compares logits and θ-gradients with the plain full-prompt step at a
# non-trivial θ. Before you run it, decide where the prefix must be built — inside or outside
# `adapter.applied()` — and write down which token would be scaled wrongly in the other place.
# (`prefix_cache` refuses the wrong place with an error that explains why: check your answer
# against it. The library's own trainer once got this wrong.)
#
# <details><summary>Hint</summary> The prefix is the frozen model's: build the cache first, then
# enter <code>adapter.applied()</code> for the last token only, and call <code>.backward()</code> on the loss.</details>

# %%
def cached_step(adapter, inputs, labels):
    return solutions.scale.cached_step(adapter, inputs, labels)  # SOLUTION


ex.test_cached_step(cached_step, ScAle(model), train.inputs(slice(0, 8)), train.labels[:8])

# %% [markdown]
# **Exercise 3 — predict, then ablate** (★★☆ · 10 min). Section 5's map shows many coefficients far
# from 1 in layers 2 and 3. If those two layers' **head** coefficients are set back to 1 (keeping
# every other coefficient, the MLPs' included), how much of ScAle's spatial gain over the frozen
# model remains, for the adapter trained with seed 0 (section 5's map averages three seeds; seed 0's
# coefficients differ from that mean in detail, so look at the map as a guide, not as seed 0's)? Choose one: `"most"` (over 70 %<!--x--> of it), `"half"` (30 to 70 %<!--x-->),
# `"little"` (0 to 30 %<!--x-->) or `"reversed"` (the ablated model scores below the frozen one). Record your
# prediction, then run the measuring cell.

# %%
PREDICTION_3 = None  # "most", "half", "little" or "reversed"
ex.predict("exercise 3", PREDICTION_3)

# %%
seed0 = comparison.adapted["scale", 0]
full_gain = seed0.accuracy(test)["spatial"] - frozen_acc["spatial"]
with seed0.module.identity_for([l for l in (2, 3) if l in seed0.module.layers], mlp=False):
    ablated_gain = seed0.accuracy(test)["spatial"] - frozen_acc["spatial"]
kept = ablated_gain / full_gain if full_gain > 0 else float("nan")
print(f"ScAle's spatial gain (seed 0): {full_gain:+.3f}; with layers 2-3's head coefficients at 1: {ablated_gain:+.3f} ({kept:.0%} kept)")
measured_3 = ("no gain to keep" if not full_gain > 0 else
              "most" if kept > 0.7 else "half" if kept > 0.3 else "little" if kept >= 0 else "reversed")
ex.reveal("exercise 3", measured_3,
          explanation="what is kept is what the other coefficients do without layers 2-3's heads; coefficients trained "
          "jointly need not split cleanly layer by layer.")

# %% [markdown]
# **What the outcome means.** If most of the gain survives, the large layer-2/3 head coefficients of
# section 5's map do little on their own — Adam can move a coefficient far even when its gradient
# is tiny (section 5) — and the gain lives in layers 0–1 and the MLP coefficients. If little survives or it
# reverses, those two layers' heads carry the gain, and the dark cells of the map are where ScAle
# acts. About half means the layers share it: coefficients trained *jointly* need not split into
# layer-by-layer contributions, so the share kept by removing layers 2–3 and the share kept by
# removing layers 0–1 need not add up to the whole. Either way it is one seed on one testbed — a
# case, not a law (the measured share is printed above and recorded as `ablation_layers23_heads_kept`).

# %% [markdown]
# ## 10 · On a real VLM (opt-in; GPU; not run here)
#
# **Not run in this book's tests or figures** — it downloads a model and SpatialEval from the
# Hugging Face hub, which this machine cannot reach. The code is the same library; on a Colab GPU
# set `RUN_HUB = True`. `scale_lib.models.hub_vlm` builds left-padded prompts with the model's chat
# template, asks for the option letter, and labels each item with the letter's token — so
# `adapt`, `compare` and `train_scale` run unchanged. Train on the book's generated benchmark
# (train split, every task and modality), test on the real SpatialEval.

# %%
RUN_HUB = os.environ.get("SCALE_LIB_RUN_HUB") == "1"  # set True on a GPU machine with hub access
HUB_MODEL = "HuggingFaceTB/SmolVLM-256M-Instruct"  # or "llava-hf/llava-1.5-7b-hf"; memory and time: the site's "ScAle on your own model"
if RUN_HUB:
    from scale_lib.data import spatial
    from scale_lib.models import hub_vlm

    hub_model, processor = hub_vlm.load_hub_vlm(HUB_MODEL)
    hub_train = hub_vlm.encode(processor, spatial.generate_benchmark(300, split="train", modalities=("vqa",)), device=hub_model.device)
    hub_test = hub_vlm.encode(processor, hub_vlm.spatialeval_items(spatial.load_spatialeval("vqa", limit=600)), device=hub_model.device)
    hub_cmp = compare(hub_model, hub_train, hub_test, ("frozen", "scale", "lora_r1"), steps=300, batch_size=8)
    display(hub_cmp.summary())  # noqa: F821 — IPython's display
else:
    print(f"skipped: set SCALE_LIB_RUN_HUB=1 (or RUN_HUB = True) on a GPU machine with hub access to adapt {HUB_MODEL}")

# %% [markdown]
# ## 11 · Checked
#
# The chapter's claims, as assertions on the numbers above (full mode), recorded in
# `figures/03_scale_spatial/metrics.json`. The assertions were written before the testbeds of
# section 6 were trained: they state what a reader should be able to rely on — a gain beyond
# test-set noise on every fresh testbed, non-spatial accuracy within a point — not the share.
# The share is reported, as a distribution, not asserted.

# %%
seed_sd = float(gain.std(ddof=1)) if len(gain) > 1 else float("nan")
fresh_share = [float(x) for x in fresh.share]
metrics = dict(
    scale_params=scale_params,
    lora_r1_params=lora_params,
    frozen_spatial_acc=float(summary.loc["frozen", "spatial"]),
    scale_spatial_acc=float(summary.loc["scale", "spatial"]),
    lora_r1_spatial_acc=float(summary.loc["lora_r1", "spatial"]),
    full_ft_spatial_acc=float(summary.loc["full_ft", "spatial"]),
    frozen_nonspatial_acc=float(summary.loc["frozen", "nonspatial"]),
    scale_nonspatial_acc=float(summary.loc["scale", "nonspatial"]),
    scale_spatial_gain=float(gain.mean()),
    scale_spatial_gain_seed_sd=seed_sd,
    scale_fraction_of_lora_r1_gain=fraction,
    scale_param_fraction_of_lora_r1=scale_params / lora_params,
    scale_spatial_only_nonspatial_acc=float(spatial_only.accuracy(test)["nonspatial"]),
    scale_spatial_only_spatial_acc=float(spatial_only.accuracy(test)["spatial"]),
    prefix_cache_speedup_512=float(speed["speedup"]),
    prefix_cache_max_grad_diff=float(diffs["max_grad_diff"]),
    # across independently pretrained testbeds: the fresh seeds (never used to choose anything)
    testbed_seeds=[int(x) for x in fresh.index],
    scale_lora_share_by_testbed=fresh_share,
    scale_lora_share_mean=share_mean,
    scale_lora_share_sd=share_sd,
    scale_lora_share_min=float(fresh.share.min()),
    scale_lora_share_max=float(fresh.share.max()),
    scale_gain_by_testbed=[float(x) for x in fresh.scale_gain],
    scale_gain_min_over_testbeds=float(fresh.scale_gain.min()),
    lora_r1_gain_min_over_testbeds=float(fresh.lora_r1_gain.min()),
    scale_nonspatial_change_by_testbed=[float(x) for x in (fresh.scale_nonspatial - fresh.frozen_nonspatial)],
    frozen_spatial_by_testbed=[float(x) for x in fresh.frozen_spatial],
    scale_recovers_of_lost_by_testbed=[float(x) for x in fresh.scale_recovers_of_lost],
    scale_gain_mean_over_testbeds=gain_mean,
    scale_gain_ci95_over_testbeds=[float(x) for x in gain_ci],
    claims_hold_by_testbed={c: [bool(v) for v in claims[c]] for c in claims},
    restore_routing_gain_by_testbed=[float(x) for x in fresh.restore_routing_spatial - fresh.frozen_spatial],
    restore_content_gain_by_testbed=[float(x) for x in fresh.restore_content_spatial - fresh.frozen_spatial],
    pretrained_spatial_by_testbed=[float(x) for x in fresh.pretrained_spatial],
    share_spearman_with=correlations,
    lora_r4_spatial_acc=float(summary.loc["lora_r4", "spatial"]),
    ia3_spatial_acc=float(summary.loc["ia3", "spatial"]),
    linear_probe_spatial_acc=float(summary.loc["linear_probe", "spatial"]),
    linear_probe_params=int(summary.loc["linear_probe", "params"]),
    probe_tuned_spatial_by_testbed=[float(x) for x in fresh.probe_tuned_spatial],
    ablation_layers23_heads_kept=float(kept),
    scale_gain_spearman_with_restore={
        "content": float(fresh.scale_gain.corr(fresh.restore_content_spatial - fresh.frozen_spatial, method="spearman")),
        "routing": float(fresh.scale_gain.corr(fresh.restore_routing_spatial - fresh.frozen_spatial, method="spearman"))},
    notebook_seconds=time.perf_counter() - NOTEBOOK_START,
)
sl.save_metrics(NB, metrics, tolerances={"notebook_seconds": TIMING, "prefix_cache_speedup_512": TIMING,
                                         "prefix_cache_max_grad_diff": (1e-5, 0.0, "float32 round-off between the plain and the cached path, "
                                                                        "which sum in another order; the check below asserts at most 1e-5")})
for name, value in metrics.items():
    print(f"{name:40} {value:.4g}" if isinstance(value, float) else f"{name:40} {value}")

assert diffs["max_grad_diff"] <= 1e-5 and diffs["max_logit_diff"] <= 1e-5, "the prefix-cached path must match the plain path"
if not FAST:
    # one testbed, up close (seed 0): ScAle helps beyond the noise of its own batch order and of the test items
    assert gain.min() > 0, "ScAle must raise spatial accuracy over the frozen model on every batch order"
    net, changed = flips.fixed - flips.broken, flips.fixed + flips.broken
    assert (net > 2 * np.sqrt(changed)).all(), "...and beyond test-set noise: items fixed outnumber items broken by over 2 sigma (McNemar's test, normal approximation)"
    # across the fresh testbeds. Of the three claims written down before they were trained (section 6),
    # one holds and is asserted; the other two FAILED on the first run and are reported, not asserted
    # (claims_hold_by_testbed in metrics.json): ScAle's gain is beyond test-set noise on only some
    # testbeds, and LoRA r=1 at the book's learning rate gained nothing on one.
    assert len(fresh) >= 5, "the distribution needs at least five independently pretrained testbeds"
    assert claims["non-spatial within 1 point"].all(), "on every fresh testbed non-spatial accuracy must stay within 1 point"
    # what section 6 says instead: no reliable gain across testbeds — the 95 % interval of the mean gain over testbeds contains 0 —
    # and a far smaller share than the 74 % of the run the recipe was chosen on, on every testbed where the share is defined
    assert gain_ci[0] < 0 < gain_ci[1], "section 6 says ScAle's mean gain over testbeds is not reliably above 0: revise it if this changed"
    assert (fresh.share[defined] < 0.74).all(), "section 6 says no fresh testbed reaches the 74 % share of the recipe's run: revise it if this changed"

# %% [markdown]
# ## Summary
#
# * ScAle — bounded coefficients on the last-token outputs of heads and MLPs of a frozen model —
#   trains at the cost of about one token per step, thanks to the prefix cache.
# * On one testbed it gives a real spatial gain (items fixed far outnumber items broken); under the
#   paper's spatial-only protocol that gain costs non-spatial accuracy here, under the book's mixed
#   protocol it does not.
# * Across independently pretrained testbeds its gain ranges from slightly negative to large, and
#   its share of LoRA r = 1's gain is far below the share of the run its recipe was chosen on.
#   Chapter 07 asks causally what kind of damage a last-token scale can undo (more of a change in
#   what heads write than of a change in where they look); chapter 06 asks the same question of a
#   real pretrained model.
#
# **Questions for discussion.** What kind of "latent skill" can a last-token scale recover, and what
# kind can it not? Would per-head coefficients at *every* position ((IA)³-like) recover routing
# damage? The paper reports gains on real VLMs: what would you measure to tell a latent-skill gain
# from a calibration (answer-prior) gain?
#
# **Further reading.** Hu et al., *LoRA* (2021); Liu et al., *(IA)³: Few-Shot Parameter-Efficient
# Fine-Tuning is Better and Cheaper than In-Context Learning* (2022); Stoehr et al., *Activation
# Scaling for Steering and Interpreting Language Models* (2024); `references.bib`.
