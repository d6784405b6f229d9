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
# name: ps04
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# tests:
#   files: true
#   ok_format: false

# %% [markdown]
# # Problem set 04 · Theory toys: γ as a preconditioner
#
# Goes with chapter 04. 2 graded exercises. Under each task, `grader.check("…")` runs the
# public checks; the autograder also runs hidden ones, written to catch the plausible wrong answers.
# Work in order; each exercise takes the time marked.

# %%
import torch

# %% [raw]
# # BEGIN QUESTION
# name: q1_dp_velocity
# points: 3

# %% [markdown]
# **Exercise 1 — derive the dual-placement velocity** (★★★ · 30 min). Chapter 04 §2 derived how a
# folded scale preconditions θ = W diag(γ); §6 only states the result for *dual placement* (DP),
# θ = diag(u) W diag(v). Derive it yourself: under gradient flow on (u, W, v) — each factor moves by
# minus its own gradient — write `dp_velocity(u, W, v, G)` returning θ̇ (a matrix like W), where
# G = ∇θL. Do not call `scale_lib.norms.toys` (that is the key).
#
# <details><summary>Hint</summary>Product rule: θ̇ = diag(u̇) W diag(v) + diag(u) Ẇ diag(v) + diag(u) W diag(v̇).
# With θ_ij = u_i W_ij v_j: ∂L/∂W_ij = u_i v_j G_ij, ∂L/∂u_i = Σ_j G_ij W_ij v_j, ∂L/∂v_j = Σ_i G_ij u_i W_ij.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def dp_velocity(u, W, v, G):
    # BEGIN SOLUTION
    du = (G * W * v[None, :]).sum(1)
    dv = (G * u[:, None] * W).sum(0)
    dW = u[:, None] * v[None, :] * G
    return -(du[:, None] * W * v[None, :] + u[:, None] * dW * v[None, :] + u[:, None] * W * dv[None, :])
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_shape(dp_velocity):
    import torch

    u, W, v, G = torch.ones(3, dtype=torch.float64), torch.ones(3, 2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), torch.ones(3, 2, dtype=torch.float64)
    assert tuple(dp_velocity(u, W, v, G).shape) == (3, 2), "θ̇ has θ's shape"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_matches_autograd(dp_velocity):
    import torch

    from scale_lib.norms.toys import autograd_dual_placement_velocity

    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        u, W, v = torch.randn(4, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
        target = torch.randn(4, 3, generator=g, dtype=torch.float64)
        want, G = autograd_dual_placement_velocity(u, W, v, lambda t: 0.5 * ((t - target) ** 2).sum())
        got = dp_velocity(u, W, v, G)
        assert torch.allclose(got, want, atol=1e-9), "θ̇ differs from autograd's: all three factors move (u's and v's motion add a row and a column term)"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2_stable_lr
# points: 2

# %% [markdown]
# **Exercise 2 — the largest stable learning rate** (★★☆ · 15 min). For the scalar pair
# L(γ, w) = ½(γw − θ*)², gradient descent with step η is stable near a minimum (γw = θ*) only when η is
# below 2 / (the largest eigenvalue of the Hessian of L in (γ, w) there). Write `stable_lr(gamma, w)`
# for a minimum (γ, w), without autograd.
#
# <details><summary>Hint</summary>At a minimum the residual γw − θ* is 0, so only the outer product of the gradient of γw survives in the Hessian.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def stable_lr(gamma, w):
    # BEGIN SOLUTION
    return 2.0 / (gamma ** 2 + w ** 2)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_balanced_example(stable_lr):
    lr = stable_lr(1.0, 1.0)
    assert lr > 0, f"a learning rate is positive, got {lr}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_matches_the_hessian(stable_lr):
    import torch

    for gamma, w in [(1.0, 1.0), (2.0, 0.5), (0.3, 4.0), (2 ** 0.5, 2 ** 0.5)]:
        theta_star = gamma * w
        H = torch.autograd.functional.hessian(lambda p: 0.5 * (p[0] * p[1] - theta_star) ** 2, torch.tensor([gamma, w], dtype=torch.float64))
        want = 2.0 / float(torch.linalg.eigvalsh(H)[-1])
        got = stable_lr(gamma, w)
        assert abs(got - want) < 1e-9 * want, f"(γ, w) = ({gamma}, {w}): expected {want:.6g}, got {got:.6g}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION
