"""ScAle as a peft method: ``peft.get_peft_model(model, sl.ScAlePeftConfig(...))``.

Importing this module registers the method with peft (``peft_type="SCALE"``, parameter prefix ``scale_``).
It then behaves like peft's IA3, which it resembles (a learned vector multiplying activations): wrapped
layers hold one coefficient vector per adapter name, so ``save_pretrained`` / ``PeftModel.from_pretrained``,
``disable_adapter()``, ``add_adapter`` / ``set_adapter`` (several adapters on one model), ``push_to_hub`` and
the Trainer work as for any peft adapter. Two things differ, and both are the paper's method:

* **where**: the head coefficients multiply each head's slice of the attention output projection's
  *input*; the MLP coefficient multiplies the MLP's output (the post-feed-forward norm's on post-norm
  families) — the sites of :func:`scale_lib.model_map`;
* **when**: only at the last real token of each row (``positions="last"``), like peft's aLoRA, which acts
  from its invocation tokens on. The attention mask of each call is read by a pre-hook on the model.

The stored parameter is θ (``s = lo + (hi − lo)·sigmoid(θ)``, initialised to exactly 1); the bound is in
the config. :meth:`scale_lib.ScAle.save` writes this same format, so an adapter trained with the book's
prefix-cached trainer loads with ``PeftModel.from_pretrained`` and the other way round
(:func:`scale_from_peft`, :func:`peft_from_scale`).

``sl.ScAleConfig`` (the core's, which does not import peft) and :class:`ScAlePeftConfig` have the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import peft
import torch
from peft.tuners.tuners_utils import BaseTuner, BaseTunerLayer
from torch import nn

from scale_lib.core.arch import Layout, model_map, unwrap
from scale_lib.core.hooks import last_token_index
from scale_lib.scaling.adapter import bounded, identity_theta

__all__ = ["ScAlePeftConfig", "ScAleModel", "ScAleLayer", "scale_from_peft", "peft_from_scale", "copy_theta", "is_scale_peft", "PEFT_TYPE"]

PEFT_TYPE = "SCALE"


@dataclass
class ScAlePeftConfig(peft.PeftConfig):
    """ScAle's sites and bound (see :class:`scale_lib.ScAleConfig`) as a peft config.

    ``target_modules`` / ``head_modules`` are filled from :func:`scale_lib.model_map` when the adapter is
    created; ``layout`` (a :class:`scale_lib.Layout` as a dict) is for a model type without a built-in one."""

    layers: list[int] | None = None
    heads: bool = True
    mlp: bool = True
    bound: tuple[float, float] = (0.0, 2.0)
    positions: str = "last"
    layout: dict | None = None
    target_modules: list[str] | None = None
    head_modules: list[str] | None = None
    n_heads: int | None = None
    model_signature: dict | None = field(default=None, metadata={"help": "model_type, n_layers, n_heads of the base model"})
    library_version: str | None = None

    def __post_init__(self):
        super().__post_init__()
        self.peft_type = PEFT_TYPE
        self.bound = tuple(self.bound)
        lo, hi = self.bound
        if not lo < 1.0 < hi:
            raise ValueError(f"bound {self.bound} must contain 1 strictly inside (lo < 1 < hi) so that ScAle starts as the identity")
        if not (self.heads or self.mlp):
            raise ValueError("ScAlePeftConfig needs heads=True, mlp=True or both")
        if self.positions not in ("last", "all"):
            raise ValueError(f"unknown positions {self.positions!r}; valid: 'last', 'all'")

    def theta0(self) -> float:
        return identity_theta(self.bound)


class _Context:
    """The attention mask of the current call, shared by every ScAle layer of one model."""

    mask: torch.Tensor | None = None


class ScAleLayer(nn.Module, BaseTunerLayer):
    """Wraps an attention output projection (``kind="heads"``: scales its input per head) or an MLP /
    post-norm (``kind="mlp"``: scales its output) at the last real token."""

    adapter_layer_names = ("scale_theta",)
    other_param_names = ()

    def __init__(self, base_layer: nn.Module, adapter_name: str, config: ScAlePeftConfig, *, kind: str, n_heads: int, context: _Context):
        super().__init__()
        self.base_layer = base_layer
        self.scale_theta = nn.ParameterDict({})
        self.kind, self.n_heads, self.context = kind, n_heads, context
        self.bounds: dict[str, tuple[float, float]] = {}
        self.positions: dict[str, str] = {}
        self._disable_adapters = False
        self.merged_adapters = []
        self._active_adapter = adapter_name
        self.update_layer(adapter_name, config)

    def update_layer(self, adapter_name: str, config: ScAlePeftConfig) -> None:
        width = self.n_heads if self.kind == "heads" else 1
        device = next((p.device for p in self.base_layer.parameters()), torch.device("cpu"))
        self.scale_theta[adapter_name] = nn.Parameter(torch.full((width,), config.theta0(), device=device))
        self.bounds[adapter_name] = tuple(config.bound)
        self.positions[adapter_name] = config.positions
        self.set_adapter(self.active_adapters)

    def coefficient(self, adapter_name: str) -> torch.Tensor:
        return bounded(self.scale_theta[adapter_name], self.bounds[adapter_name])

    def _where(self, x: torch.Tensor, positions: str) -> torch.Tensor | None:
        """(batch, chunk, 1) mask of the positions to scale, or None for all."""
        if positions == "all":
            return None
        batch, chunk = x.shape[0], x.shape[1]
        mask = self.context.mask
        if mask is None:
            idx = torch.full((batch,), chunk - 1, device=x.device)
        else:
            idx = last_token_index(mask).to(x.device) - (mask.shape[1] - chunk)
        cols = torch.arange(chunk, device=x.device)
        return (cols[None, :] == idx[:, None]).unsqueeze(-1)

    def _scaled(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.dim() == 2
        y = x.unsqueeze(0) if flat else x
        for name in self.active_adapters:
            if name not in self.scale_theta:
                continue
            s = self.coefficient(name).to(y.dtype)
            if self.kind == "heads":
                b, t, width = y.shape
                mult = s.repeat_interleave(width // self.n_heads)
            else:
                mult = s
            where = self._where(y, self.positions[name])
            y = y * (mult if where is None else torch.where(where, mult, torch.ones_like(mult)))
        return y.squeeze(0) if flat else y

    def forward(self, x, *args, **kwargs):
        if self.disable_adapters or self.merged:
            return self.base_layer(x, *args, **kwargs)
        if self.kind == "heads":
            return self.base_layer(self._scaled(x), *args, **kwargs)
        out = self.base_layer(x, *args, **kwargs)
        if isinstance(out, tuple):
            return (self._scaled(out[0]), *out[1:])
        return self._scaled(out)

    def merge(self, safe_merge: bool = False, adapter_names=None) -> None:
        raise ValueError("ScAle adapters are merged with scale_lib.ScAle.merge() (positions='all' only); a last-token adapter cannot be merged")

    def unmerge(self) -> None:
        pass


class ScAleModel(BaseTuner):
    """The peft tuner: wraps the sites :func:`scale_lib.model_map` finds."""

    prefix: str = "scale_"
    tuner_layer_cls = ScAleLayer
    target_module_mapping: dict = {}

    def _prepare_adapter_config(self, peft_config: ScAlePeftConfig, model_config: dict) -> ScAlePeftConfig:
        return peft_config  # the targets are filled in _prepare_model, from the model map

    def _prepare_model(self, peft_config: ScAlePeftConfig, model: nn.Module) -> None:
        layout = None if peft_config.layout is None else Layout.from_dict(peft_config.layout)
        mm = model_map(model, layout=layout)
        layers = list(range(mm.n_layers)) if peft_config.layers is None else list(peft_config.layers)
        for layer in layers:
            mm.check_layer(layer)
        names = {id(m): n for n, m in unwrap(model).named_modules()}
        heads = [names[id(mm.attn_out(layer))] for layer in layers] if peft_config.heads else []
        mlps = [names[id(mm.mlp_block(layer))] for layer in layers] if peft_config.mlp else []
        signature = {"model_type": mm.model_type, "n_layers": mm.n_layers, "n_heads": mm.n_heads}
        if peft_config.model_signature is not None and peft_config.model_signature != signature:
            raise ValueError(f"this ScAle adapter was made for {peft_config.model_signature}; the model is {signature}")
        peft_config.layers, peft_config.n_heads, peft_config.model_signature = layers, mm.n_heads, signature
        peft_config.head_modules, peft_config.target_modules = heads, heads + mlps
        if not hasattr(self, "_scale_context"):
            self._scale_context = _Context()

            def capture(module, args, kwargs):
                mask = kwargs.get("attention_mask")
                self._scale_context.mask = mask if isinstance(mask, torch.Tensor) and mask.dim() == 2 else None

            self._scale_hook = model.register_forward_pre_hook(capture, with_kwargs=True)

    @staticmethod
    def _check_target_module_exists(peft_config: ScAlePeftConfig, key: str) -> bool:
        return key in (peft_config.target_modules or [])

    def _create_and_replace(self, peft_config, adapter_name, target, target_name, parent, current_key, **kwargs) -> None:
        kind = "heads" if current_key in (peft_config.head_modules or []) else "mlp"
        if isinstance(target, ScAleLayer):
            target.update_layer(adapter_name, peft_config)
            return
        new = ScAleLayer(target, adapter_name, peft_config, kind=kind, n_heads=peft_config.n_heads, context=self._scale_context)
        if adapter_name not in self.active_adapters:
            new.requires_grad_(False)
        setattr(parent, target_name, new)

    def _mark_only_adapters_as_trainable(self, model: nn.Module) -> None:
        for n, p in model.named_parameters():
            p.requires_grad_(self.prefix in n)


def _register() -> None:
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING, PEFT_TYPE_TO_PREFIX_MAPPING, PEFT_TYPE_TO_TUNER_MAPPING

    if PEFT_TYPE in PEFT_TYPE_TO_TUNER_MAPPING:
        return
    try:  # peft's own registration, where its PeftType enum has (or can be given) a SCALE member
        from peft.utils import PeftType, register_peft_method

        if PEFT_TYPE not in PeftType.__members__:
            member = str.__new__(PeftType, PEFT_TYPE)
            member._name_, member._value_ = PEFT_TYPE, PEFT_TYPE
            PeftType._member_map_[PEFT_TYPE] = member
            PeftType._value2member_map_[PEFT_TYPE] = member
            PeftType._member_names_.append(PEFT_TYPE)
            type.__setattr__(PeftType, PEFT_TYPE, member)
        register_peft_method(name="scale", config_cls=ScAlePeftConfig, model_cls=ScAleModel, prefix="scale_")
    except (ImportError, ValueError, KeyError, AttributeError, TypeError):  # a peft whose enum cannot grow: the same three tables by hand
        PEFT_TYPE_TO_CONFIG_MAPPING[PEFT_TYPE] = ScAlePeftConfig
        PEFT_TYPE_TO_TUNER_MAPPING[PEFT_TYPE] = ScAleModel
        PEFT_TYPE_TO_PREFIX_MAPPING[PEFT_TYPE] = "scale_"


_register()


def _layers(peft_model) -> list[ScAleLayer]:
    return [m for m in peft_model.modules() if isinstance(m, ScAleLayer)]


def peft_from_scale(adapter, *, adapter_name: str = "default"):
    """A peft model carrying ``adapter``'s coefficients (a :class:`scale_lib.ScAle`), on the adapter's model."""
    cfg = ScAlePeftConfig(layers=list(adapter.layers), heads=adapter.config.heads, mlp=adapter.config.mlp, bound=tuple(adapter.config.bound),
                          positions=adapter.config.positions, layout=None if adapter.layout is None else adapter.layout.to_dict())
    model = peft.get_peft_model(adapter.model, cfg, adapter_name=adapter_name)
    copy_theta(adapter, model, to="peft", adapter_name=adapter_name)
    return model


def scale_from_peft(peft_model, *, adapter_name: str | None = None):
    """A :class:`scale_lib.ScAle` on the base model with the peft adapter's coefficients (for the book's
    prefix-cached trainer, the sweeps and :meth:`ScAle.merge`). Train it with the peft adapter disabled
    (``with peft_model.disable_adapter():``), then :func:`copy_theta` back."""
    from scale_lib.scaling.adapter import ScAle, ScAleConfig

    name = adapter_name or peft_model.active_adapter
    cfg = peft_model.peft_config[name]
    layout = None if cfg.layout is None else Layout.from_dict(cfg.layout)
    base = peft_model.get_base_model()
    trainable = {n: p.requires_grad for n, p in base.named_parameters()}
    adapter = ScAle(base, ScAleConfig(layers=list(cfg.layers), heads=cfg.heads, mlp=cfg.mlp, bound=tuple(cfg.bound), positions=cfg.positions),
                    layout=layout)
    for n, p in base.named_parameters():  # ScAle freezes its model; the peft adapter's own θ stays trainable
        p.requires_grad_(trainable[n])
    copy_theta(adapter, peft_model, to="scale", adapter_name=name)
    return adapter


def is_scale_peft(model) -> bool:
    """Whether ``model`` is a peft model whose active adapter is a ScAle one."""
    cfgs = getattr(model, "peft_config", None)
    name = getattr(model, "active_adapter", None)
    return isinstance(cfgs, dict) and name in cfgs and str(getattr(cfgs[name], "peft_type", "")) in (PEFT_TYPE, f"PeftType.{PEFT_TYPE}")


@torch.no_grad()
def copy_theta(adapter, peft_model, *, to: str, adapter_name: str = "default") -> None:
    """Copy θ between a :class:`scale_lib.ScAle` and a peft model's ScAle layers (``to="peft"`` or ``"scale"``)."""
    if to not in ("peft", "scale"):
        raise ValueError(f"to must be 'peft' or 'scale', got {to!r}")
    cfg = peft_model.peft_config[adapter_name]
    by_name = {n: m for n, m in peft_model.get_base_model().named_modules() if isinstance(m, ScAleLayer)}
    for i in range(len(cfg.layers)):
        pairs = []
        if cfg.heads:
            pairs.append((by_name[cfg.head_modules[i]].scale_theta[adapter_name], adapter.head_theta[i]))
        if cfg.mlp:
            mlp_name = cfg.target_modules[len(cfg.head_modules) + i]
            pairs.append((by_name[mlp_name].scale_theta[adapter_name], adapter.mlp_theta[i : i + 1]))
        for peft_param, scale_param in pairs:
            (peft_param if to == "peft" else scale_param).copy_(scale_param if to == "peft" else peft_param)

