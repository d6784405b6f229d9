"""Solutions for chapter 04 (theory toys)."""

from __future__ import annotations

import torch


def theta_velocity(gamma: torch.Tensor, weight: torch.Tensor, grad_theta: torch.Tensor) -> torch.Tensor:
    """dθ/dt for θ = W diag(γ) under gradient flow on (γ, W): column j is −(γ_j² I + w_j w_jᵀ) g_j."""
    return -(gamma**2 * grad_theta + weight * (weight * grad_theta).sum(0, keepdim=True))


def balancedness(gamma: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The conserved quantity of that flow, per column: γ_j² − ‖w_j‖²."""
    return gamma**2 - weight.pow(2).sum(0)
