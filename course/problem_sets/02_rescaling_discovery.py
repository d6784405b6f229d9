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
# name: q1_wilson
# points: 2

# %% [markdown]
# **Exercise 1 — derive the Wilson interval** (★★★ · 25 min). The Wald interval p̂ ± z·√(p̂(1 − p̂)/n) has
# zero width at k = 0 and spills over [0, 1] near the edges. Wilson's interval is instead the set of
# true rates p for which the observed p̂ = k/n lies within z standard errors **of p**:
# |p̂ − p| ≤ z·√(p(1 − p)/n). Solve that inequality for p (it is a quadratic in p) and write
# `wilson_interval(k, n, z=1.96)` returning `(low, high)`.
#
# <details><summary>Hint</summary>Square both sides: (p̂ − p)² = z² p(1 − p)/n. Collect the terms in p², p and 1; the two roots are the interval's ends.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def wilson_interval(k, n, z=1.96):
    # BEGIN SOLUTION
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_contains_the_estimate(wilson_interval):
    low, high = wilson_interval(30, 100)
    assert low < 0.3 < high, f"the interval ({low:.3f}, {high:.3f}) should contain k/n = 0.3"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_equals_the_closed_form(wilson_interval):
    from scale_lib.core.stats import wilson

    for k, n in [(0, 10), (1, 10), (5, 10), (10, 10), (7, 250), (240, 250), (0, 1000)]:
        got, want = wilson_interval(k, n), wilson(k, n)
        assert all(abs(a - b) < 1e-9 for a, b in zip(got, want)), f"k={k}, n={n}: expected {want}, got {got}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_positive_width_at_zero(wilson_interval):
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and high > 0.05, f"at k = 0 Wilson's upper end is above 0 (Wald's is 0); got ({low}, {high})"

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
