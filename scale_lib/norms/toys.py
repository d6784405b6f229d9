"""Theory-style toy models of norm scale vectors γ, each checked against autograd or simulation.

The paper's proofs are not public; every formula here is our derivation, and every one has a test.

* **Expressivity** — :func:`fold_into_weight`: in Pre-Norm, ``W (γ ⊙ n) = (W diag γ) n``.
* **Preconditioning** — :func:`theta_velocity`: with effective columns ``θ_j = γ_j w_j``,
  gradient flow on ``(γ, W)`` moves θ as ``dθ_j/dt = −(γ_j² I + w_j w_jᵀ) ∇_{θ_j} L``;
  :func:`balancedness` ``γ_j² − ‖w_j‖²`` is conserved.
* **Scalar closed form** — :func:`scalar_closed_form` solves ``dθ/dt = −√(c² + 4θ²)(θ − θ*)``.
* **Pre-Norm regression** — :func:`make_prenorm_regression`, :func:`train_prenorm_regression`:
  GD/Adam with no γ, a shared γ, or branch-specific γ (HG).
* **Weight decay** — :func:`scalar_sharpness`, :func:`train_scalar_product`,
  :func:`output_gamma_optimum`, :func:`qk_norm_toy`.
* **Dual placement and magnitude–direction** — :func:`dual_placement_velocity`,
  :func:`magnitude_direction_gamma`, :func:`magnitude_direction_preconditioner`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = [
    "rms_normalize", "fold_into_weight", "preconditioner", "theta_velocity", "autograd_velocity", "balancedness",
    "rk4", "scalar_rate", "scalar_closed_form", "scalar_flow",
    "PreNormRegression", "make_prenorm_regression", "train_prenorm_regression", "best_learning_rate", "steps_to_reach",
    "scalar_sharpness", "hessian", "train_scalar_product", "empirical_stable_lr", "output_gamma_optimum", "qk_norm_toy",
    "dual_placement_velocity", "autograd_dual_placement_velocity", "magnitude_direction_gamma",
    "magnitude_direction_preconditioner", "autograd_magnitude_direction_jjt",
]

DTYPE = torch.float64


# ---------------------------------------------------------------------------------------------
# Expressivity
def rms_normalize(x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """RMSNorm without its scale: ``x / RMS(x)`` along the last dimension."""
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def fold_into_weight(gamma: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``W diag(γ)``: the linear map that absorbs γ (``weight`` is ``(out, in)``, as in ``nn.Linear``)."""
    if gamma.shape != weight.shape[-1:]:
        raise ValueError(f"gamma has shape {tuple(gamma.shape)} but weight expects ({weight.shape[-1]},)")
    return weight * gamma


# ---------------------------------------------------------------------------------------------
# Preconditioning: θ_j = γ_j w_j (w_j is column j of W)
def preconditioner(gamma_j: float | torch.Tensor, w_j: torch.Tensor) -> torch.Tensor:
    """``γ_j² I + w_j w_jᵀ``: how gradient flow on (γ, W) moves the effective column θ_j."""
    w_j = torch.as_tensor(w_j, dtype=DTYPE)
    return torch.as_tensor(gamma_j, dtype=DTYPE) ** 2 * torch.eye(len(w_j), dtype=DTYPE) + torch.outer(w_j, w_j)


def theta_velocity(gamma: torch.Tensor, weight: torch.Tensor, grad_theta: torch.Tensor) -> torch.Tensor:
    """dθ/dt from the formula: column j is ``−(γ_j² I + w_j w_jᵀ) g_j`` (all ``(out, in)`` except γ ``(in,)``)."""
    wg = (weight * grad_theta).sum(0, keepdim=True)  # w_jᵀ g_j per column
    return -(gamma**2 * grad_theta + weight * wg)


def autograd_velocity(gamma: torch.Tensor, weight: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(dθ/dt from autograd's gradients of (γ, W), ∇_θ L) for ``θ = W diag γ`` and ``loss_fn(θ)``.

    Gradient flow moves ``γ̇ = −∂L/∂γ`` and ``Ẇ = −∂L/∂W``; then ``θ̇ = Ẇ diag γ + W diag γ̇``.
    """
    g = gamma.detach().clone().requires_grad_(True)
    w = weight.detach().clone().requires_grad_(True)
    loss = loss_fn(fold_into_weight(g, w))
    dg, dw = torch.autograd.grad(loss, (g, w))
    theta = fold_into_weight(gamma, weight).detach().clone().requires_grad_(True)
    (g_theta,) = torch.autograd.grad(loss_fn(theta), theta)
    return fold_into_weight(gamma, -dw) + weight * (-dg), g_theta


def balancedness(gamma: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``γ_j² − ‖w_j‖²`` per column — conserved by gradient flow."""
    return gamma**2 - weight.pow(2).sum(0)


def rk4(f: Callable[[torch.Tensor], torch.Tensor], y0: torch.Tensor, t_end: float, steps: int) -> torch.Tensor:
    """Integrate ``dy/dt = f(y)`` with classical Runge–Kutta; returns ``(steps + 1, *y.shape)``."""
    h = t_end / steps
    ys = [y0]
    y = y0
    for _ in range(steps):
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ys.append(y)
    return torch.stack(ys)


# ---------------------------------------------------------------------------------------------
# The scalar model θ = γ w, L = ½(θ − θ*)²
def scalar_rate(theta, c):
    """``γ² + w² = √(c² + 4θ²)``: the scalar model's effective learning rate."""
    return torch.sqrt(torch.as_tensor(c, dtype=DTYPE) ** 2 + 4 * torch.as_tensor(theta, dtype=DTYPE) ** 2)


def scalar_flow(gamma0: float, w0: float, theta_star: float, t_end: float, steps: int = 2000) -> dict[str, torch.Tensor]:
    """Gradient flow of (γ, w) on ``½(γw − θ*)²`` by RK4: times, γ, w, θ = γw."""

    def f(y):
        g, w = y
        r = g * w - theta_star
        return torch.stack([-r * w, -r * g])

    ys = rk4(f, torch.tensor([gamma0, w0], dtype=DTYPE), t_end, steps)
    return {"t": torch.linspace(0, t_end, steps + 1, dtype=DTYPE), "gamma": ys[:, 0], "w": ys[:, 1], "theta": ys[:, 0] * ys[:, 1]}


def scalar_closed_form(t, theta0: float, c: float, theta_star: float) -> torch.Tensor:
    """Exact solution of ``dθ/dt = −√(c² + 4θ²)(θ − θ*)`` (our derivation).

    With ``θ = (|c|/2) sinh u`` the flow becomes ``du/dt = 2θ* − |c| sinh u``; with ``z = eᵘ`` it
    integrates to ``R(t) = R₀ e^{−r t}``, ``R = (z − z₊)/(z − z₋)``, ``z± = (2θ* ± r)/|c|`` and the
    rate ``r = √(4θ*² + c²)``. For ``c = 0`` (balanced start) the flow is ``θ̇ = 2|θ|(θ* − θ)``, whose
    solution is the logistic curve ``θ = θ* / (1 + (θ*/θ₀ − 1) e^{−2θ* t})`` (θ never changes sign;
    with θ* = 0 it decays only like ``θ₀ / (1 + 2|θ₀| t)``; θ₀ = 0 stays put).
    """
    t = torch.as_tensor(t, dtype=DTYPE)
    C = abs(c)
    if C < 1e-12:
        if theta0 == 0:
            return torch.zeros_like(t)
        s, a0, a = math.copysign(1.0, theta0), abs(theta0), math.copysign(1.0, theta0) * theta_star
        if a == 0:
            return s * a0 / (1 + 2 * a0 * t)
        return s * a / (1 + (a / a0 - 1) * torch.exp(-2 * a * t))
    a = 2 * theta_star
    r = math.sqrt(a * a + C * C)
    zp, zm = (a + r) / C, (a - r) / C
    z0 = math.exp(math.asinh(2 * theta0 / C))
    R = (z0 - zp) / (z0 - zm) * torch.exp(-r * t)
    z = (zp - R * zm) / (1 - R)
    return C / 4 * (z - 1 / z)


# ---------------------------------------------------------------------------------------------
# Linear regression through a Pre-Norm linear layer
@dataclass
class PreNormRegression:
    """Inputs ``n = x/RMS(x)`` with anisotropic feature scales; one target map per branch."""

    inputs: torch.Tensor  # (n, d_in), already normalised
    targets: torch.Tensor  # (branches, n, d_out)
    feature_scales: torch.Tensor  # (d_in,)


def make_prenorm_regression(n: int = 256, d_in: int = 16, d_out: int = 8, *, condition: float = 30.0, branches: int = 1, seed: int = 0) -> PreNormRegression:
    """Ill-conditioned Pre-Norm regression: feature j has scale ``s_j`` (log-spaced from 1 to 1/condition).

    Each branch's target map multiplies column j by ``s_j^{-α_b}`` (α spread over [0, 1] across
    branches), so every feature matters for the output but small-scale features need large weights
    — slow directions for plain gradient descent. Different branches want different column scales.
    """
    if condition < 1 or branches < 1:
        raise ValueError(f"need condition >= 1 and branches >= 1, got {condition}, {branches}")
    gen = torch.Generator().manual_seed(seed)
    scales = torch.logspace(0, -math.log10(condition), d_in, dtype=DTYPE)
    x = rms_normalize(torch.randn(n, d_in, generator=gen, dtype=DTYPE) * scales)
    alphas = torch.linspace(0.5, 1.0, branches, dtype=DTYPE) if branches > 1 else torch.ones(1, dtype=DTYPE)
    targets = []
    for alpha in alphas:
        w_star = torch.randn(d_out, d_in, generator=gen, dtype=DTYPE) / math.sqrt(d_in) * scales ** (-alpha)
        targets.append(x @ w_star.T)
    return PreNormRegression(x, torch.stack(targets), scales)


def train_prenorm_regression(
    data: PreNormRegression,
    *,
    gamma: str = "shared",
    optimizer: str = "gd",
    lr: float | torch.Tensor = 0.1,
    steps: int = 500,
    init_scale: float = 0.1,
    seed: int = 0,
) -> torch.Tensor:
    """Train ``ŷ_b = W_b (γ_b ⊙ n)`` by full-batch GD or Adam; returns the loss after each step.

    ``gamma``: ``"none"`` (γ fixed at 1), ``"shared"`` (one γ for every branch — the standard
    norm), ``"branch"`` (one γ per branch — HG, the paper's branch-specific heterogeneity).
    ``lr`` may be a 1-D tensor: one independent run per learning rate, all trained at once
    (same initialisation), and the result is ``(steps, len(lr))``. The updates are written out:

    * GD: ``p ← p − η ∇p``;
    * Adam (β = 0.9, 0.999, ε = 1e-8): ``m ← β₁m + (1−β₁)∇p``, ``v ← β₂v + (1−β₂)∇p²``,
      ``p ← p − η m̂ / (√v̂ + ε)`` with bias-corrected ``m̂, v̂``.

    Diverging runs give ``inf``/``nan`` losses and do not affect the others.
    """
    if gamma not in ("none", "shared", "branch"):
        raise ValueError(f"unknown gamma mode {gamma!r}; valid: 'none', 'shared', 'branch'")
    if optimizer not in ("gd", "adam"):
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: 'gd', 'adam'")
    lrs = torch.as_tensor(lr, dtype=DTYPE).reshape(-1)
    if (lrs <= 0).any():
        raise ValueError(f"learning rates must be > 0, got {lrs.tolist()}")
    n_lr = len(lrs)
    n_b, _, d_out = data.targets.shape
    d_in = data.inputs.shape[1]
    gen = torch.Generator().manual_seed(seed)
    w0 = torch.randn(n_b, d_out, d_in, generator=gen, dtype=DTYPE) * init_scale
    w = w0.expand(n_lr, -1, -1, -1).clone().requires_grad_(True)
    g = torch.ones(n_lr, n_b if gamma == "branch" else 1, 1, d_in, dtype=DTYPE, requires_grad=gamma != "none")
    params = [w] + ([g] if gamma != "none" else [])
    eta = lrs.view(-1, 1, 1, 1)
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    losses = torch.empty(steps, n_lr, dtype=DTYPE)
    for step in range(steps):
        pred = torch.einsum("lbod,nd->lbno", w * g, data.inputs)
        per_run = 0.5 * (pred - data.targets).pow(2).sum(-1).mean((1, 2))
        grads = torch.autograd.grad(per_run.sum(), params)
        with torch.no_grad():
            for p, grad, (m, v) in zip(params, grads, moments):
                if optimizer == "gd":
                    p -= eta * grad
                else:
                    m.mul_(0.9).add_(0.1 * grad)
                    v.mul_(0.999).add_(0.001 * grad**2)
                    m_hat, v_hat = m / (1 - 0.9 ** (step + 1)), v / (1 - 0.999 ** (step + 1))
                    p -= eta * m_hat / (v_hat.sqrt() + 1e-8)
        losses[step] = per_run.detach()
    return losses if torch.as_tensor(lr).dim() else losses[:, 0]


def best_learning_rate(data: PreNormRegression, lrs, *, fraction: float = 1e-3, **kw) -> tuple[float, int, torch.Tensor]:
    """(best lr, its steps to reach ``fraction`` of the first loss, steps for every lr) over a grid."""
    losses = train_prenorm_regression(data, lr=torch.as_tensor(lrs, dtype=DTYPE), **kw)
    steps = torch.tensor([steps_to_reach(losses[:, i], fraction) for i in range(losses.shape[1])])
    best = int(steps.argmin())
    return float(lrs[best]), int(steps[best]), steps


def steps_to_reach(losses: torch.Tensor, fraction: float = 0.01) -> int:
    """First step from which the loss *stays* below ``fraction`` × the first loss (``len(losses)`` if never).

    "Stays" matters: a learning rate at the edge of stability touches the threshold early and then
    oscillates around it; counting the first touch would reward it. nan/inf count as above.
    """
    below = (losses <= fraction * losses[0]).flip(0).to(torch.int64).cumprod(0).flip(0)  # 1 where all later are below
    hit = below.nonzero()
    return int(hit[0]) if len(hit) else len(losses)


# ---------------------------------------------------------------------------------------------
# Weight decay: sharpness, input-type vs output-type γ, QK-norm
def scalar_sharpness(gamma, w):
    """Top Hessian eigenvalue of ``½(γw − θ*)²`` on the solution set ``γw = θ*``: ``γ² + w²``."""
    return torch.as_tensor(gamma, dtype=DTYPE) ** 2 + torch.as_tensor(w, dtype=DTYPE) ** 2


def hessian(loss_fn: Callable[[torch.Tensor], torch.Tensor], params: torch.Tensor) -> torch.Tensor:
    """Full Hessian of ``loss_fn`` at a flat parameter vector (autograd; for small toys)."""
    return torch.autograd.functional.hessian(loss_fn, params.detach().to(DTYPE))


def train_scalar_product(gamma0: float, w0: float, theta_star: float, *, lr: float = 0.05, steps: int = 2000, wd: float = 0.0, decay: str = "gamma") -> dict[str, torch.Tensor]:
    """GD with decoupled weight decay on ``½(γw − θ*)²``; returns trajectories of γ, w, θ, loss.

    ``decay``: which parameters decay — ``"gamma"`` (the norm's γ only), ``"both"`` or ``"w"``.
    """
    if decay not in ("gamma", "both", "w"):
        raise ValueError(f"unknown decay target {decay!r}; valid: 'gamma', 'both', 'w'")
    g, w = float(gamma0), float(w0)
    gs, ws = [g], [w]
    for _ in range(steps):
        r = g * w - theta_star
        dg, dw = r * w, r * g
        g, w = g - lr * dg - lr * wd * g * (decay in ("gamma", "both")), w - lr * dw - lr * wd * w * (decay in ("w", "both"))
        if not (math.isfinite(g) and math.isfinite(w)) or abs(g * w) > 1e12:
            g = w = float("nan")
        gs.append(g)
        ws.append(w)
    gs_t, ws_t = torch.tensor(gs, dtype=DTYPE), torch.tensor(ws, dtype=DTYPE)
    return {"gamma": gs_t, "w": ws_t, "theta": gs_t * ws_t, "loss": 0.5 * (gs_t * ws_t - theta_star) ** 2}


def empirical_stable_lr(gamma: float, w: float, *, steps: int = 10, iters: int = 40) -> float:
    """Largest learning rate at which GD on ``½(γw − θ*)²`` (θ* = γw) damps a tiny kick off the minimum.

    Found by bisection on whether a 1e-7 perturbation along the Hessian's top eigenvector has
    shrunk after ``steps`` GD steps — a measurement to hold against the prediction ``2 / (γ² + w²)``.
    Only the first steps count: above the limit GD does not blow up in this model but *catapults*
    to a flatter minimum elsewhere on ``γw = θ*``, which is itself a sign of instability.
    """
    theta_star = gamma * w
    top = torch.linalg.eigh(hessian(lambda p: 0.5 * (p[0] * p[1] - theta_star) ** 2, torch.tensor([gamma, w])))[1][:, -1]

    def stable(lr):
        g, v = gamma + 1e-7 * float(top[0]), w + 1e-7 * float(top[1])
        r0 = abs(g * v - theta_star)
        for _ in range(steps):
            r = g * v - theta_star
            g, v = g - lr * r * v, v - lr * r * g
        return abs(g * v - theta_star) < r0

    lo, hi = 0.0, 10.0 / (gamma**2 + w**2)
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return lo


def output_gamma_optimum(target: float, wd: float) -> float:
    """Minimiser of ``½(γ − s)² + (λ/2)γ²``: an Output-Norm γ under decay shrinks to ``s / (1 + λ)``."""
    if wd < 0:
        raise ValueError(f"weight decay must be >= 0, got {wd}")
    return target / (1 + wd)


def qk_norm_toy(wd: float, *, keys: int = 8, dim: int = 16, lr: float = 0.2, steps: int = 1500, seed: int = 0) -> dict[str, float]:
    """Attention with QK-norm: logits ``γ_q γ_k cos(q, k_i) · √d``; learn to attend to one key.

    Normalised q and k bound every logit by ``γ_q γ_k √d``: only the two scales can sharpen the
    attention. Returns the learned logit scale ``γ_q γ_k`` and the final attention probability on
    the right key, for weight decay ``wd`` (decoupled, on both γ) — decay caps the logit scale.
    """
    gen = torch.Generator().manual_seed(seed)
    k = rms_normalize(torch.randn(keys, dim, generator=gen, dtype=DTYPE))
    q = rms_normalize(k[0] + 0.8 * torch.randn(dim, generator=gen, dtype=DTYPE))
    cos = (k @ q) / dim  # cos(q, k_i) for RMS-normalised vectors (norm √d each)
    gq = torch.ones((), dtype=DTYPE, requires_grad=True)
    gk = torch.ones((), dtype=DTYPE, requires_grad=True)
    opt = torch.optim.SGD([gq, gk], lr=lr)
    for _ in range(steps):
        logits = gq * gk * cos * math.sqrt(dim)
        loss = -torch.log_softmax(logits, -1)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            gq.mul_(1 - lr * wd)
            gk.mul_(1 - lr * wd)
    logits = (gq * gk * cos * math.sqrt(dim)).detach()
    return {"logit_scale": float((gq * gk).detach()), "p_correct": float(torch.softmax(logits, -1)[0]), "loss": float(-torch.log_softmax(logits, -1)[0])}


# ---------------------------------------------------------------------------------------------
# Dual placement diag(u) W diag(v), and magnitude–direction γ
def dual_placement_velocity(u: torch.Tensor, weight: torch.Tensor, v: torch.Tensor, grad_theta: torch.Tensor) -> torch.Tensor:
    """dθ/dt for ``θ = diag(u) W diag(v)`` under gradient flow on (u, W, v) (our derivation):

    ``θ̇ = −[(u² v²ᵀ) ⊙ G + diag(ρ) θ + θ diag(κ)]`` with row terms ``ρ_i = ⟨G_i, θ_i⟩ / u_i²`` and
    column terms ``κ_j = ⟨G_:j, θ_:j⟩ / v_j²`` — an elementwise rate plus row and column
    preconditioning along θ itself.
    """
    theta = u[:, None] * weight * v[None, :]
    rho = (grad_theta * theta).sum(1) / u**2
    kappa = (grad_theta * theta).sum(0) / v**2
    return -((u[:, None] ** 2) * (v[None, :] ** 2) * grad_theta + rho[:, None] * theta + theta * kappa[None, :])


def autograd_dual_placement_velocity(u: torch.Tensor, weight: torch.Tensor, v: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(dθ/dt from autograd's gradients of (u, W, v), ∇_θ L) for ``θ = diag(u) W diag(v)``.

    Gradient flow moves every factor by minus its gradient; θ̇ follows by the product rule.
    """
    uu, ww, vv = (t.detach().clone().requires_grad_(True) for t in (u, weight, v))
    du, dw, dv = torch.autograd.grad(loss_fn(uu[:, None] * ww * vv[None, :]), (uu, ww, vv))
    velocity = -du[:, None] * weight * v + u[:, None] * -dw * v + u[:, None] * weight * -dv
    theta = (u[:, None] * weight * v).detach().clone().requires_grad_(True)
    (grad_theta,) = torch.autograd.grad(loss_fn(theta), theta)
    return velocity, grad_theta


def autograd_magnitude_direction_jjt(beta: float, a: torch.Tensor, *, exponential: bool = False) -> torch.Tensor:
    """``J Jᵀ`` of γ(β, a) from autograd's Jacobian — to hold against :func:`magnitude_direction_preconditioner`."""
    params = torch.cat([torch.tensor([beta], dtype=DTYPE), a.to(DTYPE)])
    jac = torch.autograd.functional.jacobian(lambda p: magnitude_direction_gamma(p[0], p[1:], exponential=exponential), params)
    return jac @ jac.T


def magnitude_direction_gamma(beta: torch.Tensor, a: torch.Tensor, *, exponential: bool = False) -> torch.Tensor:
    """OR: ``γ = β √d a/‖a‖`` (ER: ``γ = e^β √d a/‖a‖``). β = 1 (ER: 0) and a = 1 give γ = 1."""
    mag = torch.exp(beta) if exponential else beta
    return mag * math.sqrt(a.numel()) * a / a.norm()


def magnitude_direction_preconditioner(beta: float, a: torch.Tensor, *, exponential: bool = False) -> torch.Tensor:
    """``J Jᵀ`` for γ(β, a): how gradient flow on (β, a) moves γ (``dγ/dt = −J Jᵀ ∇_γ L``).

    OR: ``γγᵀ/β² + (β² d / ‖a‖²)(I − â âᵀ)``; at γ = 1 the rate along γ is d — the magnitude's
    d-fold effective learning rate — and 1 across it. (ER: ``γγᵀ + (e^{2β} d/‖a‖²)(I − â âᵀ)``.)
    """
    a = a.to(DTYPE)
    d = a.numel()
    gamma = magnitude_direction_gamma(torch.tensor(beta, dtype=DTYPE), a, exponential=exponential)
    mag = math.exp(beta) if exponential else beta
    a_hat = a / a.norm()
    radial = torch.outer(gamma, gamma) / (1.0 if exponential else beta**2)
    return radial + (mag**2 * d / a.norm() ** 2) * (torch.eye(d, dtype=DTYPE) - torch.outer(a_hat, a_hat))
