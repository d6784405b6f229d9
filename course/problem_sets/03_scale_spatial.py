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
# name: ps03
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# tests:
#   files: true
#   ok_format: false

# %% [markdown]
# # Problem set 03 · ScAle: the bounded, last-token coefficient
#
# Goes with chapter 03. 2 graded exercises. Under each task, `grader.check("…")` runs the
# public checks; the autograder also runs hidden ones, written to catch the plausible wrong answers.
# Work in order; each exercise takes the time marked.

# %%
import torch

# %% [raw]
# # BEGIN QUESTION
# name: q1_saturation
# points: 3

# %% [markdown]
# **Exercise 1 — where a bounded coefficient stops learning** (★★☆ · 20 min). ScAle's coefficient is
# c = lo + (hi − lo)·sigmoid(θ), and training moves θ. Write `dc_dtheta(c, lo, hi)`: the derivative
# dc/dθ written in terms of c itself (not θ). Then write `saturated(c, lo, hi, frac=0.1)`: a boolean
# tensor, True where that derivative is below `frac` times its largest possible value — the
# coefficients gradient descent can barely move any more.
#
# <details><summary>Hint</summary>sigmoid′ = sigmoid·(1 − sigmoid), and sigmoid(θ) = (c − lo)/(hi − lo). The largest value is at the middle of the bounds.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def dc_dtheta(c, lo, hi):
    # BEGIN SOLUTION
    return (c - lo) * (hi - c) / (hi - lo)
    # END SOLUTION


def saturated(c, lo, hi, frac=0.1):
    # BEGIN SOLUTION
    return dc_dtheta(c, lo, hi) < frac * (hi - lo) / 4
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_middle_is_the_maximum(dc_dtheta):
    import torch

    c = torch.tensor([0.5, 1.0, 1.5])
    d = dc_dtheta(c, 0.0, 2.0)
    assert d[1] > d[0] and d[1] > d[2], "the derivative is largest in the middle of the bounds"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_matches_autograd(dc_dtheta):
    import torch

    from scale_lib.scaling.adapter import bounded

    for lo, hi in [(0.0, 2.0), (0.5, 1.5), (0.2, 5.0)]:
        theta = torch.linspace(-6, 6, 25, dtype=torch.float64, requires_grad=True)
        c = bounded(theta, (lo, hi))
        c.sum().backward()
        got = dc_dtheta(c.detach(), lo, hi)
        assert torch.allclose(got, theta.grad, atol=1e-9), f"bounds ({lo}, {hi}): dc/dθ differs from autograd's (the (hi − lo) factor?)"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_saturated(saturated):
    import torch

    c = torch.tensor([0.01, 1.0, 1.99, 1.6])
    got = torch.as_tensor(saturated(c, 0.0, 2.0))
    assert got.tolist() == [True, False, True, False], f"near either bound the coefficient is saturated; got {got.tolist()}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2_last_real_token
# points: 2

# %% [markdown]
# **Exercise 2 — the last *real* token** (★★☆ · 15 min). ScAle multiplies a site's output at the last
# token only. In a right-padded batch the last token of row b is at position `lengths[b] − 1`, not at
# −1. Write `scale_last_real_token(h, coeff, lengths)`: `h` is `(batch, positions, features)`, `coeff`
# a `(features,)` vector, `lengths` a `(batch,)` tensor of real lengths. Return a **new** tensor equal
# to `h` except that each row's last real position is multiplied by `coeff`.
#
# <details><summary>Hint</summary>`torch.arange(batch)` and `lengths - 1` index one position per row; clone before writing.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def scale_last_real_token(h, coeff, lengths):
    # BEGIN SOLUTION
    out = h.clone()
    rows = torch.arange(h.shape[0])
    out[rows, lengths - 1] = h[rows, lengths - 1] * coeff
    return out
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_unpadded_batch(scale_last_real_token):
    import torch

    h = torch.ones(2, 3, 4)
    out = scale_last_real_token(h, torch.full((4,), 2.0), torch.tensor([3, 3]))
    assert torch.equal(out[:, -1], torch.full((2, 4), 2.0)) and torch.equal(out[:, :-1], h[:, :-1])

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_padded_rows_and_no_in_place(scale_last_real_token):
    import torch

    g = torch.Generator().manual_seed(3)
    h = torch.randn(3, 5, 4, generator=g)
    before = h.clone()
    coeff = torch.tensor([0.0, 0.5, 2.0, 3.0])
    lengths = torch.tensor([5, 2, 4])
    out = scale_last_real_token(h, coeff, lengths)
    assert torch.equal(h, before), "h was changed in place"
    want = h.clone()
    for b, n in enumerate(lengths.tolist()):
        want[b, n - 1] = h[b, n - 1] * coeff
    assert torch.allclose(out, want), "a padded row's last real token is at lengths[b] − 1; every other position stays"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION
