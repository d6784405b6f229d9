"""Solutions for chapter 06 (the real model)."""

from __future__ import annotations

import torch


def cloze_choice(logits: torch.Tensor, option_ids: torch.Tensor) -> torch.Tensor:
    """Index of each row's likeliest option: the option whose token has the largest logit; ``-1`` pads never win."""
    scores = logits.gather(-1, option_ids.clamp_min(0))
    return scores.masked_fill(option_ids < 0, float("-inf")).argmax(-1)


@torch.no_grad()
def fold_one_layer(model, layer: int) -> None:
    """Fold layer ``layer``'s ``input_layernorm`` γ into the q, k and v projections that read it (in place)."""
    block = model.model.layers[layer]
    gamma = block.input_layernorm.weight
    for proj in (block.self_attn.q_proj, block.self_attn.k_proj, block.self_attn.v_proj):
        proj.weight.mul_(gamma[None, :])
    gamma.fill_(1.0)
