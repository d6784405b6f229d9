"""The anatomy of a model's normalisation layers: which norm is where, who reads it, how γ is stored.

* :func:`classify_norms` — every norm of a supported model with its role: an **Input-Norm** is read
  by linear maps (γ can fold into them), an **Output-Norm** is not (a sandwich norm, a QK-norm, a
  final norm under a tied unembedding);
* :func:`stores_offset` — whether a norm stores γ as ``1 + w`` (Gemma, Qwen3-Next, …), found by
  behaviour; :func:`gamma_of` reads the effective γ and :func:`identity_weight` is the stored value
  that makes γ = 1, so no caller has to know a family's convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scale_lib.core.arch import unwrap
from scale_lib.core.normweight import stores_offset

__all__ = ["NORM_TABLE", "FUSED", "NormInfo", "classify_norms", "stores_offset", "gamma_of", "identity_weight", "linear_consumers",
           "is_tied", "norm_eps", "set_module"]

_ATTN_IN = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")
_MLP_IN = ("mlp.gate_proj", "mlp.up_proj")
_PRE_NORM = {"input_layernorm": _ATTN_IN, "post_attention_layernorm": _MLP_IN}  # Llama names the pre-MLP norm "post_attention"
_QK_NORM = {"self_attn.q_norm": None, "self_attn.k_norm": None}
_SANDWICH = {"input_layernorm": _ATTN_IN, "pre_feedforward_layernorm": _MLP_IN, "post_attention_layernorm": None, "post_feedforward_layernorm": None}
#: Per ``model_type``: every norm inside a layer and the linear maps that read it (``None``: Output-Norm).
NORM_TABLE: dict[str, dict[str, tuple[str, ...] | None]] = {
    "llama": _PRE_NORM, "mistral": _PRE_NORM, "qwen2": _PRE_NORM, "gemma": _PRE_NORM, "granite": _PRE_NORM,
    "qwen3": {**_PRE_NORM, **_QK_NORM}, "gemma2": _SANDWICH, "gemma3_text": {**_SANDWICH, **_QK_NORM},
    "gemma3": {**_SANDWICH, **_QK_NORM},  # the Gemma 3 VLM's language model
    # OLMo 2 normalises only *after* each sublayer (and q, k): every norm inside a layer is an Output-Norm
    "olmo2": {"post_attention_layernorm": None, "post_feedforward_layernorm": None, **_QK_NORM},
    # Phi-3 fuses q/k/v and gate/up into one projection each: γ folds into them, but HG has no branches to split
    "phi3": {"input_layernorm": ("self_attn.qkv_proj",), "post_attention_layernorm": ("mlp.gate_up_proj",)},
    # Mixtral's pre-MLP norm is read by the router and by the experts (3-D weight tensors, not nn.Linear)
    "mixtral": {"input_layernorm": _ATTN_IN, "post_attention_layernorm": ("mlp.gate", "mlp.experts")},
}
#: Projections that hold several branches in one matrix (HG cannot give them separate γ).
FUSED = ("qkv_proj", "gate_up_proj")


# --------------------------------------------------------------------------------------- classification
@dataclass(frozen=True)
class NormInfo:
    """One normalisation layer: where it is, whether it is an Input- or Output-Norm, and why."""

    name: str
    role: str  # "input" | "output"
    followed_by: tuple[str, ...]
    reason: str


def _table(model: nn.Module) -> dict:
    model_type = getattr(model.config, "model_type", type(model).__name__)
    if model_type not in NORM_TABLE:
        raise ValueError(f"norm surgery does not know architecture {model_type!r}; known: {sorted(NORM_TABLE)}")
    return NORM_TABLE[model_type]


def _decoder_path(model: nn.Module) -> str:
    for path in ("model", "", "model.language_model"):
        try:
            sub = model.get_submodule(path) if path else model
        except AttributeError:
            continue
        if hasattr(sub, "layers") and hasattr(sub, "norm"):
            return path
    raise ValueError(f"{type(model).__name__} has no decoder with `.layers` and `.norm`; norm surgery needs a causal LM such as LlamaForCausalLM")


def _decoder(model: nn.Module) -> nn.Module:
    path = _decoder_path(model)
    return model.get_submodule(path) if path else model


def linear_consumers(model: nn.Module, info: NormInfo, what: str) -> list:
    """The linear maps reading an Input-Norm, or a clear error for what ``what`` cannot handle."""
    out = []
    for name in info.followed_by:
        lin = model.get_submodule(name)
        if not isinstance(lin, nn.Linear):
            raise ValueError(f"{what} rewrites the linear maps that read {info.name}, but {name} is a {type(lin).__name__}, not nn.Linear "
                             f"(e.g. Mixtral's experts are 3-D weight tensors); classify_norms, reset_gamma and param_groups work on this model")
        out.append((name, lin))
    return out


def is_tied(model: nn.Module) -> bool:
    head = model.get_output_embeddings()
    return head is not None and head.weight is model.get_input_embeddings().weight


def classify_norms(model: nn.Module) -> list[NormInfo]:
    """Every normalisation layer of a causal LM, classified as Input-Norm or Output-Norm (see module doc)."""
    model = unwrap(model)
    table, dec = _table(model), _decoder(model)
    path = _decoder_path(model)
    prefix = f"{path}." if path else ""
    out = []
    for i in range(len(dec.layers)):
        found = {n for n, m in dec.layers[i].named_modules() if n and ("norm" in type(m).__name__.lower()) and "." not in n.replace("self_attn.", "")}
        unknown = found - set(table)
        if unknown:
            raise ValueError(f"layer {i} has norms {sorted(unknown)} that the table for {model.config.model_type!r} does not list ({sorted(table)})")
        for name, consumers in table.items():
            if name not in found:
                continue
            full = f"{prefix}layers.{i}.{name}"
            if consumers is None:
                reason = "QK-norm: read by RoPE and the attention dot product, not a linear map" if "q_norm" in name or "k_norm" in name else "post-sublayer norm: added to the residual stream, not read by a linear map"
                out.append(NormInfo(full, "output", (), reason))
            else:
                out.append(NormInfo(full, "input", tuple(f"{prefix}layers.{i}.{c}" for c in consumers), "Pre-Norm: read only by linear maps, so γ folds into them"))
    head = "lm_head"
    if is_tied(model):
        out.append(NormInfo(f"{prefix}norm", "output", (head,), "final norm with a tied unembedding: folding γ would change the input embedding too, so γ carries expressivity"))
    else:
        out.append(NormInfo(f"{prefix}norm", "input", (head,), "final norm read by an untied unembedding: γ folds into W_U"))
    return out


# --------------------------------------------------------------------------------------- surgery
# stores_offset lives in scale_lib.core.normweight (ScAle's merge needs it too); re-exported here


def gamma_of(norm: nn.Module) -> torch.Tensor:
    """The effective γ of a stock transformers RMSNorm (a ``(1 + w)`` storage included, see :func:`stores_offset`)."""
    if not hasattr(norm, "weight"):
        raise ValueError(f"{type(norm).__name__} has no weight; only RMSNorm-style layers are supported")
    w = norm.weight.detach().float()
    return 1 + w if stores_offset(norm) else w.clone()


def norm_eps(norm: nn.Module) -> float:
    for attr in ("variance_epsilon", "eps"):
        if hasattr(norm, attr):
            return float(getattr(norm, attr))
    raise ValueError(f"cannot find the epsilon of {type(norm).__name__}")


def set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def identity_weight(norm: nn.Module) -> float:
    """The stored weight value that makes this norm's γ = 1: 0 for a ``(1 + w)`` norm, 1 otherwise."""
    return 0.0 if stores_offset(norm) else 1.0
