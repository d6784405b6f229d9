"""The baselines ScAle is compared with, on the same data, steps and budget.

* ``"frozen"`` — nothing trains;
* ``"lora_r1"`` / ``"lora_r4"`` — peft LoRA of rank 1 / 4 on the **language model's** query and
  value projections (the vision tower is never adapted);
* ``"ia3"`` — peft (IA)³: learned scaling vectors on keys, values and the MLP's down projection of
  the language model (the closest published relative of ScAle: per-channel, all positions);
* ``"linear_probe"`` — a new linear head on the last position's final hidden state;
* ``"full_ft"`` — every weight trains.

    >>> model, n_trainable = make_baseline(sl.tiny_model("llava"), "lora_r1")
"""

from __future__ import annotations

import re

import torch
from torch import nn

from .arch import freeze, model_map, trainable_parameters

__all__ = ["BASELINES", "make_baseline", "LinearProbe"]

BASELINES = ("frozen", "lora_r1", "lora_r4", "ia3", "linear_probe", "full_ft")


def _language_regex(model: nn.Module, names: tuple[str, ...]) -> str:
    """A peft ``target_modules`` regex matching ``names`` only inside the language model's layers."""
    layers_path = model_map(model).layers_path
    found = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules() if n.startswith(layers_path + ".")}
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"modules {missing} are not in {layers_path}; modules there include {sorted(found)[:20]}. "
                         "Pass target names that exist (e.g. GPT-2 uses 'c_attn').")
    return rf"{re.escape(layers_path)}\.\d+\..*\b({'|'.join(map(re.escape, names))})"


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
                  ia3_targets: tuple[str, ...] = ("k_proj", "v_proj", "down_proj"), ia3_feedforward: tuple[str, ...] = ("down_proj",)):
    """Prepare ``model`` for baseline ``kind``; returns ``(module to train and call, number of trainable parameters)``.

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
    import peft

    if kind.startswith("lora"):
        rank = int(kind.removeprefix("lora_r"))
        config = peft.LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=_language_regex(model, attention))
    else:
        config = peft.IA3Config(target_modules=_language_regex(model, ia3_targets), feedforward_modules=_language_regex(model, ia3_feedforward))
    wrapped = peft.get_peft_model(model, config)
    return wrapped, trainable_parameters(wrapped)
