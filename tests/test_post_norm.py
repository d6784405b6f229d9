"""Post-norm families (a norm after each sublayer, before the residual add): block sites must scale
what is actually added to the residual stream, not something the norm undoes.

Regression tests for a silent no-op: on Gemma 2/3 and OLMo 2, ``"L0.mlp": 2`` once moved logits by
~1e-6 because the hook sat before the post-sublayer norm.
"""

import pytest
import torch

import scale_lib as sl
from scale_lib.core.tiny import POST_NORM_ARCHITECTURES

# a large initializer_range: with 0.02 the norms' epsilons can hide effects on tiny models
INIT = dict(initializer_range=0.2)


def _model(arch):
    torch.manual_seed(0)
    return sl.tiny_model(arch, **INIT)


def _batch(model, arch):
    return sl.tiny_batch(model, padding="none", images=arch in sl.VLM_ARCHITECTURES)


def _layer0_out(model, batch, scales, positions="all"):
    with torch.no_grad(), sl.scaled(model, scales, positions=positions):
        return model(**batch, output_hidden_states=True).hidden_states[1]


@pytest.mark.parametrize("arch", POST_NORM_ARCHITECTURES)
def test_doubling_mlp_doubles_its_residual_contribution(arch):
    model = _model(arch)
    assert sl.model_map(model).layout.post_norm, f"{arch} must be mapped as a post-norm family"
    batch = _batch(model, arch)
    h0, h1, h2 = (_layer0_out(model, batch, {"L0.mlp": s}) for s in (0.0, 1.0, 2.0))
    contribution = h1 - h0  # the MLP block's real contribution (it is the layer's last sublayer)
    assert contribution.abs().max() > 1e-2, "the MLP block must contribute something on this model"
    torch.testing.assert_close(h2 - h1, contribution, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", POST_NORM_ARCHITECTURES)
def test_attn_site_equals_a_hand_written_hook_after_the_post_norm(arch):
    model = _model(arch)
    batch = _batch(model, arch)
    layer = sl.model_map(model).layers[0]

    def double_last(module, args, output):  # by hand: the block's residual contribution × 2 at the last position
        out = output.clone()
        out[:, -1] *= 2.0
        return out

    with torch.no_grad():
        plain = model(**batch).logits
        handle = layer.post_attention_layernorm.register_forward_hook(double_last)
        try:
            by_hand = model(**batch).logits
        finally:
            handle.remove()
        with sl.scaled(model, {"L0.attn": 2.0}):
            ours = model(**batch).logits
    assert (by_hand - plain).abs().max() > 1e-2, "doubling the attention block's contribution must move the logits"
    torch.testing.assert_close(ours, by_hand, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", POST_NORM_ARCHITECTURES)
def test_head_sites_keep_relative_weights_only(arch):
    """Documented semantics: heads are scaled before o_proj and the post-norm, which divides out a common factor."""
    model = _model(arch)
    batch = _batch(model, arch)
    n_heads = sl.model_map(model).n_heads
    with torch.no_grad():
        plain = model(**batch).logits
        with sl.scaled(model, {"L0.heads": torch.full((n_heads,), 3.0)}):
            uniform = model(**batch).logits
        with sl.scaled(model, {"L0.H0": 0.0}):
            one_off = model(**batch).logits
    assert (uniform - plain).abs().max() < 1e-3 * (one_off - plain).abs().max() + 1e-4
    assert (one_off - plain).abs().max() > 1e-2


@pytest.mark.parametrize("arch", POST_NORM_ARCHITECTURES)
def test_scale_mlp_coefficients_get_real_gradients(arch):
    from scale_lib.scaling.adapter import ScAle

    model = _model(arch)
    batch = _batch(model, arch)
    adapter = ScAle(model)
    with adapter.applied():
        model(**batch).logits[:, -1].log_softmax(-1)[:, 7].sum().backward()
    g_mlp, g_heads = adapter.mlp_theta.grad.abs().max(), adapter.head_theta.grad.abs().max()
    assert g_mlp > 1e-2 * g_heads, f"MLP coefficient gradients {g_mlp:.1e} vs heads {g_heads:.1e}: the MLP site is not reaching the residual stream"


def test_pre_norm_families_keep_their_sites():
    for arch in ("llama", "gemma", "qwen3", "phi3", "mistral"):
        mm = sl.model_map(sl.tiny_model(arch))
        assert not mm.layout.post_norm and mm.mlp_block(0) is mm.mlp(0) and mm.attn_block(0) is mm.attn_out(0), arch
