"""Tiny, randomly initialised instances of real transformers architectures, built offline.

Every architecture :func:`scale_lib.model_map` knows can be built here from a small config in well
under a second — the tests run every hook on every one of them, and readers can try an idea on a
Qwen2-VL or an Idefics3 without downloading anything.

    >>> model = tiny_model("qwen3")            # 2 layers, d=64, 4 query heads, 2 key/value heads
    >>> batch = tiny_batch(model, padding="left")
"""

from __future__ import annotations

import torch
import transformers as tf
from torch import nn

__all__ = ["ARCHITECTURES", "VLM_ARCHITECTURES", "POST_NORM_ARCHITECTURES", "tiny_model", "tiny_batch", "IMAGE_TOKEN"]

VOCAB = 300
IMAGE_TOKEN = 280  # id of the image placeholder token in every tiny VLM
_VIDEO_TOKEN, _VISION_START = 281, 282


def _text(layers, hidden, heads, kv_heads, **extra):
    defaults = dict(
        vocab_size=VOCAB,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=512,
    )
    return {**defaults, **extra}  # config overrides win


def _vision(kind, hidden=32, layers=2, heads=4, image=32, patch=8):
    cfg = dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers, num_attention_heads=heads, image_size=image, patch_size=patch)
    return tf.CLIPVisionConfig(**cfg, projection_dim=hidden) if kind == "clip" else tf.SiglipVisionConfig(**cfg)


def _qwen_vl(cls, cfg_cls, vision, t):
    head_dim = t["hidden_size"] // t["num_attention_heads"]
    a = head_dim // 2 // 3
    rope = {"rope_type": "default", "mrope_section": [head_dim // 2 - 2 * a, a, a], "rope_theta": 10000.0}
    cfg = cfg_cls(text_config=dict(t, rope_parameters=rope), vision_config=vision, image_token_id=IMAGE_TOKEN, video_token_id=_VIDEO_TOKEN, vision_start_token_id=_VISION_START)
    return cls(cfg)


def _mllama(t):
    """Mllama with its last layer a cross-attention layer (skipped on text-only input; its gates start at tanh(0) = 0)."""
    n = t["num_hidden_layers"]
    vision = tf.MllamaVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_global_layers=1, attention_heads=4, image_size=32,
                                   patch_size=8, vision_output_dim=64, intermediate_layers_indices=[0], max_num_tiles=1, supported_aspect_ratios=[[1, 1]])
    text = tf.MllamaTextConfig(**{k: v for k, v in t.items() if k != "max_position_embeddings"}, cross_attention_layers=[n - 1] if n > 1 else [],
                               pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return tf.MllamaForConditionalGeneration(tf.MllamaConfig(vision_config=vision.to_dict(), text_config=text.to_dict(), image_token_index=IMAGE_TOKEN))


def _llama4(t):
    vision = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=32, patch_size=8,
                  vision_output_dim=64, projector_input_dim=64, projector_output_dim=64, pixel_shuffle_ratio=0.5)
    text = dict(t, head_dim=16, intermediate_size_mlp=2 * t["intermediate_size"], num_local_experts=2)
    return tf.Llama4ForConditionalGeneration(tf.Llama4Config(text_config=text, vision_config=vision, image_token_index=IMAGE_TOKEN))


def _small_tower():
    return dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def _builders():
    qwen2_vl_vision = dict(depth=2, embed_dim=32, hidden_size=64, num_heads=4, mlp_ratio=2, patch_size=4, spatial_merge_size=2, temporal_patch_size=2, in_channels=3)
    qwen25_vl_vision = dict(depth=2, hidden_size=32, out_hidden_size=64, num_heads=4, intermediate_size=64, patch_size=4, spatial_merge_size=2, temporal_patch_size=2, in_channels=3, fullatt_block_indexes=[1], window_size=16)
    return {
        "llama": lambda t: tf.LlamaForCausalLM(tf.LlamaConfig(**t)),
        "qwen2": lambda t: tf.Qwen2ForCausalLM(tf.Qwen2Config(**t)),
        # head_dim deliberately != hidden / heads, as in the real Qwen3 models
        "qwen3": lambda t: tf.Qwen3ForCausalLM(tf.Qwen3Config(**t, head_dim=24)),
        "gemma": lambda t: tf.GemmaForCausalLM(tf.GemmaConfig(**t, head_dim=16)),
        "gemma2": lambda t: tf.Gemma2ForCausalLM(tf.Gemma2Config(**t, head_dim=16)),
        "gemma3_text": lambda t: tf.Gemma3ForCausalLM(tf.Gemma3TextConfig(**t, head_dim=24)),
        "mistral": lambda t: tf.MistralForCausalLM(tf.MistralConfig(**t)),
        "phi3": lambda t: tf.Phi3ForCausalLM(tf.Phi3Config(**t, pad_token_id=0, bos_token_id=1, eos_token_id=2)),
        "olmo2": lambda t: tf.Olmo2ForCausalLM(tf.Olmo2Config(**t, pad_token_id=0, bos_token_id=1, eos_token_id=2)),
        "olmo": lambda t: tf.OlmoForCausalLM(tf.OlmoConfig(**t, pad_token_id=0, bos_token_id=1, eos_token_id=2)),
        "granite": lambda t: tf.GraniteForCausalLM(tf.GraniteConfig(**t, residual_multiplier=0.5)),
        "mixtral": lambda t: tf.MixtralForCausalLM(tf.MixtralConfig(**t, num_local_experts=4, num_experts_per_tok=2)),
        "qwen2_moe": lambda t: tf.Qwen2MoeForCausalLM(tf.Qwen2MoeConfig(**t, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                                                                         shared_expert_intermediate_size=32)),
        "qwen3_moe": lambda t: tf.Qwen3MoeForCausalLM(tf.Qwen3MoeConfig(**t, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, head_dim=16)),
        "smollm3": lambda t: tf.SmolLM3ForCausalLM(tf.SmolLM3Config(**t, pad_token_id=0, bos_token_id=1, eos_token_id=2)),
        "stablelm": lambda t: tf.StableLmForCausalLM(tf.StableLmConfig(**t, bos_token_id=1, eos_token_id=2)),
        "cohere": lambda t: tf.CohereForCausalLM(tf.CohereConfig(**t, pad_token_id=0, bos_token_id=1, eos_token_id=2)),
        "starcoder2": lambda t: tf.Starcoder2ForCausalLM(tf.Starcoder2Config(**t, bos_token_id=1, eos_token_id=2)),
        "phi": lambda t: tf.PhiForCausalLM(tf.PhiConfig(**t, bos_token_id=1, eos_token_id=2)),
        "gpt_neox": lambda t: tf.GPTNeoXForCausalLM(tf.GPTNeoXConfig(**{k: v for k, v in t.items() if k != "num_key_value_heads"}, bos_token_id=1, eos_token_id=2)),
        "falcon": lambda t: tf.FalconForCausalLM(tf.FalconConfig(vocab_size=VOCAB, hidden_size=t["hidden_size"], num_hidden_layers=t["num_hidden_layers"],
                                                                 num_attention_heads=t["num_attention_heads"], bos_token_id=1, eos_token_id=2,
                                                                 **{k: v for k, v in t.items() if k == "initializer_range"})),
        "gptj": lambda t: tf.GPTJForCausalLM(tf.GPTJConfig(vocab_size=VOCAB, n_embd=t["hidden_size"], n_layer=t["num_hidden_layers"], n_head=t["num_attention_heads"],
                                                           n_positions=512, rotary_dim=8, bos_token_id=1, eos_token_id=2,
                                                           **{k: v for k, v in t.items() if k == "initializer_range"})),
        "gpt2": lambda t: tf.GPT2LMHeadModel(
            tf.GPT2Config(vocab_size=VOCAB, n_embd=t["hidden_size"], n_layer=t["num_hidden_layers"], n_head=t["num_attention_heads"], n_positions=512, bos_token_id=1, eos_token_id=2)
        ),
        "bert": lambda t: tf.BertModel(
            tf.BertConfig(vocab_size=VOCAB, hidden_size=t["hidden_size"], num_hidden_layers=t["num_hidden_layers"], num_attention_heads=t["num_attention_heads"], intermediate_size=t["intermediate_size"]),
            add_pooling_layer=False,
        ),
        "llava": lambda t: tf.LlavaForConditionalGeneration(tf.LlavaConfig(vision_config=_vision("clip"), text_config=tf.LlamaConfig(**t), image_token_index=IMAGE_TOKEN)),
        "llava_siglip": lambda t: tf.LlavaForConditionalGeneration(
            tf.LlavaConfig(vision_config=_vision("siglip"), text_config=tf.LlamaConfig(**t), image_token_index=IMAGE_TOKEN, vision_feature_select_strategy="full")
        ),
        "paligemma": lambda t: tf.PaliGemmaForConditionalGeneration(
            tf.PaliGemmaConfig(vision_config=_vision("siglip"), text_config=tf.GemmaConfig(**t, head_dim=16), image_token_index=IMAGE_TOKEN, projection_dim=t["hidden_size"])
        ),
        # PaliGemma 2: the same tower around a Gemma 2 (post-norm) language model
        "paligemma2": lambda t: tf.PaliGemmaForConditionalGeneration(
            tf.PaliGemmaConfig(vision_config=_vision("siglip"), text_config=tf.Gemma2Config(**t, head_dim=16), image_token_index=IMAGE_TOKEN, projection_dim=t["hidden_size"])
        ),
        "gemma3": lambda t: tf.Gemma3ForConditionalGeneration(
            tf.Gemma3Config(vision_config=_vision("siglip").to_dict(), text_config=tf.Gemma3TextConfig(**t, head_dim=16).to_dict(), image_token_index=IMAGE_TOKEN,
                            mm_tokens_per_image=4, boi_token_index=_VIDEO_TOKEN, eoi_token_index=_VISION_START)
        ),
        # text-only in the tests (their image inputs need tiling metadata); the layouts map them all the same
        "llava_next": lambda t: tf.LlavaNextForConditionalGeneration(
            tf.LlavaNextConfig(vision_config=_vision("clip"), text_config=tf.LlamaConfig(**t), image_token_index=IMAGE_TOKEN, image_grid_pinpoints=[[32, 32]])
        ),
        "llava_onevision": lambda t: tf.LlavaOnevisionForConditionalGeneration(
            tf.LlavaOnevisionConfig(vision_config=_vision("siglip").to_dict(), text_config=tf.Qwen2Config(**t).to_dict(), image_token_index=IMAGE_TOKEN,
                                    video_token_index=_VIDEO_TOKEN, image_grid_pinpoints=[[32, 32]])
        ),
        "mllama": _mllama,
        "qwen2_vl": lambda t: _qwen_vl(tf.Qwen2VLForConditionalGeneration, tf.Qwen2VLConfig, qwen2_vl_vision, t),
        "qwen2_5_vl": lambda t: _qwen_vl(tf.Qwen2_5_VLForConditionalGeneration, tf.Qwen2_5_VLConfig, qwen25_vl_vision, t),
        "idefics3": lambda t: tf.Idefics3ForConditionalGeneration(tf.Idefics3Config(vision_config=_vision("siglip").to_dict(), text_config=tf.LlamaConfig(**t), image_token_id=IMAGE_TOKEN, scale_factor=2)),
        "smolvlm": lambda t: tf.SmolVLMForConditionalGeneration(tf.SmolVLMConfig(vision_config=_vision("siglip").to_dict(), text_config=tf.LlamaConfig(**t), image_token_id=IMAGE_TOKEN, scale_factor=2)),
        # the six VLM families of transformers 5.23 added for issue #24 (gemma3n's tower needs timm: its language model is here)
        "qwen3_vl": lambda t: tf.Qwen3VLForConditionalGeneration(tf.Qwen3VLConfig(
            text_config=dict(t, head_dim=16, rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0}),
            vision_config=dict(depth=2, hidden_size=32, out_hidden_size=t["hidden_size"], num_heads=4, intermediate_size=64, patch_size=4, spatial_merge_size=2,
                               temporal_patch_size=2, deepstack_visual_indexes=[1], num_position_embeddings=16),
            image_token_id=IMAGE_TOKEN, video_token_id=_VIDEO_TOKEN, vision_start_token_id=_VISION_START)),
        "internvl": lambda t: tf.InternVLForConditionalGeneration(tf.InternVLConfig(
            text_config=dict(model_type="qwen2", **t), vision_config=dict(_small_tower(), image_size=[32, 32], patch_size=[8, 8]), image_token_id=IMAGE_TOKEN)),
        "mistral3": lambda t: tf.Mistral3ForConditionalGeneration(tf.Mistral3Config(
            text_config=dict(model_type="mistral", **t), vision_config=dict(_small_tower(), image_size=32, patch_size=8, head_dim=8),
            image_token_index=IMAGE_TOKEN, spatial_merge_size=2)),
        "llama4": _llama4,
        "idefics2": lambda t: tf.Idefics2ForConditionalGeneration(tf.Idefics2Config(
            text_config=dict(model_type="mistral", **t), vision_config=dict(_small_tower(), image_size=32, patch_size=8),
            perceiver_config=dict(hidden_size=t["hidden_size"], resampler_n_latents=4, resampler_depth=1, resampler_n_heads=2, resampler_head_dim=8, num_key_value_heads=1),
            image_token_id=IMAGE_TOKEN)),
        "gemma3n_text": lambda t: tf.Gemma3nForCausalLM(tf.Gemma3nTextConfig(
            **t, head_dim=16, vocab_size_per_layer_input=t["vocab_size"], laurel_rank=4, altup_num_inputs=2,
            activation_sparsity_pattern=[0.0] * t["num_hidden_layers"], num_kv_shared_layers=0)),
    }


ARCHITECTURES: tuple[str, ...] = tuple(_builders())
VLM_ARCHITECTURES = ("llava", "llava_siglip", "paligemma", "paligemma2", "gemma3", "qwen2_vl", "qwen2_5_vl", "idefics3", "smolvlm",
                     "qwen3_vl", "internvl", "mistral3", "llama4", "idefics2")
#: Families with a norm after each sublayer, before the residual add (see :mod:`scale_lib.core.arch`).
#: (Gemma 3n is mapped post-norm too, but its AltUp correction after the MLP is not additive, so it is not listed here.)
POST_NORM_ARCHITECTURES = ("gemma2", "gemma3_text", "olmo2", "paligemma2", "gemma3")
_IMAGE_TYPES = {"llava", "paligemma", "gemma3", "qwen2_vl", "qwen2_5_vl", "idefics3", "smolvlm", "qwen3_vl", "internvl", "mistral3", "llama4", "idefics2"}
_QWEN_VL = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")


def tiny_model(arch: str, *, layers: int = 2, hidden: int = 64, heads: int = 4, kv_heads: int = 2, seed: int = 0, **config) -> nn.Module:
    """A tiny random instance of ``arch`` (one of :data:`ARCHITECTURES`), in eval mode.

    Extra keyword arguments go into the (text) config, e.g. ``initializer_range=0.08``.
    """
    builders = _builders()
    if arch not in builders:
        raise ValueError(f"unknown architecture {arch!r}; valid choices are {sorted(builders)}")
    if hidden % heads or heads % kv_heads:
        raise ValueError(f"hidden={hidden} must be divisible by heads={heads}, and heads by kv_heads={kv_heads}")
    torch.manual_seed(seed)
    model = builders[arch](_text(layers, hidden, heads, kv_heads, **config))
    return model.eval()


def _image_inputs(model: nn.Module, batch: int, gen: torch.Generator) -> tuple[int, dict]:
    """(number of image tokens per image, extra forward kwargs) for a tiny VLM."""
    mt = model.config.model_type
    if mt in _QWEN_VL:
        grid = torch.tensor([[1, 4, 4]] * batch)  # 16x16 pixels, patch 4 -> 4x4 patches -> 2x2 merged
        pixels = torch.randn(16 * batch, 3 * 2 * 4 * 4, generator=gen)
        return 4, dict(pixel_values=pixels, image_grid_thw=grid)
    if mt in ("idefics3", "smolvlm", "idefics2"):  # idefics2: the perceiver resamples every image to 4 latents
        return 4, dict(pixel_values=torch.randn(batch, 1, 3, 32, 32, generator=gen))
    if mt == "mistral3":  # Pixtral 4x4 patches merged 2x2
        return 4, dict(pixel_values=torch.randn(batch, 3, 32, 32, generator=gen), image_sizes=torch.tensor([[32, 32]] * batch))
    if mt in ("internvl", "llama4"):  # 4x4 patches, pixel-shuffled 2x2
        return 4, dict(pixel_values=torch.randn(batch, 3, 32, 32, generator=gen))
    if mt == "gemma3":  # 4x4 SigLIP patches pooled to mm_tokens_per_image = 4
        return 4, dict(pixel_values=torch.randn(batch, 3, 32, 32, generator=gen))
    return 16, dict(pixel_values=torch.randn(batch, 3, 32, 32, generator=gen))  # CLIP/SigLIP 32px, patch 8


def tiny_batch(model: nn.Module, *, batch: int = 3, seq: int = 10, padding: str = "left", images: bool = False, seed: int = 0) -> dict:
    """A ragged batch of random token ids for a tiny model: rows have ``seq``, ``seq-3``, ... tokens.

    Args:
        padding: ``"left"``, ``"right"`` or ``"none"`` (all rows full length).
        images: for a VLM, prepend one image per row (placeholder tokens + ``pixel_values``).
    """
    if padding not in ("left", "right", "none"):
        raise ValueError(f"unknown padding {padding!r}; valid choices are 'left', 'right', 'none'")
    gen = torch.Generator().manual_seed(seed)
    n_img, extra = (0, {})
    if images:
        if model.config.model_type not in _IMAGE_TYPES:
            raise ValueError(f"images=True needs a VLM; {model.config.model_type!r} is text-only")
        n_img, extra = _image_inputs(model, batch, gen)
    total = seq + n_img
    ids = torch.zeros(batch, total, dtype=torch.long)
    mask = torch.zeros(batch, total, dtype=torch.long)
    for r in range(batch):
        length = seq if padding == "none" else max(2, seq - 3 * r)
        row = torch.cat([torch.full((n_img,), IMAGE_TOKEN), torch.randint(5, 250, (length,), generator=gen)])
        sl = slice(total - len(row), total) if padding == "left" else slice(0, len(row))
        ids[r, sl], mask[r, sl] = row, 1
    out = dict(input_ids=ids, attention_mask=mask, **extra)
    if model.config.model_type in _QWEN_VL:
        out["mm_token_type_ids"] = (ids == IMAGE_TOKEN).long()
    if model.config.model_type in ("paligemma", "gemma3"):
        out["token_type_ids"] = (ids == IMAGE_TOKEN).long() if model.config.model_type == "gemma3" else torch.zeros_like(ids)
    return out
