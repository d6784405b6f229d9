"""Overhead of the scaling hooks at inference: hooked / plain forward on a small Llama.

    python benchmarks/bench_hooks.py            # writes benchmarks/results/hooks.json

The hooked model carries what ScAle attaches: one scale per head of every layer and one per MLP,
applied at the last real token of each row of a left-padded batch. Target: <= 1.03x.
"""

from __future__ import annotations

import statistics
import sys

import torch
import transformers as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common  # noqa: E402

import scale_lib as sl  # noqa: E402


def main(repeats: int = 60) -> dict:
    torch.manual_seed(0)
    sl.use_cores()
    cfg = tf.LlamaConfig(vocab_size=1000, hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=512)
    model = sl.freeze(tf.LlamaForCausalLM(cfg).eval())
    batch = sl.tiny_batch(model, batch=8, seq=256, padding="left")
    mm = sl.model_map(model)
    scales = {f"L{l}.heads": torch.rand(mm.n_heads) + 0.5 for l in range(mm.n_layers)}
    scales.update({f"L{l}.mlp": 1.2 for l in range(mm.n_layers)})

    @torch.no_grad()
    def plain():
        model(**batch)

    @torch.no_grad()
    def hooked():
        with sl.scaled(model, scales):
            model(**batch)

    times = _common.interleaved({"plain": plain, "hooked": hooked, "plain_again": plain}, repeats)
    result = {
        "ratio_hooked_over_plain": round(_common.median_ratio(times, "hooked", "plain"), 4),
        "noise_plain_over_plain": round(_common.median_ratio(times, "plain_again", "plain"), 4),
        "plain_ms": round(1000 * statistics.median(times["plain"]), 2),
        "hooked_ms": round(1000 * statistics.median(times["hooked"]), 2),
        "setup": "LlamaForCausalLM 4 layers d=256 8 heads, batch 8 x 256 tokens (left-padded), 32 head scales + 4 MLP scales at the last token, median of paired ratios over 60 interleaved repeats, with a plain-vs-plain control for the noise floor",
        "target": "<= 1.03",
    }
    path = _common.save("hooks", result, "python benchmarks/bench_hooks.py")
    print(f"hooked / plain forward: {result['ratio_hooked_over_plain']:.3f}x ({result['hooked_ms']} ms vs {result['plain_ms']} ms); "
          f"plain / plain (noise): {result['noise_plain_over_plain']:.3f}x -> {path}")
    return result


if __name__ == "__main__":
    main()
