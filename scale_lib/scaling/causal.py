"""What a last-token scale can bring back: a causal test on the testbeds (chapter 07).

Chapter 03 found that ScAle's gain varies from testbed to testbed, and first explained it by *where*
the non-spatial tuning did its damage (the routing — queries and keys — or the content — values and
output projections). That explanation was read off correlations. This module tests it causally:
from each seed's **pre-tuning** weights it hides the spatial skill in two controlled ways and asks
how much of the lost accuracy each method brings back.

* :func:`hide` — tune only one **scope** of the language model's attention (:data:`SCOPES`:
  ``"qk"`` = queries + keys, ``"vo"`` = values + output projections) on non-spatial questions, at a
  constant rate, checking the spatial accuracy on validation layouts every few steps and stopping
  by a rule fixed in advance (:class:`HidingRule`): the damage is *matched* between the scopes.
* :func:`damp_heads` / :func:`baked_damping` — the two positive controls: the most selective heads
  (:func:`selective_heads`) multiplied by a factor at the last token only (what ScAle's
  coefficients can undo exactly, if its bound allows the inverse factor), or the same factor baked
  into the weights so that it acts at every position.
* :data:`METHODS` — what is trained on top of each damaged model, as registered objects: ScAle at
  bound (0, 2) and (0, 4); :class:`LogitScale`, the other reading of "last-token attention
  activations" (one temperature per head on the last token's attention logits); rank-1 LoRA on
  q/v at the last token only and at every position. Every method trains with the same trainer
  (:func:`scale_lib.scaling.adapter.train_scale`), batches and loss; its learning rate and number of steps
  are chosen on validation layouts from its stated grid (:func:`fit_method`).
* :func:`recovery` and the statistics (:func:`ratio_of_sums`, :func:`paired_difference`,
  :func:`sign_test`, :func:`mcnemar`): a share of lost accuracy is a ratio of sums over seeds with a
  bootstrap interval over seeds; every resample whose denominator is not positive is counted.

Everything here runs on any testbed (:func:`scale_lib.scaling.latent.load_data`) and is unit-tested on a
tiny one; chapter 07 runs it on every included seed.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from scale_lib.core.arch import freeze, model_map
from scale_lib.core.hooks import Scaling
from scale_lib.core.prefix import last_token_logits, prefix_cache
from scale_lib.core.scoring import option_scores
from scale_lib.models import testbed
from scale_lib.scaling.adapter import ScAle, ScAleConfig, train_scale
from scale_lib.scaling.baselines import LastTokenLoRA
from scale_lib.scaling.latent import PROJECTIONS

__all__ = ["SCOPES", "HidingRule", "Hidden", "hide", "selective_heads", "damp_heads", "baked_damping", "Frozen", "Damped", "LogitScale",
           "Method", "METHODS", "correct", "fit_method", "Fitted", "recovery", "included", "INCLUSION"]

#: The two ways of hiding the skill: which projections of the language model's attention the tuning may change
#: (chapter 03's routing and content groups, :data:`scale_lib.scaling.latent.PROJECTIONS`).
SCOPES = {"qk": PROJECTIONS["routing"], "vo": PROJECTIONS["content"]}
#: Inclusion rule of the study (claims/07_causal.md): the corner question and both non-spatial questions after pretraining.
INCLUSION = {"q1": 0.90, "exist": 0.95, "count": 0.95}


def included(record: dict) -> tuple[bool, str]:
    """Whether a testbed's pretraining ``record`` passes :data:`INCLUSION`, and why (or why not)."""
    per = {r["qtype"]: r["accuracy"] for r in record["per_type_before"]}
    short = [f"{q} {per.get(q, float('nan')):.3f} < {t}" for q, t in INCLUSION.items() if not per.get(q, 0.0) >= t]
    return (not short), ("; ".join(short) if short else "learned: " + ", ".join(f"{q} {per[q]:.3f}" for q in INCLUSION))


# --------------------------------------------------------------------------------------------- evaluation
def _spatial_mask(batch) -> torch.Tensor:
    return torch.tensor([i.kind == "spatial" for i in batch.items])


@torch.no_grad()
def correct(adapter, batch, *, cached: bool = True, batch_size: int = 256) -> torch.Tensor:
    """1/0 per item of ``batch``: the argmax over the item's own options, with ``adapter`` applied.

    ``cached=True``: the prefix is the frozen model's and only the last token runs under the adapter
    (how every last-token method is defined); ``False``: the whole sequence runs under it (all-position
    methods). ``adapter`` is anything with ``model`` and ``applied()`` (:class:`Frozen` for none).
    """
    model = adapter.model
    model.eval()
    gold = torch.tensor([i.answer_index for i in batch.items])
    out = []
    for start in range(0, len(batch), batch_size):
        rows = slice(start, start + batch_size)
        inputs = batch.inputs(rows)
        if cached:
            past = prefix_cache(model, inputs, causal=True)
            with adapter.applied():
                logits = last_token_logits(model, past, inputs["input_ids"], inputs["attention_mask"], reuse=False)
        else:
            with adapter.applied():
                logits = model(**inputs, logits_to_keep=1).logits[:, -1]
        out.append(option_scores(logits, batch.option_ids[rows]).argmax(-1))
    return (torch.cat(out) == gold).float()


def _spatial_acc(adapter, batch, cached: bool = True) -> float:
    return float(correct(adapter, batch, cached=cached)[_spatial_mask(batch)].mean())


class Frozen:
    """No adapter: ``applied()`` changes nothing (the damaged model as it is)."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.map = model_map(model)

    def applied(self):
        return contextlib.nullcontext(self)

    def parameters(self):
        return iter(())


# --------------------------------------------------------------------------------------------- hiding by tuning
@dataclass(frozen=True)
class HidingRule:
    """How the skill is hidden, fixed before the study (claims/07_causal.md): tune ``scope`` on
    non-spatial questions at a constant rate; every ``check_every`` steps measure spatial accuracy on
    validation layouts; stop at the first check at or below ``stop_at``. If ``max_steps`` pass
    without getting there, start again from the same weights at the next rate of ``lrs``. The damage
    counts as matched when the stopping check is at or above ``floor``; a seed that overshoots, or
    never gets to ``stop_at`` at any rate, is reported, not dropped."""

    lrs: tuple[float, ...] = (3e-3, 1e-2, 3e-2)
    check_every: int = 5
    max_steps: int = 300
    stop_at: float = 0.75
    floor: float = 0.45
    batch_size: int = 64

    def __post_init__(self):
        if not 0.0 <= self.floor < self.stop_at <= 1.0:
            raise ValueError(f"damage band [{self.floor}, {self.stop_at}] is empty or outside [0, 1]: need 0 <= floor < stop_at <= 1")
        if self.check_every < 1 or self.max_steps < self.check_every:
            raise ValueError(f"need 1 <= check_every <= max_steps; got check_every={self.check_every}, max_steps={self.max_steps}")
        if not self.lrs or min(self.lrs) <= 0:
            raise ValueError(f"lrs must be a non-empty tuple of positive rates; got {self.lrs}")


@dataclass
class Hidden:
    """A damaged copy of a model and how it got there: ``status`` is ``"matched"``, ``"overshot"`` (the
    stopping check fell below the band's floor) or ``"not reached"`` (no rate got to ``stop_at``);
    ``curve`` holds ``(step, validation spatial accuracy)`` of the run that ended the search, at rate ``lr``
    (from step 0, before any tuning); ``tried`` every rate's last check."""

    model: nn.Module = field(repr=False)
    scope: str
    lr: float
    steps: int
    val_spatial: float
    status: str
    curve: list[tuple[int, float]] = field(repr=False)
    tried: list[dict] = field(default_factory=list, repr=False)


def _scope_test(scope: str) -> Callable[[str], bool]:
    if scope not in SCOPES:
        raise ValueError(f"unknown tuning scope {scope!r}; valid scopes are {sorted(SCOPES)} ({SCOPES})")
    names, attention = SCOPES[scope], testbed.TUNE_SCOPES["attention"]  # the recipe's scope, narrowed to these projections
    return lambda name: attention(name) and name.split(".")[-2] in names


def hide(model: nn.Module, nonspatial, val, tokenizer, scope: str, rule: HidingRule = HidingRule(), *, seed: int = 0,
         progress: bool = False) -> Hidden:
    """Tune a copy of ``model`` (``scope`` only) on ``nonspatial`` until ``rule`` stops it; ``model`` is unchanged."""
    is_tuned = _scope_test(scope)
    tried = []
    for lr in rule.lrs:
        hidden = copy.deepcopy(model)
        for name, p in hidden.named_parameters():
            p.requires_grad_(is_tuned(name))
        if not any(p.requires_grad for p in hidden.parameters()):
            raise ValueError(f"scope {scope!r} matched no weight of this model (looked for {SCOPES[scope]} in model.language_model.*.self_attn)")
        frozen = Frozen(hidden)
        curve: list[tuple[int, float]] = [(0, _spatial_acc(frozen, val, cached=False))]  # where it starts (never a stopping check)

        def stop(step: int) -> bool:
            curve.append((step, _spatial_acc(frozen, val, cached=False)))
            return curve[-1][1] <= rule.stop_at

        testbed.train_testbed(hidden, nonspatial, tokenizer, steps=rule.max_steps, lr=lr, batch_size=rule.batch_size, seed=seed,
                              schedule="constant", stop=stop, check_every=rule.check_every, progress=progress, desc=f"hiding ({scope}, {lr:g})")
        freeze(hidden)
        steps, acc = curve[-1]
        tried.append(dict(lr=lr, steps=steps, val_spatial=acc))
        if acc <= rule.stop_at:
            break
    status = "not reached" if acc > rule.stop_at else ("overshot" if acc < rule.floor else "matched")
    return Hidden(hidden, scope, lr, steps, acc, status, curve, tried)


# --------------------------------------------------------------------------------------------- positive controls
@torch.no_grad()
def _answer_logprob(adapter, batch, batch_size: int = 256) -> float:
    """Mean log-probability of the right option (softmax over each item's options) on ``batch``'s spatial items."""
    mask = _spatial_mask(batch)
    model, total = adapter.model, []
    for start in range(0, len(batch), batch_size):
        rows = slice(start, start + batch_size)
        with adapter.applied():
            logits = model(**batch.inputs(rows), logits_to_keep=1).logits[:, -1]
        logp = option_scores(logits, batch.option_ids[rows]).log_softmax(-1)
        total.append(logp.gather(-1, torch.tensor([i.answer_index for i in batch.items[rows]])[:, None]).squeeze(-1))
    return float(torch.cat(total)[mask].mean())


def selective_heads(model: nn.Module, val, k: int = 3) -> list[tuple[int, int]]:
    """The ``k`` heads whose removal at the last token lowers the right option's log-probability on
    ``val``'s spatial items the most (a continuous measure: single heads rarely flip an answer of a
    redundant network); ``[(layer, head), ...]``, most selective first."""
    mm = model_map(model)
    if not 1 <= k <= mm.n_layers * mm.n_heads:
        raise ValueError(f"k={k} heads: this model has {mm.n_layers * mm.n_heads} heads")
    base = _answer_logprob(Frozen(model), val)
    drops = [(base - _answer_logprob(Damped(Frozen(model), [(layer, head)], 0.0), val), -layer, -head)
             for layer in range(mm.n_layers) for head in range(mm.n_heads)]
    drops.sort(reverse=True)
    return [(-l, -h) for _, l, h in drops[:k]]


class Damped:
    """``inner`` (an adapter or :class:`Frozen`) with ``heads`` multiplied by ``factor`` at the last token,
    outside the adapter's own parameters: the damage a last-token scale should be able to undo."""

    def __init__(self, inner, heads: list[tuple[int, int]], factor: float):
        self.inner, self.heads, self.factor = inner, list(heads), float(factor)
        self.model, self.map = inner.model, getattr(inner, "map", None) or model_map(inner.model)
        for layer, head in self.heads:
            self.map.check_layer(layer)
            self.map.check_head(head, layer)
        self.sites = {f"L{layer}.H{head}": self.factor for layer, head in self.heads}

    def applied(self):
        stack = contextlib.ExitStack()
        stack.enter_context(Scaling(self.model, self.sites, positions="last", mmap=self.map))
        stack.enter_context(self.inner.applied())
        return stack

    def parameters(self):
        return self.inner.parameters()


def damp_heads(adapter, heads, factor: float = 0.25) -> Damped:
    """Positive control 1: ``heads`` of ``adapter``'s model multiplied by ``factor`` at the last token."""
    return Damped(adapter, heads, factor)


def baked_damping(model: nn.Module, heads, factor: float = 0.25) -> nn.Module:
    """Positive control 2: a copy of ``model`` whose ``heads`` are multiplied by ``factor`` at **every**
    position (their columns of the attention output projection scaled in the weights)."""
    out = copy.deepcopy(model)
    mm = model_map(out)
    for layer, head in heads:
        mm.check_layer(layer)
        mm.check_head(head, layer)
        proj = mm.layers[layer].get_submodule(mm.layout.attn_out)
        with torch.no_grad():
            proj.weight[:, head * mm.head_dim:(head + 1) * mm.head_dim] *= factor
    return freeze(out)


# --------------------------------------------------------------------------------------------- the logit variant
class LogitScale(nn.Module):
    """One bounded coefficient per head that multiplies the **last token's query** (so its attention
    logits: a per-head temperature) — the other reading of "scaling last-token attention
    activations". RoPE is linear, so scaling the query before it scales every logit ``q·k``.
    Prefix-cacheable like ScAle: only the last position changes. Starts as the identity."""

    def __init__(self, model: nn.Module, bound: tuple[float, float] = (0.0, 2.0), query: str = "q_proj"):
        super().__init__()
        lo, hi = bound
        if not lo < 1.0 < hi:
            raise ValueError(f"bound {bound} must contain 1 strictly inside (lo < 1 < hi)")
        self.bound = (float(lo), float(hi))
        self.__dict__["model"] = freeze(model)
        self.__dict__["map"] = mm = model_map(model)
        self.__dict__["queries"] = [layer.get_submodule(f"self_attn.{query}") for layer in mm.layers]
        self.theta = nn.Parameter(torch.full((mm.n_layers, mm.n_heads), float(np.log((1 - lo) / (hi - 1)))))

    def coefficients(self) -> torch.Tensor:
        lo, hi = self.bound
        return lo + (hi - lo) * torch.sigmoid(self.theta)

    def num_parameters(self) -> int:
        return self.theta.numel()

    def applied(self):
        @contextlib.contextmanager
        def on():
            handles = []
            try:
                for i, q in enumerate(self.queries):
                    def hook(module, args, output, i=i):
                        b, t, width = output.shape
                        scale = self.coefficients()[i].repeat_interleave(width // self.map.n_heads)
                        last = output[:, -1:] * scale  # left-padded rows: the last column is every row's last token
                        return torch.cat([output[:, :-1], last], 1)
                    handles.append(q.register_forward_hook(hook))
                yield self
            finally:
                for h in handles:
                    h.remove()
        return on()


# --------------------------------------------------------------------------------------------- methods
@dataclass(frozen=True)
class Method:
    """A method trained on top of a damaged model: ``build(model)`` returns an adapter that
    :func:`scale_lib.scaling.adapter.train_scale` trains; ``cached`` says whether it acts at the last token
    only (prefix-cached) or at every position; ``lrs`` and ``steps`` are the grid validation chooses from."""

    name: str
    build: Callable
    cached: bool
    lrs: tuple[float, ...]
    steps: tuple[int, ...] = (150, 300)
    label: str = ""


def _lora(model):
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return LastTokenLoRA(model, 1)


#: The methods of the study, by name (claims/07_causal.md fixes these grids).
METHODS = {
    "scale": Method("scale", lambda m: ScAle(m, ScAleConfig(bound=(0.0, 2.0))), True, (0.03, 0.1), label="ScAle, bound (0, 2)"),
    "scale_b4": Method("scale_b4", lambda m: ScAle(m, ScAleConfig(bound=(0.0, 4.0))), True, (0.03, 0.1), label="ScAle, bound (0, 4)"),
    "logit": Method("logit", lambda m: LogitScale(m), True, (0.03, 0.1), label="last-token logit scale"),
    "lora_last": Method("lora_last", _lora, True, (3e-3, 1e-2), label="LoRA r=1, last token"),
    "lora_all": Method("lora_all", _lora, False, (3e-3, 1e-2), label="LoRA r=1, every position"),
}


@dataclass
class Fitted:
    """A method after validation chose its learning rate and steps; ``test`` is 1/0 per test item."""

    method: str
    lr: float
    steps: int
    val_spatial: float
    test: torch.Tensor = field(repr=False)
    grid: list[dict] = field(repr=False)
    n_params: int = 0


def fit_method(name: str, model: nn.Module, train, val, test, *, damp: tuple | None = None, seed: int = 0, batch_size: int = 64,
               method: Method | None = None, steps: tuple[int, ...] | None = None, lrs: tuple[float, ...] | None = None) -> Fitted:
    """Train method ``name`` on ``train`` over its grid; choose (rate, steps) by spatial accuracy on
    ``val`` (ties: fewer steps, then the smaller rate); score the chosen one on ``test``.

    ``damp``: ``(heads, factor)`` for the last-token damping control (applied outside the adapter).
    ``steps`` / ``lrs`` replace the method's grid (fast mode and tests).
    """
    if method is None:
        if name not in METHODS:
            raise ValueError(f"unknown method {name!r}; valid methods are {sorted(METHODS)}")
        method = METHODS[name]
    checkpoints = set(method.steps if steps is None else steps)
    if not checkpoints or min(checkpoints) < 1:
        raise ValueError(f"steps must be positive step counts; got {sorted(checkpoints)}")
    grid, best = [], None
    for lr in (method.lrs if lrs is None else lrs):
        adapter = method.build(model)
        run = damp_heads(adapter, *damp) if damp else adapter

        def score(step, lr=lr, adapter=adapter, run=run):
            nonlocal best
            if step not in checkpoints:
                return
            acc = _spatial_acc(run, val, cached=method.cached)
            grid.append(dict(lr=lr, steps=step, val_spatial=acc))
            key = (acc, -step, -lr)
            if best is None or key > best[0]:
                best = (key, lr, step, [p.detach().clone() for p in adapter.parameters()], adapter, run)
        # Adam at a constant rate: the first 150 steps of the 300-step run are the 150-step run
        train_scale(run, train, train.labels, steps=max(checkpoints), lr=lr, batch_size=batch_size, seed=seed,
                    cache="reuse" if method.cached else "off", progress=False, on_step=score)
    (_, lr, steps, params, adapter, run) = best
    with torch.no_grad():
        for p, v in zip(adapter.parameters(), params):
            p.copy_(v)
    n_params = sum(p.numel() for p in adapter.parameters())
    return Fitted(name, lr, steps, best[0][0], correct(run, test, cached=method.cached), grid, n_params)


# --------------------------------------------------------------------------------------------- statistics
def recovery(before: float, damaged: float, after: float) -> float:
    """The share of the lost accuracy a method brings back: ``(after − damaged) / (before − damaged)``."""
    lost = before - damaged
    return (after - damaged) / lost if lost > 0 else float("nan")


