"""ScAle training step: full sequence / prefix-cached last token, at several prompt lengths.

    python benchmarks/bench_prefix_cache.py        # writes benchmarks/results/prefix_cache.json

A step = forward with the adapter's hooks, cross-entropy at the last position, backward to the
coefficients. "plain" runs the whole prompt every step. "cached, reused" computes the prefix once
(outside the timed step, as across epochs); "cached, recomputed" rebuilds it under no_grad inside
every step (when caches do not fit in memory). Target: >= 20x at 512+ tokens with reuse.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch
import transformers as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import scale_lib as sl  # noqa: E402
from scale_lib.core.prefix import prefix_cache
from scale_lib.scaling.adapter import ScAle, scale_step  # noqa: E402


def models():
    torch.manual_seed(0)
    cfg = tf.LlamaConfig(vocab_size=1000, hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=8,
                         num_key_value_heads=8, max_position_embeddings=2048)
    yield "llama (4 x d256, 8 heads)", tf.LlamaForCausalLM(cfg).eval(), False
    yield "llava (CLIP + 4 x d128, 8 heads)", sl.tiny_model("llava", layers=4, hidden=128, heads=8, kv_heads=8, max_position_embeddings=2048), True


def main(lengths=(64, 256, 512, 1024), batch=4, repeats=5) -> dict:
    sl.use_cores()
    rows = []
    for name, model, images in models():
        adapter = ScAle(model)
        target = torch.arange(batch) + 3
        for length in lengths:
            b = sl.tiny_batch(model, batch=batch, seq=length, padding="none", images=images)
            extra = {k: v for k, v in b.items() if k not in ("input_ids", "attention_mask")}
            ids, mask = b["input_ids"], b["attention_mask"]

            cache = prefix_cache(model, ids, mask, **extra)

            def plain():
                scale_step(adapter, b, target)

            def reused():
                scale_step(adapter, b, target, cache)

            def recomputed():
                scale_step(adapter, b, target, prefix_cache(model, ids, mask, **extra), reuse=False)

            times = _common.interleaved({"plain": plain, "reused": reused, "recomputed": recomputed}, repeats, warmup=1)
            row = dict(model=name, tokens=ids.shape[1], plain_ms=round(1000 * statistics.median(times["plain"]), 1),
                       reused_speedup=round(_common.median_ratio(times, "plain", "reused"), 1),
                       recomputed_speedup=round(_common.median_ratio(times, "plain", "recomputed"), 2))
            print(row, flush=True)
            rows.append(row)
    result = {"rows": rows, "setup": f"batch {batch}, median of paired ratios over {repeats} interleaved repeats, ScAle on every head and MLP",
              "target": ">= 20x at 512+ tokens with the cache reused"}
    _common.save("prefix_cache", result, "python benchmarks/bench_prefix_cache.py")
    return result


if __name__ == "__main__":
    main()
