"""Chapter 06's shortcut study: ScAle and its baselines on levels no word-level shortcut answers.

The study asks one question of a real model: *where ScAle raises accuracy, could a reader of words
alone have done as well?* It runs every method on two kinds of level at once — the book's first,
**shortcut-prone** levels and the **shortcut-proof** ones of :mod:`scale_lib.data.spatial.graded` — on one
test prefix cache, with learning rates chosen on a validation split and intervals from a bootstrap
over training draws and test items. The claims it decides are in ``claims/06_real_model.md``.

Methods (all on a frozen model; the first five read only frozen outputs):

* ``frozen``; ``calibration`` (one bias per answer word, :class:`scale_lib.scaling.baselines.AnswerBias`);
* ``presence_bias`` — frozen option logits + β · 1[option word occurs in the context] (1 parameter);
* ``frequency_bias`` — frozen option logits + β · count + α · 1[present] (2 parameters): the two cheap
  shortcut baselines, fitted on the training items;
* ``linear_probe`` — a new head on the frozen last hidden state;
* ``scale`` (ScAle), ``lora_r1_last`` (LoRA r = 1 on q/v at the last token), ``lora_r1`` (peft LoRA
  r = 1 on q/v at every position: the paper's baseline).

Every function runs on any Llama-family causal LM; the tests use a tiny one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from scale_lib.core.schedules import batch_schedule
from scale_lib.core.scoring import option_scores
from scale_lib.scaling.adapt import adapt, class_scores, frozen_last_logits
from scale_lib.scaling.shortcuts import words
from scale_lib.scaling.sweep import PromptCache

__all__ = ["PROOF_SCAN_LEVELS", "OLD_CONTROLS", "CONTROLS_THAT_CAN_FAIL", "SHORTCUT_BASELINES", "ALL_METHODS", "LR_GRID",
           "context_features", "ContextBias", "fit_context_bias", "frozen_outputs", "Scorer", "train_method", "choose_lr", "run_methods",
           "hierarchical_bootstrap", "general_check", "level_accuracy"]

#: The shortcut-proof difficulty scan.
PROOF_SCAN_LEVELS = ("grid_corner_balanced/2", "grid_corner_balanced/3", "grid_corner_balanced/4", "grid_cell_balanced/2",
                     "grid_cell_balanced/3", "grid_cell_balanced/4", "map_coord/2", "map_coord/3", "map_coord/4")
#: The first controls: solved 100 % by "the option that appears in the context".
OLD_CONTROLS = ("map_exists/4", "grid_exists/3")
#: Controls a presence or copy amplifier would get wrong (the two "absent" ones) or no shortcut answers (the count).
CONTROLS_THAT_CAN_FAIL = ("grid_absent/3", "map_absent/4", "grid_count/3")
SHORTCUT_BASELINES = ("calibration", "presence_bias", "frequency_bias")
ALL_METHODS = ("frozen", "calibration", "presence_bias", "frequency_bias", "linear_probe", "scale", "lora_r1_last", "lora_r1")
#: Learning-rate grids (Adam), as pre-registered in claims/06_real_model.md.
LR_GRID = {"calibration": (0.03, 0.1, 0.3), "presence_bias": (0.03, 0.1, 0.3), "frequency_bias": (0.03, 0.1, 0.3),
           "linear_probe": (0.003, 0.01, 0.03), "scale": (0.01, 0.03, 0.1), "lora_r1_last": (0.001, 0.003, 0.01),
           "lora_r1": (0.001, 0.003, 0.01)}


def context_features(items) -> tuple[torch.Tensor, torch.Tensor]:
    """``(present, count)``, each ``(items, options)``: does each option word occur in the context, and how often."""

    width = max(len(i.options) for i in items)
    present, count = torch.zeros(len(items), width), torch.zeros(len(items), width)
    for r, item in enumerate(items):
        ctx = words(item.context)
        for k, o in enumerate(item.options):
            count[r, k] = ctx.count(o.lower())
    present = (count > 0).float()
    return present, count


class ContextBias(nn.Module):
    """Frozen option logits plus a bias from the context's words: ``presence`` (β · present) or
    ``frequency`` (β · count + α · present)."""

    KINDS = ("presence", "frequency")

    def __init__(self, kind: str):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown context bias {kind!r}; valid kinds are {self.KINDS}")
        self.kind = kind
        self.weights = nn.Parameter(torch.zeros(1 if kind == "presence" else 2))

    def forward(self, option_logits: torch.Tensor, present: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        bias = self.weights[0] * present if self.kind == "presence" else self.weights[0] * count + self.weights[1] * present
        return option_logits + bias[:, : option_logits.shape[1]]


def fit_context_bias(kind: str, option_logits: torch.Tensor, items, *, steps: int, lr: float, batch_size: int, seed: int) -> ContextBias:
    """Fit a :class:`ContextBias` on frozen option logits of ``items`` (cross-entropy over each item's options)."""

    present, count = context_features(items)
    answers = torch.tensor([i.answer_index for i in items])
    with torch.random.fork_rng():  # seeded initialisation without moving the caller's global RNG
        torch.manual_seed(seed)
        bias = ContextBias(kind)
    opt = torch.optim.Adam(bias.parameters(), lr=lr)
    for rows in batch_schedule(len(items), batch_size, steps, seed):
        loss = nn.functional.cross_entropy(bias(option_logits[rows], present[rows], count[rows]), answers[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return bias


@torch.no_grad()
def frozen_outputs(model: nn.Module, batch, *, batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """The frozen model's last-token logits ``(N, vocab)`` and last hidden states ``(N, d)`` on ``batch``, from one forward pass."""
    logits, feats = [], []
    for i in range(0, len(batch), batch_size):
        out = model(**batch.inputs(slice(i, i + batch_size)), output_hidden_states=True, logits_to_keep=1)
        logits.append(out.logits[:, -1])
        feats.append(out.hidden_states[-1][:, -1])
    return torch.cat(logits), torch.cat(feats).float()


class Scorer:
    """One evaluation set, encoded once: a prefix cache (for last-token methods), the frozen logits,
    the frozen last hidden state (for the probe) and the context features (for the biases)."""

    def __init__(self, model: nn.Module, batch, *, batch_size: int = 32):

        self.model, self.batch = model, batch
        self.cache = PromptCache(model, batch, option_ids=batch.option_ids, batch_size=batch_size, progress=False)
        self.frozen_logits = self.cache.logits()
        self.features = frozen_outputs(model, batch, batch_size=batch_size)[1]
        self.present, self.count = context_features(batch.items)
        self.answers = torch.tensor([i.answer_index for i in batch.items])

    def option_logits(self, method: str, trained) -> torch.Tensor:
        """``(items, options)`` scores of ``method`` (``trained``: what :func:`train_method` returned; ``None`` for frozen)."""

        ids = self.batch.option_ids
        if method == "frozen":
            return option_scores(self.frozen_logits, ids)
        if method == "calibration":
            return option_scores(trained.module.add_bias(self.frozen_logits), ids)
        if method in ("presence_bias", "frequency_bias"):
            with torch.no_grad():
                return trained(option_scores(self.frozen_logits, ids), self.present, self.count)
        if method == "linear_probe":
            with torch.no_grad():
                return class_scores(trained.module.head(self.features), ids, trained.answer_vocab)
        if method in ("scale", "lora_r1_last"):
            return option_scores(self.cache.logits(adapter=trained.module), ids)
        if method == "lora_r1":
            return trained.option_logits(self.batch, batch_size=32)
        raise ValueError(f"unknown method {method!r}; valid methods are {ALL_METHODS}")

    def correct(self, method: str, trained) -> torch.Tensor:
        return (self.option_logits(method, trained).argmax(-1) == self.answers).float()


def train_method(model: nn.Module, method: str, train, *, lr: float, steps: int, batch_size: int, seed: int, frozen=None):
    """Train one method on the encoded training set ``train``; returns what :meth:`Scorer.option_logits` takes.

    ``frozen``: :func:`frozen_outputs` of ``train`` (calibration, the biases and the probe read only
    these; computed here when not given — pass them when several methods share one training set)."""

    if method not in ALL_METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods are {ALL_METHODS}")
    if method == "frozen":
        return None
    if method in ("presence_bias", "frequency_bias"):
        logits = frozen_last_logits(model, train) if frozen is None else frozen[0]
        return fit_context_bias(method.split("_")[0], option_scores(logits, train.option_ids), train.items,
                                steps=steps, lr=lr, batch_size=batch_size, seed=seed)
    return adapt(model, method, train, steps=steps, lr=lr, batch_size=batch_size, seed=seed, progress=False,
                 frozen_outputs=frozen if method in ("calibration", "linear_probe") else None)


_READS_FROZEN = ("calibration", "presence_bias", "frequency_bias", "linear_probe")


def choose_lr(model: nn.Module, method: str, train, val: Scorer, *, grid=None, steps: int, batch_size: int, seed: int,
              rows: torch.Tensor | None = None, frozen=None) -> tuple[float, dict]:
    """The learning rate of ``grid`` with the best validation accuracy (on ``rows`` of ``val``; ties: the smaller rate).

    ``frozen``: :func:`frozen_outputs` of ``train``, shared across calls. Returns ``(chosen, {lr: validation accuracy})``."""
    grid = LR_GRID[method] if grid is None else tuple(grid)
    if not grid:
        raise ValueError(f"empty learning-rate grid for {method!r}")
    rows = torch.ones(len(val.batch), dtype=torch.bool) if rows is None else rows
    frozen = frozen_outputs(model, train) if method in _READS_FROZEN and frozen is None else frozen
    scores = {}
    for lr in sorted(grid):
        trained = train_method(model, method, train, lr=lr, steps=steps, batch_size=batch_size, seed=seed, frozen=frozen)
        scores[lr] = float(val.correct(method, trained)[rows].mean())
        del trained
    best = max(scores.values())
    return min(lr for lr, s in scores.items() if s == best), scores


def run_methods(model: nn.Module, trains: dict, test: Scorer, lrs: dict, *, methods=ALL_METHODS, steps: int, batch_size: int,
                extra: dict | None = None, progress: bool = True):
    """Every method on every training draw, scored on ``test``.

    Returns ``(correct, trained)``: ``correct[method][seed]`` the 1/0 vector over test items
    (``frozen`` under seed ``None``); ``trained[method, seed]`` what was trained (for ``extra`` scorers:
    ``{name: Scorer}`` also gets ``correct_extra[name][method][seed]``, returned as a third item)."""

    bad = [m for m in methods if m not in ALL_METHODS]
    if bad:
        raise ValueError(f"unknown methods {bad}; valid methods are {ALL_METHODS}")
    missing = [m for m in methods if m != "frozen" and m not in lrs]
    if missing:
        raise ValueError(f"no learning rate for {missing}; lrs has {sorted(lrs)}")
    extra = extra or {}
    correct = {m: {} for m in methods}
    correct_extra = {name: {m: {} for m in methods} for name in extra}
    trained_all = {}
    plan = [(m, s) for m in methods for s in ((None,) if m == "frozen" else tuple(trains))]
    frozen = {s: frozen_outputs(model, b) for s, b in trains.items()} if any(m in _READS_FROZEN for m in methods) else {}
    for method, seed in tqdm(plan, desc="methods × draws", disable=not progress):
        trained = None if method == "frozen" else train_method(model, method, trains[seed], lr=lrs[method], steps=steps,
                                                               batch_size=batch_size, seed=seed, frozen=frozen.get(seed))
        correct[method][seed] = test.correct(method, trained)
        for name, scorer in extra.items():
            correct_extra[name][method][seed] = scorer.correct(method, trained)
        trained_all[method, seed] = trained
    return correct, trained_all, correct_extra


def _as_draws(vectors) -> np.ndarray:
    if isinstance(vectors, dict):
        vectors = list(vectors.values())
    if isinstance(vectors, torch.Tensor) and vectors.dim() == 1:
        vectors = [vectors]
    return np.stack([np.asarray(v, dtype=float) for v in vectors])


def hierarchical_bootstrap(method, baseline, levels, rows=None, *, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``method − baseline`` accuracy with its 95 % percentile interval,
    resampling training draws and, within each level, test items (both with replacement).

    ``method`` and ``baseline`` are per-draw 1/0 vectors over the same test items (dicts or lists; a
    single vector — e.g. the frozen model — is shared by every draw); draws are paired by position.
    ``levels`` gives each test item's level; ``rows`` (a boolean mask) restricts the items.
    """
    a, b = _as_draws(method), _as_draws(baseline)
    if b.shape[0] == 1:
        b = np.repeat(b, a.shape[0], 0)
    if a.shape != b.shape:
        raise ValueError(f"method has draws × items {a.shape}, baseline {b.shape}: they must match (or the baseline be one vector)")
    levels = np.asarray(list(levels))
    if len(levels) != a.shape[1]:
        raise ValueError(f"{len(levels)} levels for {a.shape[1]} test items")
    keep = np.ones(a.shape[1], dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    if not keep.any():
        raise ValueError("no test items selected")
    groups = [np.flatnonzero(keep & (levels == lv)) for lv in dict.fromkeys(levels[keep])]
    diff = a - b
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    for k in range(n_boot):
        d = rng.integers(0, diff.shape[0], diff.shape[0])
        idx = np.concatenate([rng.choice(g, len(g)) for g in groups])
        stats[k] = diff[np.ix_(d, idx)].mean()
    mean = float(diff[:, np.concatenate(groups)].mean())
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return mean, float(lo), float(hi)


def level_accuracy(correct: dict, levels) -> dict:
    """``{method: {level: accuracy}}``, each the mean over draws (and items of the level)."""
    levels = list(levels)
    out = {}
    for method, by_seed in correct.items():
        acc = _as_draws(by_seed).mean(0)
        out[method] = {lv: float(acc[[i for i, x in enumerate(levels) if x == lv]].mean()) for lv in dict.fromkeys(levels)}
    return out


@torch.no_grad()
def general_check(model: nn.Module, method: str, trained, windows: torch.Tensor, general: Scorer, *, window_cache=None) -> dict:
    """General capability under an adapter: the next-token loss at the **last** position of each
    held-out window (``windows``: ``(n, L + 1)`` ids; the first ``L`` are read, the last is predicted)
    and the accuracy on plain questions (``general``). Methods that read only frozen outputs cannot
    change either (``None``). ``window_cache``: a :class:`~scale_lib.scaling.sweep.PromptCache` of the windows' first
    ``L`` tokens, reused across adapters."""

    if method not in ("frozen", "scale", "lora_r1_last", "lora_r1"):
        return {"loss": None, "accuracy": None}
    x, target = windows[:, :-1], windows[:, -1]
    if method == "lora_r1":
        logits = torch.cat([trained.module(input_ids=x[i:i + 16], logits_to_keep=1).logits[:, -1] for i in range(0, len(x), 16)])
    else:
        cache = window_cache or PromptCache(model, {"input_ids": x, "attention_mask": torch.ones_like(x)}, progress=False)
        logits = cache.logits(adapter=None if method == "frozen" else trained.module)
    loss = float(nn.functional.cross_entropy(logits.float(), target))
    return {"loss": loss, "accuracy": float(general.correct(method, trained).mean())}


#: The level grid the chapter scans: direct and inverted map relations, corner and cell look-ups, at
#: sizes from far below SpatialEval's (2 places, 2 × 2) up to SpatialEval's own (6 places, 5 × 5).
SCAN_LEVELS = ("map_copy/2", "map_copy/3", "map_copy/4", "map_copy/6", "map_invert/2", "map_invert/4", "map_invert/6",
               "grid_corner/2", "grid_corner/3", "grid_corner/5", "grid_cell/2", "grid_cell/3", "grid_cell/5")


#: Non-spatial controls on the same kind of contexts: which place / animal is present.
CONTROL_LEVELS = ("map_exists/4", "grid_exists/3")
