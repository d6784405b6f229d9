"""lm.pretrain under `accelerate launch` with 2 CPU processes (gloo) matches a single-process run
with the same global batch."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stderr[-3000:]}"


@pytest.mark.skipif(sys.platform == "win32", reason="gloo multi-process launch is tested on Linux")
def test_two_cpu_processes_match_one(tmp_path):
    launcher = Path(sys.executable).with_name("accelerate")
    if not launcher.exists():
        launcher = shutil.which("accelerate")
    assert launcher, "the accelerate CLI must be installed next to this Python"
    single, double = tmp_path / "single.json", tmp_path / "double.json"
    _run([sys.executable, "-m", "scale_lib.norms.distributed_check", "--out", single], tmp_path)
    _run([launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
          "--main_process_port", "29517", "-m", "scale_lib.norms.distributed_check", "--out", double], tmp_path)
    one, two = json.loads(single.read_text()), json.loads(double.read_text())
    assert one["processes"] == 1 and two["processes"] == 2, "the launch must really run 2 processes"
    assert one["tokens"] == two["tokens"]  # the same global batch
    # same global batches, gradients averaged over processes: the same run up to float summation order
    assert max(abs(a - b) for a, b in zip(one["train_loss"], two["train_loss"])) < 2e-3
    assert abs(one["val_loss"][-1] - two["val_loss"][-1]) < 2e-3
    assert one["train_loss"][-1] < one["train_loss"][0] - 0.3, "the run must actually train"


def test_global_batch_must_split_evenly(monkeypatch):
    from accelerate import Accelerator

    from scale_lib.data.corpus import CharCorpus
    from scale_lib.norms.pretrain import char_model, pretrain

    monkeypatch.setattr(Accelerator, "num_processes", property(lambda self: 3))
    corpus = CharCorpus.from_pydoc()
    with pytest.raises(ValueError, match="batch_size=8 is the global batch and must divide evenly over 3 processes"):
        pretrain(char_model(corpus.vocab_size, layers=1, hidden=32, heads=2), corpus, steps=1, batch_size=8, progress=False)
