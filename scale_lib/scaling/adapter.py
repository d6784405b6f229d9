"""ScAle — bounded scalar coefficients on the last-token outputs of attention heads and MLPs of a frozen model.

One coefficient per attention head per chosen layer and one per chosen layer's MLP output,
``s = lo + (hi − lo)·sigmoid(θ)`` with θ initialised so that ``s = 1`` exactly: at initialisation
the adapted model *is* the frozen model. (Our reading of the paper, whose full text is not public:
the title says *attention head* scaling; 32 layers × 32 heads = 1,024 ≈ "1K" for a 7B
LLaMA-family backbone.)

    >>> adapter = ScAle(model, ScAleConfig(layers=[0, 1]))     # model frozen by the adapter
    >>> with adapter.applied():
    ...     loss = loss_fn(model(**batch).logits[:, -1])
    >>> adapter.save("my_adapter/"); ScAle.load("my_adapter/", model)

Because only the last position changes and decoders are causal, nothing before the last token
depends on the coefficients: :func:`prefix_cache` runs the prompt once without gradients and
:func:`last_token_logits` runs only the last token through the hooked model (see the tests for the
proof that logits and gradients equal the full-sequence path).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from scale_lib.core.arch import LAYOUTS, Layout, freeze, model_map, unwrap
from scale_lib.core.hooks import Scaling
from scale_lib.core.prefix import (
    _cache_bytes,
    last_token_logits,
    n_rows,
    prefix_cache,
    select_rows,
)
from scale_lib.core.schedules import batch_schedule
from scale_lib.core.training import fit

__all__ = ["ScAleConfig", "ScAle", "GENERATION_MODES", "prefix_cache", "last_token_logits", "train_scale", "batch_schedule", "cache_check", "cached_step_speedup", "scale_step",
           "select_rows", "n_rows"]


@dataclass
class ScAleConfig:
    """Which sites get a coefficient, and the bound.

    Args:
        layers: layer indices, or ``None`` for every layer.
        heads: one coefficient per attention head of each chosen layer.
        mlp: one coefficient for the MLP output of each chosen layer.
        bound: ``(lo, hi)``; ``s = lo + (hi − lo)·sigmoid(θ)``, which must contain 1.
        positions: where the coefficients act — ``"last"`` (the last real token of each row: ScAle, and
            what makes the prefix cache valid) or ``"all"`` (every position, for comparison).
    """

    layers: list[int] | None = None
    heads: bool = True
    mlp: bool = True
    bound: tuple[float, float] = (0.0, 2.0)
    positions: str = "last"

    def __post_init__(self):
        lo, hi = self.bound
        if not lo < 1.0 < hi:
            raise ValueError(f"bound {self.bound} must contain 1 strictly inside (lo < 1 < hi) so that ScAle starts as the identity")
        if not (self.heads or self.mlp):
            raise ValueError("ScAleConfig needs heads=True, mlp=True or both")
        if self.positions not in ("last", "all"):
            raise ValueError(f"unknown positions {self.positions!r}; valid: 'last', 'all'")

    def to_peft(self, **peft_kwargs):
        """The same configuration as a peft config (:class:`scale_lib.ScAlePeftConfig`), for ``peft.get_peft_model``."""
        from scale_lib.scaling.peft_method import ScAlePeftConfig

        return ScAlePeftConfig(layers=self.layers, heads=self.heads, mlp=self.mlp, bound=tuple(self.bound), positions=self.positions, **peft_kwargs)


def identity_theta(bound: tuple[float, float]) -> float:
    """The θ at which ``lo + (hi − lo)·sigmoid(θ)`` is exactly 1: ``sigmoid(θ) = (1 − lo)/(hi − lo)``."""
    lo, hi = bound
    return math.log((1 - lo) / (hi - 1))


def bounded(theta: torch.Tensor, bound: tuple[float, float]) -> torch.Tensor:
    """The coefficients ``lo + (hi − lo)·sigmoid(θ)`` (ScAle's and its peft layers')."""
    lo, hi = bound
    return lo + (hi - lo) * torch.sigmoid(theta)


#: What :meth:`ScAle.generate` can scale while generating.
GENERATION_MODES = ("prompt_last", "every_new_token")


class ScAle(nn.Module):
    """The adapter. Holds only its coefficients (θ); the model is kept as a plain reference and frozen."""

    def __init__(self, model: nn.Module, config: ScAleConfig | None = None, *, layout: Layout | None = None):
        """``layout``: module names for an architecture :data:`scale_lib.LAYOUTS` does not know (or
        :func:`scale_lib.register_layout` it once); saved with the adapter and used again on load."""
        super().__init__()
        self.config = config or ScAleConfig()
        mm = model_map(model, layout=layout)
        if layout is None and mm.model_type not in LAYOUTS:
            layout = mm.layout  # inferred from the module tree: saved with the adapter, so loading does not guess again
        self.__dict__["layout"] = layout
        layers = list(range(mm.n_layers)) if self.config.layers is None else list(self.config.layers)
        for layer in layers:
            mm.check_layer(layer)
        if len(set(layers)) != len(layers):
            raise ValueError(f"layers repeat: {layers}")
        self.layers = layers
        self.__dict__["model"] = model  # a plain reference: the backbone never becomes part of the adapter
        self.__dict__["map"] = mm
        freeze(model)
        theta0 = identity_theta(self.config.bound)  # s = 1 exactly
        device = next((p.device for p in model.parameters()), torch.device("cpu"))  # θ lives where the model does
        self.head_theta = nn.Parameter(torch.full((len(layers), mm.n_heads), theta0, device=device)) if self.config.heads else None
        self.mlp_theta = nn.Parameter(torch.full((len(layers),), theta0, device=device)) if self.config.mlp else None
        self._attached: Scaling | None = None

    # ------------------------------------------------------------------ coefficients
    def _bounded(self, theta: torch.Tensor) -> torch.Tensor:
        return bounded(theta, self.config.bound)

    def coefficients(self) -> dict[str, torch.Tensor]:
        """Current coefficients: ``{"heads": (layers, heads), "mlp": (layers,)}`` (detached)."""
        out = {}
        if self.head_theta is not None:
            out["heads"] = self._bounded(self.head_theta).detach()
        if self.mlp_theta is not None:
            out["mlp"] = self._bounded(self.mlp_theta).detach()
        return out

    def sites(self) -> dict:
        """``{site: callable}`` for :func:`scale_lib.scaled`: each callable recomputes its scale from θ."""
        out = {}
        for i, layer in enumerate(self.layers):
            if self.head_theta is not None:
                out[f"L{layer}.heads"] = lambda i=i: self._bounded(self.head_theta[i])
            if self.mlp_theta is not None:
                out[f"L{layer}.mlp"] = lambda i=i: self._bounded(self.mlp_theta[i])
        return out

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def identity_for(self, layers, *, heads: bool = True, mlp: bool = True):
        """Context manager: the coefficients of ``layers`` set back to exactly 1 (an ablation), restored on exit.

            >>> with adapter.identity_for([2, 3], mlp=False):   # how much of the gain do layers 2-3's heads carry?
            ...     acc = adapted.accuracy(test)
        """
        import contextlib

        bad = [l for l in layers if l not in self.layers]
        if bad:
            raise ValueError(f"layers {bad} have no coefficients; this adapter's layers are {self.layers}")
        rows = [self.layers.index(l) for l in layers]
        theta0 = identity_theta(self.config.bound)

        @contextlib.contextmanager
        def ablated():
            saved = {name: p.detach().clone() for name, p in self.named_parameters()}
            try:
                with torch.no_grad():
                    if heads and self.head_theta is not None:
                        self.head_theta[rows] = theta0
                    if mlp and self.mlp_theta is not None:
                        self.mlp_theta[rows] = theta0
                yield self
            finally:
                with torch.no_grad():
                    for name, p in self.named_parameters():
                        p.copy_(saved[name])
        return ablated()

    def __repr__(self) -> str:
        return (f"ScAle({self.map.model_type}, layers={self.layers}, heads={self.config.heads}, mlp={self.config.mlp}, "
                f"bound={self.config.bound}, trainable parameters={self.num_parameters():,})")

    # ------------------------------------------------------------------ applying
    def applied(self) -> Scaling:
        """A context manager: the model is adapted inside the ``with`` block."""
        if self.__dict__.get("merged"):
            raise RuntimeError("this adapter is merged into the model's weights: the model is adapted without it (applying it would scale twice)")
        return Scaling(self.model, self.sites(), positions=self.config.positions, mmap=self.map)  # the map is built once, in __init__

    def attach(self) -> ScAle:
        """Keep the adapter on the model until :meth:`detach` (hooks recompute scales every forward)."""
        if self._attached is not None:
            raise RuntimeError("this ScAle adapter is already attached; detach() it first")
        self._attached = self.applied().attach()
        return self

    def detach(self) -> None:
        if self._attached is not None:
            self._attached.detach()
            self._attached = None

    def merge(self) -> nn.Module:
        """Fold the coefficients into the model's weights (adapters with ``positions="all"`` only); see
        :mod:`scale_lib.scaling.merge` for how, and why a last-token adapter refuses."""
        from scale_lib.scaling.merge import merge_scale

        return merge_scale(self)

    # ------------------------------------------------------------------ generating
    def generate(self, inputs: dict, *, scale: str = "prompt_last", **generate_kwargs) -> torch.Tensor:
        """``model.generate(**inputs, **generate_kwargs)`` with the adapter on, with a defined meaning.

        ``scale`` (see :data:`GENERATION_MODES`):

        * ``"prompt_last"`` (default) — only the prompt's last token is scaled, the position ScAle was
          trained on; generated tokens run through the frozen model (they see the scaled token's keys
          and values). Like peft's aLoRA, the adapter acts on the prompt, not on the answer.
        * ``"every_new_token"`` — the prompt's last token and every generated token are scaled, each
          as it is produced.

        Either way KV-cached and uncached generation give the same tokens (positions are counted in
        the whole sequence, so a cached step knows where it is). Prompts must be left-padded. An
        adapter trained with ``positions="all"`` scales every position (``scale`` is not used).
        Plain ``with adapter.applied(): model.generate(...)`` scales "the last position" of each
        forward call, which is ``every_new_token`` with a KV cache but only the final token without one.
        """
        if scale not in GENERATION_MODES:
            raise ValueError(f"unknown generation mode scale={scale!r}; valid: {GENERATION_MODES}")
        mask = inputs.get("attention_mask")
        if mask is None or not bool(mask[:, -1].all()):
            raise ValueError("generate needs left-padded prompts with an attention_mask (every row's last column a real token)")
        prompt_len = int(inputs["input_ids"].shape[1])
        if self.config.positions == "all":
            positions = "all"
        else:
            positions = [prompt_len - 1] if scale == "prompt_last" else slice(prompt_len - 1, None)
        with torch.no_grad(), Scaling(self.model, self.sites(), positions=positions, mmap=self.map):
            return self.model.generate(**inputs, **generate_kwargs)

    # ------------------------------------------------------------------ saving
    def _signature(self) -> dict:
        return {"model_type": self.map.model_type, "n_layers": self.map.n_layers, "n_heads": self.map.n_heads}

    def _site_names(self) -> tuple[list[str], list[str]]:
        """Module names of the head sites and the MLP sites, in layer order (peft's ``target_modules``)."""
        names = {id(m): n for n, m in unwrap(self.model).named_modules()}
        heads = [names[id(self.map.attn_out(layer))] for layer in self.layers] if self.config.heads else []
        mlps = [names[id(self.map.mlp_block(layer))] for layer in self.layers] if self.config.mlp else []
        return heads, mlps

    def save(self, directory: str | Path, *, base_model: str | None = None) -> Path:
        """Save in peft's format (``peft_type="SCALE"``): ``adapter_config.json``, ``adapter_model.safetensors``
        and a ``README.md`` model card that records the base model, the bound and the coefficients. Loads
        with :meth:`load`, or with ``peft.PeftModel.from_pretrained`` once :mod:`scale_lib.scaling.peft_method`
        is imported. ``base_model``: the hub id to record (default: the model's ``name_or_path``). No pickle."""
        from scale_lib.scaling.adapter_files import save_adapter

        return save_adapter(self, directory, base_model=base_model)

    def push_to_hub(self, repo_id: str, *, private: bool = True, base_model: str | None = None, **upload_kwargs):
        """Save to a temporary folder and upload it with ``huggingface_hub`` (needs a token and a network)."""
        from scale_lib.scaling.adapter_files import push_adapter

        return push_adapter(self, repo_id, private=private, base_model=base_model, **upload_kwargs)

    @classmethod
    def load(cls, directory: str | Path, model: nn.Module, *, layout: Layout | None = None) -> ScAle:
        """Load a saved adapter onto ``model``; a model of another architecture or shape is refused.
        Reads the peft format :meth:`save` writes (and ``peft.PeftModel.save_pretrained`` of a ScAle peft
        model), and scale_lib 0.1's format. ``layout``: overrides the layout saved with the adapter (if any)."""
        from scale_lib.scaling.adapter_files import load_adapter

        return load_adapter(cls, directory, model, layout=layout)


def scale_step(adapter: ScAle, inputs: dict, labels: torch.Tensor, cache=None, *, reuse: bool = True, attention: str = "model") -> torch.Tensor:
    """One loss + backward to the adapter's coefficients (no optimiser step); returns the detached logits.

    ``cache=None``: the plain full-sequence path; otherwise the last token on top of ``cache``
    (see :func:`last_token_logits` for ``reuse`` and ``attention``). What :func:`cache_check`,
    :func:`cached_step_speedup` and ``benchmarks/bench_prefix_cache.py`` time and compare.
    """
    adapter.zero_grad(set_to_none=True)
    with adapter.applied():
        if cache is None:
            logits = adapter.model(**inputs).logits[:, -1]
        else:
            logits = last_token_logits(adapter.model, cache, inputs["input_ids"], inputs["attention_mask"], reuse=reuse, attention=attention)
    torch.nn.functional.cross_entropy(logits, labels).backward()
    return logits.detach()


def cache_check(adapter: ScAle, inputs: dict, labels: torch.Tensor, *, attention: str = "model") -> dict[str, float]:
    """Largest absolute differences of logits and of θ-gradients: prefix-cached path vs plain path,
    and ``grad_scale``, the largest ``|gradient|`` (to judge the difference against: float32 rounding
    grows with depth and width, so on a 30-layer model compare relative to it).

    Both paths should agree to float precision (the tests require ≤ 1e-5 on tiny models); the
    adapter's coefficients are left as they are and its gradients cleared. ``attention``: the cached
    path's attention (see :func:`last_token_logits`).
    """
    plain = scale_step(adapter, inputs, labels)
    g_plain = [p.grad.clone() for p in adapter.parameters()]
    cached = scale_step(adapter, inputs, labels, prefix_cache(adapter.model, inputs, causal=adapter.map.causal), attention=attention)
    grad = max(float((a - p.grad).abs().max()) for a, p in zip(g_plain, adapter.parameters()))
    scale = max(float(a.abs().max()) for a in g_plain)
    adapter.zero_grad(set_to_none=True)
    return {"max_logit_diff": float((plain - cached).abs().max()), "max_grad_diff": grad, "grad_scale": scale}


def cached_step_speedup(adapter: ScAle, inputs: dict, labels: torch.Tensor, *, repeats: int = 3) -> dict[str, float]:
    """Training-step time, plain / prefix-cached (cache reused, as across epochs): median of interleaved repeats.

    ``benchmarks/bench_prefix_cache.py`` runs the same comparison over prompt lengths and models.
    """
    import statistics
    import time

    cache = prefix_cache(adapter.model, inputs, causal=adapter.map.causal)
    times = {"plain": [], "cached": []}
    for r in range(repeats + 1):  # the first round warms up and is not counted
        # the cached step is cheap and, right after a large plain step, noisy (caches, allocator): time it 3 times per round
        for name, c, n in (("plain", None, 1), ("cached", cache, 3)):
            for _ in range(n):
                start = time.perf_counter()
                scale_step(adapter, inputs, labels, c)
                if r:
                    times[name].append(time.perf_counter() - start)
    adapter.zero_grad(set_to_none=True)
    plain, cached = statistics.median(times["plain"]), statistics.median(times["cached"])
    return {"plain_ms": 1000 * plain, "cached_ms": 1000 * cached, "speedup": plain / cached, "tokens": int(inputs["input_ids"].shape[1])}


def train_scale(
    adapter: ScAle,
    inputs: dict,
    labels: torch.Tensor,
    *,
    steps: int,
    lr: float = 0.05,
    batch_size: int = 64,
    seed: int = 0,
    cache: str = "auto",
    max_cache_mb: float = 2048,
    progress: bool = True,
    on_step=None,
) -> list[float]:
    """Train ScAle's coefficients on the answer token at the last position; returns the losses.

    ``inputs`` holds left-padded ``input_ids`` / ``attention_mask`` (plus e.g. ``pixel_values``), or is a
    batch object with ``inputs(rows)`` (see :func:`select_rows`); ``labels`` the answer token id of each row. Rows are split into fixed minibatches of a seeded
    permutation, visited in a new order every epoch.

    ``cache``: ``"reuse"`` — each minibatch's prefix is computed once (no gradients) and kept for
    every epoch; ``"recompute"`` — rebuilt under ``no_grad`` at every step; ``"off"`` — the plain
    full-sequence path; ``"auto"`` — reuse while all caches fit in ``max_cache_mb``, else recompute,
    and off for models whose prefix attends to the last token.

    ``on_step``: called as ``on_step(step)`` (1-based, no gradients) after each optimiser step, e.g.
    to score checkpoints of one run on validation data (Adam at a constant rate: the first 150 steps
    of a 300-step run are a 150-step run).
    """

    if cache not in ("auto", "reuse", "recompute", "off"):
        raise ValueError(f"unknown cache mode {cache!r}; valid: 'auto', 'reuse', 'recompute', 'off'")
    if hasattr(adapter, "peft_config"):  # a peft model with a ScAle adapter: trained through a ScAle view, θ copied back
        from scale_lib.scaling import peft_method

        if not peft_method.is_scale_peft(adapter):
            raise TypeError(f"train_scale trains a peft model only when its active adapter is a ScAle one; got {type(adapter).__name__}")
        name = adapter.active_adapter
        view = peft_method.scale_from_peft(adapter, adapter_name=name)
        with adapter.disable_adapter():
            losses = train_scale(view, inputs, labels, steps=steps, lr=lr, batch_size=batch_size, seed=seed, cache=cache,
                                 max_cache_mb=max_cache_mb, progress=progress, on_step=on_step)
        peft_method.copy_theta(view, adapter, to="peft", adapter_name=name)
        return losses
    if not all(hasattr(adapter, a) for a in ("model", "map", "applied", "parameters")):
        raise TypeError(f"train_scale trains a scale_lib.ScAle (or a module with its model, map, applied() and parameters()), "
                        f"or a peft model with a ScAle adapter; got {type(adapter).__name__}")
    model = adapter.model
    n = len(labels)
    if n_rows(inputs) != n:
        raise ValueError(f"inputs have {n_rows(inputs)} rows but labels has {n}")
    schedule = batch_schedule(n, batch_size, steps, seed)
    if cache == "auto":
        cache = "reuse" if adapter.map.causal else "off"
    caches: dict[int, object] = {}
    used_bytes = 0

    def loss_of(rows):
        nonlocal used_bytes
        key = int(rows[0]) * 1_000_003 + len(rows)  # minibatches keep their rows across epochs (see batch_schedule)
        sub = select_rows(inputs, rows)
        past = None
        if cache != "off":  # the prefix is the frozen model's: built outside the hooks (see prefix_cache)
            if cache == "reuse" and key in caches:
                past = caches[key]
            else:
                past = prefix_cache(model, sub, causal=adapter.map.causal)
                size = _cache_bytes(past)
                if cache == "reuse" and used_bytes + size <= max_cache_mb * 2**20:
                    caches[key] = past
                    used_bytes += size
        with adapter.applied():
            if past is None:
                logits = model(**sub).logits[:, -1]
            else:
                logits = last_token_logits(model, past, sub["input_ids"], sub["attention_mask"])
        return torch.nn.functional.cross_entropy(logits, labels[rows])

    def after(step):
        if on_step is not None:
            with torch.no_grad():
                on_step(step)

    return fit(adapter.parameters(), schedule, loss_of, lr=lr, on_step=after, desc="ScAle", progress=progress)
