"""The model families readers bring: every built-in layout on a tiny random instance with weights
large enough that norms hide nothing, Mllama's cross-attention layers, and clear errors."""

import warnings

import pytest
import torch

import scale_lib as sl

FAMILIES = ("olmo", "olmo2", "granite", "mixtral", "qwen2_moe", "qwen3_moe", "smollm3", "gpt_neox", "falcon", "stablelm", "phi", "phi3", "cohere",
            "gptj", "starcoder2", "mistral", "llava_next", "llava_onevision", "qwen3_vl", "internvl", "mistral3", "llama4", "idefics2", "gemma3n_text")


MOE = ("mixtral", "qwen2_moe", "qwen3_moe", "llama4")


def test_every_requested_family_has_a_built_in_layout():
    for arch in FAMILIES + ("mllama",):
        model_type = sl.tiny_model(arch).config.model_type
        assert model_type in sl.LAYOUTS, f"{arch} ({model_type}) has no built-in layout"


@pytest.mark.parametrize("arch", FAMILIES)
def test_each_site_moves_the_output_and_matches_its_module(arch):
    torch.manual_seed(0)
    model = sl.tiny_model(arch, initializer_range=0.2)
    batch = sl.tiny_batch(model, padding="left")
    mm = sl.model_map(model)
    with torch.no_grad():
        plain = model(**batch).logits
        uneven = torch.linspace(0.0, 2.0, mm.n_heads)  # non-uniform: on post-norm families a common head factor is divided out
        for site, scale in (("L0.H1", 0.0), ("L1.attn", 2.0), ("L1.mlp", 2.0), ("L0.heads", uneven)):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a site that is never reached would warn: it must not here
                with sl.scaled(model, {site: scale}):
                    moved = model(**batch).logits
            assert (moved - plain)[:, -1].abs().max() > 1e-3, f"{arch}: {site} changes nothing"
            earlier = batch["attention_mask"][:, :-1].bool()
            if arch in MOE:  # the last token's new routing regroups the expert matmuls: other rows move by float rounding only
                torch.testing.assert_close(moved[:, :-1][earlier], plain[:, :-1][earlier], atol=1e-5, rtol=1e-5)
            else:
                assert torch.equal(moved[:, :-1][earlier], plain[:, :-1][earlier])
    # MoE blocks: the "mlp" site is the whole block's output (router + experts), a single module per layer
    assert len(list(mm.mlp_block(0).parameters())) > 0


def _mllama_with_image():
    torch.manual_seed(0)
    model = sl.tiny_model("mllama", initializer_range=0.2)
    cross = sl.model_map(model).layers[-1]
    with torch.no_grad():  # real checkpoints have open gates; a fresh model starts with tanh(0) = 0
        cross.cross_attn_attn_gate.fill_(1.0)
        cross.cross_attn_mlp_gate.fill_(1.0)
    gen = torch.Generator().manual_seed(0)
    ids = torch.cat([torch.full((2, 1), sl.core.tiny.IMAGE_TOKEN), torch.randint(5, 250, (2, 8), generator=gen)], 1)
    inputs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=torch.randn(2, 1, 1, 3, 32, 32, generator=gen),
                  aspect_ratio_ids=torch.ones(2, 1, dtype=torch.long), aspect_ratio_mask=torch.ones(2, 1, 1, dtype=torch.long),
                  cross_attention_mask=torch.ones(2, 9, 1, 1, dtype=torch.long))
    return model, inputs


def test_mllama_cross_attention_layers_have_an_explicit_meaning():
    model, inputs = _mllama_with_image()
    mm = sl.model_map(model)
    last = mm.n_layers - 1
    assert type(mm.layers[last]).__name__ == "MllamaCrossAttentionDecoderLayer"
    assert mm.attn_out(last) is mm.layers[last].cross_attn.o_proj  # its heads are the cross-attention heads
    with torch.no_grad():
        plain = model(**inputs).logits
        for site in (f"L{last}.H0", f"L{last}.attn", f"L{last}.mlp"):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                with sl.scaled(model, {site: 0.0}):
                    assert (model(**inputs).logits - plain).abs().max() > 1e-3, site


def test_mllama_text_only_says_that_its_cross_attention_layers_never_ran():
    model = sl.tiny_model("mllama")
    batch = sl.tiny_batch(model)
    last = sl.model_map(model).n_layers - 1
    with pytest.warns(RuntimeWarning, match=rf"sites \['L{last}.mlp'\] were never reached in 1 forward call.*Mllama skips"):
        with torch.no_grad(), sl.scaled(model, {f"L{last}.mlp": 2.0, "L0.mlp": 2.0}):
            model(**batch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no model call: nothing to warn about
        with sl.scaled(model, {f"L{last}.mlp": 2.0}):
            pass


def test_a_layout_that_misses_some_layers_names_them():
    model = sl.tiny_model("mllama")
    last = sl.model_map(model).n_layers - 1
    with pytest.raises(ValueError, match=rf"layout.attn_out='self_attn.o_proj' is not a module of layer\(s\) \[{last}\].*MllamaCrossAttentionDecoderLayer.*cross_attn"):
        sl.model_map(model, layout=sl.Layout(layers="language_model.layers", attn_out="self_attn.o_proj", mlp="mlp"))
    with pytest.raises(ValueError, match="layer 5 is out of range"):
        sl.scaled(model, {"L5.H0": 0.0})
