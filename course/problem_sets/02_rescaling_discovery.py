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
# name: ps02
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# tests:
#   files: true
#   ok_format: false

# %% [markdown]
# # Problem set 02 · Rescaling discovery: noise and intervals
#
# Goes with chapter 02. 2 graded exercises. Under each task, `grader.check("…")` runs the
# public checks; the autograder also runs hidden ones, written to catch the plausible wrong answers.
# These are the statistics the chapter reads its sweeps with. Work in order; each exercise takes the time marked.

# %%
import math

import torch

g = torch.Generator().manual_seed(0)
right_a = (torch.rand(300, generator=g) < 0.7).int()
flip = torch.rand(300, generator=g) < 0.1
right_b = torch.where(flip, 1 - right_a, right_a)

# %% [raw]
# # BEGIN QUESTION
# name: q1_exact_interval
# points: 2

# %% [markdown]
# **Exercise 1 — the exact (Clopper–Pearson) interval** (★★★ · 25 min). Chapter 02 derived Wilson's
# interval. The *exact* interval inverts the binomial test itself: its low end is the p at which
# observing k or more successes has probability 2.5 %, its high end the p at which observing k or
# fewer has probability 2.5 %. Both ends are quantiles of Beta distributions. Write
# `exact_interval(k, n, level=0.95)` returning `(low, high)`, with low = 0 at k = 0 and high = 1 at k = n.
#
# <details><summary>Hint</summary>P(X ≥ k | p) for X ~ Binomial(n, p) equals the Beta(k, n − k + 1) CDF at p; `scipy.stats.beta.ppf`.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def exact_interval(k, n, level=0.95):
    # BEGIN SOLUTION
    from scipy.stats import beta

    alpha = 1 - level
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return (low, high)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_contains_the_estimate(exact_interval):
    low, high = exact_interval(30, 100)
    assert low < 0.3 < high, f"the interval ({low:.3f}, {high:.3f}) should contain k/n = 0.3"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_equals_scipys_exact_interval(exact_interval):
    from scipy.stats import binomtest

    for k, n in [(0, 10), (1, 10), (5, 10), (10, 10), (7, 250), (240, 250)]:
        want = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        got = exact_interval(k, n)
        assert abs(got[0] - want.low) < 1e-9 and abs(got[1] - want.high) < 1e-9, f"k={k}, n={n}: expected ({want.low:.5f}, {want.high:.5f}), got {got}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_edges_and_level(exact_interval):
    low, high = exact_interval(0, 20)
    assert low == 0.0 and high > 0.1, f"at k = 0 the exact upper end is well above 0; got ({low}, {high})"
    narrow, wide = exact_interval(12, 40, level=0.8), exact_interval(12, 40, level=0.99)
    assert wide[0] < narrow[0] and wide[1] > narrow[1], "a higher level must give a wider interval"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2_paired_test
# points: 2

# %% [markdown]
# **Exercise 2 — a paired test** (★★☆ · 20 min). Two settings answered the **same** items; `right_a`
# and `right_b` are 1/0 vectors. Items both get right or both get wrong say nothing about which is
# better: only the discordant ones do. Write `paired_p_value(right_a, right_b)`: count the items only
# `a` gets right and those only `b` gets right, and return the exact two-sided p-value that the two
# kinds are equally likely (a binomial test with success probability ½ on the discordant items;
# return 1.0 when there are none).
#
# <details><summary>Hint</summary>`scipy.stats.binomtest(k, n, 0.5).pvalue`. Why is this more sensitive than comparing the two accuracies as if they came from different items?</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def paired_p_value(right_a, right_b):
    # BEGIN SOLUTION
    from scipy.stats import binomtest

    a, b = torch.as_tensor(right_a).bool(), torch.as_tensor(right_b).bool()
    a_only, b_only = int((a & ~b).sum()), int((b & ~a).sum())
    return float(binomtest(b_only, a_only + b_only, 0.5).pvalue) if a_only + b_only else 1.0
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_a_probability(paired_p_value, right_a, right_b):
    p = paired_p_value(right_a, right_b)
    assert 0.0 <= p <= 1.0, f"a p-value lies in [0, 1], got {p}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_equals_mcnemar(paired_p_value):
    import torch

    from scale_lib.core.stats import mcnemar

    g = torch.Generator().manual_seed(5)
    for shift in (0.0, 0.05, 0.15):
        a = (torch.rand(200, generator=g) < 0.6).int()
        b = torch.where(torch.rand(200, generator=g) < shift, torch.ones_like(a), a)
        want = mcnemar(a, b)["p"]
        got = paired_p_value(a, b)
        assert abs(got - want) < 1e-9, f"expected p = {want:.4g}, got {got:.4g}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_identical_vectors(paired_p_value):
    import torch

    a = torch.tensor([1, 0, 1, 1, 0])
    assert paired_p_value(a, a.clone()) == 1.0, "with no discordant item the p-value is 1"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION
