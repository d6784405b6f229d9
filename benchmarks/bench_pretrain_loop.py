"""Throughput of the book's pre-training loop against a bare PyTorch loop on the same model and data.

    python benchmarks/bench_pretrain_loop.py      # writes benchmarks/results/pretrain_loop.json

`scale_lib.norms.pretrain.pretrain` adds what notebook 05 needs — Accelerate, weight-decay groups by norm role,
a per-step schedule, loss history — around the loop a reader would write by hand
(`scale_lib.norms.pretrain.bare_loop`: sample, forward, loss, backward, clip, AdamW step). Both run the
notebook's char-level Llama on the same batches, in interleaved blocks so that drifts in machine
speed hit both (`scale_lib.norms.pretrain.throughput_ratio`). Target: >= 0.95.
"""

from __future__ import annotations

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common  # noqa: E402

import scale_lib as sl  # noqa: E402
from scale_lib.data.corpus import CharCorpus  # noqa: E402
from scale_lib.norms.pretrain import PretrainConfig, char_model, throughput_ratio


def main(blocks: int = 8, steps: int = 40) -> dict:
    sl.use_cores()
    corpus = CharCorpus.from_pydoc()
    make = lambda seed: char_model(corpus.vocab_size, "llama", layers=4, hidden=128, heads=4, seed=seed)  # noqa: E731
    measured = throughput_ratio(make, corpus, PretrainConfig(lr=1e-3, batch_size=16, seq_len=128), blocks=blocks, steps=steps)
    result = {
        "ratio_pretrain_over_bare_tokens_per_s": round(measured["ratio"], 4),
        "pretrain_tokens_per_s": round(measured["ours_tokens_per_s"]),
        "bare_tokens_per_s": round(measured["bare_tokens_per_s"]),
        "setup": f"char-level LlamaForCausalLM 4 layers d=128 4 heads (notebook 05's model), batch 16 x 128 characters, AdamW; "
                 f"{blocks} interleaved blocks of {steps} steps per loop after one warm-up block, median of paired ratios",
        "target": ">= 0.95",
    }
    path = _common.save("pretrain_loop", result, "python benchmarks/bench_pretrain_loop.py")
    print(f"pretrain / bare loop: {result['ratio_pretrain_over_bare_tokens_per_s']:.3f}x "
          f"({result['pretrain_tokens_per_s']} vs {result['bare_tokens_per_s']} tokens/s) -> {path}")
    return result


if __name__ == "__main__":
    main()
