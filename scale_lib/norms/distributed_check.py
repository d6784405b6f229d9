"""A tiny pre-training run whose history is written to JSON: launched once as a single process and
once under ``accelerate launch`` with several processes, the two must agree (the test suite does
this with 2 CPU processes; on GPUs, the same command with ``--multi_gpu``).

    python -m scale_lib.norms.distributed_check --out single.json
    accelerate launch --multi_gpu --num_processes 2 -m scale_lib.norms.distributed_check --out two.json   # CPU: torchrun + gloo
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from scale_lib.data.corpus import CharCorpus
from scale_lib.norms.pretrain import PretrainConfig, char_model, pretrain


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8, help="the global batch")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    corpus = CharCorpus.from_pydoc()
    model = char_model(corpus.vocab_size, layers=2, hidden=64, heads=4)
    hist = pretrain(model, corpus, PretrainConfig(steps=args.steps, lr=3e-3, batch_size=args.batch_size, seq_len=64, warmup=2, eval_batches=2,
                                                  progress=False, seed=0))
    from accelerate import PartialState

    state = PartialState()
    record = {"processes": state.num_processes, "train_loss": hist.train_loss, "val_loss": hist.val_loss, "tokens": hist.tokens}
    if state.is_main_process:
        args.out.write_text(json.dumps(record) + "\n")
    return record


if __name__ == "__main__":
    main()
