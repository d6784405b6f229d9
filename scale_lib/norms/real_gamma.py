"""Scale vectors on real pretrained weights (chapter 06): γ's statistics, resetting it, folding it.

* :func:`gamma_table` — one row per norm of a loaded model with its γ statistics;
* :func:`gamma_ablation` — held-out loss with groups of γ reset to 1 (:class:`scale_lib.norms.gamma.gamma_reset`);
* :func:`fold_difference` — folding Input-Norm γ into the next linear maps leaves the function unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from scale_lib.data.corpus import pydoc_text
from scale_lib.norms.gamma import classify_norms, fold_gamma, gamma_of, gamma_reset

__all__ = ["heldout_tokens", "lm_loss", "gamma_table", "gamma_reset", "gamma_ablation",
           "fold_difference"]


# --------------------------------------------------------------------------------------------- the study
# What chapter 06 measures on the real model; each piece runs on any Llama-family causal LM (the tests
# use a tiny one), so a reader can point it at another model. The methods study is scale_lib.scaling.real_study.


def heldout_tokens(tokenizer, *, n_seqs: int = 8, seq_len: int = 128) -> torch.Tensor:
    """``(n_seqs, seq_len)`` token ids of held-out English: the last tenth of the book's corpus (the
    prose of Python's help pages, :meth:`scale_lib.data.corpus.CharCorpus.from_pydoc`), cut into windows."""

    text = pydoc_text()
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
    statistics of its γ (mean, sd, min, max, mean ``|γ − 1|``)."""
    import pandas as pd


    rows = []
    for info in classify_norms(model):
        g = gamma_of(model.get_submodule(info.name)).detach().float()
        parts = info.name.split(".")
        layer = next((int(p) for p in parts if p.isdigit()), -1)
        rows.append(dict(name=info.name, layer=layer, kind=parts[-1], role=info.role, mean=float(g.mean()), sd=float(g.std()),
                         min=float(g.min()), max=float(g.max()), mean_abs_dev=float((g - 1).abs().mean())))
    return pd.DataFrame(rows)


def gamma_ablation(model: nn.Module, ids: torch.Tensor, *, per_layer: bool = True, progress: bool = True):
    """Held-out loss with γ reset to 1: none, all, all Input-Norms, the (tied, Output-Norm) final norm,
    with ``per_layer`` both norms of one layer at a time, and finally every γ set to its own mean (the
    scale kept, the per-channel shape removed). Returns a DataFrame: setting, layer, target, loss, increase."""
    import pandas as pd


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
    """Fold every Input-Norm γ into the next linear maps of a copy; the largest ``|Δlogit|`` against the
    original on ``ids``, and the logits' own scale to judge it by."""
    import copy


    folded = fold_gamma(copy.deepcopy(model))
    a, b = model(input_ids=ids).logits, folded(input_ids=ids).logits
    del folded
    return {"max_abs_logit_diff": float((a - b).abs().max()), "logit_scale": float(a.abs().max())}
