# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: ps06
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# tests:
#   files: true
#   ok_format: false

# %% [markdown]
# # Problem set 06 · A real model: scoring and paired intervals
#
# Goes with chapter 06. 2 graded exercises. Under each task, `grader.check("…")` runs the
# public checks; the autograder also runs hidden ones, written to catch the plausible wrong answers.
# Work in order; each exercise takes the time marked.

# %%
import torch

g = torch.Generator().manual_seed(0)
logits = torch.randn(8, 40, generator=g)
option_ids = torch.stack([torch.randperm(40, generator=g)[:4] for _ in range(8)])
option_ids[::2, 3] = -1  # rows with three options: -1 is padding

# %% [raw]
# # BEGIN QUESTION
# name: q1_cloze_choice
# points: 2

# %% [markdown]
# **Exercise 1 — cloze scoring with padding** (★★☆ · 15 min). Write `cloze_choice(logits, option_ids)`:
# `logits` is `(N, V)` (the next-token logits of N prompts), `option_ids` is `(N, K)` — the first token
# of each option, or −1 where a row has fewer than K options. Return the `(N,)` index of the likeliest
# option of each row; a −1 slot must never be chosen.
#
# <details><summary>Hint</summary>`logits.gather(1, option_ids.clamp_min(0))`, then mask the padding with −inf before `argmax`.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def cloze_choice(logits, option_ids):
    # BEGIN SOLUTION
    scores = logits.gather(1, option_ids.clamp_min(0))
    return scores.masked_fill(option_ids < 0, float("-inf")).argmax(-1)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_shape(cloze_choice, logits, option_ids):
    got = cloze_choice(logits, option_ids)
    assert tuple(got.shape) == (len(logits),), f"one index per row: expected ({len(logits)},), got {tuple(got.shape)}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_padding_is_never_chosen(cloze_choice):
    import torch

    from scale_lib.core.scoring import option_scores

    g = torch.Generator().manual_seed(1)
    logits = torch.randn(64, 50, generator=g)
    option_ids = torch.stack([torch.randperm(50, generator=g)[:4] for _ in range(64)])
    option_ids[::3, 3] = -1
    logits[::3, -1] = 100.0  # a pad read as index −1 would pick this token
    want = option_scores(logits, option_ids).argmax(-1)
    got = torch.as_tensor(cloze_choice(logits, option_ids))
    assert torch.equal(got, want), f"{int((got != want).sum())} of 64 rows differ (the padded rows?)"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2_paired_bootstrap
# points: 3

# %% [markdown]
# **Exercise 2 — a paired bootstrap** (★★★ · 25 min). Chapter 06 compares methods on the **same** test
# items. Write `paired_bootstrap(right_a, right_b, n_boot=2000, seed=0)`: the 95 % percentile interval
# `(low, high)` of mean(right_b) − mean(right_a), resampling **items** with replacement (the same
# resampled items for a and b), with `torch.Generator().manual_seed(seed)` so a call is reproducible.
#
# <details><summary>Hint</summary>Draw one `(n_boot, n)` index tensor and use it for both vectors; `torch.quantile` of the differences at 0.025 and 0.975.
# Resampling a and b independently throws away the pairing: the interval gets much wider.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def paired_bootstrap(right_a, right_b, n_boot=2000, seed=0):
    # BEGIN SOLUTION
    a, b = torch.as_tensor(right_a).double(), torch.as_tensor(right_b).double()
    idx = torch.randint(0, len(a), (n_boot, len(a)), generator=torch.Generator().manual_seed(seed))
    diffs = b[idx].mean(1) - a[idx].mean(1)
    return float(torch.quantile(diffs, 0.025)), float(torch.quantile(diffs, 0.975))
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_contains_the_observed_difference(paired_bootstrap):
    import torch

    a = torch.tensor([1, 0, 1, 1, 0, 1, 0, 1] * 10)
    b = torch.tensor([1, 1, 1, 1, 0, 1, 0, 1] * 10)
    low, high = paired_bootstrap(a, b)
    assert low <= 0.125 <= high, f"the interval ({low:.3f}, {high:.3f}) should contain the observed 0.125"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_paired_width_and_reproducible(paired_bootstrap):
    import torch

    g = torch.Generator().manual_seed(7)
    a = (torch.rand(400, generator=g) < 0.6).int()
    b = torch.where(torch.rand(400, generator=g) < 0.05, 1 - a, a)  # b differs from a on ~5 % of items
    low, high = paired_bootstrap(a, b, n_boot=2000, seed=3)
    assert (low, high) == paired_bootstrap(a, b, n_boot=2000, seed=3), "the same seed must give the same interval"
    d = (b - a).double()
    paired_width = 2 * 1.96 * float(d.std()) / len(d) ** 0.5
    assert high - low < 1.5 * paired_width, (f"width {high - low:.3f}: a paired interval is about {paired_width:.3f} here; "
                                             "resample the same items for a and b")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION
