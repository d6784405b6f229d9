"""How a norm stores its γ: as ``w`` or as ``1 + w`` (Gemma). Needed by γ surgery (chapter 04-05) and by
merging a ScAle MLP coefficient into a post-sublayer norm."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["stores_offset"]

_OFFSET_BY_TYPE: dict[type, bool] = {}


@torch.no_grad()
def stores_offset(norm: nn.Module) -> bool:
    """Does this norm store γ as ``1 + w`` (Gemma, Qwen3-Next, …)? Found by behaviour, not by name:
    with ``w = 0`` such a norm is the plain normalisation, a ``γ = w`` norm outputs zeros."""
    kind = type(norm)
    if kind not in _OFFSET_BY_TYPE:
        if not hasattr(norm, "weight"):
            raise ValueError(f"{kind.__name__} has no weight; only RMSNorm-style layers are supported")
        bias = getattr(norm, "bias", None) if isinstance(getattr(norm, "bias", None), torch.Tensor) else None
        saved = norm.weight.detach().clone(), None if bias is None else bias.detach().clone()
        try:  # a LayerNorm's bias would otherwise pass through a zero weight
            norm.weight.zero_()
            if bias is not None:
                bias.zero_()
            x = torch.randn(2, norm.weight.shape[-1], dtype=norm.weight.dtype, device=norm.weight.device)
            out = norm(x)
        finally:
            norm.weight.copy_(saved[0])
            if bias is not None:
                bias.copy_(saved[1])
        _OFFSET_BY_TYPE[kind] = bool(out.float().abs().max() > 1e-3)
    return _OFFSET_BY_TYPE[kind]
