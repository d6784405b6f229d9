"""Throughput of the book's pre-training loop against a bare PyTorch loop on the same model and data.

    python benchmarks/bench_pretrain_loop.py      # writes benchmarks/results/pretrain_loop.json

`scale_lib.lm.pretrain` adds what notebook 03 needs — Accelerate, weight-decay groups by norm role,
a per-step schedule, loss history — around the loop a reader would write by hand (sample, forward,
loss, backward, clip, AdamW step). Both run the same char-level Llama (4 layers, d=128, the notebook's
model) on the same batches; their steps are interleaved in blocks so drifts in machine speed hit
both. Reported: tokens/s of `pretrain` / tokens/s of the bare loop (median of paired blocks).
Target: >= 0.95.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common  # noqa: E402

from scale_lib.lm import CharCorpus, PretrainConfig, char_llama, pretrain  # noqa: E402


def bare_loop(model: nn.Module, corpus: CharCorpus, steps: int, lr: float, batch_size: int, seq_len: int, seed: int) -> float:
    """The loop a reader writes by hand; returns tokens/s (the training loop only)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    model.train()
    start = time.perf_counter()
    for _ in range(steps):
        x, y = corpus.batch("train", batch_size, seq_len, gen)
        loss = nn.functional.cross_entropy(model(input_ids=x).logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
    return steps * batch_size * seq_len / (time.perf_counter() - start)


def main(blocks: int = 8, steps: int = 40) -> dict:
    torch.set_num_threads(2)
    corpus = CharCorpus.from_pydoc()
    cfg = PretrainConfig(steps=steps, lr=1e-3, batch_size=16, seq_len=128, eval_batches=1, progress=False)
    ours, bare = [], []
    for block in range(blocks + 1):  # block 0 warms up both
        runs = [("ours", lambda: pretrain(char_llama(corpus.vocab_size, layers=4, hidden=128, heads=8, seed=block), corpus, cfg).tokens_per_second),
                ("bare", lambda: bare_loop(char_llama(corpus.vocab_size, layers=4, hidden=128, heads=8, seed=block), corpus, steps, 1e-3, 16, 128, block))]
        for name, fn in runs if block % 2 == 0 else runs[::-1]:
            tps = fn()
            if block:
                (ours if name == "ours" else bare).append(tps)
    result = {
        "ratio_pretrain_over_bare_tokens_per_s": round(statistics.median(a / b for a, b in zip(ours, bare)), 4),
        "pretrain_tokens_per_s": round(statistics.median(ours)),
        "bare_tokens_per_s": round(statistics.median(bare)),
        "setup": f"char-level LlamaForCausalLM 4 layers d=128 8 heads, batch 16 x 128 characters, AdamW, {blocks} interleaved blocks of {steps} steps each (after one warm-up block), median of paired ratios",
        "target": ">= 0.95",
    }
    path = _common.save("pretrain_loop", result, "python benchmarks/bench_pretrain_loop.py")
    print(f"pretrain / bare loop: {result['ratio_pretrain_over_bare_tokens_per_s']:.3f}x "
          f"({result['pretrain_tokens_per_s']} vs {result['bare_tokens_per_s']} tokens/s) -> {path}")
    return result


if __name__ == "__main__":
    main()
