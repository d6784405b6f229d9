"""What a scale does to a model's next-token distribution: probabilities, KL shifts, response curves.

These are the small, exact measurements of notebook 00. The cached, accuracy-based rescaling sweeps
of the ScAle paper's discovery step build on the same hooks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from scale_lib.core.arch import model_map
from scale_lib.core.hooks import Site, last_token_index, parse_site, scaled

__all__ = ["next_token_probs", "kl_divergence", "scale_response", "all_sites"]


@torch.no_grad()
def next_token_probs(model: nn.Module, input_ids: torch.Tensor, scales: Mapping | None = None, *, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Next-token probabilities at the last real token of each row, ``(batch, vocab)``, with optional scaling."""
    if input_ids.dim() == 1:
        input_ids = input_ids[None]
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    with scaled(model, scales or {}):
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits

    last = last_token_index(attention_mask)
    return logits[torch.arange(len(last)), last].float().softmax(-1)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) in nats along the last dimension (0 where p is 0)."""
    p, q = p.double(), q.double().clamp_min(1e-30)
    return torch.where(p > 0, p * (p.clamp_min(1e-30).log() - q.log()), torch.zeros_like(p)).sum(-1)


def all_sites(model: nn.Module, kinds: Sequence[str] = ("head", "attn", "mlp")) -> list[Site]:
    """Every site of the given kinds in the model's language stack, layer by layer."""
    mm = model_map(model)
    out = []
    for layer in range(mm.n_layers):
        if "head" in kinds:
            out += [Site(layer, "head", h) for h in range(mm.n_heads)]
        out += [Site(layer, k) for k in kinds if k != "head"]
    return out


def scale_response(
    model: nn.Module,
    input_ids: torch.Tensor,
    sites: Iterable[str | Site],
    scales: Sequence[float],
    *,
    attention_mask: torch.Tensor | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """How far each (site, scale) moves the next-token distribution from the unscaled model.

    Returns a tidy DataFrame, one row per (site, scale), columns: ``site`` (str), ``layer``,
    ``kind``, ``head``, ``scale``, ``kl`` (mean KL(unscaled || scaled) over rows, nats),
    ``p_top`` (mean probability of the unscaled model's top token) and ``top_changed`` (fraction of
    rows whose most likely token changed).
    """
    sites = [parse_site(s) for s in sites]
    base = next_token_probs(model, input_ids, attention_mask=attention_mask)
    top = base.argmax(-1)
    rows = []
    for site in tqdm(sites, desc="sites", disable=not progress, leave=False):
        for s in scales:
            p = next_token_probs(model, input_ids, {site: float(s)}, attention_mask=attention_mask)
            rows.append(
                dict(
                    site=str(site),
                    layer=site.layer,
                    kind=site.kind,
                    head=site.head if site.head is not None else -1,
                    scale=float(s),
                    kl=kl_divergence(base, p).mean().item(),
                    p_top=p.gather(-1, top[:, None]).mean().item(),
                    top_changed=(p.argmax(-1) != top).float().mean().item(),
                )
            )
    return pd.DataFrame(rows)
