"""A layout for a model type :data:`scale_lib.LAYOUTS` does not know, read from its module tree and config.

:func:`infer_layout` looks for the one ``nn.ModuleList`` of ``num_hidden_layers`` layers (outside any
vision or audio tower, for the language stack) whose layers hold

* an **attention output projection**: a linear map inside the attention block (its path contains
  ``attn`` or ``attention``), named one of :data:`ATTN_OUT_NAMES`, whose input width is
  ``n_heads · head_dim`` (the heads concatenated);
* an **MLP**: a direct child named one of :data:`MLP_NAMES`.

It is what peft does with its per-``model_type`` tables plus ``"all-linear"``: a guess from names.
:func:`scale_lib.model_map` uses it for unknown types and says so with a warning that prints the
layout it found, so a wrong guess is visible; pass ``layout=`` or :func:`scale_lib.register_layout`
to be explicit. When nothing or more than one stack fits, the error names what was found.
"""

from __future__ import annotations

from torch import nn

from scale_lib.core.arch import Layout, _config_for, _in_features

__all__ = ["infer_layout", "ATTN_OUT_NAMES", "MLP_NAMES"]

#: Names of attention output projections across transformers' decoders (Llama ``o_proj``, CLIP ``out_proj``,
#: Phi/NeoX ``dense``, GPT-2 ``c_proj``, T5 ``o``, MPT ``out_proj``, Qwen-VL vision ``proj``, InternViT ``projection_layer``).
ATTN_OUT_NAMES = ("o_proj", "out_proj", "dense", "c_proj", "wo", "o", "proj", "projection_layer")
#: Names of the MLP block inside one layer.
MLP_NAMES = ("mlp", "feed_forward", "ffn", "mlp_block", "feedforward", "block_sparse_moe")
_TOWER_WORDS = ("vision", "visual", "image", "audio", "vit")


def _n_layers(cfg) -> int | None:
    for a in ("num_hidden_layers", "n_layer", "num_layers", "depth"):
        v = getattr(cfg, a, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def infer_layout(model: nn.Module, *, tower: str = "language") -> Layout:
    """The :class:`~scale_lib.Layout` of ``model``'s ``tower`` stack, read from its modules and config.

    Raises:
        ValueError: no stack or more than one fits; the message lists every layer stack, what each
            layer holds, and the head width looked for.
    """
    if getattr(model, "config", None) is None:
        raise ValueError(f"cannot infer a layout: {type(model).__name__} has no .config to read the number of layers and heads from")
    cfg = _config_for(model, tower)
    heads_attr = Layout.__dataclass_fields__["heads_attr"].default
    n_heads = next((getattr(cfg, a) for a in heads_attr if isinstance(getattr(cfg, a, None), int)), None)
    if n_heads is None:
        raise ValueError(f"cannot infer a layout: the config has none of {heads_attr} (the number of attention heads)")
    hidden = getattr(cfg, "hidden_size", None) or getattr(cfg, "n_embd", None)
    head_dim = getattr(cfg, "head_dim", None) or (hidden // n_heads if hidden else None)
    width = n_heads * head_dim if head_dim else None
    n_layers = _n_layers(cfg)
    found, fits = [], []
    for name, mods in model.named_modules():
        if not isinstance(mods, nn.ModuleList) or not len(mods):
            continue
        in_tower = any(w in name.lower() for w in _TOWER_WORDS)
        if (tower == "language") == in_tower or (n_layers is not None and len(mods) != n_layers):
            found.append(f"{name} ({len(mods)} x {type(mods[0]).__name__}): skipped ({'another tower' if (tower == 'language') == in_tower else f'not {n_layers} layers'})")
            continue
        layer = mods[0]
        attn = [n for n, m in layer.named_modules()
                if n.split(".")[-1] in ATTN_OUT_NAMES and ("attn" in n.lower() or "attention" in n.lower()) and _width(m) == width]
        mlp = [n for n, _ in layer.named_children() if n in MLP_NAMES]
        found.append(f"{name} ({len(mods)} x {type(layer).__name__}): attention output projections of width {width}: {attn or 'none'}; MLP: {mlp or 'none'}")
        if len(attn) == 1 and len(mlp) == 1:
            fits.append((name, attn[0], mlp[0]))
    if len(fits) != 1:
        raise ValueError(
            f"cannot infer a layout for the {tower} stack ({'no stack fits' if not fits else f'{len(fits)} stacks fit'}; looked for {n_layers} layers "
            f"with one linear map named one of {ATTN_OUT_NAMES} inside the attention, of input width {n_heads} heads x {head_dim}, "
            f"and one child named one of {MLP_NAMES}). Found:\n  " + "\n  ".join(found or ["(no nn.ModuleList)"]))
    layers, attn_out, mlp = fits[0]
    parent = layers.rsplit(".", 1)[0] if "." in layers else ""
    final = next((f"{parent}.{n}" if parent else n for n in ("norm", "final_layernorm", "ln_f", "final_layer_norm")
                  if _exists(model, f"{parent}.{n}" if parent else n)), None)
    return Layout(layers=layers, attn_out=attn_out, mlp=mlp, final_norm=final, causal=tower == "language")


def _width(module: nn.Module) -> int | None:
    try:
        return _in_features(module)
    except TypeError:
        return None


def _exists(model: nn.Module, path: str) -> bool:
    try:
        model.get_submodule(path)
        return True
    except AttributeError:
        return False
