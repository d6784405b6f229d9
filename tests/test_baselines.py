"""Baselines on a tiny LLaVA: what trains, how much, and that the vision tower never does."""

import pytest
import torch

import scale_lib as sl
from scale_lib.scaling.baselines import BASELINES, make_baseline


def fresh():
    return sl.tiny_model("llava", layers=2, hidden=64, heads=4, kv_heads=2)


def test_lora_r1_counts_and_touches_only_the_language_model():
    model, n = make_baseline(fresh(), "lora_r1")
    # per layer: q (64 -> 64) and v (64 -> 32, two kv heads of 16): r * (in + out) each
    assert n == 2 * (1 * (64 + 64) + 1 * (64 + 32))
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("language_model" in name and "lora_" in name for name in trainable)
    assert not any("vision" in name for name in trainable)


@pytest.mark.parametrize("kind", BASELINES)
def test_every_baseline_runs_and_trains_what_it_says(kind):
    model = fresh()
    b = sl.tiny_batch(model, images=True)
    total = sum(p.numel() for p in model.parameters())
    module, n = make_baseline(model, kind)
    out = module(**b)
    logits = out if isinstance(out, torch.Tensor) else out.logits[:, -1]
    if kind == "frozen":
        assert n == 0
        return
    logits.float().sum().backward()
    grads = [p for p in module.parameters() if p.requires_grad and p.grad is not None]
    assert grads and sum(p.numel() for p in module.parameters() if p.requires_grad) == n
    assert (n == total) if kind == "full_ft" else (0 < n < total / 10)


def test_lora_r4_has_four_times_r1_and_ia3_is_tiny():
    n1 = make_baseline(fresh(), "lora_r1")[1]
    n4 = make_baseline(fresh(), "lora_r4")[1]
    ia3 = make_baseline(fresh(), "ia3")[1]
    assert n4 == 4 * n1
    assert ia3 == 2 * (32 + 32 + 128)  # k and v outputs, down_proj input, per layer


def test_bad_baseline_and_missing_modules():
    with pytest.raises(ValueError, match=r"unknown baseline 'lora'.*lora_r1"):
        make_baseline(fresh(), "lora")
    with pytest.raises(ValueError, match=r"modules \['c_attn'\] are not in"):
        make_baseline(fresh(), "lora_r1", attention=("c_attn",))
