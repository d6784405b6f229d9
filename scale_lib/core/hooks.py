"""Scaling hooks: multiply chosen activations of a model by chosen scales, at chosen positions.

    >>> with scaled(model, {"L3.H5": 0.0, "L2.mlp": 2.0}):      # last real token of each row
    ...     logits = model(**batch).logits

A *site* names what is multiplied (see :class:`Site`):

==============  ===========================================================  ==================
string          what is scaled                                                scale shape
==============  ===========================================================  ==================
``"L3.H5"``     head 5 of layer 3 (its slice of the attention-output input)   scalar
``"L3.heads"``  every head of layer 3, one scale each                        scalar or ``(H,)``
``"L3.attn"``   the attention block's contribution to the residual stream    scalar
``"L3.mlp"``    the MLP block's contribution to the residual stream          scalar
==============  ===========================================================  ==================

On post-norm families (Gemma 2/3, OLMo 2) the block sites sit after the post-sublayer norms, so
they scale what is actually added to the residual stream; heads are scaled before the output
projection and that norm, which keeps only their relative weights (see :mod:`scale_lib.core.arch`).

Scales are Python numbers, tensors, or zero-argument callables that return a tensor. Tensors that
require grad receive gradients. Scales are read at every forward call, so a tensor updated in place
is picked up by the next forward; a callable is *called* at every forward, so a scale computed from
parameters (ScAle's ``2·sigmoid(θ)``) stays current across optimiser steps while hooks stay attached.

*Positions* say which tokens are scaled: ``"last"`` (default: the last real token of each row,
read from the ``attention_mask`` the model is called with — left or right padding), ``"all"``,
an int or a list of ints (negative counts from the end), or a ``LongTensor`` of shape ``(batch,)``
with one position per row. When a forward call processes only the tail of a sequence (a KV-cached
step whose ``attention_mask`` covers the whole sequence), positions are counted in the whole
sequence and only those inside the processed chunk are scaled.

Hooks are removed exactly — only the handles this context added — on exit, on exception, and in
any nesting order. Graphs built inside the context stay valid after it, so ``backward()`` may be
called inside or after the ``with`` block.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from scale_lib.core.arch import Layout, ModelMap, model_map

__all__ = ["Site", "parse_site", "Scaling", "scaled", "last_token_index", "active_scalings", "SITE_KINDS"]

SITE_KINDS = ("head", "heads", "attn", "mlp")
_SITE_RE = re.compile(r"^L(\d+)\.(?:H(\d+)|(heads|attn|mlp))$")
_SITE_HELP = "valid sites look like 'L3.H5' (one head), 'L3.heads', 'L3.attn' or 'L3.mlp'"


@dataclass(frozen=True, order=True)
class Site:
    """One place to scale: ``Site(3, "head", 5)`` is head 5 of layer 3 (``"L3.H5"``)."""

    layer: int
    kind: str
    head: int | None = None

    def __post_init__(self):
        if self.kind not in SITE_KINDS:
            raise ValueError(f"unknown site kind {self.kind!r}; valid kinds are {SITE_KINDS}")
        if (self.kind == "head") != (self.head is not None):
            raise ValueError(f"a 'head' site needs a head index and other kinds none; got {self!r}")

    def __str__(self) -> str:
        return f"L{self.layer}.H{self.head}" if self.kind == "head" else f"L{self.layer}.{self.kind}"


def parse_site(site: str | Site) -> Site:
    """``"L3.H5"`` -> ``Site(3, "head", 5)``; a :class:`Site` is returned unchanged."""
    if isinstance(site, Site):
        return site
    if not isinstance(site, str):
        raise TypeError(f"a site is a str like 'L3.H5' or a Site, got {type(site).__name__}: {site!r}")
    m = _SITE_RE.match(site.strip())
    if not m:
        raise ValueError(f"unknown site {site!r}; {_SITE_HELP}")
    layer, head, kind = m.groups()
    return Site(int(layer), "head", int(head)) if head is not None else Site(int(layer), kind)


#: models with attached Scaling hooks (a prefix cache must not be built under them: see scale.prefix_cache)
_ACTIVE: weakref.WeakKeyDictionary[nn.Module, set[int]] = weakref.WeakKeyDictionary()


def active_scalings(model: nn.Module) -> int:
    """How many :class:`Scaling` s are attached to ``model`` right now."""
    return len(_ACTIVE.get(model, ()))


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last real (mask == 1) token of each row; -1 for a row with no real token."""
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be 2-D (batch, seq), got shape {tuple(attention_mask.shape)}")
    mask = attention_mask.bool()
    seq = mask.shape[1]
    idx = seq - 1 - mask.flip(-1).int().argmax(-1)
    return torch.where(mask.any(-1), idx, torch.full_like(idx, -1))


def _check_scale(site: Site, value, n_heads: int):
    if callable(value) and not isinstance(value, torch.Tensor):
        _check_scale(site, value(), n_heads)  # check what it returns now; it is called again at every forward
        return value
    if isinstance(value, bool):
        raise TypeError(f"scale for {site} must be a number or a tensor, got a bool")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"scale for {site} is {value}; scales must be finite numbers")
        return float(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"scale for {site} must be a number, a tensor or a callable returning one, got {type(value).__name__}")
    allowed = [()] + ([(n_heads,)] if site.kind == "heads" else [])
    if tuple(value.shape) not in allowed and not (value.numel() == 1 and site.kind != "heads"):
        raise ValueError(
            f"scale for {site} has shape {tuple(value.shape)}; valid shapes are "
            + (f"() or ({n_heads},) (one per head)" if site.kind == "heads" else "() (a single number)")
        )
    if not torch.isfinite(value.detach()).all():
        raise ValueError(f"scale for {site} contains NaN or inf: {value.detach().flatten()[:8].tolist()}")
    return value


class Scaling:
    """Hooks that scale sites of a model. Use :func:`scaled` to build one; enter it with ``with``.

    Also usable without ``with``: :meth:`attach` / :meth:`detach` (e.g. to keep an adapter on a
    model across cells). Attaching twice raises; detaching twice is harmless.
    """

    def __init__(
        self,
        model: nn.Module,
        scales: Mapping[str | Site, float | torch.Tensor],
        *,
        positions: str | int | Sequence[int] | torch.Tensor = "last",
        attention_mask: torch.Tensor | None = None,
        tower: str = "language",
        layout: Layout | None = None,
        mmap: ModelMap | None = None,
    ):
        if not isinstance(scales, Mapping):
            raise TypeError(f"scales must be a mapping site -> scale, e.g. {{'L0.H1': 0.5}}; got {type(scales).__name__}")
        self.model = model
        self.map = mmap if mmap is not None else model_map(model, tower=tower, layout=layout)
        self.positions = self._check_positions(positions)
        self.attention_mask = attention_mask
        # validate everything before a single hook is registered: bad input leaves no trace
        self.head_scales: dict[int, list] = {}
        self.block_scales: dict[tuple[int, str], list] = {}
        for key, value in scales.items():
            site = parse_site(key)
            self.map.check_layer(site.layer)
            if site.kind == "head":
                self.map.check_head(site.head, site.layer)
            value = _check_scale(site, value, self.map.n_heads)
            if site.kind in ("head", "heads"):
                self.head_scales.setdefault(site.layer, []).append((site, value))
            else:
                self.block_scales.setdefault((site.layer, site.kind), []).append(value)
        self._handles: list = []
        self._call_mask: torch.Tensor | None = None
        self._mask_arg: int | None = None
        self._calls = 0  # forward calls of the model while attached
        self._fired: dict[str, bool] = {}  # site -> did its hook run

    # ------------------------------------------------------------------ positions
    def _check_positions(self, positions):
        if isinstance(positions, str):
            if positions not in ("last", "all"):
                raise ValueError(f"unknown positions {positions!r}; use 'last', 'all', an int, a list of ints, a slice or a (batch,) tensor")
            if positions == "last" and self.map.tower == "vision":
                raise ValueError("positions='last' means the last real text token; for the vision tower use 'all' or explicit positions")
            return positions
        if isinstance(positions, int) and not isinstance(positions, bool):
            return [positions]
        if isinstance(positions, slice):  # e.g. slice(prompt_len - 1, None): the prompt's last token and every token after it
            if positions.step not in (None, 1) or not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (positions.start, positions.stop)):
                raise ValueError(f"a positions slice takes int bounds and no step, e.g. slice(9, None); got {positions!r}")
            return positions
        if isinstance(positions, torch.Tensor):
            if positions.dtype not in (torch.int64, torch.int32) or positions.dim() != 1:
                raise ValueError(f"a positions tensor must be a 1-D integer tensor (one position per row), got {positions.dtype} {tuple(positions.shape)}")
            return positions
        if isinstance(positions, Sequence) and positions and all(isinstance(p, int) and not isinstance(p, bool) for p in positions):
            return list(positions)
        raise TypeError(f"positions must be 'last', 'all', an int, a non-empty list of ints, a slice or a (batch,) tensor; got {positions!r}")

    def _rows_cols(self, batch: int, chunk: int, device) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(rows, cols) inside the current chunk to scale, or None for every position."""
        if self.positions == "all":
            return None
        mask = self.attention_mask if self.attention_mask is not None else self._call_mask
        total = mask.shape[1] if mask is not None else chunk
        if self.positions == "last":
            if mask is None:
                idx = torch.full((batch,), chunk - 1, device=device)
            else:
                if mask.shape[0] != batch:
                    raise ValueError(f"attention_mask has {mask.shape[0]} rows but the activations have {batch}")
                idx = last_token_index(mask).to(device)
            rows = torch.arange(batch, device=device)
        elif isinstance(self.positions, torch.Tensor):
            if self.positions.shape[0] != batch:
                raise ValueError(f"positions tensor has {self.positions.shape[0]} entries but the batch has {batch} rows")
            idx = self.positions.to(device)
            idx = torch.where(idx < 0, idx + total, idx)
            rows = torch.arange(batch, device=device)
        elif isinstance(self.positions, slice):
            pos = torch.arange(*self.positions.indices(total), device=device)
            rows = torch.arange(batch, device=device).repeat_interleave(len(pos))
            idx = pos.repeat(batch)
        else:
            bad = [p for p in self.positions if not -total <= p < total]
            if bad:
                raise ValueError(f"positions {bad} are out of range for a sequence of length {total} (valid: {-total}..{total - 1})")
            pos = torch.tensor([p % total for p in self.positions], device=device)
            rows = torch.arange(batch, device=device).repeat_interleave(len(pos))
            idx = pos.repeat(batch)
        idx = idx - (total - chunk)  # positions counted in the whole sequence -> inside this chunk
        keep = (idx >= 0) & (idx < chunk)
        return rows[keep], idx[keep]

    def _multiplier(self, x: torch.Tensor, scale: torch.Tensor, width: int) -> torch.Tensor:
        """(B, T, width) multiplier: ``scale`` at the chosen positions, 1 elsewhere."""
        batch, chunk = x.shape[0], x.shape[1]
        where = self._rows_cols(batch, chunk, x.device)
        scale = scale.to(dtype=x.dtype, device=x.device).expand(width)
        if where is None:
            return scale.view(1, 1, width)
        mult = torch.ones(batch, chunk, width, dtype=x.dtype, device=x.device)
        rows, cols = where
        mult[rows, cols] = scale.expand(len(rows), width)
        return mult

    # ------------------------------------------------------------------ hooks
    def _head_scale(self, layer: int, like: torch.Tensor) -> torch.Tensor:
        s = torch.ones(self.map.n_heads, dtype=like.dtype, device=like.device)
        for site, value in self.head_scales[layer]:
            v = torch.as_tensor(value() if callable(value) else value, dtype=like.dtype, device=like.device)
            if site.kind == "head":
                chosen = torch.zeros(self.map.n_heads, dtype=torch.bool, device=like.device)
                chosen[site.head] = True
                s = torch.where(chosen, s * v, s)  # bit-exact: other heads keep exactly 1
            else:
                s = s * v
        return s

    def _block_scale(self, key, like: torch.Tensor) -> torch.Tensor:
        s = torch.ones((), dtype=like.dtype, device=like.device)
        for value in self.block_scales[key]:
            s = s * torch.as_tensor(value() if callable(value) else value, dtype=like.dtype, device=like.device)
        return s

    def _rows_view(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as (batch, chunk, features). A 2-D ``(tokens, features)`` activation is split into the call's rows
        when the token count is a multiple of them (Llama 4's MoE blocks flatten the batch), else taken as one row
        (vision towers that flatten their patches)."""
        if x.dim() != 2:
            return x
        mask = self.attention_mask if self.attention_mask is not None else self._call_mask
        rows = mask.shape[0] if mask is not None else 1
        return x.view(rows, -1, x.shape[-1]) if rows > 1 and x.shape[0] % rows == 0 else x.unsqueeze(0)

    def _make_head_hook(self, layer: int):
        n_heads, head_dim = self.map.n_heads, self.map.head_dim

        def hook(module, args):
            self._fired[f"L{layer}.heads"] = True
            x = args[0]
            y = self._scale_heads(self._rows_view(x), layer, n_heads, head_dim).reshape(x.shape)
            return (y,) + tuple(args[1:])

        return hook

    def _scale_heads(self, x, layer, n_heads, head_dim):
        b, t, width = x.shape
        if width != n_heads * head_dim:
            raise ValueError(f"layer {layer}: attention-output input has width {width}, expected {n_heads} x {head_dim}")
        mult = self._multiplier(x, self._head_scale(layer, x), n_heads)
        return (x.view(b, t, n_heads, head_dim) * mult.unsqueeze(-1)).view(b, t, width)

    def _make_block_hook(self, key):
        def hook(module, args, output):
            self._fired[f"L{key[0]}.{key[1]}"] = True
            out = output[0] if isinstance(output, tuple) else output
            o = self._rows_view(out)
            o = (o * self._multiplier(o, self._block_scale(key, o), 1)).reshape(out.shape)
            return (o,) + tuple(output[1:]) if isinstance(output, tuple) else o

        return hook

    def _capture_mask(self, module, args, kwargs):
        mask = kwargs.get("attention_mask")
        if mask is None and self._mask_arg is not None and len(args) > self._mask_arg:
            mask = args[self._mask_arg]
        if mask is not None and mask.dim() != 2:
            raise ValueError(f"positions='last' needs a 2-D attention_mask (batch, seq); got shape {tuple(mask.shape)}. Pass positions explicitly.")
        self._call_mask = mask

    # ------------------------------------------------------------------ lifecycle
    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def attach(self) -> Scaling:
        if self._handles:
            raise RuntimeError("these scaling hooks are already attached; detach() them first")
        try:
            if self.map.tower == "language" and self.attention_mask is None and self.positions != "all":
                root = self.model
                # an instance's own forward (accelerate and peft wrap some) is read directly; a class's once
                params = list(inspect.signature(root.forward).parameters) if "forward" in vars(root) else _forward_parameters(type(root))
                self._mask_arg = params.index("attention_mask") if "attention_mask" in params else None
                self._handles.append(root.register_forward_pre_hook(self._capture_mask, with_kwargs=True))
            self._calls, self._fired = 0, {f"L{layer}.heads": False for layer in self.head_scales}
            self._fired.update({f"L{layer}.{kind}": False for layer, kind in self.block_scales})
            self._handles.append(self.model.register_forward_hook(self._count_call))
            _ACTIVE.setdefault(self.model, set()).add(id(self))
            for layer in self.head_scales:
                self._handles.append(self.map.attn_out(layer).register_forward_pre_hook(self._make_head_hook(layer)))
            for layer, kind in self.block_scales:
                module = self.map.attn_block(layer) if kind == "attn" else self.map.mlp_block(layer)
                self._handles.append(module.register_forward_hook(self._make_block_hook((layer, kind))))
        except BaseException:
            self.detach()
            raise
        return self

    def _count_call(self, module, args, output):
        self._calls += 1

    def detach(self) -> None:
        was_attached = bool(self._handles)
        while self._handles:
            self._handles.pop().remove()
        _ACTIVE.get(self.model, set()).discard(id(self))
        self._call_mask = None
        missed = [s for s, fired in self._fired.items() if not fired]
        if was_attached and self._calls and missed:
            warnings.warn(f"scaled sites {missed} were never reached in {self._calls} forward call(s) of this {self.map.model_type}: "
                          "those layers did not run (e.g. Mllama skips its cross-attention layers on text-only input), so scaling them "
                          "changed nothing", RuntimeWarning, stacklevel=2)
        self._fired = {}

    def __enter__(self) -> Scaling:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    def __repr__(self) -> str:
        sites = [str(s) for v in self.head_scales.values() for s, _ in v] + [f"L{l}.{k}" for l, k in self.block_scales]
        return f"Scaling({self.map.model_type}, sites={sites}, positions={self.positions!r}, attached={self.attached})"


def scaled(
    model: nn.Module,
    scales: Mapping[str | Site, float | torch.Tensor],
    *,
    positions: str | int | Sequence[int] | torch.Tensor = "last",
    attention_mask: torch.Tensor | None = None,
    tower: str = "language",
    layout: Layout | None = None,
    mmap: ModelMap | None = None,
) -> Scaling:
    """Scale activations of ``model`` inside a ``with`` block.

    Args:
        model: a transformers model (see :data:`scale_lib.LAYOUTS`) or a peft model around one.
        scales: ``{site: scale}``; sites are strings like ``"L3.H5"``, ``"L3.heads"``,
            ``"L3.attn"``, ``"L3.mlp"`` or :class:`Site` objects; scales are numbers or tensors
            (``"L3.heads"`` also takes one scale per head, shape ``(n_heads,)``).
        positions: ``"last"`` (default), ``"all"``, int(s), a slice of positions (``slice(9, None)``: 9 and after),
            or a ``(batch,)`` tensor. Positions are counted in the whole sequence, also in KV-cached steps.
        attention_mask: the mask that defines "last"; by default the one the model is called with.
        tower: ``"language"`` (default) or ``"vision"`` for a VLM's vision encoder.
        layout: module names for an architecture :func:`scale_lib.model_map` does not know.
        mmap: the model's :class:`ModelMap`, when the caller holds one (a sweep enters ``scaled`` once per
            setting: passing the map skips rebuilding it each time).

    All arguments are checked before any hook is registered: bad input raises a ``ValueError`` or
    ``TypeError`` naming the bad value and the valid choices, and leaves the model untouched.
    """
    return Scaling(model, scales, positions=positions, attention_mask=attention_mask, tower=tower, layout=layout, mmap=mmap)


@functools.cache
def _forward_parameters(cls: type) -> list[str]:
    """The parameter names of a model class's ``forward`` (read once per class, not on every ``scaled``)."""
    return list(inspect.signature(cls.forward).parameters)[1:]  # without self
