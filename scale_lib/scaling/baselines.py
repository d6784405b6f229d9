"""The baselines ScAle is compared with, on the same data, steps and budget.

* ``"frozen"`` — nothing trains;
* ``"lora_r1"`` / ``"lora_r4"`` — peft LoRA of rank 1 / 4 on the **language model's** query and
  value projections (the vision tower is never adapted);
* ``"ia3"`` — peft (IA)³: learned scaling vectors on keys, values and the MLP's down projection of
  the language model (the closest published relative of ScAle: per-channel, all positions);
* ``"lora_r1_last"`` — the same rank-1 LoRA, active **only at the last position** (:class:`LastTokenLoRA`):
  ScAle's own restriction with LoRA's parameterisation, and prefix-cached like ScAle, so it can
  be trained where all-position LoRA is too slow (a 135 M model on 2 CPU cores);
* ``"linear_probe"`` — a new linear head on the last position's final hidden state;
* ``"full_ft"`` — every weight trains.

    >>> model, n_trainable = make_baseline(sl.tiny_model("llava"), "lora_r1")
"""

from __future__ import annotations

import re

import torch
from torch import nn

from scale_lib.core.arch import freeze, model_map, trainable_parameters
from scale_lib.core.prefix import last_token_logits, prefix_cache

__all__ = ["BASELINES", "make_baseline", "LinearProbe", "LastTokenLoRA"]

BASELINES = ("frozen", "lora_r1", "lora_r4", "ia3", "lora_r1_last", "linear_probe", "full_ft")


def _language_regex(model: nn.Module, names: tuple[str, ...]) -> str:
    """A peft ``target_modules`` regex matching ``names`` only inside the language model's layers."""
    layers_path = model_map(model).layers_path
    found = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules() if n.startswith(layers_path + ".")}
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"modules {missing} are not in {layers_path}; modules there include {sorted(found)[:20]}. "
                         "Pass target names that exist (e.g. GPT-2 uses 'c_attn').")
    return rf"{re.escape(layers_path)}\.\d+\..*\b({'|'.join(map(re.escape, names))})"


class LastTokenLoRA(nn.Module):
    """peft LoRA on a copy of ``model``, switched on only inside :meth:`applied` — which the book uses
    only for the last position, on top of a prefix computed with it off (as ScAle's trainer does).

    Duck-types :class:`scale_lib.scaling.adapter.ScAle` where the trainer needs it (``model``, ``map``,
    ``applied()``, ``parameters()``), so :func:`scale_lib.scaling.adapter.train_scale` trains it unchanged.
    Outside ``applied()`` the copy computes exactly the frozen model.
    """

    def __init__(self, model: nn.Module, rank: int = 1, attention: tuple[str, ...] = ("q_proj", "v_proj")):
        import copy

        import peft

        super().__init__()
        base = freeze(copy.deepcopy(model))
        config = peft.LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=_language_regex(base, attention))
        self.__dict__["map"] = model_map(base)
        wrapped = peft.get_peft_model(base, config)
        self.lora = nn.ParameterList([p for p in wrapped.parameters() if p.requires_grad])
        wrapped.base_model.disable_adapter_layers()  # off outside applied(); peft also marks them frozen, so:
        for p in self.lora:
            p.requires_grad_(True)
        self.__dict__["model"] = wrapped  # a plain reference; its LoRA weights are this module's parameters

    def applied(self):
        import contextlib

        @contextlib.contextmanager
        def on():
            self.model.base_model.enable_adapter_layers()
            try:
                yield self
            finally:
                self.model.base_model.disable_adapter_layers()
                for p in self.lora:
                    p.requires_grad_(True)
        return on()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.lora)

    def forward(self, **inputs) -> torch.Tensor:
        """Last-position logits ``(batch, vocab)``: the prefix with LoRA off, the last token with it on."""

        cache = prefix_cache(self.model, inputs, causal=self.map.causal)
        with self.applied():
            return last_token_logits(self.model, cache, inputs["input_ids"], inputs["attention_mask"])


class LinearProbe(nn.Module):
    """A linear head on the frozen model's final hidden state at the last position: ``(batch, n_classes)`` logits."""

    def __init__(self, model: nn.Module, n_classes: int):
        super().__init__()
        self.__dict__["model"] = freeze(model)  # plain reference: only the head is a parameter of the probe
        hidden = model_map(model).hidden_size
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, **inputs) -> torch.Tensor:
        with torch.no_grad():
            out = self.model(**inputs, output_hidden_states=True)
        return self.head(out.hidden_states[-1][:, -1].to(self.head.weight.dtype))


def make_baseline(model: nn.Module, kind: str, *, n_classes: int = 4, attention: tuple[str, ...] = ("q_proj", "v_proj"),
                  ia3_targets: tuple[str, ...] = ("k_proj", "v_proj", "down_proj"), ia3_feedforward: tuple[str, ...] = ("down_proj",),
                  in_place: bool = False):
    """Prepare ``model`` for baseline ``kind``; returns ``(module to train and call, number of trainable parameters)``.

    ``in_place`` (LoRA and IA3): a :class:`PeftSnapshot` that wraps ``model`` only while in use, instead
    of wrapping ``model`` for good (which is what the caller then owns).

    For ``"linear_probe"`` the returned module is a :class:`LinearProbe` (it outputs class logits);
    for the others it is the (possibly peft-wrapped) model itself.
    """
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; valid baselines are {BASELINES}")
    if kind == "full_ft":
        for p in model.parameters():
            p.requires_grad_(True)
        return model, trainable_parameters(model)
    freeze(model)
    if kind == "frozen":
        return model, 0
    if kind == "linear_probe":
        probe = LinearProbe(model, n_classes)
        return probe, trainable_parameters(probe)
    if kind == "lora_r1_last":
        adapter = LastTokenLoRA(model, 1, attention)
        return adapter, adapter.num_parameters()
    import peft

    if kind.startswith("lora"):
        rank = int(kind.removeprefix("lora_r"))
        config = peft.LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=_language_regex(model, attention))
    else:
        config = peft.IA3Config(target_modules=_language_regex(model, ia3_targets), feedforward_modules=_language_regex(model, ia3_feedforward))
    if in_place:
        snapshot = PeftSnapshot(model, config)
        with snapshot.on():
            pass
        return snapshot, snapshot.n_params
    wrapped = peft.get_peft_model(model, config)
    return wrapped, trainable_parameters(wrapped)


class PeftSnapshot(nn.Module):
    """A peft adapter (LoRA, IA3) on the caller's model **in place**, without a copy of the model.

    Inside :meth:`on` the model is wrapped by peft (the adapter's weights restored if it was trained
    before); on exit its weights are kept here and the adapter is unloaded, so the model is exactly the
    frozen one again. Calling the snapshot outside ``on()`` wraps for that one call. A 7B backbone is
    held once, not once per baseline run (full fine-tuning, which changes every weight, still copies)."""

    def __init__(self, model: nn.Module, config):
        super().__init__()
        self.__dict__["model"] = model
        self.__dict__["config"] = config
        self.__dict__["live"] = None
        self.weights: dict[str, torch.Tensor] = {}
        self.n_params = 0

    def on(self):
        import contextlib
        import copy

        import peft

        @contextlib.contextmanager
        def wrapped():
            if self.live is not None:
                yield self.live
                return
            with torch.random.fork_rng() if self.weights else contextlib.nullcontext():  # a re-wrap's init draws must not move the RNG
                model = peft.get_peft_model(self.model, copy.deepcopy(self.config))
            try:
                trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
                self.n_params = sum(p.numel() for p in trainable.values())
                with torch.no_grad():
                    for n, w in self.weights.items():
                        trainable[n].copy_(w)
                self.__dict__["live"] = model
                yield model
            finally:
                self.weights = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
                self.__dict__["live"] = None
                model.unload()
                if hasattr(self.model, "peft_config"):
                    del self.model.peft_config
                freeze(self.model)
        return wrapped()

    def forward(self, **inputs):
        with self.on() as model:
            return model(**inputs)


class AnswerBias(nn.Module):
    """The calibration baseline: frozen logits plus one learned bias per answer word (zeros at start)."""

    def __init__(self, model: nn.Module, vocab: torch.Tensor):
        super().__init__()
        self.__dict__["model"] = model  # a plain reference, as in ScAle: only the bias is a parameter
        self.register_buffer("vocab", vocab.clone())
        self.bias = nn.Parameter(torch.zeros(len(vocab)))

    def add_bias(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.index_add(-1, self.vocab, self.bias.expand(logits.shape[0], -1).to(logits.dtype))

    def forward(self, **inputs) -> torch.Tensor:
        """Last-token logits ``(batch, vocab)`` with the bias added."""
        return self.add_bias(self.model(**inputs, logits_to_keep=1).logits[:, -1])
