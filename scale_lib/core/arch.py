"""Model map: where the layers, attention output projections, MLPs and norms of a model live.

ScAle and the rescaling sweeps act on three *sites* of every transformer layer:

* the **attention output projection** (``o_proj`` / ``c_proj`` / ``out_proj`` / ``dense``). Its
  *input* is the concatenation of the per-head outputs, so a pre-hook there sees every head
  separately: ``(batch, seq, n_heads * head_dim)`` viewed as ``(batch, seq, n_heads, head_dim)``.
  Its *output* is the attention block's contribution to the residual stream;
* the **MLP**, whose output is the MLP block's contribution to the residual stream;
* the **norms** (used by the scale-vector notebooks).

**Post-norm families** (Gemma 2, Gemma 3 and the VLMs built on them, OLMo 2/3): a norm follows each
sublayer *before* the residual add — ``h + post_attention_layernorm(attn(h))``. Scaling the output
projection there would be undone by that norm (a uniform scale is a no-op up to its epsilon). So
on these models the ``"attn"`` and ``"mlp"`` sites are the **post-sublayer norms' outputs**: the
block's real contribution to the residual stream, which is what scaling a block means. Head sites
stay at the output projection's input (where the heads are separate); there the norm keeps only
the heads' *relative* weights — ``"L3.H5": 0`` still removes head 5, but scaling every head of a
layer by the same number changes nothing. :attr:`Layout.attn_post` / :attr:`Layout.mlp_post` name
those norms; :func:`model_map` finds them in any layer that has a ``post_feedforward_layernorm``.

:func:`model_map` finds them for the architectures in :data:`LAYOUTS` (one entry per
``config.model_type``, like peft's ``TRANSFORMERS_MODELS_TO_*`` tables). Any other model can be
described by hand with a :class:`Layout`, registered with :func:`register_layout`, or, failing both, is
read from its module tree by :func:`scale_lib.core.infer.infer_layout` (with a warning that shows the guess).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

__all__ = ["Layout", "ModelMap", "LAYOUTS", "VISION_LAYOUTS", "model_map", "register_layout", "freeze", "trainable_parameters", "count_hooks", "unwrap"]


@dataclass(frozen=True)
class Layout:
    """Module names of one transformer stack (paths are dotted module names).

    Args:
        layers: the ``nn.ModuleList`` of layers. Matched as a *suffix* of the module names, so
            ``"layers"`` finds ``model.layers`` in a ``LlamaForCausalLM`` and ``layers`` in a bare
            ``LlamaModel``, and a peft-wrapped model still matches.
        attn_out: inside one layer, the attention output projection (input = heads concatenated).
        mlp: inside one layer, the module whose output is the MLP's contribution.
        final_norm: the norm after the last layer (suffix-matched), or ``None``.
        heads_attr: config attributes to read the number of (query) heads from, first found wins.
        causal: whether position *t* only sees positions ``<= t`` (decoders) or not (encoders).
        attn_out_alt: alternatives for layers without ``attn_out`` (first found wins), e.g. Mllama's
            cross-attention layers, whose attention sites are the cross-attention heads.
        attn_post, mlp_post: inside one layer, the norms applied to the attention / MLP output
            *before* the residual add (post-norm families); ``None`` where there are none. When
            set, the ``"attn"`` / ``"mlp"`` sites scale their outputs.
    """

    layers: str
    attn_out: str
    mlp: str
    final_norm: str | None = None
    heads_attr: tuple[str, ...] = ("num_attention_heads", "n_head", "num_heads")
    causal: bool = True
    attn_post: str | None = None
    mlp_post: str | None = None
    attn_out_alt: tuple[str, ...] = ()

    def attn_paths(self) -> tuple[str, ...]:
        """``attn_out`` and its per-layer alternatives, in the order tried (e.g. Mllama's cross-attention layers)."""
        return (self.attn_out, *self.attn_out_alt)

    @property
    def post_norm(self) -> bool:
        """True when the block sites sit after post-sublayer norms."""
        return self.attn_post is not None or self.mlp_post is not None

    def to_dict(self) -> dict:
        """A JSON-ready dict (what an adapter's config stores)."""
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Layout:
        """The inverse of :meth:`to_dict` (JSON lists back to tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


_LLAMA_LIKE = Layout(layers="layers", attn_out="self_attn.o_proj", mlp="mlp", final_norm="norm")
#: Gemma 2/3 and OLMo 2 name their post-sublayer norms the same way (in Llama, ``post_attention_layernorm`` is the *pre*-MLP norm).
_POST = dict(attn_post="post_attention_layernorm", mlp_post="post_feedforward_layernorm")
_POST_NORM = Layout(layers="layers", attn_out="self_attn.o_proj", mlp="mlp", final_norm="norm", **_POST)

#: Language-model layouts, by ``config.model_type``.
LAYOUTS: dict[str, Layout] = {
    **{
        t: _LLAMA_LIKE
        for t in ("llama", "mistral", "qwen2", "qwen3", "gemma", "phi3")
    },
    **{t: _POST_NORM for t in ("gemma2", "gemma3_text", "olmo2")},
    # more Llama-like decoders; for MoE models the "mlp" site is the whole expert block's output
    **{t: _LLAMA_LIKE for t in ("olmo", "granite", "mixtral", "qwen2_moe", "qwen3_moe", "smollm3", "stablelm", "cohere", "starcoder2")},
    "phi": Layout(layers="layers", attn_out="self_attn.dense", mlp="mlp", final_norm="final_layernorm"),
    "gpt_neox": Layout(layers="layers", attn_out="attention.dense", mlp="mlp", final_norm="final_layer_norm"),
    "falcon": Layout(layers="h", attn_out="self_attention.dense", mlp="mlp", final_norm="ln_f"),
    "gptj": Layout(layers="h", attn_out="attn.out_proj", mlp="mlp", final_norm="ln_f"),
    "gpt2": Layout(layers="transformer.h", attn_out="attn.c_proj", mlp="mlp", final_norm="transformer.ln_f"),
    "bert": Layout(
        layers="encoder.layer", attn_out="attention.output.dense", mlp="output.dense", causal=False
    ),
    **{
        t: Layout(
            layers="language_model.layers",
            attn_out="self_attn.o_proj",
            mlp="mlp",
            final_norm="language_model.norm",
        )
        for t in ("llava", "llava_next", "llava_onevision", "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "internvl", "mistral3")
    },
    # Llama 4: the "mlp" site is the feed-forward block (a mixture of experts on MoE layers, plus the shared expert)
    "llama4": Layout(layers="language_model.model.layers", attn_out="self_attn.o_proj", mlp="feed_forward", final_norm="language_model.model.norm"),
    "llama4_text": Layout(layers="layers", attn_out="self_attn.o_proj", mlp="feed_forward", final_norm="norm"),
    # Gemma 3n: post-norm like Gemma 3 (AltUp and LAuReL are per-position, so the decoder stays causal). The VLM's
    # vision tower is a timm MobileNet; the language model is mapped the same way in both.
    "gemma3n_text": _POST_NORM,
    "gemma3n": Layout(layers="language_model.layers", attn_out="self_attn.o_proj", mlp="mlp", final_norm="language_model.norm", **_POST),
    # Mllama: every few layers is a cross-attention layer (no self_attn): its attention sites are the
    # cross-attention heads and output. On text-only input those layers are skipped entirely, and
    # scaled() warns that their sites were never reached.
    "mllama": Layout(layers="language_model.layers", attn_out="self_attn.o_proj", mlp="mlp", final_norm="language_model.norm",
                     attn_out_alt=("cross_attn.o_proj",)),
    "gemma3": Layout(layers="language_model.layers", attn_out="self_attn.o_proj", mlp="mlp", final_norm="language_model.norm", **_POST),
    # PaliGemma is a prefix-LM: image and prompt tokens attend to each other in both directions,
    # so scaling the last prompt token changes earlier positions too (no prefix caching).
    "paligemma": Layout(
        layers="language_model.layers", attn_out="self_attn.o_proj", mlp="mlp", final_norm="language_model.norm", causal=False
    ),
    **{
        t: Layout(
            layers="text_model.layers", attn_out="self_attn.o_proj", mlp="mlp", final_norm="text_model.norm"
        )
        for t in ("idefics3", "smolvlm", "idefics2")
    },
}

_SIGLIP_CLIP = Layout(layers="encoder.layers", attn_out="self_attn.out_proj", mlp="mlp", causal=False)
#: Vision-tower layouts, by ``config.model_type``. Only touched when asked (``tower="vision"``).
VISION_LAYOUTS: dict[str, Layout] = {
    "llava": _SIGLIP_CLIP,
    "llava_next": _SIGLIP_CLIP,
    "llava_onevision": _SIGLIP_CLIP,
    "paligemma": _SIGLIP_CLIP,
    "gemma3": _SIGLIP_CLIP,
    "idefics3": Layout(layers="encoder.layers", attn_out="self_attn.out_proj", mlp="mlp", causal=False),
    "smolvlm": Layout(layers="encoder.layers", attn_out="self_attn.out_proj", mlp="mlp", causal=False),
    "qwen2_vl": Layout(layers="visual.blocks", attn_out="attn.proj", mlp="mlp", causal=False),
    "qwen2_5_vl": Layout(layers="visual.blocks", attn_out="attn.proj", mlp="mlp", causal=False),
    "qwen3_vl": Layout(layers="visual.blocks", attn_out="attn.proj", mlp="mlp", causal=False),
    "idefics2": Layout(layers="vision_model.encoder.layers", attn_out="self_attn.out_proj", mlp="mlp", causal=False),
    "internvl": Layout(layers="vision_tower.encoder.layer", attn_out="attention.projection_layer", mlp="mlp", causal=False),
    "mistral3": Layout(layers="vision_tower.transformer.layers", attn_out="attention.o_proj", mlp="feed_forward", causal=False),
}

TOWERS = ("language", "vision")


def unwrap(model: nn.Module) -> nn.Module:
    """A peft ``PeftModel`` -> the transformers model inside it."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def _find_suffix(root: nn.Module, suffix: str, kind: type | None = None) -> list[str]:
    hits = []
    for name, mod in root.named_modules():
        if (name == suffix or name.endswith("." + suffix)) and (kind is None or isinstance(mod, kind)):
            hits.append(name)
    return hits


def _has(module: nn.Module, path: str) -> bool:
    try:
        module.get_submodule(path)
        return True
    except AttributeError:
        return False


def _module_lists(root: nn.Module) -> list[str]:
    return [f"{n} ({len(m)} x {type(m[0]).__name__})" for n, m in root.named_modules() if isinstance(m, nn.ModuleList) and len(m)]


def _in_features(mod: nn.Module) -> int:
    if isinstance(mod, nn.Linear):
        return mod.in_features
    w = getattr(mod, "weight", None)
    if w is not None and type(mod).__name__ == "Conv1D":  # GPT-2: weight is (in, out)
        return w.shape[0]
    if w is not None and w.dim() == 2:
        return w.shape[1]
    raise TypeError(f"cannot read the input width of {type(mod).__name__}; expected nn.Linear or GPT-2's Conv1D")


def _config_for(model: nn.Module, tower: str):
    cfg = model.config
    if tower == "vision":
        return getattr(cfg, "vision_config", cfg)
    get_text = getattr(cfg, "get_text_config", None)
    return get_text() if callable(get_text) else cfg


@dataclass
class ModelMap:
    """The modules :func:`scale_lib.scaled` hooks into, for one stack of one model.

    Layers are kept as a plain Python list (not registered as sub-modules), so holding a
    ``ModelMap`` never makes the backbone's parameters part of anything else.
    """

    model_type: str
    tower: str
    layout: Layout
    layers_path: str
    layers: list[nn.Module] = field(repr=False)
    n_heads: int
    head_dim: int
    n_kv_heads: int
    hidden_size: int

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def causal(self) -> bool:
        return self.layout.causal

    def check_layer(self, layer: int) -> int:
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise TypeError(f"layer must be an int, got {layer!r}")
        if not 0 <= layer < self.n_layers:
            raise ValueError(
                f"layer {layer} is out of range: this {self.model_type} {self.tower} stack has "
                f"{self.n_layers} layers, valid layers are 0..{self.n_layers - 1}"
            )
        return layer

    def check_head(self, head: int, layer: int | None = None) -> int:
        if isinstance(head, bool) or not isinstance(head, int):
            raise TypeError(f"head must be an int, got {head!r}")
        if not 0 <= head < self.n_heads:
            where = f" of layer {layer}" if layer is not None else ""
            raise ValueError(
                f"head {head}{where} is out of range: {self.model_type} has {self.n_heads} query heads "
                f"per layer, valid heads are 0..{self.n_heads - 1}"
            )
        return head

    def attn_out(self, layer: int) -> nn.Module:
        """The attention output projection of ``layer`` (its input holds the heads)."""
        block = self.layers[self.check_layer(layer)]
        return block.get_submodule(next(p for p in self.layout.attn_paths() if _has(block, p)))

    def mlp(self, layer: int) -> nn.Module:
        """The MLP module of ``layer``."""
        return self.layers[self.check_layer(layer)].get_submodule(self.layout.mlp)

    def attn_block(self, layer: int) -> nn.Module:
        """The module whose output is the attention block's contribution to the residual stream (the ``"attn"`` site)."""
        if self.layout.attn_post is None:
            return self.attn_out(layer)
        return self.layers[self.check_layer(layer)].get_submodule(self.layout.attn_post)

    def mlp_block(self, layer: int) -> nn.Module:
        """The module whose output is the MLP block's contribution to the residual stream (the ``"mlp"`` site)."""
        path = self.layout.mlp_post or self.layout.mlp
        return self.layers[self.check_layer(layer)].get_submodule(path)

    def norms(self, layer: int) -> dict[str, nn.Module]:
        """Every normalisation module inside ``layer``, by its name inside the layer."""
        return {
            n: m
            for n, m in self.layers[self.check_layer(layer)].named_modules()
            if n and "norm" in type(m).__name__.lower()
        }

    def describe(self) -> str:
        lines = [
            f"{self.model_type} ({self.tower} stack): {self.n_layers} layers at '{self.layers_path}', "
            f"{self.n_heads} query heads x head_dim {self.head_dim} ({self.n_kv_heads} key/value heads), "
            f"hidden size {self.hidden_size}, {'causal' if self.causal else 'bidirectional'}",
            f"  attention output projection: {self.layers_path}.N.{self.layout.attn_out}",
            f"  MLP output:                   {self.layers_path}.N.{self.layout.mlp}",
            *([f"  post-norm: 'attn' and 'mlp' sites scale {self.layout.attn_post} / {self.layout.mlp_post} "
               "(the blocks' residual contributions); heads keep only relative weights"] if self.layout.post_norm else []),
            f"  norms in a layer:             {', '.join(self.norms(0)) or '(none)'}",
        ]
        return "\n".join(lines)

    __str__ = describe


def register_layout(model_type: str, layout: Layout, *, tower: str = "language", replace: bool = False) -> None:
    """Teach :func:`model_map` (and so ``scaled``, ``ScAle``, the sweeps) a new ``config.model_type``.

        >>> sl.register_layout("my_decoder", sl.Layout(layers="blocks", attn_out="attn.out_proj", mlp="ffn"))

    Raises when ``layout`` is not a :class:`Layout`, the tower is unknown, or the type is known
    already (pass ``replace=True`` to override a built-in layout)."""
    if not isinstance(layout, Layout):
        raise TypeError(f"layout must be a scale_lib.Layout, got {type(layout).__name__}")
    if tower not in TOWERS:
        raise ValueError(f"unknown tower {tower!r}; valid towers are {TOWERS}")
    table = LAYOUTS if tower == "language" else VISION_LAYOUTS
    if model_type in table and not replace:
        raise ValueError(f"model type {model_type!r} already has a {tower} layout ({table[model_type]}); pass replace=True to override it")
    table[model_type] = layout


def model_map(model: nn.Module, *, tower: str = "language", layout: Layout | None = None) -> ModelMap:
    """Find the layers, attention output projections, MLPs and norms of ``model``.

    Args:
        model: a Hugging Face transformers model (or a peft model wrapping one).
        tower: ``"language"`` (default; the text decoder of a VLM) or ``"vision"`` (a VLM's
            vision encoder — never touched unless asked for).
        layout: module names given by hand, for an architecture not in :data:`LAYOUTS`.

    Raises:
        ValueError: unknown architecture whose layout cannot be inferred (the message lists the layer
            stacks found and shows how to pass a :class:`Layout`), unknown tower, or a layout whose names
            are not found. An unknown type whose layout :func:`scale_lib.core.infer.infer_layout` can
            read from the module tree is mapped with a ``UserWarning`` that prints the inferred layout.
    """
    if tower not in TOWERS:
        raise ValueError(f"unknown tower {tower!r}; valid towers are {TOWERS}")
    model = unwrap(model)
    cfg = getattr(model, "config", None)
    model_type = getattr(cfg, "model_type", type(model).__name__)
    table = LAYOUTS if tower == "language" else VISION_LAYOUTS
    if layout is None and model_type not in table:
        from scale_lib.core.infer import infer_layout

        try:
            layout = infer_layout(model, tower=tower)
        except ValueError as err:
            raise ValueError(
                f"unknown architecture {model_type!r} for the {tower} tower. Known: {sorted(table)}.\n{err}\n"
                f"Layer stacks found in this model: {_module_lists(model) or ['(none)']}.\n"
                "Describe it by hand, e.g. model_map(model, layout=scale_lib.Layout(layers='model.layers', "
                "attn_out='self_attn.o_proj', mlp='mlp')) -- attn_out must be the module whose input is "
                f"the concatenated head outputs -- or register it once: scale_lib.register_layout({model_type!r}, scale_lib.Layout(...))."
            ) from None
        import warnings

        warnings.warn(f"{model_type!r} has no built-in {tower} layout; inferred {layout} from its module tree. Check it, then pass "
                      f"layout= or scale_lib.register_layout({model_type!r}, layout) to make it explicit", UserWarning, stacklevel=3)
    layout = layout or table[model_type]
    hits = _find_suffix(model, layout.layers, nn.ModuleList)
    if len(hits) != 1:
        raise ValueError(
            f"layout.layers={layout.layers!r} matched {hits or 'nothing'} in {type(model).__name__}; "
            f"it must match exactly one nn.ModuleList. Layer stacks found: {_module_lists(model)}"
        )
    layers = list(model.get_submodule(hits[0]))
    if not layout.post_norm and all(_has(layer, _POST["mlp_post"]) and _has(layer, _POST["attn_post"]) for layer in layers):
        import dataclasses

        layout = dataclasses.replace(layout, **_POST)  # e.g. PaliGemma 2 (Gemma 2 inside): scale after the post-sublayer norms
    for what in ("attn_out", "mlp", "attn_post", "mlp_post"):
        path = getattr(layout, what)
        if path is None:
            continue
        paths = layout.attn_paths() if what == "attn_out" else (path,)
        missing = [i for i, layer in enumerate(layers) if not any(_has(layer, p) for p in paths)]
        if missing:
            children = [n for n, _ in layers[missing[0]].named_modules() if n]
            raise ValueError(
                f"layout.{what}={path!r} is not a module of layer(s) {missing} of {hits[0]} ({type(layers[missing[0]]).__name__}); "
                f"modules there: {children}. Every layer must have every site; for a model whose layers differ, "
                "pass a Layout that names modules every layer has"
            )
    tcfg = _config_for(model, tower)
    n_heads = next((getattr(tcfg, a) for a in layout.heads_attr if getattr(tcfg, a, None)), None)
    if n_heads is None:
        raise ValueError(f"could not read the number of heads from the config (tried {layout.heads_attr})")
    width = _in_features(next(layers[0].get_submodule(p) for p in layout.attn_paths() if _has(layers[0], p)))
    if width % n_heads:
        raise ValueError(f"attention output width {width} is not divisible by {n_heads} heads")
    hidden = getattr(tcfg, "hidden_size", None) or getattr(tcfg, "n_embd", None) or width
    return ModelMap(
        model_type=model_type,
        tower=tower,
        layout=layout,
        layers_path=hits[0],
        layers=layers,
        n_heads=int(n_heads),
        head_dim=width // n_heads,
        n_kv_heads=int(getattr(tcfg, "num_key_value_heads", None) or n_heads),
        hidden_size=int(hidden),
    )


def trainable_parameters(module: nn.Module) -> int:
    """Number of parameters with ``requires_grad``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def freeze(model: nn.Module) -> nn.Module:
    """Set ``requires_grad=False`` on every parameter (in place) and return the model."""
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def count_hooks(model: nn.Module) -> int:
    """Total forward (pre-)hooks registered on ``model`` and its sub-modules — a leak detector."""
    n = 0
    for m in model.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks)
    return n

