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
import math

import torch
from torch import nn

# %% [raw]
# # BEGIN QUESTION
# name: q1_bounded_scale
# points: 3

# %% [markdown]
# **Exercise 1 — the bounded coefficient** (★★☆ · 20 min). Write `BoundedScale(n, lo, hi)`, an
# `nn.Module` with one parameter `theta` of shape `(n,)` whose `forward()` returns the `n` coefficients
# lo + (hi − lo)·sigmoid(θ). They must start at exactly 1 (a ScAle adapter starts as the frozen model)
# and never leave (lo, hi). Raise `ValueError` unless lo < 1 < hi.
#
# <details><summary>Hint</summary>Solve lo + (hi − lo)·sigmoid(θ₀) = 1 for θ₀; sigmoid⁻¹(s) = log(s / (1 − s)).</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
class BoundedScale(nn.Module):
    # BEGIN SOLUTION
    def __init__(self, n, lo, hi):
        super().__init__()
        if not lo < 1 < hi:
            raise ValueError(f"the bounds must satisfy lo < 1 < hi; got lo={lo}, hi={hi}")
        self.lo, self.hi = lo, hi
        self.theta = nn.Parameter(torch.full((n,), math.log((1 - lo) / (hi - 1))))

    def forward(self):
        return self.lo + (self.hi - self.lo) * torch.sigmoid(self.theta)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_starts_at_one(BoundedScale):
    import torch

    c = BoundedScale(5, 0.0, 3.0)()
    assert c.shape == (5,), f"expected 5 coefficients, got shape {tuple(c.shape)}"
    assert torch.allclose(c, torch.ones(5), atol=1e-6), f"the coefficients must start at 1, got {c.tolist()}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_asymmetric_bounds_and_limits(BoundedScale):
    import torch

    from scale_lib.scaling.adapter import bounded, identity_theta

    m = BoundedScale(4, 0.5, 1.5)
    assert torch.allclose(m(), torch.ones(4), atol=1e-6), "with bounds (0.5, 1.5) the start must still be 1"
    m = BoundedScale(3, 0.2, 5.0)
    assert torch.allclose(m.theta.detach(), torch.full((3,), identity_theta((0.2, 5.0))), atol=1e-6), "θ must start where the coefficient is 1"
    with torch.no_grad():
        m.theta.copy_(torch.tensor([-50.0, 0.0, 50.0]))
    c = m()
    assert torch.allclose(c, bounded(m.theta.detach(), (0.2, 5.0))), "forward must return lo + (hi − lo)·sigmoid(θ)"
    assert c.min() >= 0.2 and c.max() <= 5.0, "the coefficients must stay within the bounds"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_gradient_and_bad_bounds(BoundedScale):
    m = BoundedScale(2, 0.0, 2.0)
    m().sum().backward()
    assert m.theta.grad is not None and m.theta.grad.abs().min() > 0, "the loss must reach theta"
    for lo, hi in [(1.0, 2.0), (0.0, 1.0), (2.0, 3.0)]:
        try:
            BoundedScale(2, lo, hi)
        except ValueError:
            continue
        raise AssertionError(f"BoundedScale(2, {lo}, {hi}) must raise ValueError: 1 is not strictly inside")

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
