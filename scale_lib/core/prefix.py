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

__all__ = ["extra_inputs", "mrope_positions", "prefix_cache", "last_token_logits", "merged_attention", "select_rows", "n_rows"]


# ---------------------------------------------------------------------------------------------
# Prefix caching: the prompt once without gradients, then only the last token per step
def extra_inputs(inputs: Mapping) -> dict:
    """Everything in a model's input dict but ``input_ids`` and ``attention_mask`` (e.g. ``pixel_values``):
    what the prefix pass needs besides the tokens."""
    return {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}


def _per_token(value, input_ids: torch.Tensor) -> bool:
    """Whether an extra input has one entry per token (``mm_token_type_ids``, ``token_type_ids``)."""
    return isinstance(value, torch.Tensor) and value.dim() >= 2 and tuple(value.shape[:2]) == tuple(input_ids.shape)


def mrope_positions(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, extra: Mapping) -> torch.Tensor | None:
    """The multimodal rotary positions ``(3, batch, seq)`` of the Qwen-VL families for the whole prompt, or ``None``.

    Qwen2-VL, Qwen2.5-VL and Qwen3-VL place image tokens on a (time, height, width) grid. Left to itself the
    model computes these positions on the first pass and keeps an offset (``rope_deltas``) as *state* for
    later cached steps, which is wrong as soon as caches of several minibatches are reused in turn. The
    prefix cache computes them once per prompt and passes them explicitly to both passes instead."""
    inner = getattr(model, "model", model)
    get_rope_index = getattr(inner, "get_rope_index", None)
    if get_rope_index is None or extra.get("mm_token_type_ids") is None:
        return None
    keys = ("image_grid_thw", "video_grid_thw", "second_per_grid_ts")
    positions, _ = get_rope_index(input_ids, mm_token_type_ids=extra["mm_token_type_ids"], attention_mask=attention_mask,
                                  **{k: extra[k] for k in keys if extra.get(k) is not None})
    return positions


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
    from scale_lib.core.arch import unwrap

    positions = mrope_positions(unwrap(model), input_ids, attention_mask, extra)
    extra = {k: v[:, :-1] if _per_token(v, input_ids) else v for k, v in extra.items()}  # per-token extras lose the last column too
    if positions is not None:
        extra["position_ids"] = positions[..., :-1]
    out = model(input_ids=input_ids[:, :-1], attention_mask=attention_mask[:, :-1], use_cache=True, **extra)
    cache = out.past_key_values
    if positions is not None:
        cache.scale_lib_last_positions = positions[..., -1:]  # read by last_token_logits (the model's own offset is state)
    return cache


def _last_position_ids(cache) -> dict:
    """``{"position_ids": ...}`` when the prefix cache carries the last token's explicit (multimodal) positions, else ``{}``."""
    positions = getattr(cache, "scale_lib_last_positions", None)
    return {} if positions is None else {"position_ids": positions}


def last_token_logits(model: nn.Module, cache, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, reuse: bool = True,
                      attention: str = "model") -> torch.Tensor:
    """Logits at the last position, computing only that position on top of ``cache``.

    Call it inside ``adapter.applied()`` (or with the adapter attached) to get adapted logits with
    gradients to the coefficients. With ``reuse=True`` the same prefix cache serves every step and
    epoch: a step appends the last token's keys and values, and the cache is cropped back right
    after (the step's graph holds its own concatenated tensors, so backward is unaffected).

    ``attention="merged"`` (decoders with full attention in every layer whose attention passes the
    cache's keys straight to the attention function: Llama/SmolLM2, Qwen2/3, Phi-3, OLMo, GPT-2 and
    LLaVA's language model among the tiny families; not sliding-window ones such as Mistral or
    Gemma 2/3, nor Falcon or GPT-J, which raise): the last token attends to the constant prefix and
    to itself separately, merged in one softmax (:func:`merged_attention`), so a step neither
    concatenates the prefix's keys and values with the new ones nor computes their gradients, which
    nothing trains; the cache never grows, so ``reuse`` does not apply. Equal to ``"model"`` to float
    rounding (the tests require ≤ 1e-5 on tiny models); the book's chapters use ``"model"``, the
    default, and ``benchmarks/bench_real.py`` times both.
    """
    if attention == "merged":
        return _merged_last_token_logits(model, cache, input_ids, attention_mask)
    if attention != "model":
        raise ValueError(f"attention={attention!r}; valid choices are 'model' (the model's own attention on the "
                         "concatenated cache) and 'merged' (prefix and last token attended separately, one softmax)")
    layers = getattr(cache, "layers", None)
    can_crop = reuse and hasattr(cache, "crop") and layers is not None and all(hasattr(x, "keys") for x in layers)
    past = cache if (can_crop or not reuse) else copy.deepcopy(cache)
    prefix_len = cache.get_seq_length() if can_crop else None
    extra = _last_position_ids(cache)
    try:
        out = model(input_ids=input_ids[:, -1:], attention_mask=attention_mask, past_key_values=past, use_cache=True, **extra)
    finally:
        if can_crop and cache.get_seq_length() > prefix_len:
            cache.crop(prefix_len - cache.get_seq_length())  # transformers 5: a negative count removes tokens
            for layer in layers:  # the cropped prefix is a slice of this step's concatenation: cut it from the graph
                layer.keys, layer.values = layer.keys.detach(), layer.values.detach()
    return out.logits[:, -1]


# ---------------------------------------------------------------------------------------------
# The merged last-token attention: the prefix's keys and values stay constants of the step
class _PrefixAndNew:
    """What a merged cache layer returns instead of the concatenated keys (or values): the cached
    prefix ``[batch, kv_heads, T, d]`` (no gradient) and this step's new position ``[batch, kv_heads, 1, d]``."""

    __slots__ = ("prefix", "new")

    def __init__(self, prefix: torch.Tensor, new: torch.Tensor):
        self.prefix, self.new = prefix, new


_MERGED = "scale_lib_merged"  # the attention implementation's registered name


def merged_attention(module, query, key, value, attention_mask, scaling: float, dropout: float = 0.0, **kwargs):
    """Attention of one query position over a constant prefix and its own new key, in one softmax.

    ``key``/``value`` are :class:`_PrefixAndNew` (from a merged cache); anything else goes to the model's
    usual SDPA attention. Scores over the prefix are ``q Kᵀ`` with the prefix keys as constants (the
    backward computes no prefix-key gradient), the new position's score is ``q·k``; one softmax over
    both, then ``p_prefix V + p_new v``. Grouped-query heads share their key/value head without copies.

    The query's batch may be a multiple ``n`` of the prefix's (``n`` blocks of the same rows, e.g. the
    settings of a rescaling sweep, block ``j`` = rows ``j*B .. (j+1)*B``): the blocks then read one
    prefix, as extra query rows of its heads, and the prefix is never repeated.
    """
    if not isinstance(key, _PrefixAndNew):
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    if query.shape[2] != 1:
        raise ValueError(f"merged attention computes one query position (the last token); got {query.shape[2]}")
    kp, kn, vp, vn = key.prefix, key.new, value.prefix, value.new
    b, heads, _, d = query.shape
    bk, kv, t, _ = kp.shape
    if b % bk:
        raise ValueError(f"the query has {b} rows, not a multiple of the prefix's {bk}")
    n, g = b // bk, heads // kv

    def blocks(x, width):  # [n*bk, h, width, d] -> [bk, h, n, width, d]: block j's rows as extra query rows
        return x.reshape(n, bk, x.shape[1], width, x.shape[-1]).permute(1, 2, 0, 3, 4)

    q = blocks(query.reshape(b, kv, g, d), g)  # [bk, kv, n, g, d]: a group's heads share one key/value head
    s_prefix = q.reshape(bk, kv, n * g, d) @ kp.transpose(-1, -2)  # [bk, kv, n*g, T]: the prefix read once per row
    s_new = (q * blocks(kn, 1)).sum(-1, keepdim=True)  # [bk, kv, n, g, 1]
    scores = torch.cat([s_prefix.view(bk, kv, n, g, t), s_new], dim=-1) * scaling  # [bk, kv, n, g, T+1]
    if attention_mask is not None:  # [b, 1, 1, T+1] from the model's mask function: True (or 0.0) where a key is attended
        mask = blocks(attention_mask[:, :, -1:, -(t + 1):], 1)  # [bk, 1, n, 1, T+1]
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    p = torch.softmax(scores.float(), dim=-1).to(query.dtype)
    out = (p[..., :t].reshape(bk, kv, n * g, t) @ vp).view(bk, kv, n, g, d) + p[..., t:] * blocks(vn, 1)  # [bk, kv, n, g, d]
    return out.permute(2, 0, 1, 3, 4).reshape(b, heads, 1, d).transpose(1, 2), None


_MERGED_LAYER = None  # the DynamicLayer subclass below, made on first use (transformers is imported lazily)


def _merged_layer(layer):
    """A view of a cached layer whose ``update`` returns the prefix and the new position apart (it never grows)."""
    global _MERGED_LAYER
    from transformers.cache_utils import DynamicLayer

    if type(layer) is not DynamicLayer:
        raise ValueError(f"merged attention needs a plain DynamicCache (full attention in every layer); this cache has a "
                         f"{type(layer).__name__} layer: use attention='model'")
    if _MERGED_LAYER is None:
        class _MergedLayer(DynamicLayer):
            def update(self, key_states, value_states, *args, **kwargs):
                return _PrefixAndNew(self.keys, key_states), _PrefixAndNew(self.values, value_states)

        _MERGED_LAYER = _MergedLayer
    view = object.__new__(_MERGED_LAYER)
    view.__dict__.update(layer.__dict__)
    return view


def _register_merged() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(_MERGED, merged_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(_MERGED, sdpa_mask)


def _configs(model: nn.Module):
    seen = {}
    for m in model.modules():
        cfg = getattr(m, "config", None)
        if cfg is not None and id(cfg) not in seen:
            seen[id(cfg)] = cfg
            for name in getattr(cfg, "sub_configs", {}) or {}:
                sub = getattr(cfg, name, None)
                if sub is not None and id(sub) not in seen:
                    seen[id(sub)] = sub
    return list(seen.values())


def _merged_last_token_logits(model: nn.Module, cache, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    layers = getattr(cache, "layers", None)
    if layers is None:
        raise ValueError("merged attention needs a transformers Cache with layers (from prefix_cache); use attention='model'")
    configs = [c for c in _configs(model) if getattr(c, "_attn_implementation", None) is not None]
    wrong = sorted({c._attn_implementation for c in configs} - {"sdpa", "eager", _MERGED})
    if wrong:
        raise ValueError(f"merged attention replaces sdpa or eager attention; this model uses {wrong}: use attention='model'")
    _register_merged()
    view = copy.copy(cache)
    view.layers = [_merged_layer(layer) for layer in layers]
    extra = _last_position_ids(cache)
    before = [(c, c._attn_implementation) for c in configs]
    try:
        for c, _ in before:
            c._attn_implementation = _MERGED
        out = model(input_ids=input_ids[:, -1:], attention_mask=attention_mask, past_key_values=view, use_cache=True, **extra)
    except (AttributeError, TypeError) as err:
        if "_PrefixAndNew" not in str(err):
            raise
        kind = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
        raise ValueError(f"{kind}: its attention reshapes the cached keys itself before the attention function, so merged "
                         f"attention cannot stand in for it ({err}); use attention='model'") from None
    finally:
        for c, impl in before:
            c._attn_implementation = impl
    if cache.get_seq_length() != view.get_seq_length():
        raise RuntimeError("the prefix cache changed during a merged step")
    return out.logits[:, -1]


def select_rows(inputs, rows) -> dict:
    """``inputs[rows]`` for a dict of tensors, or ``inputs.inputs(rows)`` for a batch object that
    selects its own rows (e.g. :class:`scale_lib.data.cloze.ClozeBatch`, which drops all-padding columns)."""
    if is_batch(inputs):
        return inputs.inputs(rows)
    flat = inputs.get("image_grid_thw") is not None or inputs.get("video_grid_thw") is not None
    out = {name: v[rows] for name, v in inputs.items() if not (flat and name in _FLAT_VISION_KEYS)}
    for pixels, grid, kind in _FLAT_VISION:
        if inputs.get(grid) is not None:
            out.update(_select_flat_images(inputs, rows, pixels, grid, kind))
    return out


#: Qwen-VL processors flatten the patches of every image of a batch into one ``pixel_values`` tensor and
#: describe each image by a (time, height, width) row of ``image_grid_thw``.
_FLAT_VISION = (("pixel_values", "image_grid_thw", 1), ("pixel_values_videos", "video_grid_thw", 2))
_FLAT_VISION_KEYS = {"pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw", "second_per_grid_ts"}


def _select_flat_images(inputs, rows, pixels_key: str, grid_key: str, kind: int) -> dict:
    """The patches, grid rows (and video frame rates) of the images that belong to ``rows``."""
    grid = inputs[grid_key]
    types = inputs.get("mm_token_type_ids")
    if types is None:
        raise ValueError(f"selecting rows of a batch with {grid_key} needs mm_token_type_ids (which tokens are image/video "
                         "tokens); the Qwen-VL processors return it alongside input_ids")
    patches = grid.prod(-1)
    tokens_per_row = (types == kind).sum(-1).tolist()
    merge = int(patches.sum()) // max(1, sum(tokens_per_row))  # patches per placeholder token (spatial_merge_size ** 2)
    per_image = (patches // max(1, merge)).tolist()
    owner, image = [], 0  # the row each image belongs to, in order
    for row, need in enumerate(tokens_per_row):
        while need > 0:
            if image >= len(per_image) or per_image[image] > need:
                raise ValueError(f"{grid_key} does not match mm_token_type_ids: row {row} has image/video tokens no image of the grid fills")
            owner.append(row)
            need -= per_image[image]
            image += 1
    if image != len(per_image):
        raise ValueError(f"{grid_key} lists {len(per_image)} images/videos but mm_token_type_ids has placeholder tokens for {image}")
    order = torch.as_tensor(rows).reshape(-1).tolist()
    chosen = [i for r in order for i, o in enumerate(owner) if o == r]
    starts = torch.cat([torch.zeros(1, dtype=torch.long), patches.cumsum(0)])
    out = {}
    if inputs.get(pixels_key) is not None:
        pix = inputs[pixels_key]
        out[pixels_key] = torch.cat([pix[int(starts[i]):int(starts[i + 1])] for i in chosen]) if chosen else pix[:0]
    out[grid_key] = grid[chosen]
    if kind == 2 and inputs.get("second_per_grid_ts") is not None:  # one frame rate per video
        out["second_per_grid_ts"] = torch.as_tensor(inputs["second_per_grid_ts"])[chosen]
    return out


def n_rows(inputs) -> int:
    """Number of rows of a dict of tensors or of a batch object."""
    return len(inputs) if is_batch(inputs) else int(inputs["input_ids"].shape[0])


def _cache_bytes(cache) -> int:
    return sum(t.numel() * t.element_size() for layer in getattr(cache, "layers", []) for t in (layer.keys, layer.values))
