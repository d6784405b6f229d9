"""Every formula of the theory toys, checked against autograd or numerical simulation."""

import math

import pytest
import torch

from scale_lib.norms import toys

D = torch.float64


@pytest.fixture
def problem():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 5, generator=gen, dtype=D), torch.randn(20, 3, generator=gen, dtype=D)
    gamma = torch.rand(5, generator=gen, dtype=D) + 0.5
    weight = torch.randn(3, 5, generator=gen, dtype=D)
    return gamma, weight, lambda theta: 0.5 * ((x @ theta.T - y) ** 2).sum()


def test_gamma_folds_into_the_next_linear_map():
    gen = torch.Generator().manual_seed(1)
    x, gamma, weight = torch.randn(7, 6, generator=gen), torch.rand(6, generator=gen), torch.randn(4, 6, generator=gen)
    n = toys.rms_normalize(x)
    torch.testing.assert_close((gamma * n) @ weight.T, n @ toys.fold_into_weight(gamma, weight).T)
    with pytest.raises(ValueError, match=r"gamma has shape \(5,\) but weight expects \(6,\)"):
        toys.fold_into_weight(torch.ones(5), weight)


def test_preconditioner_matches_autograd(problem):
    gamma, weight, loss = problem
    velocity, grad_theta = toys.autograd_velocity(gamma, weight, loss)
    formula = toys.theta_velocity(gamma, weight, grad_theta)
    assert ((velocity - formula).abs().max() / formula.abs().max()) < 1e-12
    j = 2
    torch.testing.assert_close(toys.preconditioner(gamma[j], weight[:, j]) @ -grad_theta[:, j], velocity[:, j])


def test_balancedness_is_conserved_by_gradient_flow(problem):
    gamma, weight, loss = problem

    def flow(y):
        g, w = y[:5].clone().requires_grad_(True), y[5:].view(3, 5).clone().requires_grad_(True)
        dg, dw = torch.autograd.grad(loss(toys.fold_into_weight(g, w)), (g, w))
        return -torch.cat([dg, dw.flatten()])

    def drift(steps):
        path = toys.rk4(flow, torch.cat([gamma, weight.flatten()]), 0.5, steps)
        bal = torch.stack([toys.balancedness(p[:5], p[5:].view(3, 5)) for p in path])
        return (bal - bal[0]).abs().max().item(), path

    coarse, _ = drift(250)
    fine, path = drift(500)
    # what drift there is, is RK4's own error: it shrinks ~16x when the step halves (4th order)
    assert fine < 1e-5 and coarse / fine > 10
    assert loss(toys.fold_into_weight(path[-1][:5], path[-1][5:].view(3, 5))) < 0.5 * loss(toys.fold_into_weight(gamma, weight))


@pytest.mark.parametrize("gamma0, w0, theta_star", [(1.0, 0.1, 4.0), (1.0, 2.0, 0.5), (1.0, 1.0, 3.0), (0.3, 1.5, -2.0), (2.0, 0.5, 0.0)])
def test_scalar_closed_form_matches_simulation(gamma0, w0, theta_star):
    flow = toys.scalar_flow(gamma0, w0, theta_star, t_end=5.0, steps=4000)
    closed = toys.scalar_closed_form(flow["t"], gamma0 * w0, gamma0**2 - w0**2, theta_star)
    assert (closed - flow["theta"]).abs().max() < 1e-9
    # and the ODE itself: dθ/dt = −√(c² + 4θ²)(θ − θ*)
    c = gamma0**2 - w0**2
    rate = toys.scalar_rate(flow["theta"], c)
    torch.testing.assert_close(rate, flow["gamma"] ** 2 + flow["w"] ** 2)


@pytest.mark.parametrize("theta_star", [3.0, 0.0, -1.0])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_scalar_closed_form_balanced_start(theta_star, sign):
    flow = toys.scalar_flow(1.0, sign, theta_star, t_end=4.0, steps=4000)  # γ₀ = |w₀|: c = 0
    closed = toys.scalar_closed_form(flow["t"], sign, 0.0, theta_star)
    assert (closed - flow["theta"]).abs().max() < 1e-9
    assert torch.equal(toys.scalar_closed_form(torch.ones(3), 0.0, 0.0, 2.0), torch.zeros(3))


def test_gamma_never_slower_when_the_weight_must_grow_but_slower_when_it_must_shrink_to_zero():
    for w0, target in [(0.1, 4.0), (0.5, 2.0), (2.0, 0.5)]:
        flow = toys.scalar_flow(1.0, w0, target, 5.0, 2000)
        baseline = target + (w0 - target) * torch.exp(-flow["t"])  # γ fixed at 1: dθ/dt = −(θ − θ*)
        assert ((flow["theta"] - target).abs() <= (baseline - target).abs() + 1e-12).all()
    flow = toys.scalar_flow(1.0, 1.0, 0.0, 5.0, 2000)  # balanced, target 0: rate 2|θ| -> 0
    baseline = torch.exp(-flow["t"])
    assert flow["theta"][-1] > 10 * baseline[-1]


def test_prenorm_regression_vectorised_over_learning_rates_matches_single_runs():
    data = toys.make_prenorm_regression(n=64, branches=3, seed=2)
    for opt in ("gd", "adam"):
        single = toys.train_prenorm_regression(data, gamma="branch", optimizer=opt, lr=0.05, steps=40)
        many = toys.train_prenorm_regression(data, gamma="branch", optimizer=opt, lr=torch.tensor([0.01, 0.05]), steps=40)
        # independent runs: equal up to float64 reduction-order noise (amplified by Adam's 1/√v̂ early on)
        torch.testing.assert_close(single, many[:, 1], rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="unknown gamma mode 'hg'"):
        toys.train_prenorm_regression(data, gamma="hg")


def test_manual_adam_equals_torch_adam():
    data = toys.make_prenorm_regression(n=32, d_in=4, d_out=2, branches=1, seed=3)
    ours = toys.train_prenorm_regression(data, gamma="none", optimizer="adam", lr=0.01, steps=20)
    gen = torch.Generator().manual_seed(0)
    w = (torch.randn(1, 2, 4, generator=gen, dtype=D) * 0.1).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=0.01)
    ref = []
    for _ in range(20):
        loss = 0.5 * (torch.einsum("bod,nd->bno", w, data.inputs) - data.targets).pow(2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ref.append(loss.item())
    torch.testing.assert_close(ours, torch.tensor(ref, dtype=D))


def test_gamma_speeds_up_gradient_descent_on_ill_conditioned_prenorm_regression():
    data = toys.make_prenorm_regression(branches=1, condition=30)
    lrs = [0.05, 0.1, 0.2, 0.3, 0.5]
    _, without, _ = toys.best_learning_rate(data, lrs, gamma="none", steps=1200)
    _, with_gamma, _ = toys.best_learning_rate(data, lrs, gamma="shared", steps=1200)
    assert with_gamma * 3 < without


def test_sharpness_formula_and_stable_learning_rate():
    for g, w in [(0.632, 0.632), (2.1, 0.23), (1.0, 0.1)]:
        h = toys.hessian(lambda p: 0.5 * (p[0] * p[1] - g * w) ** 2, torch.tensor([g, w]))
        assert abs(torch.linalg.eigvalsh(h)[-1].item() - toys.scalar_sharpness(g, w).item()) < 1e-6
        assert abs(toys.empirical_stable_lr(g, w) - 2 / (g * g + w * w)) < 1e-6


def test_decaying_gamma_balances_and_lowers_sharpness():
    w_only = toys.train_scalar_product(1.0, 0.2, 0.5, lr=0.05, steps=3000, wd=0.1, decay="w")
    both = toys.train_scalar_product(1.0, 0.2, 0.5, lr=0.05, steps=3000, wd=0.1, decay="both")
    assert abs(both["gamma"][-1] - both["w"][-1]) < 1e-6  # balanced
    # at balance: r = −λ, so θ = θ* − λ
    assert abs(both["theta"][-1] - (0.5 - 0.1)) < 1e-6
    assert toys.scalar_sharpness(w_only["gamma"][-1], w_only["w"][-1]) > 3 * toys.scalar_sharpness(both["gamma"][-1], both["w"][-1])
    with pytest.raises(ValueError, match="unknown decay target"):
        toys.train_scalar_product(1, 1, 1, decay="all")


def test_output_gamma_optimum_matches_gradient_descent():
    g = 1.0
    for _ in range(3000):
        g -= 0.05 * ((g - 2.0) + 0.1 * g)
    assert abs(g - toys.output_gamma_optimum(2.0, 0.1)) < 1e-9


def test_qk_norm_decay_caps_the_logit_scale():
    free, decayed = toys.qk_norm_toy(0.0, steps=400), toys.qk_norm_toy(0.3, steps=400)
    assert decayed["logit_scale"] < free["logit_scale"] and decayed["p_correct"] < free["p_correct"]


def test_dual_placement_velocity_matches_autograd(problem):
    _, weight, loss = problem
    gen = torch.Generator().manual_seed(4)
    u, v = torch.rand(3, generator=gen, dtype=D) + 0.5, torch.rand(5, generator=gen, dtype=D) + 0.5
    velocity, grad_theta = toys.autograd_dual_placement_velocity(u, weight, v, loss)
    torch.testing.assert_close(velocity, toys.dual_placement_velocity(u, weight, v, grad_theta))
    # the autograd helper itself: a finite-difference step along the flow moves θ by ≈ velocity·dt
    dt = 1e-7
    uu, ww, vv = (t.clone().requires_grad_(True) for t in (u, weight, v))
    grads = torch.autograd.grad(loss(uu[:, None] * ww * vv[None, :]), (uu, ww, vv))
    u2, w2, v2 = (p - dt * g for p, g in zip((u, weight, v), grads))
    moved = (u2[:, None] * w2 * v2[None, :] - u[:, None] * weight * v[None, :]) / dt
    torch.testing.assert_close(moved, velocity, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("exponential", [False, True])
def test_magnitude_direction_preconditioner_matches_jacobian(exponential):
    a = torch.rand(6, dtype=D) + 0.5
    beta = 0.4 if exponential else 1.3
    torch.testing.assert_close(toys.autograd_magnitude_direction_jjt(beta, a, exponential=exponential), toys.magnitude_direction_preconditioner(beta, a, exponential=exponential))


def test_magnitude_gets_a_d_fold_rate_at_initialisation():
    for d in (4, 16, 64):
        eig = torch.linalg.eigvalsh(toys.magnitude_direction_preconditioner(1.0, torch.ones(d, dtype=D)))
        assert math.isclose(eig[-1].item(), d, rel_tol=1e-12) and torch.allclose(eig[:-1], torch.ones(d - 1, dtype=D))
        assert torch.allclose(toys.magnitude_direction_gamma(torch.tensor(1.0, dtype=D), torch.ones(d, dtype=D)), torch.ones(d, dtype=D))
