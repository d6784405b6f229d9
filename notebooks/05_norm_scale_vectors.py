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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scale-lib/scale_lib/blob/main/notebooks/05_norm_scale_vectors.ipynb)
#
# # 05 · Norm scale vectors in real pre-training runs
#
# Every RMSNorm of a Llama multiplies its normalised input by a learnable vector γ. *Negligible in
# Size, Significant in Effect* (arXiv:2605.26895, 2026): *[abstract]* these vectors are a negligible
# fraction of a model's parameters, yet removing them substantially degrades pre-training;
# *[secondary]* in a Pre-Norm network they add nothing the network could not represent without them,
# weight decay should touch only Input-Norm γ, and three cheap changes help. The paper's own numbers,
# as digests report them *[secondary]*: removing γ costs ≈ 0.028<!--x--> nats at a matched learning rate and
# ≈ 0.015<!--x--> after re-tuning (0.12<!--x--> B parameters), and the unified strategy gives ≈ 1.22<!--x-->–1.25×<!--x--> compute
# efficiency at 0.12<!--x--> B–2 B. Notebook 04 derived why on toy models (γ is a self-amplifying
# preconditioner). Here we **pre-train real transformers models** — a `LlamaForCausalLM`
# and a `Qwen3ForCausalLM` (QK-norm) reading Python's own documentation, character by character —
# and measure each claim:
#
# | section | claim | what we measure |
# |---|---|---|
# | 1 | γ is a tiny fraction of the parameters; norms are Input- or Output-Norms | parameter counts, the classification |
# | 2 | removing γ hurts pre-training | paired runs, learnable vs removed, at three learning rates |
# | 3 | … depending on the conditions | optimizer, learning rate |
# | 4 | yet γ adds no expressivity | folding γ into the next matrix: same logits; resetting it: not |
# | 5 | *[secondary]* weight decay helps Input-Norm γ and hurts Output-Norm γ | a QK-norm model, decay on none / Input-Norm only (IWD) / all γ |
# | 6 | *[secondary]* three improvements — HG, placement (DP or DNP), OR — each help, and together more | paired runs against the baseline |
#
# **You will learn to** count and classify a model's γ; run paired pre-training experiments and read
# a paired difference with its interval; fold γ away and see that training, not the function,
# changes; set up weight decay by norm role — and write a fold and the IWD parameter groups
# yourself. **Prerequisites**: chapters 00 and 04; AdamW. **Time**: about 16 minutes to run in full
# mode on 2 CPU cores (the recorded run; `notebook_seconds` in its metrics), about 1½ hours to read and
# do (the exercises about 50 minutes of it). Acronyms (HG, DP, DNP, OR, ER, IWD) are expanded in the
# [glossary](glossary.md) and in section 6.
#
# **How to read the numbers.** Every comparison is **paired**: both arms start from the same
# weights and see the same batches in the same order. Every γ variant but one is then the same
# function at initialisation (tested in `tests/`); the exception is DNP (section 6), which adds a
# normalisation and so is a different architecture. A difference of a hundredth of a nat is smaller
# than the seed-to-seed spread of the loss itself, so overlaid curves hide it; the paired
# difference, with a 95 % interval over seeds, does not. Every interval over seeds in this chapter
# is a 95 % **t-interval** (the [glossary](glossary.md)'s entry of that name), and every "± x" is
# its half-width: mean ± t·s/√n over the n seeds, with Student's t for n − 1 degrees of freedom.
# A full run has 3 seeds, so 2 degrees of freedom and t ≈ 4.30<!--x--> (against 1.96<!--x--> for
# many seeds): with so few seeds an interval is wide unless the seeds agree closely.
#
# Everything here is `scale_lib`: `norm_scale` (surgery on γ), `lm.pretrain` (one loop for every
# variant, optimizer and schedule; runs unchanged under `accelerate launch`), `paired` (the
# experiments and their statistics).

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
import pandas as pd
import torch
import transformers as tf

import scale_lib as sl
from scale_lib.book import exercises as ex
from scale_lib.book import solutions
from scale_lib.book.verify import TIMING
from scale_lib.data.corpus import CharCorpus
from scale_lib.norms import gamma as ns
from scale_lib.norms.paired import paired_gap, paired_runs, plot_gap, plot_paired, steps_ratio
from scale_lib.norms.pretrain import PretrainConfig, char_model, evaluate_lm, throughput_ratio

NB = "05_norm_scale_vectors"
FAST = sl.is_fast()
sl.use_style()
sl.seed_everything(0)
sl.use_cores()
NOTEBOOK_START = time.perf_counter()
print("fast mode" if FAST else "full mode")

# %% [markdown]
# ### The setting
#
# One small model, one corpus, one training budget, used throughout. Change them here (a GPU reader
# can make everything 10× bigger; the code does not change): `CharCorpus.from_hub()` reads a larger
# text through 🤗 `datasets` where the hub is reachable, and `accelerate launch` spreads the loop
# over several GPUs.

# %%
corpus = CharCorpus.from_pydoc()
MODEL = dict(layers=sl.pick(4, 2), hidden=sl.pick(64, 32), heads=4)
SEEDS = list(range(sl.pick(3, 2)))
LR = 1e-3
CFG = PretrainConfig(steps=sl.pick(180, 24), lr=LR, batch_size=16, seq_len=sl.pick(128, 32), warmup=sl.pick(30, 4),
                     eval_every=sl.pick(45, 8), eval_batches=sl.pick(4, 1), progress=False)


def make_llama(seed):
    return char_model(corpus.vocab_size, "llama", seed=seed, **MODEL)


def make_qwen3(seed):
    return char_model(corpus.vocab_size, "qwen3", seed=seed, **MODEL)


n_params = sum(p.numel() for p in make_llama(0).parameters())
print(f"corpus: {len(corpus.train):,} training / {len(corpus.val):,} validation characters, vocabulary {corpus.vocab_size}")
print(f"model: LlamaForCausalLM {MODEL}, {n_params:,} parameters; {CFG.steps} steps of {CFG.batch_size}×{CFG.seq_len} characters; seeds {SEEDS}")

# %% [markdown]
# ## 1 · How small is γ, and what kind of norm is it in?
#
# γ has one entry per channel per norm: $(2L + 1)\,d$ numbers in a Llama with $L$ layers and width
# $d$. At the scale of a real 1B model that is under 0.01 %<!--x--> — counted below on a TinyLlama-1.1B<!--x-->-sized
# configuration built on PyTorch's `meta` device (shapes only, no memory, no download).

# %%
with torch.device("meta"):
    big = tf.LlamaForCausalLM(tf.LlamaConfig(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                                             num_key_value_heads=4, vocab_size=32000, tie_word_embeddings=False))
g_big, n_big = ns.count_gamma_parameters(big)
g_small, n_small = ns.count_gamma_parameters(make_llama(0))
print(f"TinyLlama-1.1B shape: {g_big:,} γ parameters of {n_big:,} = {100 * g_big / n_big:.4f} %")
print(f"our model:            {g_small:,} γ parameters of {n_small:,} = {100 * g_small / n_small:.2f} % (small models are mostly norm-free matrices too)")

# %% [markdown]
# **Input-Norm or Output-Norm.** The paper's rule for weight decay depends on what reads γ. An
# **Input-Norm**'s γ is read only by linear maps (the attention and MLP input norms of a Pre-Norm
# block), so it can be folded into them. An **Output-Norm**'s γ is not: QK-norm's γ goes into RoPE
# and the attention dot product; a post-sublayer norm's γ is added to the residual stream.
#
# *Our decision for the final norm:* it is read by the unembedding. If the unembedding is **untied**,
# γ folds into it, so it is an Input-Norm. If it is **tied** to the input embedding (our char models,
# like Gemma's), folding would change the input embedding as well: γ then represents something the
# tied matrix cannot, so we call it an Output-Norm. `classify_norms` says why for every norm:

# %%
table = pd.DataFrame([dict(norm=i.name, role=i.role, read_by=", ".join(f.rsplit(".", 1)[-1] for f in i.followed_by) or "—", why=i.reason)
                      for i in ns.classify_norms(make_qwen3(0))])
with pd.option_context("display.max_colwidth", 90, "display.width", 200):
    print(table[table.norm.str.contains("layers.0.") | ~table.norm.str.contains("layers")].to_string(index=False))

# %% [markdown]
# ## 2 · Removing γ: learnable vs fixed at 1
#
# `apply_variant(model, gamma="removed")` fixes every γ at its initial value 1. At initialisation
# the function is identical; only training differs. (Here γ = 1 is a stored 1. Some families, e.g.
# Gemma, store γ as 1 + w, so their identity is a stored 0:
# `scale_lib.norms.anatomy.identity_weight(norm)` returns the stored value that means γ = 1.)
#
# Removing γ also changes how big a step every matrix takes (γ multiplies what each matrix reads),
# so comparing at one learning rate could just mean "that learning rate suits one arm better". We
# therefore train both arms at three learning rates, paired over seeds: the gap **at a matched
# learning rate** (each rate) and **re-tuned** (each arm at its own best rate of the grid). A
# re-tuning is only one if each arm's best rate is *inside* the grid — at an edge its best may lie
# beyond it; the cell prints which it was, and the full-mode checks require interior optima.

# %%
LRS = sl.pick([LR, 3 * LR, 10 * LR], [LR, 3 * LR])
trained_models = {}
removal = paired_runs(make_llama, {f"{g}, lr {lr:g}": {"gamma": g, "lr": lr} for lr in LRS for g in ("learnable", "removed")},
                      seeds=SEEDS, config=CFG, corpus=corpus, models=trained_models)
matched = {lr: paired_gap(removal, f"removed, lr {lr:g}", f"learnable, lr {lr:g}") for lr in LRS}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
plot_paired(removal, f"removed, lr {LR:g}", f"learnable, lr {LR:g}", axes)
axes[1].set_ylabel("removed − learnable (nats)")
fig.suptitle(f"Removing γ, paired over {len(SEEDS)} seeds, both arms at lr {LR:g}")
sl.save_figure(fig, NB, "removal_paired")
plt.show()
final = removal[removal.step == CFG.steps].groupby("arm").val_loss.agg(["mean", "std"])
print(final.round(4).to_string())
for lr, st in matched.items():
    print(f"lr {lr:g}: removed − learnable = {st['gap']:+.4f} ± {st['ci95']:.4f} nats (95 % CI); learnable better in "
          f"{100 * st['wins']:.0f} % of (seed, checkpoint) pairs; seed-to-seed spread of the loss itself {st['seed_spread']:.4f}")
best = {g: min(LRS, key=lambda lr: final.loc[f"{g}, lr {lr:g}", "mean"]) for g in ("learnable", "removed")}
retuned_stats = paired_gap(removal, f"removed, lr {best['removed']:g}", f"learnable, lr {best['learnable']:g}")
removal_stats = matched[LR]
interior = {g: LRS[0] < best[g] < LRS[-1] for g in best}
print(f"re-tuned (learnable at lr {best['learnable']:g}, removed at lr {best['removed']:g}): "
      f"{retuned_stats['gap']:+.4f} ± {retuned_stats['ci95']:.4f} nats, learnable better in {100 * retuned_stats['wins']:.0f} % of pairs")
print("each arm's best rate inside the grid " + str(LRS) + ":", interior)

# %% [markdown]
# **Reading it.** At the two lower learning rates, fixing γ at 1 costs a few hundredths of a nat:
# +0.040<!--m:removal_gap_mean--> ± 0.001<!--m:removal_gap_ci95--> nats at `lr 1e-3` (the learnable arm is better in
# 100 %<!--m:removal_wins_fraction--> of the (seed, checkpoint) pairs) and +0.030<!--m:removal_gap_at_3x_lr--> ±
# 0.007<!--m:removal_gap_at_3x_lr_ci95--> at `3e-3`. The paired difference is an order of magnitude tighter than
# the spread of the loss across seeds, which is why overlaid curves (left) hide what the paired
# difference (right) shows — and the gap *shrinks* as the rate grows.
#
# **The re-tuned comparison did not come out as planned, and we say so.** An earlier version of this
# chapter "re-tuned" on a two-point grid and reported that γ still won by about three hundredths;
# both arms' best rate was the grid's upper edge, so that was no re-tuning. With a third, higher
# rate, both arms' best rate is again the upper edge, `1e-2` (the line above says so), so the
# "re-tuned" gap is simply the matched gap at that rate: −0.004<!--m:removal_gap_retuned--> ±
# 0.122<!--m:removal_gap_retuned_ci95--> nats, indistinguishable from zero, with an interval about
# eighteen times as wide as at `3e-3` (± 0.007<!--m:removal_gap_at_3x_lr_ci95-->): the learnable arm is already
# unstable on one seed. So these runs support "removing γ hurts at a matched learning rate", and
# they do **not** establish that it still hurts once each arm has its own best rate — the
# optimum lies beyond the grid, where short runs of a tiny model become unstable. *[secondary]* The
# paper reports the re-tuned gap as about half the matched one; testing that needs longer runs and a
# finer grid around the optimum than a 2-core CPU affords here.

# %% [markdown]
# ## 3 · When does the effect grow, and when does it vanish?
#
# *[secondary]* The paper reads the effect as *complementary to the optimizer's own preconditioning*: γ rescales
# updates per channel, which Adam partly does by itself. So we repeat the paired removal experiment
# with **SGD with momentum** (no per-coordinate preconditioning), set it beside section 2's three
# AdamW learning rates, and read the gap along training (early vs late checkpoints).

# %%
SGD_LR = 0.1
sgd = paired_runs(make_llama, {"learnable": {"optimizer": "sgd", "lr": SGD_LR}, "removed": {"gamma": "removed", "optimizer": "sgd", "lr": SGD_LR}},
                  seeds=SEEDS, config=CFG, corpus=corpus)
conditions = {f"AdamW, lr {lr:g}": removal[removal.arm.str.endswith(f"lr {lr:g}")].replace({"arm": {f"learnable, lr {lr:g}": "learnable", f"removed, lr {lr:g}": "removed"}})
              for lr in LRS}
conditions[f"SGD + momentum, lr {SGD_LR:g}"] = sgd
fig, ax = plt.subplots(figsize=(9, 4))
rows = []
for (name, runs), color in zip(conditions.items(), sl.PALETTE):
    plot_gap(ax, runs, "removed", "learnable", color=color, label=name)
    stats = paired_gap(runs, "removed", "learnable")
    final_loss = runs[(runs.arm == "learnable") & (runs.step == CFG.steps)].val_loss.mean()
    rows.append(dict(condition=name, learnable_loss=final_loss, gap=stats["gap"], ci95=stats["ci95"], learnable_wins=stats["wins"]))
ax.axhline(0, color="k", lw=0.8)
ax.set(xlabel="step", ylabel="removed − learnable (nats)", title="The removal gap under different optimizers and learning rates")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
sl.save_figure(fig, NB, "removal_conditions")
plt.show()
conditions_table = pd.DataFrame(rows)
print(conditions_table.round(4).to_string(index=False))

# %% [markdown]
# With AdamW at the two lower rates (`1e-3`, `3e-3`) the gap is above zero from the first checkpoint
# on; at `1e-2` its interval (the wide band) contains zero at every checkpoint, as section 2 found.
# With SGD (no per-coordinate preconditioning of its own) there is no effect we can tell from zero
# at this scale: +0.003<!--m:removal_gap_sgd--> ± 0.006<!--m:removal_gap_sgd_ci95--> nats, an interval that contains 0
# (checked at the end of the chapter). The paper's
# "complementary to the optimizer" reading is about large models and long runs; a few hundred SGD
# steps on a character model are not where it shows, so this run neither supports nor refutes it.

# %% [markdown]
# ## 4 · Same function, different training: folding γ
#
# Take the trained learnable-γ model of seed 0 and fold every Input-Norm γ into the matrices that
# read it: `W ← W diag(γ)`, `γ ← 1` (`ns.fold_gamma`). The logits do not change (beyond float
# rounding): whatever γ learned, the matrices alone can represent. Yet section 2 showed that
# *training* without γ ends somewhere worse. Expressivity is not the point; optimisation is.
#
# The opposite surgery — **resetting** a trained γ to 1 without folding — shows what γ carries:
# everything it learned is lost at once.

# %%
import copy

trained = trained_models[(f"learnable, lr {LR:g}", 0)]
ids = corpus.val[:256].view(2, 128) if not FAST else corpus.val[:64].view(2, 32)
folded = ns.fold_gamma(copy.deepcopy(trained))
with torch.no_grad():
    fold_diff = (folded(input_ids=ids).logits - trained(input_ids=ids).logits).abs().max().item()
loss_trained = evaluate_lm(trained, corpus, seq_len=CFG.seq_len)
loss_folded = evaluate_lm(folded, corpus, seq_len=CFG.seq_len)
reset = {which: evaluate_lm(ns.reset_gamma(copy.deepcopy(trained), which), corpus, seq_len=CFG.seq_len) for which in ("input", "output", "all")}
gammas = {info.name: trained.get_submodule(info.name).weight.detach() for info in ns.classify_norms(trained)}
print(f"fold: max |Δ logit| = {fold_diff:.1e}; validation loss {loss_trained:.4f} -> {loss_folded:.4f}")
for which, loss in reset.items():
    print(f"reset {which:>6} γ to 1: validation loss {loss_trained:.4f} -> {loss:.4f} ({loss - loss_trained:+.3f})")

fig, ax = plt.subplots(figsize=(9, 3.5))
names = list(gammas)
ax.boxplot([gammas[n].numpy() for n in names], vert=False, widths=0.6, flierprops=dict(markersize=2))  # one row per norm: nothing overlaps
ax.set_yticks(range(1, len(names) + 1), [n.replace("model.", "") for n in names], fontsize=8)
ax.invert_yaxis()
ax.axvline(1, color="k", lw=0.8)
ax.set(xlabel="γ entry (box: middle half; whiskers: 1.5 × its width; dots: beyond)", title="What the learnable γ became (seed 0), norm by norm")
sl.save_figure(fig, NB, "learned_gamma")
plt.show()

# %% [markdown]
# *What to see:* after a full run, γ has barely moved from 1 — within a few percent, the final norm's the most and all upwards — and yet
# two different surgeries cost loss. Fixing γ at 1 *before* training costs a few hundredths of a nat
# (section 2). Resetting these few percent back to 1 *after* training costs
# +0.044<!--m:reset_all_loss_increase--> nats (the line printed above): the matrices have co-adapted with the γ they
# were trained beside. Folding shows that γ's final values add nothing the matrices could not hold.
# That is the teaching point: γ matters through how it *moves the weights during training*
# (preconditioning, chapter 04), and the trained weights then depend on where it ended — not
# through any expressivity of its own. (Contrast chapter 06: in a network trained for trillions of
# tokens, γ ends far from 1.)

# %% [markdown]
# ## 5 · Weight decay on Input-Norm vs Output-Norm γ
#
# A Qwen3 model has both kinds inside every layer: the input norms (Input-Norms) and the q/k norms
# (Output-Norms: their γ sets the attention temperature per channel). Four rules, paired, with the
# same decay on the matrices in every arm:
#
# * **none** — no γ is decayed (the common default: no decay on 1-D parameters);
# * **IWD** — only Input-Norm γ are decayed (the paper's rule);
# * **all** — every γ is decayed;
# * **qk** — only the q/k norms' γ (the Output-Norms inside attention), so that "all" can be split
#   into its two Output-Norm parts: the attention temperature and the tied final norm.
#
# With AdamW's decoupled decay, a γ shrinks by a factor $e^{-\eta\lambda t}$ when its gradient does
# not push back. Our runs are short, so we use a decay strong enough to matter within them
# (`GAMMA_WD`, the same for every decayed γ), and state it: this is a stress test of the rule, not the
# paper's setting.

# %%
WD, GAMMA_WD = 0.1, sl.pick(1.0, 1.0)
wd_runs = paired_runs(make_qwen3, {rule: {"weight_decay": WD, "wd_rule": rule, "gamma_decay": GAMMA_WD} for rule in ("none", "iwd", "all", "qk")},
                      seeds=SEEDS, config=CFG, corpus=corpus)
iwd_vs_all = paired_gap(wd_runs, "iwd", "all")
iwd_vs_none = paired_gap(wd_runs, "iwd", "none")
all_vs_none = paired_gap(wd_runs, "all", "none")
qk_vs_none = paired_gap(wd_runs, "qk", "none")
fig, ax = plt.subplots(figsize=(7, 4))
for (arm, ref), color in zip((("iwd", "none"), ("all", "none"), ("iwd", "all"), ("qk", "none")), [sl.PALETTE[k] for k in (0, 1, 2, 4)]):
    plot_gap(ax, wd_runs, arm, ref, color=color, label=f"{arm} − {ref}")
ax.axhline(0, color="k", lw=0.8)
ax.set(xlabel="step", ylabel="paired difference (nats; < 0: first is better)", title=f"Weight decay on γ (Qwen3, γ decay {GAMMA_WD:g})")
ax.legend()
sl.save_figure(fig, NB, "weight_decay_rules")
plt.show()
for name, st in (("IWD − all", iwd_vs_all), ("IWD − none", iwd_vs_none), ("all − none", all_vs_none), ("qk − none", qk_vs_none)):
    print(f"{name:>11}: {st['gap']:+.4f} ± {st['ci95']:.4f} nats")

# %% [markdown]
# **Reading it.** Decaying the Output-Norm γ as well (the "all" rule) is clearly the worst: the q/k
# norms' γ set the attention temperature and the tied final norm's γ the output scale, and decay
# pulls them toward 0 — the paper's "decay hurts Output-Norm γ", measured. Against no decay on γ at
# all, IWD is not a gain in these runs at this (deliberately strong) decay: the paper's benefit of
# decaying Input-Norm γ (lower sharpness, notebook 04 §5) is a large-learning-rate, long-run effect
# that a couple of hundred steps do not reach.
#
# **Which Output-Norm?** "all" decays two kinds of Output-Norm γ at once. The "qk" arm decays only
# the q/k norms' γ: it costs +0.014<!--m:qk_gap_vs_none--> ± 0.001<!--m:qk_gap_vs_none_ci95--> nats against no decay, on every seed —
# decay on an attention temperature hurts on its own — while "all" costs +0.058<!--m:all_gap_vs_none--> ± 0.003<!--m:all_gap_vs_none_ci95-->.
# Most of the damage is the tied final norm's γ, which sets the scale of every output logit. (This
# split was added after the first runs, on the same three seeds: read it as a description of these
# runs, not a pre-registered test.) *Not done here*: IWD at a learning rate where the no-decay arm
# turns unstable — the regime in which chapter 04 predicts IWD's benefit; these short runs could
# not locate that edge reliably (section 2's highest rate is already unstable on one seed).

# %% [markdown]
# ## 6 · The three improvements, and all of them together
#
# Three improvements: HG, placement (DP or DNP), OR. Placement comes in two forms, so there are
# four arms, and a fifth combines them.
#
# * **HG** — branch-specific γ: the shared RMS division stays; its γ is replaced by one per reader,
#   so q, k, v (and gate, up) each get their own γ. In Pre-Norm this is still foldable (each
#   branch's γ folds into its own matrix).
# * **Placement, DP or DNP.** **DP** — `diag(u) W diag(v)` around the matrices that read a norm
#   (`u` new, initialised to 1); **DNP** puts a normalisation between: `u ⊙ Norm(W (v ⊙ x))` — a
#   different architecture, not just a reparameterisation, so it is the one arm that does not start
#   from the same function.
# * **OR** — γ = β·√d·a/‖a‖, magnitude × direction. *The paper's exact form is not public; this one
#   is ours*: β and a start so that γ = 1, and β, one number, moves the whole vector's scale — the
#   "d-fold learning rate" of the magnitude that notebook 04 derives.
# * **unified** — HG + DNP + OR + IWD (weight decay on Input-Norm γ only).

# %%
arms = {
    "HG": {"hg": True},
    "DP": {"placement": "dp"},
    "DNP": {"placement": "dnp"},
    "OR": {"gamma": "or"},
    "unified": {"hg": True, "placement": "dnp", "gamma": "or", "weight_decay": WD, "wd_rule": "iwd"},
}
# the baseline is section 2's learnable-γ arm: same model, seeds, batches and budget
improvements = pd.concat([removal[removal.arm == f"learnable, lr {LR:g}"].assign(arm="baseline"),
                          paired_runs(make_llama, arms, seeds=SEEDS, config=CFG, corpus=corpus)])
imp = pd.DataFrame([dict(arm=a, **paired_gap(improvements, a, "baseline")) for a in arms])
fig, ax = plt.subplots(figsize=(8, 3.6))
sl.gap_bars(ax, imp.arm, imp.gap, imp.ci95, lower_is_better=True, legend_loc="upper left")
ax.set(xlabel="variant − baseline, final validation loss (nats; < 0 is better)", title=f"Each improvement, paired over {len(SEEDS)} seeds (95 % CI)")
sl.save_figure(fig, NB, "improvements")
plt.show()
# compute efficiency, the form of the paper's "1.22–1.25×": the baseline's 180 steps over the steps an arm needs to reach
# the baseline's final validation loss (per seed, interpolated between checkpoints)
speed = {a: steps_ratio(improvements, a, "baseline") for a in arms}
imp["steps_ratio"] = [speed[a]["ratio"] for a in arms]
imp["steps_ratio_low"] = [speed[a]["low"] for a in arms]
imp["steps_ratio_high"] = [speed[a]["high"] for a in arms]
print(imp.round(4).to_string(index=False))
print("steps ratio: > 1 means the arm reaches the baseline's final loss sooner; "
      + "; ".join(f"{a} {v['ratio']:.2f}× (seeds {', '.join(f'{x:.2f}' for x in v['by_seed'].values())}"
                  + (f"; {v['lower_bound']} only a lower bound" if v["lower_bound"] else "") + ")" for a, v in speed.items()))

# %% [markdown]
# **Reading it.** A bar's colour says what its interval says: green when the whole 95 % interval is
# below 0 (better than the baseline), grey when it crosses 0 (within noise), red when it is above.
# Each bar carries its value, because HG's and DP's gaps are too small to see as bars.
# HG and DP are reparameterisations: same function at initialisation, same
# expressivity, and yet small, consistent gains — optimisation, as the paper argues *[secondary]*. DNP is
# different in kind: it adds a normalisation after every projection, which also changes the scale
# of every update; in runs this short and at this learning rate a large part of its gain (and of
# the unified strategy's, which contains it) may be that effective step size rather than γ's
# placement. OR's effect, if any, is within its interval here. The paper reports the unified
# strategy at 0.12B<!--x-->–2B parameters; these are 0.27<!--x--> M-parameter, 180-step runs — a direction, not a
# replication.
#
# **In the paper's units.** The paper states the unified strategy's effect as compute efficiency,
# ≈ 1.22<!--x-->–1.25×<!--x--> *[secondary]*: the baseline's loss reached in about 80 %<!--x--> of the steps. The last
# printed line measures the same thing here (the baseline's 180 steps over the steps an arm needs
# to reach the baseline's final loss, per seed, interpolated between checkpoints): the unified
# strategy reaches it 1.47<!--m:unified_steps_ratio-->× sooner (95 % interval over seeds 1.36<!--m:unified_steps_ratio_ci.0-->–1.57<!--m:unified_steps_ratio_ci.1-->×), and DNP alone
# gives nearly all of that — larger than the paper's figure, and with the step-size caveat above;
# HG and DP are worth a few percent of the steps. (This measure was added after the first runs, on
# the same seeds; it re-expresses section 6's losses, it is not a new test.)

# %% [markdown]
# ### Explore the paired runs
#
# Every run of this notebook is in one table. Pick an arm and a reference from any experiment and
# see their paired difference (the default is the removal experiment of section 2).

# %%
all_runs = pd.concat([removal.assign(experiment="removal"), sgd.assign(experiment="SGD"),
                      wd_runs.assign(experiment="weight decay"), improvements.assign(experiment="improvements")])
all_runs["arm"] = all_runs.experiment + ": " + all_runs.arm
choices = sorted(set(all_runs.arm))


def draw_pair(arm=f"removal: removed, lr {LR:g}", reference=f"removal: learnable, lr {LR:g}"):
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    plot_paired(all_runs[all_runs.arm.isin([arm, reference])], arm, reference, axes)


sl.explorer(
    draw_pair,
    arm=widgets.Dropdown(options=choices, value=f"removal: removed, lr {LR:g}", description="arm"),
    reference=widgets.Dropdown(options=choices, value=f"removal: learnable, lr {LR:g}", description="reference"),
)

# %% [markdown]
# ## 7 · Exercises
#
# Exercises 1–3 are **predict, then measure**: set the prediction in the first cell and run it
# *before* the second, which measures the answer with the library and compares (a prediction changed
# after the reveal is not accepted). Exercises 4–5 ask you to write code that a test checks.
#
# **Exercise 1 — count a Qwen3's γ** (★☆☆ · 5 min). Section 1 counted a Llama's γ. Qwen3 adds QK-norm:
# a `q_norm` and a `k_norm` inside every attention block. Predict how many γ parameters a Qwen3 of
# `Qwen3-0.6B`'s shape has: 28 layers, width 1,024, 16 query heads and 8 key-value heads, each head of
# dimension 128. Think about what exactly QK-norm normalises before you count.

# %%
PREDICTION_1 = None  # your prediction: an integer, the number of γ entries
ex.predict("exercise 1", PREDICTION_1)

# %%
with torch.device("meta"):  # shapes only: no memory, no download
    qwen06b = tf.Qwen3ForCausalLM(tf.Qwen3Config(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                                                 num_key_value_heads=8, head_dim=128, vocab_size=151936))
measured_1 = ns.count_gamma_parameters(qwen06b)[0]
ex.reveal("exercise 1", measured_1,
          explanation="per layer, two Input-Norms of width 1,024 and, in attention, q_norm and k_norm of width 128 each: QK-norm normalises "
          "every head's vector separately, with ONE γ of head_dim entries shared by all heads (not 16 × 128); plus the final norm: "
          "28 × (2 × 1024 + 2 × 128) + 1024 = 65,536, about an eighth more than a Llama of the same shape.")

# %% [markdown]
# **Exercise 2 — how many γ does HG have?** (★☆☆ · 5 min). Section 6's HG gives q, k, v (and gate,
# up) their own γ: "the shared RMS division stays; its γ is replaced by one per reader". Predict how many γ parameters our Llama
# (`MODEL`, from the setting cell) has with HG. Section 1 printed the number without HG.

# %%
PREDICTION_2 = None  # your prediction: an integer
ex.predict("exercise 2", PREDICTION_2)

# %%
measured_2 = ns.count_gamma_parameters(ns.apply_variant(make_llama(0), hg=True))[0]
n_layers, width = MODEL["layers"], MODEL["hidden"]
ex.reveal("exercise 2", measured_2,
          explanation=f"what stays shared is the division by the RMS; the shared γ itself is replaced by one γ per reader: q, k, v read "
          f"the attention norm (3 × {width}) and gate, up the MLP norm (2 × {width}) — {n_layers} × 5 × {width} — plus the final norm's {width}, against "
          f"{g_small} without HG. Each branch's γ still folds into its own matrix (W_q diag γ_q, ...), so HG adds parameters and "
          "optimisation freedom, not expressivity: the argument of section 4.")

# %% [markdown]
# **A naming trap first.** In Llama and Qwen3, `post_attention_layernorm` is *not* a norm after
# attention's output: it is the norm **before the MLP** (it normalises the residual stream after the
# attention block has been added), read by `gate_proj` and `up_proj` — an Input-Norm.
#
# **Exercise 3 — IWD on an untied Qwen3** (★★☆ · 10 min). Section 5's Qwen3 ties its unembedding to
# the input embedding. Build the same model **untied** (`char_model(..., tie=False)`): what fraction of
# all its γ entries does the IWD rule decay? Count entries, not norms (exercise 1 says how wide the
# q/k norms are; here the head dimension is width ÷ heads).

# %%
PREDICTION_3 = None  # your prediction: a fraction between 0 and 1
ex.predict("exercise 3", PREDICTION_3)

# %%
untied_qwen = char_model(corpus.vocab_size, "qwen3", seed=0, tie=False, **MODEL)
decayed_3 = sum(p.numel() for grp in ns.param_groups(untied_qwen, WD, "iwd") if grp["name"] == "gamma_decayed" for p in grp["params"])
measured_3 = decayed_3 / ns.count_gamma_parameters(untied_qwen)[0]
ex.reveal("exercise 3", measured_3, tol=0.02,
          explanation=f"{decayed_3} of {ns.count_gamma_parameters(untied_qwen)[0]} entries: the two input norms of every layer and, because the "
          "unembedding is untied, the final norm too (W_U diag γ is just another matrix: an Input-Norm). The q/k norms stay Output-Norms. "
          "Tied, the final norm becomes an Output-Norm and drops out of the decayed set.")

# %% [markdown]
# **Exercise 4 — fold the MLP's norm** (★☆☆ · 10 min). Write `fold_mlp_norm(model, layer)`: fold layer
# `layer`'s pre-MLP norm γ into the projections that read it, in place, and set γ to 1. Don't call
# `ns.fold_gamma` (it folds every Input-Norm at once; the check could not tell a wrapper from your own fold). The
# check compares the logits of the folded copy of the section-4 model with the original. (The hint
# below is the complete recipe, so this is a warm-up; try it without opening the hint first.)
#
# <details><summary>Hint</summary> The pre-MLP norm is <code>model.model.layers[layer].post_attention_layernorm</code>;
# under <code>torch.no_grad()</code>, multiply the input columns of <code>mlp.gate_proj.weight</code> and
# <code>mlp.up_proj.weight</code> by γ (<code>W *= γ[None, :]</code>), then <code>γ.fill_(1)</code>.</details>

# %%
def fold_mlp_norm(model, layer):
    return solutions.norms.fold_mlp_norm(model, layer)  # SOLUTION


ex.test_fold_mlp_norm(fold_mlp_norm, trained, ids[:1], layer=1)

# %% [markdown]
# **Exercise 5 — IWD groups** (★★★ · 20 min). Write `iwd_groups(model, weight_decay)` returning AdamW
# parameter groups (`[{"params": [...], "weight_decay": ...}, ...]`) in which exactly these decay: every
# weight matrix except the input and output embeddings, and every **Input-Norm** γ
# (`ns.classify_norms(model)` tells you each norm's role). Output-Norm γ, embeddings and biases do not.
#
# <details><summary>Hint</summary> A norm's γ is the parameter <code>model.get_submodule(info.name).weight</code> for each
# <code>info</code> in <code>ns.classify_norms(model)</code>; collect the ids of the Input-Norm ones and of
# <code>model.get_input_embeddings().weight</code> and <code>model.get_output_embeddings().weight</code> (tied: the same tensor),
# then sort every trainable parameter into "decay" (≥ 2-D and not an embedding, or an Input-Norm γ) and "no decay".</details>

# %%
def iwd_groups(model, weight_decay):
    return solutions.norms.input_norm_decay_groups(model, weight_decay)  # SOLUTION


ex.test_iwd_groups(iwd_groups, make_qwen3(0))

# %% [markdown]
# ## 8 · Checked
#
# The headline numbers, recorded in `figures/05_norm_scale_vectors/metrics.json`. Signs: every
# gap is *variant − reference* in nats of validation loss, so a positive `removal_gap_mean` means
# removing γ hurts, and a negative `hg_gap` means HG helps.

# %%
throughput = throughput_ratio(make_llama, corpus, CFG, blocks=sl.pick(2, 1), steps=sl.pick(30, 5))
print(f"pre-training loop / bare PyTorch loop: {throughput['ratio']:.3f}× tokens/s "
      f"({throughput['ours_tokens_per_s']:.0f} vs {throughput['bare_tokens_per_s']:.0f}); benchmarks/bench_pretrain_loop.py measures it with more blocks")

metrics = dict(
    fold_max_abs_logit_diff=fold_diff,
    removal_gap_mean=removal_stats["gap"],
    removal_gap_ci95=removal_stats["ci95"],
    removal_wins_fraction=removal_stats["wins"],
    removal_gap_retuned=retuned_stats["gap"],
    removal_gap_retuned_ci95=retuned_stats["ci95"],
    removal_lr_grid=LRS,
    removal_best_lr=best,
    removal_best_lr_interior=interior,
    removal_gap_at_3x_lr=matched[LRS[1]]["gap"],  # the middle rate of the grid (was misnamed removal_gap_high_lr)
    removal_gap_at_3x_lr_ci95=matched[LRS[1]]["ci95"],
    removal_gap_sgd=float(conditions_table.gap.iloc[-1]),
    removal_gap_sgd_ci95=float(conditions_table.ci95.iloc[-1]),
    reset_all_loss_increase=reset["all"] - loss_trained,
    iwd_gap_vs_all_wd=iwd_vs_all["gap"],
    iwd_gap_vs_all_wd_ci95=iwd_vs_all["ci95"],
    iwd_gap_vs_none=iwd_vs_none["gap"],
    qk_gap_vs_none=qk_vs_none["gap"],
    qk_gap_vs_none_ci95=qk_vs_none["ci95"],
    all_gap_vs_none=all_vs_none["gap"],
    all_gap_vs_none_ci95=all_vs_none["ci95"],
    unified_steps_ratio=speed["unified"]["ratio"],
    unified_steps_ratio_ci=[speed["unified"]["low"], speed["unified"]["high"]],
    **{f"{a.lower()}_gap": float(imp.set_index("arm").gap[a]) for a in ("HG", "DP", "DNP", "OR", "unified")},
    **{f"{a.lower()}_gap_ci95": float(imp.set_index("arm").ci95[a]) for a in ("HG", "DP", "DNP", "OR", "unified")},
    loop_vs_bare_throughput=throughput["ratio"],
    notebook_seconds=time.perf_counter() - NOTEBOOK_START,
)
tolerances = {
    "notebook_seconds": TIMING,
    "loop_vs_bare_throughput": (0, 0.5, "a ratio of two timings in the same run: machine load moves it (the chapter reports it; benchmarks/bench_pretrain_loop.py measures it)"),
}
sl.save_metrics(NB, metrics, tolerances=tolerances)
print(pd.Series(metrics).to_string())

assert fold_diff < 1e-5, "folding γ must not change the function"
assert reset["all"] > loss_trained, "resetting a trained γ should lose what it learned"
if not FAST:
    assert removal_stats["gap"] - removal_stats["ci95"] > 0, "removing γ should hurt pre-training at a matched learning rate (paired, 95 % CI above 0)"
    assert iwd_vs_all["gap"] + iwd_vs_all["ci95"] < 0, "decaying Output-Norm γ too (all γ) should be worse than IWD"
    # the pre-stated check was "each arm's best rate is interior, and the re-tuned gap's CI is above 0"; it FAILED (both best
    # rates are the grid's edge; the gap there is within noise). Section 2 says so; what it says instead is asserted:
    assert matched[LRS[1]]["gap"] - matched[LRS[1]]["ci95"] > 0, "removing γ should hurt at the middle learning rate too"
    assert not all(interior.values()) and retuned_stats["gap"] - retuned_stats["ci95"] <= 0, \
        "section 2 says the re-tuned comparison is inconclusive (best rates at the grid's edge, gap within noise): revise it if this changed"
    sgd_gap, sgd_ci = float(conditions_table.gap.iloc[-1]), float(conditions_table.ci95.iloc[-1])
    assert sgd_gap - sgd_ci < 0 < sgd_gap + sgd_ci, "section 3 says the SGD gap is indistinguishable from 0 here: revise it if this changed"
    assert iwd_vs_none["gap"] + iwd_vs_none["ci95"] > 0, "the summary says IWD did not beat no decay on γ here: revise it if this changed"
    assert qk_vs_none["gap"] - qk_vs_none["ci95"] > 0 and all_vs_none["gap"] > 2 * qk_vs_none["gap"], \
        "section 5 says decaying q/k-norm γ alone hurts, and that most of 'all''s cost is the final norm's: revise it if this changed"
    assert speed["unified"]["low"] > 1 and speed["DNP"]["ratio"] > 0.8 * speed["unified"]["ratio"], \
        "section 6 says the unified strategy reaches the baseline's loss sooner, nearly all of it through DNP: revise it if this changed"

# %% [markdown]
# ## Summary
#
# * γ is a tiny share of the parameters (under 0.01 %<!--x--> at 1 B scale), and folding it away leaves the
#   function unchanged — yet fixing it at 1 before training costs loss at a matched learning rate on
#   every seed here at the two lower learning rates; at the highest rate, where both arms do best,
#   the gap is within noise — so the re-tuned claim is not established by these runs.
# * Weight decay on Output-Norm γ (QK-norm, a tied final norm) hurts; decaying only Input-Norm γ
#   did not beat no decay on γ in these runs — the "helps" half of the claim is not reproduced here.
# * Decaying only the q/k norms' γ hurts too, but most of "all"'s cost is the tied final norm's γ.
# * Of the three improvements — HG, placement (DP or DNP), OR — HG and DP give small consistent
#   gains; OR is within noise; DNP's gain may be its effective step size. In the paper's units the unified strategy reaches the
#   baseline's loss about 1.5<!--x-->× sooner here (the paper: 1.22<!--x-->–1.25×<!--x-->), nearly all of it DNP. These are 0.27<!--x--> M-parameter, 180-step runs: directions, not
#   a replication of the paper's 0.12<!--x--> B–2 B results.
#
# **Questions for discussion.** If γ barely moves, how can removing it matter? Design a run that
# separates DNP's "placement" from its effect on the step size. Why does a tied unembedding turn the
# final norm into an Output-Norm?
#
# **Further reading.** Zhang & Sennrich, *Root Mean Square Layer Normalization* (2019); Xiong et al.,
# *On Layer Normalization in the Transformer Architecture* (2020) on Pre- vs Post-Norm; Dehghani et
# al., *Scaling Vision Transformers to 22 Billion Parameters* (2023) on QK-norm; Loshchilov & Hutter,
# *Decoupled Weight Decay Regularization* (2019); `references.bib`.
