"""Rescaling sweep: naive (whole prompt per setting) / cached (prefix once; the settings stacked along the
batch, many per forward pass), with the cached one-setting-per-pass path beside it. Two ways to stack:
"stacked" repeats the prefix cache once per setting (``max_stack_mb=512``); "shared" lets every setting
read the one prefix through the merged attention (``share_prefix=64``: all 61 settings in one pass).

    python benchmarks/bench_sweep.py          # writes benchmarks/results/sweep.json

1. A tiny LLaVA (CLIP tower + 4-layer, 8-head Llama) on 32 rows of ~100 tokens (16 image tokens),
   60 settings (2 layers x (8 heads + attention + MLP) x 3 scales) + the unscaled baseline.
2. The real SmolLM2-135M-Instruct (30 layers, 9 heads) on 8 text prompts of ~30 tokens, 60 settings
   (layers 0, 10, 20, 29 x (heads 0-2 + attention + MLP) x 3 scales) + the baseline.

Targets (issue #25): naive / stacked >= 30x with >= 60 settings on both (claims/benchmarks/sweep_speed.md: not met);
naive / shared the same (claims/benchmarks/sweep_shared.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import scale_lib as sl  # noqa: E402
from scale_lib.scaling.sweep import naive_sweep, rescaling_sweep  # noqa: E402


def _time(model, b, labels, sites, scales, batch_size: int, repeats: int, warmup: int = 1) -> dict:
    kw = dict(batch_size=batch_size, progress=False)
    fns = {"naive": lambda: naive_sweep(model, b, labels, sites, scales, **kw),
           "cached_one_per_pass": lambda: rescaling_sweep(model, b, labels, sites, scales, max_stack_mb=0, **kw),
           "cached_stacked": lambda: rescaling_sweep(model, b, labels, sites, scales, max_stack_mb=512, **kw),
           "cached_shared": lambda: rescaling_sweep(model, b, labels, sites, scales, share_prefix=64, **kw)}
    naive = fns["naive"]()
    same = fns["cached_stacked"]().equals(naive)
    same_shared = fns["cached_shared"]().equals(naive)
    times = _common.interleaved(fns, repeats, warmup=warmup)
    return {"settings": len(sites) * len(scales), "same_answers_as_naive": bool(same), "shared_same_answers_as_naive": bool(same_shared),
            "ratio_naive_over_stacked": round(_common.median_ratio(times, "naive", "cached_stacked"), 1),
            "ratio_naive_over_shared": round(_common.median_ratio(times, "naive", "cached_shared"), 1),
            "ratio_naive_over_one_per_pass": round(_common.median_ratio(times, "naive", "cached_one_per_pass"), 1),
            **{f"{k}_s": round(min(v), 3) for k, v in times.items()}}


def main(repeats: int = 3) -> dict:
    sl.use_cores()
    model = sl.tiny_model("llava", layers=4, hidden=128, heads=8, kv_heads=8)
    b = sl.tiny_batch(model, batch=32, seq=84, padding="left", images=True)
    labels = torch.randint(5, 250, (32,), generator=torch.Generator().manual_seed(0))
    sites = [f"L{layer}.H{h}" for layer in (0, 3) for h in range(8)] + [f"L{layer}.{k}" for layer in (0, 3) for k in ("attn", "mlp")]
    tiny = _time(model, b, labels, sites, [0.0, 0.5, 2.0], 32, repeats)
    tiny["setup"] = f"tiny LLaVA 4 x d128 8 heads, 32 rows x {b['input_ids'].shape[1]} tokens, {tiny['settings']} settings + baseline"
    result = {"tiny_llava": tiny, "ratio_naive_over_cached": tiny["ratio_naive_over_stacked"], "target": ">= 30 with >= 60 settings",
              "shared_target": "naive / shared >= 30 on both models, the same answers as naive (claims/benchmarks/sweep_shared.md)"}
    from scale_lib.models import smollm2

    if smollm2.smollm2_available():
        real, tok = smollm2.load_smollm2(progress=False)
        texts = [f"Question {i}: in the grid, which animal is in the top left corner? The grid is: cat dog | fox owl. Answer:" for i in range(8)]
        tok.padding_side = "left"
        enc = tok(texts, return_tensors="pt", padding=True)
        rb = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        rl = torch.randint(5, 1000, (8,), generator=torch.Generator().manual_seed(0))
        rsites = [f"L{layer}.H{h}" for layer in (0, 10, 20, 29) for h in range(3)] + [f"L{layer}.{k}" for layer in (0, 10, 20, 29) for k in ("attn", "mlp")]
        sm = _time(real, rb, rl, rsites, [0.0, 0.5, 2.0], 8, 1, warmup=0)  # one repeat: a naive sweep takes minutes here
        sm["setup"] = f"SmolLM2-135M-Instruct (30 layers), 8 rows x {rb['input_ids'].shape[1]} tokens, {sm['settings']} settings + baseline"
        result["smollm2"] = sm
    _common.save("sweep", result, "python benchmarks/bench_sweep.py")
    print(result)
    return result


if __name__ == "__main__":
    main()
