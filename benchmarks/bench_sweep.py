"""Rescaling sweep: naive (whole prompt per setting) / cached (prefix once, last token per setting).

    python benchmarks/bench_sweep.py          # writes benchmarks/results/sweep.json

A tiny LLaVA (CLIP tower + 4-layer, 8-head Llama) on 32 rows of ~100 tokens (49 image tokens),
60 settings (2 layers x (8 heads + attention + MLP) x 3 scales). Target: >= 10x.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import scale_lib as sl  # noqa: E402
from scale_lib.scaling.sweep import naive_sweep, rescaling_sweep  # noqa: E402


def main(repeats: int = 3) -> dict:
    sl.use_cores()
    model = sl.tiny_model("llava", layers=4, hidden=128, heads=8, kv_heads=8)
    b = sl.tiny_batch(model, batch=32, seq=84, padding="left", images=True)
    labels = torch.randint(5, 250, (32,), generator=torch.Generator().manual_seed(0))
    sites = [f"L{l}.H{h}" for l in (0, 3) for h in range(8)] + [f"L{l}.{k}" for l in (0, 3) for k in ("attn", "mlp")]
    scales = [0.0, 0.5, 2.0]
    kw = dict(batch_size=32, progress=False)
    times = _common.interleaved({"naive": lambda: naive_sweep(model, b, labels, sites, scales, **kw),
                                 "cached": lambda: rescaling_sweep(model, b, labels, sites, scales, **kw)}, repeats, warmup=1)
    ratio = _common.median_ratio(times, "naive", "cached")
    result = {"ratio_naive_over_cached": round(ratio, 1), "naive_s": round(min(times["naive"]), 2), "cached_s": round(min(times["cached"]), 2),
              "setup": f"tiny LLaVA 4 x d128 8 heads, 32 rows x {b['input_ids'].shape[1]} tokens, {len(sites) * len(scales)} settings + baseline",
              "target": ">= 10"}
    _common.save("sweep", result, "python benchmarks/bench_sweep.py")
    print(result)
    return result


if __name__ == "__main__":
    main()
