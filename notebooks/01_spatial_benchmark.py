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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scale-lib/scale_lib/blob/main/notebooks/01_spatial_benchmark.ipynb)
#
# # 01 · The spatial benchmark, up close
#
# *[secondary]* ScAle is evaluated on **SpatialEval** (Wang et al., NeurIPS 2024, arXiv:2406.14852).
# Its three synthetic tasks can be generated, so this book builds them offline — faithfully enough
# that the same code scores a real VLM on the real dataset when the hub is reachable
# (`scale_lib.data.spatial.load_spatialeval`).
#
# **You will learn to** generate SpatialEval-style items in every task and modality; check every
# answer with an independent re-derivation; score free-text, letter and word answers; read what the
# book's tiny VLM can and cannot do — and write two pieces of the checker yourself (a map direction
# and a maze turn counter). **Prerequisites**: chapter 00; Python. **Time**: under a minute to run
# (it varies by machine; the recorded run's time is `notebook_seconds` in the chapter's
# `metrics.json`), about 45 minutes to read and do, the exercises about 25 minutes of it. Terms:
# [glossary](glossary.md).
#
# * **Spatial-Map** — six named places on a map (six names drawn, per map, from a pool of twelve);
#   the text relates each place to earlier ones by diagonal directions. *In which direction is A
#   relative to B? Which place is to the Southwest of B? How many places are North of B?*
# * **Maze-Nav** — a 7 × 7 maze with a path from S to E (ASCII in text form). *How many right
#   turns? How many turns in total? Is E directly left of S?*
# * **Spatial-Grid** — a 5 × 5 grid of animals. *How many blocks hold a cat? Which animal is in
#   the top-left corner? At row 2, column 4?*
#
# Each question comes in three modalities: **TQA** (text only), **VQA** (image and a one-line
# description) and **VTQA** (image and the full text). Beside SpatialEval's questions, every layout
# also gets **non-spatial** questions (colour, count, existence) — the book's stand-in for the
# "non-spatial accuracy" ScAle is reported to preserve (*[secondary]*: the paper measures it on
# non-spatial VQA sets, not on controls like these — the book's operationalisation, *[ours]*). A question is asked only in the modalities
# that can answer it: the text never states a colour, so colour questions are VQA and VTQA only.
#
# **How faithful.** By default (`fidelity="spatialeval"`) the generator follows the real benchmark
# where it is known. Each task has SpatialEval's three question types, numbered **q0, q1, q2** in
# the order listed above (Spatial-Map: q0 the direction of A relative to B, q1 which place is in a
# direction of B, q2 how many places are; Maze-Nav: q0 right turns, q1 all turns, q2 where E is
# relative to S; Spatial-Grid: q0 how many blocks hold a given animal, q1 the corner, q2 a row and a
# column). So the generator asks diagonal directions in Spatial-Map q2, draws blue maze paths that may
# run straight (0 turns), uses the real Spatial-Grid wording, counts animals that are present, and
# balances Yes/No questions. `fidelity="book-v1"` reproduces, draw for draw, the items the book's tiny testbeds were
# trained on (section 5). Section 6 lists what still differs from the real set.

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

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

import scale_lib as sl
from scale_lib.book import exercises as ex
from scale_lib.book import solutions
from scale_lib.book.verify import SHORT_TIMING, TIMING
from scale_lib.data import spatial

NB = "01_spatial_benchmark"
NOTEBOOK_START = time.perf_counter()  # the chapter's wall time, recorded in its metrics
FAST = sl.is_fast()
sl.use_style()
print("fast mode" if FAST else "full mode")

# %% [markdown]
# ## 1 · A gallery
#
# Large images (64-pixel cells, names drawn as SpatialEval does) are for real VLMs; the tiny CPU
# model of notebooks 02–03 sees 8-pixel cells — one vision patch per cell — where each place or
# animal is a distinct icon. Right: the TQA prompt, which the VTQA modality adds to the image.
# Two things that look odd are as intended: in the 64-px maps the upper half of each icon is left
# blank for the place's name (as SpatialEval draws them), so an icon looks cut in half beside its full
# 8-px version. The thin grey lines between cells are drawn on this figure only, so that neighbouring
# cells holding the same animal do not run together; the images the models see have no lines.

# %%
items = spatial.generate_benchmark(sl.pick(500, 40), split="test", seed=0)
fig = spatial.gallery_figure([i for i in items if i.modality == "tqa"], per_task=2)
sl.save_figure(fig, NB, "gallery")
plt.show()

# %% [markdown]
# ## 2 · What is in it
#
# Every layout yields SpatialEval's three question types plus the non-spatial controls, in the
# modalities that can answer them. The correct option's letter is placed uniformly at random, so
# always answering "A" scores chance. Layouts are assigned to train / validation / test by a hash
# of **what each modality shows** (`spatial.split_key`): two mazes that differ only in the colour of
# their path look the same in TQA, so they land in the same split — no test item is seen, in any
# form, in training.

# %%
frame = pd.DataFrame([dict(task=i.task, qtype=i.qtype, kind=i.kind, modality=i.modality, letter=i.answer_letter, options=len(i.options)) for i in items])
composition = frame[frame.modality == "tqa"].pivot_table(index="task", columns="qtype", values="options", aggfunc="size", fill_value=0)
composition

# %% [markdown]
# A control question is only informative when guessing cannot pass it. The **majority rate** — the
# accuracy of always giving the most common answer — is the floor to compare any accuracy on it with:

# %%
controls = [i for i in items if i.modality == "vqa"]
majority = pd.DataFrame([dict(task=t, qtype=q, items=len(g), majority_rate=spatial.majority_rate(g))
                         for (t, q), g in pd.Series(controls).groupby([[i.task for i in controls], [i.qtype for i in controls]])])
legacy_exist = spatial.generate_items("spatial_grid", sl.pick(500, 40), modalities=("vqa",), qtypes=("exist",), fidelity="book-v1")
print(majority.round(2).to_string(index=False))
print(f"\nthe testbeds' Spatial-Grid existence control (fidelity='book-v1'): always 'Yes' scores {spatial.majority_rate(legacy_exist):.2f} — "
      "read its accuracies against that, not against 0.5")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
sns.countplot(frame[(frame.kind == "spatial") & (frame.options == 4)], x="letter", hue="task", order=list("ABCD"), ax=ax)
ax.set(title="Where the correct option sits (4-option questions)", xlabel="correct letter", ylabel="items")
sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1))
sl.save_figure(fig, NB, "answer_letters")
plt.show()

# %% [markdown]
# *What to see:* within each task the four letters are about equally common — the differences are
# sampling noise — so no letter is a shortcut. (Maze-Nav has fewer 4-option items: its other
# question is yes/no.)
#
# ## 3 · An independent checker — and does a map's text determine its answer?
#
# `spatial.check_items` re-derives every answer without the generator's code: it traces the maze
# path through the ASCII text and counts turns with cross products, reads the grid rows from the
# text, and computes map directions from coordinates. Any disagreement is a bug.
#
# It also asks a sharper question of Spatial-Map: **does the text actually determine the answer?**
# Relations such as "B is to the Southwest of A" give strict orders along the north–south and
# east–west axes. Chaining them gives every order the text implies — their *transitive closure*: if
# B is south of A and A is south of D, then B is south of D, though no sentence says so. A *fact*
# is one statement "X is to the ⟨direction⟩ of Y" about one pair of places; a question needs several
# (q0 "In which direction is B relative to C?" needs B's order with C on both axes; q1 one fact per
# option; q2 one fact per place on the map). A fact is decided when the closure orders the pair on
# the axes it needs — or orders them *the wrong way on one axis*, which already rules it out. The
# text determines the answer when every fact the question needs is decided. Texts of SpatialEval's form
# (the first place "in the map", every later one related to one or two earlier ones) need not
# determine the answer. A small example:
#
# | the text says | what follows |
# |---|---|
# | "A is in the map. B is to the Southwest of A. C is to the Northwest of A." | B is south of A and C north of A, so **B is south of C**; both B and C are west of A, so **B vs C east–west is unknown** |
# | question: "In which direction is B relative to C?" | Southwest or Southeast: **not determined**, the text allows both |
# | the same question's options "Northeast" and "Northwest" | **ruled out**: B is south of C, whatever the east–west order |
#
# Ours are flagged `text_ambiguous` when they do not determine the answer (`identifiable_only=True`
# drops them), and a test checks the flag against an exhaustive enumeration of every ordering the
# text allows. Whether the real dataset has such items we cannot check offline:
# `text_determines_answer` will tell on its TQA items where the hub is reachable. TQA accuracy on
# undetermined items measures guessing, not reasoning.
#
# *What to see* in the output below: over all three question types, the text determines the answer
# for only 45 %<!--m:map_text_determined_fraction--> of our Spatial-Map TQA questions — so more than
# half of them cannot be answered from their text alone, however well a model reasons (the printed
# table breaks this down by question type).

# %%
start = time.perf_counter()
problems = spatial.check_items(items)
check_seconds = time.perf_counter() - start
print(f"{len(items):,} items re-derived in {check_seconds:.1f} s: {len(problems)} disagreement(s)")
map_spatial = [i for i in items if i.task == "spatial_map" and i.kind == "spatial" and i.modality == "tqa"]
ambiguity = pd.DataFrame([dict(qtype=i.qtype, determined=spatial.text_determines_answer(i)) for i in map_spatial]).groupby("qtype").determined.mean()
print("fraction of Spatial-Map TQA questions whose text determines the answer:")
print(ambiguity.round(2).to_string())

# %% [markdown]
# ## 4 · Scoring
#
# Three ways to score, for three kinds of answer. A letter answer is scored strictly
# (`score_strict`: the letter alone or first, followed by punctuation). Real models asked the real
# benchmark's way (`item.prompt(style="spatialeval")`: "Please answer the following
# multiple-choice question … Available options: …") write free text; SpatialEval scores it by
# **exact match** on the answer (`score_exact`: the first sentence, without "Answer:" or a leading
# letter, must be the answer's text or its letter). `score_lenient` is more forgiving — a letter,
# else the one option named, else the first number or yes/no. (The tiny testbed answers with the
# option's word and is scored over its options: section 5.)

# %%
demo = next(i for i in items if i.task == "spatial_grid" and i.qtype == "q1" and i.modality == "tqa")
print(demo.prompt(), "\n")
print(demo.prompt(style="spatialeval"), "\n")
for response in [demo.answer_letter, f"({demo.answer_letter.lower()})", f"The answer is {demo.answer_letter}.", f"{demo.answer.capitalize()}. It sits in the corner.",
                 f"I believe it is a {demo.answer}.", "It is hard to say."]:
    print(f"{response!r:42} strict: {spatial.score_strict(response, demo)!s:5}  exact: {spatial.score_exact(response, demo)!s:5}  "
          f"lenient: {spatial.score_lenient(response, demo)}")

# %% [markdown]
# ## 5 · The tiny VLM that notebooks 02 and 03 adapt
#
# The real SpatialEval and real VLM weights cannot be downloaded here, so the book trains its own
# vision-language model: a real `LlavaForConditionalGeneration` (a 2-layer CLIP tower, one 8-px patch
# per grid cell with fixed 2D sin–cos positions — each patch's position is added as a fixed pattern of
# sines and cosines of its row and column, nothing learned; a 4-layer Llama with 8 heads per layer),
# built from a small config and trained on this CPU in minutes by `python -m scale_lib.models.testbed --seed N`. Eleven
# checkpoints ship with the book (`checkpoints/tiny_vlm/seedN` in the repository: the weights as
# *safetensors*, Hugging Face's plain file format for tensors, plus a JSON record): the
# same recipe with pretraining seeds 0–6 (chapters 01–03) and 7–10 (added for chapter 07's causal test),
# because one trained model is one random draw (notebook 02, section 4). Below is seed 0. The testbeds saw the benchmark
# as it was when they were made (`fidelity="book-v1"`, pinned in `testbed.TESTBED_FIDELITY`).
#
# **Seed 0, and why the same seed is not the same model.** The recipe was chosen on an earlier run
# of seed 0, made on another machine. A seed fixes every random draw — the layouts, the
# initialisation, the batch order — but not the order in which the computer adds up floating-point
# numbers, and float addition is not associative: another CPU (other vector instructions) or another
# number of threads rounds differently in the last bit, and a training run of some 1,500 steps turns
# that last-bit difference into another model. (On one machine with one thread count a run is
# reproducible bit for bit; a test checks it.) So the shipped seed 0, regenerated with the same code
# on the book's current machine, is another draw from the recipe: it kept less of its corner skill
# after tuning than the run the recipe was chosen on. It is still the seed the recipe was chosen on,
# so only seeds 1–6 are fresh evidence for the recipe (chapters 02 and 03 rely on this).
# `checkpoints/tiny_vlm/README.md` has the log of how the recipe was chosen and both runs' accuracies.
#
# The whole design at a glance (the two paragraphs below say why it is built this way):
#
# | part | the tiny VLM |
# |---|---|
# | input image | the 5 × 5 Spatial-Grid drawn at 40 × 40 pixels: one 8-px icon per cell |
# | vision tower | a 2-layer CLIP encoder; one patch per grid cell (25 image tokens), fixed 2D sin–cos positions |
# | language model | a 4-layer Llama, width 128, 8 heads per layer: the heads, attention outputs and MLPs chapters 02–03 scale |
# | prompt → answer | the question with its options; the model answers with the option's **word** at the last position, scored strictly (argmax over the item's own options) |
# | questions it learns | the corner question (spatial) and two non-spatial controls, "is there a …?" and "how many kinds …?" |
# | recipe | pretrain on all three questions, then tune the language model's attention on the two non-spatial ones only: the *frozen* testbed |
# | checkpoints | seeds 0–6 (chapters 01–03) and 7–10 (chapter 07), each with its weights before the tuning |
#
# **What it can and cannot learn.** This model learns one **Spatial-Grid** position question —
# which animal is in a given corner (q1), a four-way look-up — and the non-spatial controls on the
# same images (is there a …? how many kinds …?). That is far from SpatialEval's multi-hop relations
# and turn counting. We measured that it does *not* learn, in a budget of minutes, the
# row-and-column question (q2: 0.30<!--x-->–0.37<!--x--> against 0.25<!--x-->, in the trial runs `scale_lib.models.testbed` records), Spatial-Map (binding twelve place names to
# their icons stayed at chance in every recipe we tried) or Maze-Nav's turn counting, and that
# answering with option **letters** kept even the corner question at chance — so the tiny model
# reads the question with its options and **answers with the option's word**, scored strictly (the
# argmax over the item's own options). Those tasks and the letter format are still generated, for
# real models.
#
# **A latent skill.** *[secondary]* The ScAle paper is read as arguing that real VLMs *have*
# spatial knowledge they fail to use (its abstract says only that rescaling activations moves their
# accuracy). We build that situation on purpose: pretrain on spatial and non-spatial questions, then tune
# the language model's attention on **non-spatial questions only**. Spatial accuracy falls; the
# image features and the circuitry that computed it are still inside, weighted differently.
# Notebook 02 looks for it with rescaling sweeps; notebook 03 unlocks it with ScAle. (Which weights
# the tuning touches matters: tuning every weight instead erodes the image features too, and then a
# few last-token scales recover much less. Notebook 03, section 5, reports that consequence; the trial
# runs behind it are logged in `checkpoints/tiny_vlm/README.md`.)

# %%
from scale_lib.models import testbed

tb_model, tb_tok, tb_record = testbed.load_testbed()
tb_before_model, _, _ = testbed.load_testbed(stage="pretrained")  # the same model before the non-spatial tuning (its weights ship too)
tb_items = testbed.testbed_items(tb_record["n_eval_layouts"], "test", seed=tb_record["seed"])
tb_batch = testbed.encode_items(tb_items, tb_tok)
start = time.perf_counter()
tb_now = testbed.accuracy_table(tb_model, tb_batch)
tb_acc = testbed.evaluate(tb_model, tb_batch)
eval_seconds = time.perf_counter() - start
tb_before = testbed.accuracy_table(tb_before_model, tb_batch)
tb_before_acc = testbed.evaluate(tb_before_model, tb_batch)
stages = pd.concat([
    tb_before.assign(stage="after pretraining"),
    tb_now.assign(stage="after tuning on non-spatial only (the frozen model)"),
])
stages["question"] = stages.qtype.map(testbed.QTYPE_NAMES) + " (" + stages.kind + ")"
fig, ax = plt.subplots(figsize=(9, 3.8))
sns.barplot(stages, x="question", y="accuracy", hue="stage", ax=ax)
for i, (chance, qtype) in enumerate(zip(tb_now.chance, tb_now.qtype)):
    ax.plot([i - 0.4, i + 0.4], [chance, chance], color="k", ls="--", lw=1, label="chance (1 / options)" if i == 0 else None)
    if qtype == "exist":  # a two-option control whose answers are mostly "Yes": guessing "Yes" is the floor to beat
        floor = spatial.majority_rate(legacy_exist)
        ax.plot([i - 0.4, i + 0.4], [floor, floor], color="tab:red", ls=":", lw=1.5, label="always 'Yes'")
ax.set(ylim=(0, 1.3), xlabel="", title=f"The tiny VLM on {len(tb_items)} held-out Spatial-Grid items (VQA)")
ax.legend(loc="upper center", ncol=3, fontsize=8)
sl.save_figure(fig, NB, "testbed_accuracy")
plt.show()
print(f"pretraining took {tb_record['pretrain_seconds']:.0f} s ({tb_record['pretrain_steps']} steps of {tb_record['batch_size']}); "
      f"evaluating {len(tb_items)} items: {eval_seconds:.1f} s")
print(f"spatial accuracy: {tb_before_acc['spatial']:.3f} after pretraining -> {tb_acc['spatial']:.3f} after tuning "
      f"(recorded when the checkpoint was made: {tb_record['before_tuning']['spatial']:.3f} -> {tb_record['after_tuning']['spatial']:.3f}); "
      f"non-spatial {tb_acc['nonspatial']:.3f}")

# %% [markdown]
# *What to see:* after pretraining the tiny VLM answers all three questions perfectly. Tuning its
# attention on the two non-spatial questions keeps them perfect and costs only the spatial one: the
# corner question drops from 1.000<!--m:testbed_spatial_acc_before_tuning--> to 0.676<!--m:testbed_spatial_acc_frozen-->. Chance is 0.25<!--x-->, so it keeps more than half of
# its margin above chance and loses a little under half: the skill is partly latent, not gone.
# (The dashed line of "is there a …?" is the two-option chance, 0.5<!--x-->; as section 2 printed, always
# answering "Yes" scores 0.84<!--m:testbed_exist_majority_rate--> on the testbeds' existence questions — the red dotted line — so read that bar against 0.84<!--m:testbed_exist_majority_rate-->.)
#
# ## 6 · What still differs from the real SpatialEval
#
# Every known deviation of `fidelity="spatialeval"` from the real benchmark, as the library
# records it (`spatial.DEVIATIONS`):

# %%
print(pd.Series(spatial.DEVIATIONS, name="deviation").rename_axis("what").to_string())

# %% [markdown]
# ## 7 · Exercises
#
# **Exercise 1 — right turns, by eye** (★☆☆ · 5 min). **Predict, then measure.** The cell below
# prints a maze. Count the turns yourself: how many **right** turns (clockwise changes of heading, as
# seen on the screen) does the path take from S to E? Write your count in the prediction cell and
# run it; the cell after it lets section 3's independent checker trace the path and compares (a
# prediction changed after the measurement is shown is not accepted). Only the exact count counts.
#
# <details><summary>Hint</summary> Put your finger on S and follow the X cells; at each bend ask
# whether you turned clockwise (heading right, then down, is a right turn).</details>

# %%
maze = next(i for i in items if i.task == "maze_nav" and i.qtype == "q0" and i.modality == "tqa")
print(maze.description)

# %%
PREDICTION_1 = None  # your prediction: the number of right turns, an integer
ex.predict("exercise 1", PREDICTION_1)

# %%
measured_1 = int(spatial.derive_answer(maze))  # the checker's count, traced through the ASCII text
ex.reveal("exercise 1", measured_1, tol=0,
          explanation="walk from S along the X cells; a right turn is up→right, right→down, down→left or left→up.")

# %% [markdown]
# **Exercise 2 — a map direction** (★☆☆ · 5 min). Points are (row, column) with row 0 at the top
# (north). Write `diagonal_direction(a, b)`: the direction of `a` relative to `b`, one of
# "Northeast", "Northwest", "Southeast", "Southwest" (the two points never share a row or a column).
#
# <details><summary>Hint</summary> A smaller row than b's means north; a larger column means east.
# Decide the two halves of the word separately and join them.</details>

# %%
def diagonal_direction(a, b):
    return solutions.benchmark.diagonal_direction(a, b)  # SOLUTION


ex.test_diagonal_direction(diagonal_direction)

# %% [markdown]
# **Exercise 3 — a turn counter** (★★☆ · 15 min). Write `count_turns(path)` for a path of (row,
# column) cells: return `(right turns, all turns)`. A turn is a change of heading between consecutive
# steps; going straight is not a turn. This is what the checker does to Maze-Nav's text, independently
# of the generator.
#
# <details><summary>Hint</summary> Turn the path into headings (the difference of consecutive cells);
# for two consecutive headings (dr₁, dc₁) and (dr₂, dc₂) the sign of dr₁·dc₂ − dc₁·dr₂ tells left
# from right. Rows grow downwards, so check the sign on one known right turn (east, then south).</details>

# %%
def count_turns(path):
    return solutions.benchmark.count_turns(path)  # SOLUTION


ex.test_count_turns(count_turns)

# %% [markdown]
# ## 8 · Checked

# %%
metrics = dict(
    items=len(items),
    checker_disagreements=len(problems),
    check_seconds=check_seconds,
    map_text_determined_fraction=float(pd.Series([spatial.text_determines_answer(i) for i in map_spatial]).mean()),
    testbed_pretrain_seconds_recorded=tb_record["pretrain_seconds"],
    yes_no_majority_rate_max=float(majority[majority.qtype.isin(["exist"]) | ((majority.task == "maze_nav") & (majority.qtype == "q2"))].majority_rate.max()),
    testbed_exist_majority_rate=spatial.majority_rate(legacy_exist),
    testbed_spatial_acc_before_tuning=tb_before_acc["spatial"],
    testbed_spatial_acc_frozen=tb_acc["spatial"],
    testbed_nonspatial_acc_frozen=tb_acc["nonspatial"],
    notebook_seconds=time.perf_counter() - NOTEBOOK_START,
)
tolerances = {"check_seconds": SHORT_TIMING, "notebook_seconds": TIMING}
sl.save_metrics(NB, metrics, tolerances=tolerances)
print(metrics)
assert problems == [], "the independent checker must agree with every generated answer"
assert abs(tb_acc["spatial"] - tb_record["after_tuning"]["spatial"]) <= 0.01, "the shipped testbed must reproduce its recorded accuracy"
assert tb_before_acc["spatial"] - tb_acc["spatial"] > 0.1, "tuning on non-spatial questions should make the spatial skill latent (both measured here)"
assert tb_acc["nonspatial"] > 0.9, "the frozen testbed must still answer the non-spatial controls"
letters = frame[(frame.kind == "spatial") & (frame.options == 4)].letter.value_counts(normalize=True)
if not FAST:
    assert letters.min() > 0.2, "correct letters must be spread near-uniformly"
    assert 0 < metrics["map_text_determined_fraction"] < 1, "some map texts of SpatialEval's form determine the answer and some do not"
    assert metrics["yes_no_majority_rate_max"] <= 0.55, "every Yes/No question type must be balanced"

# %% [markdown]
# ## Summary
#
# * SpatialEval's three synthetic tasks, in three modalities, generate offline; every answer is
#   re-derived by an independent checker, and Spatial-Map texts of the benchmark's form do not
#   always determine their answers (measured on our generator; untested on the real items offline).
# * How an answer is scored — strict letter, exact match, lenient — is part of the measurement.
# * The book's tiny VLM learns one spatial look-up (a corner of a grid) and loses a little under half
#   of its margin above chance when its attention is tuned on non-spatial questions only: a partly
#   latent skill built on purpose, for chapters 02–03.
#
# **Questions for discussion.** A benchmark item whose text does not determine the answer: should it
# be dropped, or kept as a measure of guessing? Why might a small model fail with letters but
# succeed with the option's word? What would a *non-spatial* control need to share with a spatial
# question to isolate "spatial" as the only difference?
#
# **Further reading.** Wang et al., *Is A Picture Worth A Thousand Words? Delving Into Spatial
# Reasoning for Vision Language Models* (SpatialEval, NeurIPS 2024); Liu et al., *Visual Instruction
# Tuning* (LLaVA, 2023); `references.bib`.
