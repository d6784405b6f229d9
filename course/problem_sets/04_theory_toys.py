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
# name: q1_preconditioner
# points: 2

# %% [markdown]
# **Exercise 1 — the preconditioner of a folded scale** (★★☆ · 20 min). A column of a weight matrix is
# θ = γ·w (a scalar γ, a vector w ∈ ℝᵈ). Under gradient flow on (γ, w), γ̇ = −∂L/∂γ and ẇ = −∂L/∂w, and
# θ moves as θ̇ = −P ∇θL for a d × d matrix P. Derive P and write `preconditioner(gamma, w)` returning
# it (a `float64` tensor for a `float64` w).
#
# <details><summary>Hint</summary>θ̇ = γ̇ w + γ ẇ, with ∂L/∂γ = wᵀ∇θL and ∂L/∂w = γ∇θL.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def preconditioner(gamma, w):
    # BEGIN SOLUTION
    return gamma ** 2 * torch.eye(len(w), dtype=w.dtype) + torch.outer(w, w)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_shape_and_symmetry(preconditioner):
    import torch

    P = preconditioner(2.0, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    assert P.shape == (3, 3), f"P is d × d: expected (3, 3), got {tuple(P.shape)}"
    assert torch.allclose(P, P.T), "P is symmetric"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_matches_autograd(preconditioner):
    import torch

    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        gamma = float(torch.randn(1, generator=g)) * 2
        w = torch.randn(4, generator=g, dtype=torch.float64)
        grad = torch.randn(4, generator=g, dtype=torch.float64)
        gam = torch.tensor(gamma, dtype=torch.float64, requires_grad=True)
        ww = w.clone().requires_grad_(True)
        (gam * ww @ grad).backward()  # L = θᵀ g, so ∇θL = g
        theta_dot = -(gam.grad * w + gamma * ww.grad)
        want = -preconditioner(gamma, w) @ grad
        assert torch.allclose(theta_dot, want, atol=1e-9), "−P ∇θL must equal the θ-velocity autograd gives (did you forget a term?)"

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
