"""The prefix cache: run a prompt once without gradients, then only its last position per step.

ScAle scales only the last token, so everything before it is a constant of training: :func:`prefix_cache` computes its KV cache once and :func:`last_token_logits` runs the last position
on top of it. Both halves of the book and every baseline that acts at the last token use it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import nn

from scale_lib.core.arch import model_map
from scale_lib.core.batch import is_batch
from scale_lib.core.hooks import active_scalings

__all__ = ["extra_inputs", "prefix_cache", "last_token_logits", "select_rows", "n_rows"]


# ---------------------------------------------------------------------------------------------
# Prefix caching: the prompt once without gradients, then only the last token per step
def extra_inputs(inputs: Mapping) -> dict:
    """Everything in a model's input dict but ``input_ids`` and ``attention_mask`` (e.g. ``pixel_values``):
    what the prefix pass needs besides the tokens."""
    return {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}


@torch.no_grad()
def prefix_cache(model: nn.Module, inputs: Mapping | torch.Tensor, attention_mask: torch.Tensor | None = None, *,
                 causal: bool | None = None, **extra):
    """Run everything but the last position once (no gradients) and return its KV cache.

    Rows must be **left-padded** (the last real token in the last column), which is how the book
    batches prompts. ``inputs`` is the model's input dict (``input_ids``, ``attention_mask`` and e.g.
    ``pixel_values`` for a VLM, whose image tokens are in the prefix); the older form
    ``prefix_cache(model, input_ids, attention_mask, **extra)`` is accepted too.
    The prefix is the *unscaled* model's: building it inside ``scaled(...)`` / ``adapter.applied()``
    would scale the prefix's own last position (the prompt's second-to-last token), so that raises.
    ``causal``: whether the model is a causal decoder, when the caller knows (an adapter's map);
    otherwise read from :func:`scale_lib.model_map`.
    """
    if isinstance(inputs, Mapping):
        if attention_mask is not None or extra:
            raise TypeError("pass the input dict alone (prefix_cache(model, inputs)), or input_ids, attention_mask and extras")
        input_ids, attention_mask, extra = inputs["input_ids"], inputs["attention_mask"], extra_inputs(inputs)
    else:
        input_ids = inputs
        if attention_mask is None:
            raise TypeError("prefix_cache(model, input_ids, attention_mask): the attention mask is missing")
    if active_scalings(model):
        raise RuntimeError("prefix_cache was called with scaling hooks attached to the model: the prefix's last position "
                           "(the prompt's second-to-last token) would be scaled too. Build the cache outside "
                           "`with scaled(...)` / `adapter.applied()`, then call last_token_logits inside it")
    if not (model_map(model).causal if causal is None else causal):
        raise ValueError(f"{getattr(model.config, 'model_type', type(model).__name__)}: positions before the last one attend to it, so a prefix cache "
                         "would be wrong; train on the full sequence instead")
    if not bool(attention_mask[:, -1].all()):
        raise ValueError("prefix caching needs left-padded rows: every row's last column must be a real token")
    out = model(input_ids=input_ids[:, :-1], attention_mask=attention_mask[:, :-1], use_cache=True, **extra)
    return out.past_key_values


def last_token_logits(model: nn.Module, cache, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, reuse: bool = True) -> torch.Tensor:
    """Logits at the last position, computing only that position on top of ``cache``.

    Call it inside ``adapter.applied()`` (or with the adapter attached) to get adapted logits with
    gradients to the coefficients. With ``reuse=True`` the same prefix cache serves every step and
    epoch: a step appends the last token's keys and values, and the cache is cropped back right
    after (the step's graph holds its own concatenated tensors, so backward is unaffected).
    """
    layers = getattr(cache, "layers", None)
    can_crop = reuse and hasattr(cache, "crop") and layers is not None and all(hasattr(x, "keys") for x in layers)
    past = cache if (can_crop or not reuse) else copy.deepcopy(cache)
    prefix_len = cache.get_seq_length() if can_crop else None
    try:
        out = model(input_ids=input_ids[:, -1:], attention_mask=attention_mask, past_key_values=past, use_cache=True)
    finally:
        if can_crop and cache.get_seq_length() > prefix_len:
            cache.crop(prefix_len - cache.get_seq_length())  # transformers 5: a negative count removes tokens
            for layer in layers:  # the cropped prefix is a slice of this step's concatenation: cut it from the graph
                layer.keys, layer.values = layer.keys.detach(), layer.values.detach()
    return out.logits[:, -1]


def select_rows(inputs, rows) -> dict:
    """``inputs[rows]`` for a dict of tensors, or ``inputs.inputs(rows)`` for a batch object that
    selects its own rows (e.g. :class:`scale_lib.data.cloze.ClozeBatch`, which drops all-padding columns)."""
    if is_batch(inputs):
        return inputs.inputs(rows)
    return {name: v[rows] for name, v in inputs.items()}


def n_rows(inputs) -> int:
    """Number of rows of a dict of tensors or of a batch object."""
    return len(inputs) if is_batch(inputs) else int(inputs["input_ids"].shape[0])


def _cache_bytes(cache) -> int:
    return sum(t.numel() * t.element_size() for layer in getattr(cache, "layers", []) for t in (layer.keys, layer.values))
