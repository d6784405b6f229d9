"""ScAle and its baselines, adapted on the same data, with the same batches and the same number of steps.

One entry point, :func:`adapt`, takes a frozen model, a method name and an encoded training set
(anything with ``inputs(rows)``, ``labels``, ``option_ids`` and ``items``, e.g.
:class:`scale_lib.models.testbed.EncodedBatch`) and returns an :class:`Adapted` that predicts and scores.
:func:`compare` runs several methods over several seeds and returns a :class:`Comparison`, the
table the ScAle paper reports: trainable parameters, training time, accuracy per question type,
and ScAle's fraction of LoRA's gain.

The methods:

* ``"frozen"`` — nothing trains;
* ``"scale"`` — :class:`scale_lib.scaling.adapter.ScAle`, trained with the prefix-cached trainer;
* ``"calibration"`` — :class:`AnswerBias`, one learned bias per answer word added to the frozen
  model's logits: the cheapest thing that can raise a multiple-choice score (it learns the answer
  prior and nothing about the question), so any ScAle gain must be shown beyond it;
* ``"lora_r1"``, ``"lora_r4"``, ``"ia3"``, ``"linear_probe"``, ``"full_ft"`` — see
  :mod:`scale_lib.scaling.baselines`.

Every method sees the same minibatches (:func:`scale_lib.core.schedules.batch_schedule`), optimises the same
loss (cross-entropy of the answer token at the last position) with Adam at a constant learning rate,
and is scored the same way (argmax over the item's own options). The linear probe is the one
exception by nature: a new head from the frozen last hidden state to the **answer vocabulary** (every
option word seen in training), trained with cross-entropy over each item's options.
The caller's model is never modified: methods that change weights work on a copy.
"""

from __future__ import annotations

import contextlib
import copy
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from scale_lib.core.arch import freeze
from scale_lib.core.schedules import batch_schedule
from scale_lib.core.scoring import option_scores
from scale_lib.core.training import fit
from scale_lib.scaling.adapter import ScAle, ScAleConfig, train_scale
from scale_lib.scaling.baselines import BASELINES, AnswerBias, PeftSnapshot, make_baseline
from scale_lib.scaling.sweep import rescaling_sweep

__all__ = ["METHODS", "REGISTRY", "Method", "DEFAULT_LR", "AnswerBias", "coefficient_frame", "sweep_agreement", "adapt", "Adapted", "compare", "Comparison"]

METHODS = ("frozen", "scale", "calibration") + tuple(b for b in BASELINES if b != "frozen")
#: Learning rates used unless told otherwise (Adam, constant). Set by hand in short trial runs, not tuned
#: on held-out data: with them LoRA, (IA)³ and full fine-tuning recover the testbed's corner question
#: completely, and ScAle at 0.02 or 0.05 lands within a point of itself. Pass ``lr=`` / ``lrs=`` to change.
DEFAULT_LR = {"scale": 0.05, "calibration": 0.1, "lora_r1_last": 3e-3, "lora_r1": 3e-3, "lora_r4": 3e-3, "ia3": 3e-2, "linear_probe": 1e-2, "full_ft": 1e-3}


def _check_answers(batch) -> None:
    """Every row's answer token must be one of its options."""
    hit = (batch.option_ids == batch.labels[:, None]).any(-1)
    if not bool(hit.all()):
        bad = int((~hit).nonzero()[0])
        raise ValueError(f"row {bad}: its answer token {int(batch.labels[bad])} is not among its options {batch.option_ids[bad].tolist()}")


def class_scores(class_logits: torch.Tensor, option_ids: torch.Tensor, vocab: torch.Tensor) -> torch.Tensor:
    """Scores of each row's options from a probe over the answer vocabulary (``-inf`` for padding and unseen words)."""
    match = option_ids[..., None] == vocab  # (rows, options, classes)
    picked = (class_logits[:, None, :] * match).sum(-1)
    return picked.masked_fill(~match.any(-1), float("-inf"))


@torch.no_grad()
def frozen_last_logits(model: nn.Module, batch, batch_size: int = 64) -> torch.Tensor:
    return torch.cat([model(**batch.inputs(slice(i, i + batch_size)), logits_to_keep=1).logits[:, -1]
                      for i in range(0, len(batch), batch_size)])


@dataclass
class Adapted:
    """A trained method: what it is, what it cost, and how to score it."""

    method: str
    module: nn.Module  # the model to call (for "scale": the adapter, for "linear_probe": the probe)
    n_params: int
    seconds: float
    losses: list[float] = field(default_factory=list, repr=False)
    answer_vocab: torch.Tensor | None = field(default=None, repr=False)  # linear probe: the token id of each class

    @torch.no_grad()
    def option_logits(self, batch, *, batch_size: int = 256) -> torch.Tensor:
        """``(items, 4)`` scores of each item's options (``-inf`` past its last option)."""
        score = REGISTRY[self.method].score
        out = []
        live = self.module.on() if isinstance(self.module, PeftSnapshot) else contextlib.nullcontext()  # wrap once for all batches
        with _peft_quiet(), live:
            for start in range(0, len(batch), batch_size):
                rows = slice(start, start + batch_size)
                out.append(score(self, batch.inputs(rows), batch.option_ids[rows]))
        return torch.cat(out)

    def predictions(self, batch) -> torch.Tensor:
        """Predicted option index per item."""
        return self.option_logits(batch).argmax(-1)

    def correct(self, batch) -> torch.Tensor:
        """1.0 where the prediction is the answer, per item."""
        return (self.predictions(batch).cpu() == torch.tensor([i.answer_index for i in batch.items])).float()

    def accuracy(self, batch) -> dict[str, float]:
        """Accuracy overall, on spatial and on non-spatial items (as :func:`scale_lib.models.testbed.evaluate`)."""
        right = self.correct(batch)
        spatial = torch.tensor([i.kind == "spatial" for i in batch.items])
        nan = float("nan")
        return {"all": right.mean().item(), "spatial": right[spatial].mean().item() if spatial.any() else nan,
                "nonspatial": right[~spatial].mean().item() if (~spatial).any() else nan}


def adapt(model: nn.Module, method: str, train, *, steps: int = 300, lr: float | None = None, batch_size: int = 64, seed: int = 0,
          scale_config: ScAleConfig | None = None, frozen_outputs: tuple[torch.Tensor, torch.Tensor] | None = None,
          progress: bool = True) -> Adapted:
    """Train ``method`` on ``train`` on top of the frozen ``model``. The model's weights are left unchanged
    (it is frozen: ``requires_grad`` off); methods that change weights train a copy.

    ``seed`` fixes the minibatch order and the initialisation of the new parameters (ScAle starts as
    the identity whatever the seed). ``scale_config`` is only for ``"scale"``. ``frozen_outputs``:
    the frozen model's ``(last-token logits, last hidden states)`` on ``train``, when the caller has
    them already (``"calibration"`` and ``"linear_probe"`` read only these; otherwise they are computed here).
    """

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods are {METHODS}")
    if scale_config is not None and method != "scale":
        raise ValueError(f"scale_config is for method 'scale', not {method!r}")
    lr = DEFAULT_LR.get(method) if lr is None else lr
    freeze(model)
    if method == "frozen":
        return Adapted(method, model, 0, 0.0)
    schedule = batch_schedule(len(train), batch_size, steps, seed)
    start = time.perf_counter()
    with torch.random.fork_rng():  # a method seeds its own initialisation; the caller's global RNG is left where it was
        module, n_params, losses, extra = REGISTRY[method].train(model, train, schedule, lr=lr, steps=steps, batch_size=batch_size, seed=seed,
                                                                  scale_config=scale_config, frozen_outputs=frozen_outputs, progress=progress)
    return Adapted(method, module, n_params, time.perf_counter() - start, losses, extra)


# ------------------------------------------------------------------------------------------ the methods
@dataclass(frozen=True)
class Method:
    """A method :func:`adapt` can train: how it trains (``train(model, train, schedule, **options)`` →
    ``(module, n_params, losses, answer_vocab)``) and how its trained module scores a minibatch
    (``score(adapted, inputs, option_ids)`` → ``(rows, options)``). Every method trains through the one
    loop, :func:`scale_lib.core.training.fit`."""

    name: str
    train: Callable
    score: Callable


@contextlib.contextmanager
def _peft_quiet():
    """peft calls a transformers method that v5 deprecates; nothing for the reader to do."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def _train_scale(model, train, schedule, *, lr, steps, batch_size, seed, scale_config, progress, **_):
    adapter = ScAle(model, scale_config)
    losses = train_scale(adapter, train, train.labels, steps=steps, lr=lr, batch_size=batch_size, seed=seed, progress=progress)
    return adapter, adapter.num_parameters(), losses, None


def _score_scale(adapted, inputs, option_ids):
    with adapted.module.applied():
        logits = adapted.module.model(**inputs, logits_to_keep=1).logits[:, -1]
    return option_scores(logits, option_ids)


def _train_last_token_lora(model, train, schedule, *, lr, steps, batch_size, seed, progress, **_):
    torch.manual_seed(seed)
    with _peft_quiet():
        adapter, n_params = make_baseline(model, "lora_r1_last")
    losses = train_scale(adapter, train, train.labels, steps=steps, lr=lr, batch_size=batch_size, seed=seed, progress=progress)
    return adapter, n_params, losses, None


def _score_module(adapted, inputs, option_ids):
    """A module that returns last-token logits itself (the answer bias; last-token LoRA: off for the prefix, on for the last token)."""
    return option_scores(adapted.module(**inputs), option_ids)


def _train_calibration(model, train, schedule, *, lr, seed, frozen_outputs, progress, **_):
    torch.manual_seed(seed)
    _check_answers(train)
    bias = AnswerBias(model, torch.unique(train.option_ids[train.option_ids >= 0]))
    # the model does not change: its logits are computed once (or passed in)
    frozen = frozen_last_logits(model, train) if frozen_outputs is None else frozen_outputs[0]
    losses = fit(bias.parameters(), schedule, lambda rows: nn.functional.cross_entropy(bias.add_bias(frozen[rows]), train.labels[rows]),
                 lr=lr, desc="calibration", progress=progress)
    return bias, bias.bias.numel(), losses, None


def _train_linear_probe(model, train, schedule, *, lr, seed, frozen_outputs, progress, **_):
    torch.manual_seed(seed)
    _check_answers(train)
    vocab = torch.unique(train.option_ids[train.option_ids >= 0])  # the answer vocabulary: every option word seen in training
    probe = make_baseline(model, "linear_probe", n_classes=len(vocab))[0].to(train.labels.device)
    if frozen_outputs is not None:
        feats = frozen_outputs[1].float()
    else:
        with torch.no_grad():  # the backbone is frozen: its features are computed once, not every step
            feats = torch.cat([model(**train.inputs(slice(i, i + 256)), output_hidden_states=True).hidden_states[-1][:, -1]
                               for i in range(0, len(train), 256)]).float()

    def probe_loss(rows):
        logits = class_scores(probe.head(feats[rows]), train.option_ids[rows], vocab)
        return nn.functional.cross_entropy(logits, (train.option_ids[rows] == train.labels[rows, None]).float().argmax(-1))

    losses = fit(probe.head.parameters(), schedule, probe_loss, lr=lr, desc="linear probe", progress=progress)
    return probe, sum(p.numel() for p in probe.head.parameters()), losses, vocab


def _score_probe(adapted, inputs, option_ids):
    return class_scores(adapted.module(**inputs), option_ids, adapted.answer_vocab)


def _weights_trainer(name):
    """LoRA and IA3: peft on the caller's model in place, unloaded after (a :class:`PeftSnapshot`, no copy of
    the model); full fine-tuning: a copy of the model with every weight trainable."""

    def train_weights(model, train, schedule, *, lr, seed, progress, **_):
        torch.manual_seed(seed)
        if name == "full_ft":
            module, n_params = make_baseline(copy.deepcopy(model), name)
            holder = contextlib.nullcontext(module)
        else:
            with _peft_quiet():
                module, n_params = make_baseline(model, name, in_place=True)
            holder = module.on()
        with _peft_quiet(), holder as live:
            live.train()
            losses = fit([p for p in live.parameters() if p.requires_grad], schedule,
                         lambda rows: nn.functional.cross_entropy(live(**train.inputs(rows), logits_to_keep=1).logits[:, -1], train.labels[rows]),
                         lr=lr, desc=name, progress=progress)
            live.eval()
        return module, n_params, losses, None

    return train_weights


def _score_weights(adapted, inputs, option_ids):
    return option_scores(adapted.module(**inputs, logits_to_keep=1).logits[:, -1], option_ids)


#: Every method by name (peft's idea: methods are objects chosen by name, not branches of one function).
REGISTRY: dict[str, Method] = {
    "frozen": Method("frozen", lambda model, *a, **k: (model, 0, [], None), _score_weights),
    "scale": Method("scale", _train_scale, _score_scale),
    "calibration": Method("calibration", _train_calibration, _score_module),
    "lora_r1_last": Method("lora_r1_last", _train_last_token_lora, _score_module),
    "linear_probe": Method("linear_probe", _train_linear_probe, _score_probe),
    **{name: Method(name, _weights_trainer(name), _score_weights) for name in ("lora_r1", "lora_r4", "ia3", "full_ft")},
}
assert set(REGISTRY) == set(METHODS), sorted(set(REGISTRY) ^ set(METHODS))


@dataclass
class Comparison:
    """Every (method, seed) run: ``runs`` has one row each; ``adapted`` keeps the trained methods."""

    runs: object  # pandas.DataFrame: method, seed, params, seconds, all, spatial, nonspatial, and one column per question type
    adapted: dict = field(repr=False)
    question_types: list[str] = field(default_factory=list)
    correct: dict = field(default_factory=dict, repr=False)  # (method, seed) -> 1.0/0.0 per test item
    spatial: torch.Tensor | None = field(default=None, repr=False)  # which test items are spatial

    def summary(self):
        """Mean (and standard deviation over seeds) per method, in the order the methods were run."""
        import pandas as pd

        cols = ["params", "seconds", "spatial", "nonspatial", *self.question_types]
        g = self.runs.groupby("method", sort=False)
        out = g[cols].mean()
        out["seeds"] = g.size()
        out["spatial_sd"] = g["spatial"].std(ddof=1).fillna(0.0)
        frozen = out.loc["frozen", "spatial"] if "frozen" in out.index else float("nan")
        ref = out.loc["lora_r1", "spatial"] - frozen if "lora_r1" in out.index else float("nan")
        out["fraction_of_lora_r1_gain"] = (out["spatial"] - frozen) / ref if ref > 0 else float("nan")
        return pd.DataFrame(out)

    def _check_methods(self, *methods: str) -> None:
        ran = list(dict.fromkeys(self.runs.method))
        missing = [m for m in methods if m not in ran]
        if missing:
            raise ValueError(f"methods {missing} were not run in this comparison; it ran {ran}")

    def gain(self, method: str = "scale", over: str = "frozen"):
        """Spatial accuracy of ``method`` minus that of ``over``, per seed (a pandas Series)."""
        self._check_methods(method, over)
        r = self.runs.set_index("method")
        base = r.loc[[over], "spatial"].mean()
        return (self.runs[self.runs.method == method].set_index("seed")["spatial"] - base).rename(f"{method} - {over}")

    def fraction_of_gain(self, method: str = "scale", reference: str = "lora_r1") -> float:
        """(method − frozen) / (reference − frozen), spatial accuracy averaged over seeds."""
        ref = self.gain(reference).mean()
        return float(self.gain(method).mean() / ref) if ref > 0 else float("nan")

    def flips(self, method: str = "scale", over: str = "frozen"):
        """Spatial test items ``method`` gets right that ``over`` got wrong ("fixed"), and the reverse ("broken"), per seed."""
        import pandas as pd

        self._check_methods(method, over)
        base = self.correct[over, 0] if (over, 0) in self.correct else next(v for (m, _), v in self.correct.items() if m == over)
        rows = []
        for (m, seed), right in self.correct.items():
            if m == method:
                d = (right - base)[self.spatial]
                rows.append(dict(seed=seed, fixed=int((d > 0).sum()), broken=int((d < 0).sum())))
        return pd.DataFrame(rows).set_index("seed")

    def per_question(self):
        """Long table for bar plots: method, seed, question type, accuracy."""
        return self.runs.melt(id_vars=["method", "seed"], value_vars=self.question_types, var_name="question", value_name="accuracy")


def compare(model: nn.Module, train, test, methods=METHODS, *, seeds=(0,), seeds_for: dict | None = None, steps: int = 300,
            lrs: dict | None = None, batch_size: int = 64, scale_config: ScAleConfig | None = None, names: dict | None = None,
            progress: bool = True) -> Comparison:
    """Run each method for each seed on ``train`` and score it on ``test``.

    ``seeds_for`` overrides ``seeds`` per method (e.g. more seeds where differences are small);
    ``"frozen"`` runs once. ``names`` maps question types to display names for the columns.
    """
    import pandas as pd

    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"unknown methods {bad}; valid methods are {METHODS}")
    names = names or {}
    qtypes = list(dict.fromkeys(names.get(i.qtype, i.qtype) for i in test.items))
    col = [names.get(i.qtype, i.qtype) for i in test.items]
    lrs = {**DEFAULT_LR, **(lrs or {})}
    plan = [(m, s) for m in methods for s in ((0,) if m == "frozen" else (seeds_for or {}).get(m, seeds))]
    rows, adapted, correct = [], {}, {}
    spatial = torch.tensor([i.kind == "spatial" for i in test.items])
    for method, seed in tqdm(plan, desc="methods × seeds", disable=not progress):
        a = adapt(model, method, train, steps=steps, lr=lrs.get(method), batch_size=batch_size, seed=seed,
                  scale_config=scale_config if method == "scale" else None, progress=False)
        right = correct[method, seed] = a.correct(test)
        row = dict(method=method, seed=seed, params=a.n_params, seconds=a.seconds, all=right.mean().item(),
                   spatial=right[spatial].mean().item(), nonspatial=right[~spatial].mean().item())
        for q in qtypes:
            row[q] = right[torch.tensor([c == q for c in col])].mean().item()
        rows.append(row)
        adapted[method, seed] = a
    return Comparison(pd.DataFrame(rows), adapted, qtypes, correct, spatial)


def coefficient_frame(adapters, n_layers: int | None = None):
    """ScAle coefficients as a layers × (heads + MLP) table, averaged over ``adapters`` (one or several).

    Layers an adapter does not scale are NaN (their coefficient is fixed at 1). Columns are
    ``H0 … H{n-1}`` and ``MLP``; the index is the layer number.
    """
    import numpy as np
    import pandas as pd

    adapters = [adapters] if isinstance(adapters, ScAle) else list(adapters)
    if not adapters:
        raise ValueError("coefficient_frame needs at least one ScAle adapter")
    n_layers = n_layers or adapters[0].map.n_layers
    n_heads = adapters[0].map.n_heads
    grids = []
    for a in adapters:
        grid = np.full((n_layers, n_heads + 1), np.nan)
        coef = a.coefficients()
        for i, layer in enumerate(a.layers):
            if "heads" in coef:
                grid[layer, :n_heads] = coef["heads"][i].detach().cpu().numpy()
            if "mlp" in coef:
                grid[layer, n_heads] = float(coef["mlp"][i].detach().cpu())
        grids.append(grid)
    with warnings.catch_warnings():  # a layer no adapter scales stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(np.stack(grids), 0)
    return pd.DataFrame(mean,
                        columns=[f"H{h}" for h in range(n_heads)] + ["MLP"]).rename_axis("layer")


def sweep_agreement(adapter: ScAle, batch, *, scales=(0.5, 1.5), kind: str = "spatial", progress: bool = False):
    """Do the learned head coefficients point where a one-head-at-a-time sweep (notebook 02) points?

    For every head of the adapter's layers, the sweep's **direction** is the change of accuracy on
    ``kind`` items when that head alone is scaled by ``scales[1]`` minus the change at ``scales[0]``
    (positive: amplifying the head helps). Returns ``(table, rho)``: per head its direction and learned
    coefficient, and their Spearman rank correlation (+1: ScAle amplifies exactly the heads the sweep
    says to amplify; 0: unrelated — the coefficients act jointly, a sweep moves one at a time).
    """
    import numpy as np
    import pandas as pd
    from scipy.stats import spearmanr


    if adapter.head_theta is None:
        raise ValueError("this adapter has no head coefficients (heads=False); nothing to compare with a head sweep")
    lo, hi = sorted(scales)
    if not lo < 1 < hi:
        raise ValueError(f"scales {tuple(scales)} must be one below 1 and one above 1")
    rows = [r for r, i in enumerate(batch.items) if i.kind == kind]
    if not rows:
        raise ValueError(f"no {kind!r} items in the batch; kinds present: {sorted({i.kind for i in batch.items})}")
    rows = torch.tensor(rows)
    sites = [f"L{layer}.H{h}" for layer in adapter.layers for h in range(adapter.map.n_heads)]
    sweep = rescaling_sweep(adapter.model, batch.inputs(rows), batch.labels[rows], sites, [lo, hi], option_ids=batch.option_ids[rows], progress=progress)
    delta = sweep.pivot_table(index="site", columns="scale", values="delta").reindex(sites)
    coef = adapter.coefficients()["heads"].flatten().detach().cpu().numpy()
    table = pd.DataFrame({"site": sites, "sweep_direction": (delta[hi] - delta[lo]).to_numpy(), "coefficient": coef})
    rho = float(spearmanr(table.sweep_direction, np.log(table.coefficient)).statistic)
    return table, rho
