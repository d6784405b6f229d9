"""Run inside a fresh virtual environment holding only the scale_lib wheel and its core dependencies:
hooks, ScAle training on a tiny model, save and load. Prints OK when every check passed."""

import importlib.util
import tempfile

import torch

import scale_lib as sl

for extra in ("matplotlib", "seaborn", "ipywidgets", "IPython", "pandas", "peft", "scipy", "accelerate"):
    assert importlib.util.find_spec(extra) is None, f"{extra} is installed: this check wants a venv without extras"

from scale_lib.scaling.adapter import ScAle, ScAleConfig, train_scale  # noqa: E402

model = sl.freeze(sl.tiny_model("llama"))
batch = sl.tiny_batch(model, batch=4, seq=12, padding="left")
with torch.no_grad():
    plain = model(**batch).logits[:, -1]
    with sl.scaled(model, {"L0.H1": 0.0, "L1.mlp": 2.0}):
        hooked = model(**batch).logits[:, -1]
    after = model(**batch).logits[:, -1]
assert not torch.allclose(plain, hooked) and torch.equal(plain, after), "hooks changed nothing, or leaked"

adapter = ScAle(model, ScAleConfig(heads=True, mlp=True))
labels = torch.randint(0, model.config.vocab_size, (4,), generator=torch.Generator().manual_seed(0))
losses = train_scale(adapter, batch, labels, steps=20, lr=0.1, batch_size=4, progress=False)
assert losses[-1] < losses[0], f"ScAle did not learn: {losses[0]:.3f} -> {losses[-1]:.3f}"
with tempfile.TemporaryDirectory() as d:
    adapter.save(d)
    again = ScAle.load(d, model)
    with torch.no_grad(), adapter.applied():
        a = model(**batch).logits[:, -1]
    with torch.no_grad(), again.applied():
        b = model(**batch).logits[:, -1]
assert torch.equal(a, b), "a saved and loaded adapter gives other logits"

from scale_lib.models import testbed  # noqa: E402

try:
    testbed.checkpoint_root()
except FileNotFoundError as e:
    assert "SCALE_LIB_CHECKPOINTS" in str(e)
else:
    raise AssertionError("outside a clone, checkpoint_root() should say where the checkpoints are")
print("OK")
