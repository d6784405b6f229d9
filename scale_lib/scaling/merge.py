"""Folding an all-position ScAle adapter into the model's weights (zero overhead), and why a last-token one cannot be.

A head coefficient multiplies head *h*'s slice of the attention output projection's input, so
``W_O · (s ⊙ x) = (W_O · diag(s)) · x``: it folds exactly into ``W_O``'s input columns. An MLP coefficient
multiplies the MLP's output, so it folds into the MLP's last linear map (weight and bias), or, on post-norm
families, into the post-feed-forward norm's γ (``s·γ``; for a ``1 + w`` norm, ``w → s(1 + w) − 1``).

A ScAle adapter trained at the **last** token (``positions="last"``, the paper's method) acts on one
position per row, and a weight acts on every position: like peft's aLoRA ("merging is not possible due to
the selective application of the weights"), it cannot be merged. Its hooks cost
:data:`HOOK_OVERHEAD` × a plain forward (``benchmarks/bench_hooks.py``).
"""

from __future__ import annotations

import torch
from torch import nn

from scale_lib.core.normweight import stores_offset

__all__ = ["merge_scale", "bridge", "HOOK_OVERHEAD", "OUTPUT_LINEAR_NAMES"]

#: Hooked / plain forward time, ``benchmarks/results/hooks.json`` (``tests/test_own_model.py`` binds the two).
HOOK_OVERHEAD = 1.0247
#: Names of an MLP's last linear map across families (Llama ``down_proj``, GPT-2 ``c_proj``, Phi/CLIP ``fc2``, NeoX ``dense_4h_to_h``).
OUTPUT_LINEAR_NAMES = ("down_proj", "c_proj", "fc2", "dense_4h_to_h", "w2", "fc_out", "proj_out")


def _is_conv1d(module: nn.Module) -> bool:
    return type(module).__name__ == "Conv1D"  # GPT-2: weight is (in, out)


def _output_linear(mlp: nn.Module, where: str) -> nn.Module:
    hits = [m for n, m in mlp.named_children() if n in OUTPUT_LINEAR_NAMES and getattr(m, "weight", None) is not None]
    if len(hits) != 1:
        children = [f"{n} ({type(m).__name__})" for n, m in mlp.named_children()]
        raise ValueError(f"cannot merge the MLP coefficient of {where}: its module ({type(mlp).__name__}) has no single last linear map "
                         f"named one of {OUTPUT_LINEAR_NAMES} (children: {children}); mixture-of-experts blocks are among these. "
                         "Build the adapter with ScAleConfig(mlp=False) to merge its head coefficients only")
    return hits[0]


@torch.no_grad()
def merge_scale(adapter) -> nn.Module:
    """Fold ``adapter``'s coefficients into its model's weights, in place; returns the model.

    Everything is checked before a weight changes: a last-token adapter, or a site that cannot be
    folded, raises with nothing modified. Afterwards the adapter refuses to be applied again (the
    coefficients are in the weights now)."""
    if adapter.config.positions != "all":
        raise ValueError(
            f"a last-token ScAle adapter (positions={adapter.config.positions!r}) cannot be merged into the weights: it scales one "
            "position per row, and a weight acts on every position (peft's aLoRA cannot merge for the same reason). Keep it "
            f"attached: its hooks cost {HOOK_OVERHEAD:.3f}x a plain forward (benchmarks/bench_hooks.py). Only an adapter trained with "
            "ScAleConfig(positions='all') merges.")
    if getattr(adapter, "merged", False):
        raise RuntimeError("this adapter is merged into its model already")
    mm, coef = adapter.map, adapter.coefficients()
    plan = []  # (kind, module, coefficients) for every site, built before any change
    for i, layer in enumerate(adapter.layers):
        if "heads" in coef:
            plan.append(("heads", mm.attn_out(layer), coef["heads"][i]))
        if "mlp" in coef:
            if mm.layout.mlp_post is not None:
                norm = mm.mlp_block(layer)
                stores_offset(norm)  # raises for a norm without a weight, before anything changes
                plan.append(("norm", norm, coef["mlp"][i]))
            else:
                plan.append(("mlp", _output_linear(mm.mlp(layer), f"layer {layer}"), coef["mlp"][i]))
    for kind, module, s in plan:
        w = module.weight
        s = s.to(dtype=w.dtype, device=w.device)
        if kind == "heads":  # each head's slice of the projection's input
            per_input = s.repeat_interleave(mm.head_dim)
            if _is_conv1d(module):
                w.mul_(per_input[:, None])
            else:
                w.mul_(per_input[None, :])
        elif kind == "mlp":
            w.mul_(s)
            if getattr(module, "bias", None) is not None:
                module.bias.mul_(s)
        else:
            if stores_offset(module):
                w.copy_(s * (1 + w) - 1)
            else:
                w.mul_(s)
            if isinstance(getattr(module, "bias", None), torch.Tensor):
                module.bias.mul_(s)
    adapter.__dict__["merged"] = True
    return adapter.model


def bridge(model: nn.Module, input_ids: torch.Tensor, *, layer: int, head: int, coefficient: float) -> dict[str, float]:
    """The bridge between the book's two halves, measured: a ScAle head coefficient **is** a γ on the
    input of the attention output projection, at one position.

    Returns the largest absolute logit differences (at the last position) between

    * ``hook_vs_gamma``: ScAle's hook (``sl.scaled``, last token) and an explicit γ vector — ones, with
      ``coefficient`` on head ``head``'s slice — multiplied into ``o_proj``'s input at the last position
      (0: the same operation);
    * ``folded_vs_all_positions``: that γ folded into ``W_O``'s columns (chapter 04's fold) and the hook
      applied at **every** position (0: the fold is exact when the scale acts everywhere);
    * ``folded_vs_last_token``: the fold and the last-token hook (0 only for the last layer: at an earlier
      layer the fold also changes the earlier positions, which later layers read — why a last-token
      adapter cannot be merged);

    and ``theta_velocity_rank``: the rank of the map from ∇θL to θ's velocity when only the coefficient
    c trains and ``W_O``'s columns w stay frozen (θ = c·w moves as −w wᵀ ∇θL: rank 1, along w only —
    chapter 04's P = γ²I + wwᵀ without the γ²I that w's own motion would add).
    """
    from scale_lib.core.arch import model_map
    from scale_lib.core.hooks import scaled
    from scale_lib.scaling.causal import baked_damping

    mm = model_map(model)
    mm.check_layer(layer)
    mm.check_head(head, layer)
    proj = mm.layers[layer].get_submodule(mm.layout.attn_out)
    cols = slice(head * mm.head_dim, (head + 1) * mm.head_dim)
    gamma = torch.ones(proj.weight.shape[1])
    gamma[cols] = coefficient

    def last_gamma(module, args):
        x = args[0].clone()
        x[:, -1] = x[:, -1] * gamma.to(x.dtype)
        return (x,) + tuple(args[1:])

    site = {f"L{layer}.H{head}": coefficient}
    with torch.no_grad():
        with scaled(model, site):
            hook_last = model(input_ids=input_ids).logits[:, -1]
        with scaled(model, site, positions="all"):
            hook_all = model(input_ids=input_ids).logits[:, -1]
        handle = proj.register_forward_pre_hook(last_gamma)
        try:
            explicit = model(input_ids=input_ids).logits[:, -1]
        finally:
            handle.remove()
        fold = baked_damping(model, [(layer, head)], coefficient)(input_ids=input_ids).logits[:, -1]  # the same columns, folded in a copy
    w = proj.weight[:, cols].detach().double().flatten()
    velocity_map = -torch.outer(w, w)  # d θ / dt = −(wᵀ ∇θL) w for θ = c·w with w frozen
    return {
        "hook_vs_gamma": float((hook_last - explicit).abs().max()),
        "folded_vs_all_positions": float((fold - hook_all).abs().max()),
        "folded_vs_last_token": float((fold - hook_last).abs().max()),
        "theta_velocity_rank": int(torch.linalg.matrix_rank(velocity_map)),
    }
