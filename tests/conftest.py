import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SCALE_LIB_FAST", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

import scale_lib as sl  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def output_of(model, batch):
    """Logits for LMs/VLMs, last hidden state for encoders."""
    out = model(**batch)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


@pytest.fixture(scope="session")
def tiny_models():
    cache = {}

    def get(arch):
        if arch not in cache:
            cache[arch] = sl.tiny_model(arch)
        return cache[arch]

    return get
