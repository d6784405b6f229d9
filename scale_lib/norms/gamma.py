"""Norm scale vectors: surgery on the γ of a model's normalisation layers.

A normalisation layer is a fixed normalisation followed by a learnable **scale vector** γ
(RMSNorm: ``γ ⊙ x / RMS(x)``). This module changes how γ is parameterised in a real transformers
model, so notebook 05 can pre-train every variant with one loop:

* **Input-Norm vs Output-Norm** (:func:`classify_norms`). An Input-Norm's γ is followed by a linear
  map (the attention and MLP input norms of a Pre-Norm model), so it folds into that map
  (:func:`fold_gamma`) and adds no expressivity. An Output-Norm's γ is not (QK-norm, post-sublayer
  norms): it carries expressivity. The final norm is an Input-Norm when the unembedding is untied
  (``W_U diag γ`` is just another matrix) and an **Output-Norm when the unembedding is tied** to the
  input embedding: folding would change the embedding too, so γ then represents something the tied
  matrix cannot.
* **γ forms** (:class:`ScaleVector`): ``"learnable"`` (a vector, the default), ``"removed"`` (fixed at
  the identity — Gemma's ``(1 + w)`` form means ``w = 0``), ``"scalar"`` (one learnable number per
  norm), and the magnitude–direction forms **OR** ``γ = β·√d·a/‖a‖`` and **ER**
  ``γ = exp(b)·√d·a/‖a‖`` (our form; the paper's exact one is not public).
* **HG** — branch-specific γ: the shared normalisation stays, and each branch that reads it (q, k, v;
  gate, up) gets its own γ (:class:`BranchLinear`'s input scale).
* **DP / DNP** — placement around the linear maps that read an Input-Norm: ``diag(u) W diag(v)``
  (DP), and ``u ⊙ Norm(W (v ⊙ x))`` (DNP). ``v`` is the branch's input γ (or the shared norm's γ
  without HG); ``u`` is a new output scale, initialised to 1.
* **Weight decay** by role (:func:`param_groups`): ``"iwd"`` decays Input-Norm γ only, ``"all"``
  every γ, ``"none"`` no γ. Matrices are always decayed; embeddings and biases never.

Every variant but DNP starts as the exact same function as the model it came from (tested; DNP
inserts a normalisation, so it is a different architecture), and models with any variant save,
load (:func:`save_variant_model`, :func:`load_variant_model`) and generate.

    >>> apply_variant(model, NormVariant(gamma="or", hg=True, placement="dnp"))   # the unified strategy
    >>> opt = torch.optim.AdamW(param_groups(model, weight_decay=0.1, rule="iwd"), lr=1e-3)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import transformers as tf
from torch import nn

from scale_lib.core.arch import unwrap
from scale_lib.norms.anatomy import (
    FUSED,
    NORM_TABLE,
    NormInfo,
    classify_norms,
    gamma_of,
    identity_weight,
    is_tied,
    linear_consumers,
    norm_eps,
    set_module,
    stores_offset,
)

__all__ = [
    "GAMMA_FORMS", "PLACEMENTS", "WD_RULES", "NormVariant", "ScaleVector", "ScaledNorm", "BranchLinear", "NormInfo",
    "classify_norms", "stores_offset", "gamma_of", "gamma_reset", "apply_variant", "fold_gamma", "reset_gamma", "gamma_parameters", "param_groups",
    "count_gamma_parameters", "save_variant_model", "load_variant_model", "NORM_TABLE",
]

GAMMA_FORMS = ("learnable", "removed", "scalar", "or", "er")
PLACEMENTS = ("none", "dp", "dnp")
WD_RULES = ("iwd", "all", "none", "qk")



# --------------------------------------------------------------------------------------- γ forms
class ScaleVector(nn.Module):
    """A scale vector γ of size ``dim`` as a function of its parameters; ``self()`` returns γ.

    Args:
        dim: size of γ.
        form: one of :data:`GAMMA_FORMS`.
        role: ``"input"`` (followed by a linear map) or ``"output"`` — decides weight decay under IWD.
        init: the γ to start from (default all ones). ``"scalar"`` starts from its mean; ``"removed"``
            ignores it (γ is the identity).
    """

    def __init__(self, dim: int, form: str = "learnable", role: str = "input", init: torch.Tensor | None = None):
        super().__init__()
        if form not in GAMMA_FORMS:
            raise ValueError(f"unknown γ form {form!r}; valid forms are {GAMMA_FORMS}")
        if role not in ("input", "output"):
            raise ValueError(f"unknown role {role!r}; valid roles are 'input', 'output'")
        self.dim, self.form, self.role = dim, form, role
        g = torch.ones(dim) if init is None else init.detach().float().clone()
        if g.shape != (dim,):
            raise ValueError(f"init has shape {tuple(g.shape)}; expected ({dim},)")
        if form == "learnable":
            self.weight = nn.Parameter(g)
        elif form == "removed":
            self.register_buffer("ones", torch.ones(dim), persistent=False)
        elif form == "scalar":
            self.scale = nn.Parameter(g.mean().reshape(1))
        else:  # magnitude × direction; ‖a‖ = √d·(rms of γ) at init so that γ is reproduced exactly
            norm = g.norm()
            if norm == 0:
                raise ValueError("cannot write γ = 0 as magnitude × direction")
            mag = norm / math.sqrt(dim)
            self.direction = nn.Parameter(g / mag)
            self.magnitude = nn.Parameter((mag if form == "or" else mag.log()).reshape(1))

    def forward(self) -> torch.Tensor:
        if self.form == "learnable":
            return self.weight
        if self.form == "removed":
            return self.ones
        if self.form == "scalar":
            return self.scale.expand(self.dim)
        mag = self.magnitude if self.form == "or" else self.magnitude.exp()
        return mag * math.sqrt(self.dim) * self.direction / self.direction.norm()

    def extra_repr(self) -> str:
        return f"dim={self.dim}, form={self.form!r}, role={self.role!r}"


def _rms(x: torch.Tensor, eps: float) -> torch.Tensor:
    h = x.float()
    return (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


class ScaledNorm(nn.Module):
    """RMS normalisation followed by a :class:`ScaleVector` (or by nothing: ``gamma=None``)."""

    def __init__(self, dim: int, eps: float, gamma: ScaleVector | None):
        super().__init__()
        self.dim, self.eps, self.gamma = dim, eps, gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _rms(x, self.eps)
        return h if self.gamma is None else self.gamma() * h

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}" + ("" if self.gamma is not None else ", no γ (HG: γ lives in the branches)")


class BranchLinear(nn.Module):
    """``y = u ⊙ [Norm](W (v ⊙ x))``: a linear map with its own input scale ``v`` (HG), an optional
    output scale ``u`` (DP), and an optional RMS normalisation before ``u`` (DNP)."""

    def __init__(self, linear: nn.Linear, in_scale: ScaleVector | None = None, out_scale: ScaleVector | None = None, mid_norm: bool = False, eps: float = 1e-6):
        super().__init__()
        self.linear, self.in_scale, self.out_scale, self.mid_norm, self.eps = linear, in_scale, out_scale, mid_norm, eps

    @property
    def weight(self) -> torch.Tensor:
        return self.linear.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_scale is not None:
            x = self.in_scale() * x
        y = self.linear(x)
        if self.mid_norm:
            y = _rms(y, self.eps)
        return y if self.out_scale is None else self.out_scale() * y


@dataclass(frozen=True)
class NormVariant:
    """How every γ of a model is parameterised. ``NormVariant()`` is the stock model.

    Args:
        gamma: the form of every scale vector (:data:`GAMMA_FORMS`).
        hg: branch-specific γ for q/k/v and gate/up (shared normalisation).
        placement: ``"none"``, ``"dp"`` (``diag(u) W diag(v)``) or ``"dnp"`` (a normalisation before u).
    """

    gamma: str = "learnable"
    hg: bool = False
    placement: str = "none"

    def __post_init__(self):
        if self.gamma not in GAMMA_FORMS:
            raise ValueError(f"unknown γ form {self.gamma!r}; valid forms are {GAMMA_FORMS}")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"unknown placement {self.placement!r}; valid placements are {PLACEMENTS}")
        if self.gamma == "removed" and (self.hg or self.placement != "none"):
            raise ValueError("gamma='removed' removes every γ; it cannot be combined with hg or a placement")

    @property
    def label(self) -> str:
        parts = [] if self.gamma == "learnable" else [self.gamma.upper() if self.gamma in ("or", "er") else f"γ {self.gamma}"]
        parts += ["HG"] if self.hg else []
        parts += [self.placement.upper()] if self.placement != "none" else []
        return " + ".join(parts) or "baseline"


def apply_variant(model: nn.Module, variant: NormVariant | dict | None = None, **kw) -> nn.Module:
    """Re-parameterise every norm γ of ``model`` in place, keeping the function it computes.

    ``apply_variant(model, gamma="removed")`` fixes every γ at the identity (changing the function
    unless γ was already 1 — as it is at initialisation). Returns ``model`` (with ``model.norm_variant`` set).
    """
    variant = NormVariant(**kw) if variant is None else (NormVariant(**variant) if isinstance(variant, dict) else variant)
    model = unwrap(model)
    if getattr(model, "norm_variant", NormVariant()) != NormVariant():
        raise ValueError(f"model already has the norm variant {model.norm_variant}; apply variants to a stock model")
    infos = classify_norms(model)  # validates the architecture
    if variant == NormVariant():
        model.norm_variant = variant
        return model  # the stock model: nothing to change
    for info in infos:  # check everything before changing anything
        if info.role == "input" and info.followed_by != ("lm_head",) and (variant.hg or variant.placement != "none"):
            linear_consumers(model, info, f"NormVariant(hg={variant.hg}, placement={variant.placement!r})")
            fused = [n for n in info.followed_by if n.endswith(FUSED)]
            if variant.hg and fused:
                raise ValueError(f"HG gives each branch (q, k, v; gate, up) its own γ, but {model.config.model_type} fuses them into {fused}; "
                                 "use hg=False here (OR, ER and DP/DNP work)")
    model.norm_variant = variant
    with torch.no_grad():
        for info in infos:
            norm = model.get_submodule(info.name)
            gamma, dim, eps = gamma_of(norm), gamma_of(norm).numel(), norm_eps(norm)
            branch = variant.hg and info.role == "input" and info.followed_by != ("lm_head",)
            placed = variant.placement != "none" and info.role == "input" and info.followed_by != ("lm_head",)
            set_module(model, info.name, ScaledNorm(dim, eps, None if branch else ScaleVector(dim, variant.gamma, info.role, gamma)))
            if not (branch or placed):
                continue
            for lin_name in info.followed_by:
                lin = model.get_submodule(lin_name)
                v = ScaleVector(dim, variant.gamma, "input", gamma) if branch else None
                u = ScaleVector(lin.out_features, variant.gamma, "output") if placed else None
                set_module(model, lin_name, BranchLinear(lin, v, u, mid_norm=variant.placement == "dnp", eps=eps))
    return model


def fold_gamma(model: nn.Module) -> nn.Module:
    """Fold every Input-Norm γ into the linear maps that read it (``W ← W diag γ``, γ ← 1), in place.

    The function is unchanged (logits equal to float precision): the expressivity claim. With a tied
    unembedding the final norm is an Output-Norm and is left alone. Works on stock models.
    """
    model = unwrap(model)
    if getattr(model, "norm_variant", NormVariant()) != NormVariant():
        raise ValueError(f"fold_gamma works on stock models; this one has the norm variant {model.norm_variant}")
    infos = [i for i in classify_norms(model) if i.role == "input"]
    consumers = {i.name: linear_consumers(model, i, "fold_gamma") for i in infos}  # every check before the first change
    with torch.no_grad():
        for info in infos:
            norm = model.get_submodule(info.name)
            gamma = gamma_of(norm)
            for _, lin in consumers[info.name]:
                lin.weight.mul_(gamma.to(lin.weight.dtype)[None, :])
            norm.weight.fill_(identity_weight(norm))
    return model


def reset_gamma(model: nn.Module, which: str = "all") -> nn.Module:
    """Set trained γ back to the identity *without* folding (``which``: ``"all"``, ``"input"``, ``"output"``).

    Unlike :func:`fold_gamma` this changes the function: it shows what γ carries after training.
    """
    if which not in ("all", "input", "output"):
        raise ValueError(f"unknown selection {which!r}; valid choices are 'all', 'input', 'output'")
    model = unwrap(model)
    with torch.no_grad():
        for info in classify_norms(model):
            if which != "all" and info.role != which:
                continue
            norm = model.get_submodule(info.name)
            if isinstance(norm, ScaledNorm):
                raise ValueError("reset_gamma works on stock norms; re-parameterised models store γ in ScaleVectors")
            norm.weight.fill_(identity_weight(norm))
    return model


# --------------------------------------------------------------------------------------- optimisation
def gamma_parameters(model: nn.Module) -> dict[str, tuple[nn.Parameter, str]]:
    """Every scale-vector parameter, by name, with its role (``"input"`` / ``"output"``)."""
    model = unwrap(model)
    out = {}
    if any(isinstance(m, ScaleVector) for m in model.modules()):
        for mname, m in model.named_modules():
            if isinstance(m, ScaleVector):
                for pname, p in m.named_parameters(recurse=False):
                    out[f"{mname}.{pname}"] = (p, m.role)
        return out
    for info in classify_norms(model):
        out[f"{info.name}.weight"] = (model.get_submodule(info.name).weight, info.role)
    return out


def count_gamma_parameters(model: nn.Module) -> tuple[int, int]:
    """(number of γ parameters, number of all parameters)."""
    return sum(p.numel() for p, _ in gamma_parameters(model).values()), sum(p.numel() for p in unwrap(model).parameters())


def param_groups(model: nn.Module, weight_decay: float, rule: str = "iwd", gamma_decay: float | None = None) -> list[dict]:
    """Optimizer parameter groups: matrices decayed; embeddings and biases not; γ by ``rule``.

    ``rule``: ``"iwd"`` decays Input-Norm γ only, ``"all"`` every γ, ``"none"`` no γ, ``"qk"`` only the
    Output-Norm γ inside attention (QK-norm's ``q_norm`` / ``k_norm``: "all" minus the Input-Norms and
    the final norm, to tell the two Output-Norm effects apart). ``gamma_decay``
    (default ``weight_decay``) is the decay applied to the decayed γ. Each group has a ``"name"``.
    """
    if rule not in WD_RULES:
        raise ValueError(f"unknown weight-decay rule {rule!r}; valid rules are {WD_RULES}")
    model = unwrap(model)
    named = gamma_parameters(model)
    gammas = {id(p): role for p, role in named.values()}
    qk = {id(p) for name, (p, _) in named.items() if re.search(r"(^|\.)(q_norm|k_norm)(\.|$)", name)}
    if rule == "qk" and not qk:
        raise ValueError("weight-decay rule 'qk' needs a model with QK-norm (q_norm / k_norm), e.g. Qwen3; this one has none")
    embeds = {id(m.weight) for m in (model.get_input_embeddings(), model.get_output_embeddings()) if m is not None}
    groups = {"matrices": [], "gamma_decayed": [], "gamma": [], "other": []}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        if id(p) in gammas:
            decayed = rule == "all" or (rule == "iwd" and gammas[id(p)] == "input") or (rule == "qk" and id(p) in qk)
            groups["gamma_decayed" if decayed else "gamma"].append(p)
        elif p.ndim >= 2 and id(p) not in embeds:
            groups["matrices"].append(p)
        else:
            groups["other"].append(p)
    gd = weight_decay if gamma_decay is None else gamma_decay
    decay = {"matrices": weight_decay, "gamma_decayed": gd, "gamma": 0.0, "other": 0.0}
    return [{"name": k, "params": v, "weight_decay": decay[k]} for k, v in groups.items() if v]


# --------------------------------------------------------------------------------------- save / load
def save_variant_model(model: nn.Module, directory: str | Path) -> Path:
    """safetensors weights + JSON (transformers config and norm variant); no pickle."""
    from safetensors.torch import save_file

    model = unwrap(model)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, directory / "model.safetensors")
    meta = {"model_class": type(model).__name__, "config": model.config.to_dict(), "norm_variant": asdict(getattr(model, "norm_variant", NormVariant()))}
    (directory / "norm_scale.json").write_text(json.dumps(meta, indent=1) + "\n")
    return directory


def load_variant_model(directory: str | Path) -> nn.Module:
    """A model saved by :func:`save_variant_model`: rebuilt from its config, variant applied, weights loaded."""
    from safetensors.torch import load_file

    directory = Path(directory)
    meta_path = directory / "norm_scale.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"no norm_scale.json in {directory}; save the model with scale_lib.norms.gamma.save_variant_model")
    meta = json.loads(meta_path.read_text())
    cls = getattr(tf, meta["model_class"], None)
    if cls is None:
        raise ValueError(f"transformers has no class {meta['model_class']!r}")
    config = tf.AutoConfig.for_model(**meta["config"])
    model = cls(config)
    apply_variant(model, NormVariant(**meta["norm_variant"]))
    missing, unexpected = model.load_state_dict(load_file(directory / "model.safetensors"), strict=False)
    missing = [k for k in missing if not k.endswith("lm_head.weight") or not is_tied(model)]
    if missing or unexpected:
        raise ValueError(f"checkpoint does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if getattr(model.config, "tie_word_embeddings", False):
        model.tie_weights()
    return model.eval()


class gamma_reset:
    """Context manager: the listed norms' γ replaced, restored on exit even if the body raises.

    ``to="one"``: γ = 1 (a norm without a scale vector); ``to="mean"``: every entry set to the norm's
    own mean γ — the same overall scale, the per-channel shape removed. γ is the *effective* scale:
    for norms that store ``1 + w`` (Gemma, Qwen3-Next, …) the stored weight is set to γ − 1.
    """

    def __init__(self, model: nn.Module, names, *, to: str = "one"):
        from scale_lib.norms.gamma import classify_norms

        if to not in ("one", "mean"):
            raise ValueError(f"unknown reset target {to!r}; valid: 'one', 'mean'")
        valid = [i.name for i in classify_norms(model)]
        bad = [n for n in names if n not in valid]
        if bad:
            raise ValueError(f"unknown norms {bad}; this model's norms are {valid[:4]} … {valid[-2:]}")
        self.model, self.names, self.to, self.saved = model, list(names), to, {}

    def __enter__(self):
        from scale_lib.norms.gamma import gamma_of, stores_offset

        with torch.no_grad():
            for n in self.names:
                norm = self.model.get_submodule(n)
                target = 1.0 if self.to == "one" else float(gamma_of(norm).mean())  # in effective-γ units
                w = norm.weight
                self.saved[n] = w.detach().clone()
                w.fill_(target - 1.0 if stores_offset(norm) else target)  # a (1 + w) norm stores γ − 1
        return self.model

    def __exit__(self, *exc):
        with torch.no_grad():
            for n, w in self.saved.items():
                self.model.get_submodule(n).weight.copy_(w)
        self.saved = {}
