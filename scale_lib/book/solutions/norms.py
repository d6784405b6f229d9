"""Solutions for chapter 05 (norm scale vectors in pre-training)."""

from __future__ import annotations

import torch


@torch.no_grad()
def fold_mlp_norm(model, layer: int) -> None:
    """Fold layer ``layer``'s pre-MLP norm (Llama calls it ``post_attention_layernorm``) into the MLP's
    gate and up projections, in place."""
    block = model.model.layers[layer]
    gamma = block.post_attention_layernorm.weight
    for proj in (block.mlp.gate_proj, block.mlp.up_proj):
        proj.weight.mul_(gamma[None, :])
    gamma.fill_(1.0)


def input_norm_decay_groups(model, weight_decay: float) -> list[dict]:
    """Two AdamW parameter groups for the IWD rule: matrices (but not the embeddings) and Input-Norm γ
    decay; Output-Norm γ (here the final norm, read by the tied unembedding), the input and output
    embeddings and biases do not."""
    from scale_lib.norms.gamma import classify_norms

    roles = {f"{i.name}.weight": i.role for i in classify_norms(model)}
    embeddings = {id(m.weight) for m in (model.get_input_embeddings(), model.get_output_embeddings()) if m is not None}
    decay, keep = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name in roles:
            (decay if roles[name] == "input" else keep).append(p)
        elif p.ndim >= 2 and id(p) not in embeddings:
            decay.append(p)
        else:
            keep.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]
