"""The ScAle adapter and the prefix-cached last-token path, on tiny models."""

import warnings

import pytest
import torch

import scale_lib as sl
from scale_lib.core.prefix import last_token_logits, prefix_cache
from scale_lib.scaling.adapter import ScAle, ScAleConfig

VLMS = sl.VLM_ARCHITECTURES


def batch_for(model, arch, **kw):
    return sl.tiny_batch(model, images=arch in VLMS, **kw)


@pytest.mark.parametrize("arch", ["llama", "qwen3", "gpt2", "llava", "qwen2_vl", "idefics3"])
def test_identity_at_initialisation_and_parameter_count(arch):
    model = sl.tiny_model(arch)
    b = batch_for(model, arch)
    with torch.no_grad():
        ref = model(**b).logits
    adapter = ScAle(model)
    mm = sl.model_map(model)
    assert adapter.num_parameters() == mm.n_layers * mm.n_heads + mm.n_layers
    assert sl.trainable_parameters(model) == 0 and sl.trainable_parameters(adapter) == adapter.num_parameters()
    assert all(p.numel() <= mm.n_layers * mm.n_heads for p in adapter.parameters())  # the backbone is not inside
    with torch.no_grad(), adapter.applied():
        out = model(**b).logits
    assert torch.equal(ref, out)


def test_bound_and_layers():
    model = sl.tiny_model("llama")
    adapter = ScAle(model, ScAleConfig(layers=[1], mlp=False, bound=(0.5, 3.0)))
    assert adapter.num_parameters() == 4
    torch.testing.assert_close(adapter.coefficients()["heads"], torch.ones(1, 4))
    with torch.no_grad():
        adapter.head_theta.fill_(100.0)
    torch.testing.assert_close(adapter.coefficients()["heads"], torch.full((1, 4), 3.0))
    with pytest.raises(ValueError, match=r"bound \(1.0, 2.0\) must contain 1"):
        ScAleConfig(bound=(1.0, 2.0))
    with pytest.raises(ValueError, match=r"layer 5 is out of range.*0\.\.1"):
        ScAle(model, ScAleConfig(layers=[5]))
    with pytest.raises(ValueError, match="layers repeat"):
        ScAle(model, ScAleConfig(layers=[0, 0]))


def test_training_steps_with_the_adapter_attached():
    model = sl.tiny_model("llama")
    b = sl.tiny_batch(model)
    adapter = ScAle(model).attach()
    before = sl.count_hooks(model)
    opt = torch.optim.Adam(adapter.parameters(), lr=0.1)
    losses = []
    for _ in range(3):  # the hooks stay attached; scales are recomputed from θ at every forward
        loss = -model(**b).logits[:, -1].log_softmax(-1)[:, 7].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[2] < losses[0]
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(RuntimeError, match="already attached"):
        adapter.attach()
    adapter.detach()
    assert sl.count_hooks(model) < before


def test_save_load_round_trip_and_mismatch(tmp_path):
    model = sl.tiny_model("llama")
    adapter = ScAle(model, ScAleConfig(layers=[0, 1]))
    with torch.no_grad():
        adapter.head_theta.normal_()
        adapter.mlp_theta.normal_()
    adapter.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"adapter_config.json", "adapter_model.safetensors", "README.md"}  # peft's format + a model card
    loaded = ScAle.load(tmp_path, sl.tiny_model("llama"))
    for k, v in adapter.coefficients().items():
        torch.testing.assert_close(loaded.coefficients()[k], v)
    with pytest.raises(ValueError, match=r"saved for .*'llama'.*this model is .*'gpt2'"):
        ScAle.load(tmp_path, sl.tiny_model("gpt2"))
    with pytest.raises(ValueError, match=r"n_layers.*\(2, 3\)"):
        ScAle.load(tmp_path, sl.tiny_model("llama", layers=3))
    import json

    from safetensors.torch import save_file

    old = tmp_path / "v01"  # scale_lib 0.1's format (raw state dict, config with "model" and "extra") still loads
    old.mkdir()
    (old / "adapter_config.json").write_text(json.dumps({"layers": [0, 1], "heads": True, "mlp": True, "bound": [0.0, 2.0], "positions": "last",
                                                         "extra": {}, "model": {"model_type": "llama", "n_layers": 2, "n_heads": 4}}))
    save_file({k: v.detach().contiguous() for k, v in adapter.state_dict().items()}, old / "adapter_model.safetensors")
    torch.testing.assert_close(ScAle.load(old, sl.tiny_model("llama")).coefficients()["heads"], adapter.coefficients()["heads"])


@pytest.mark.parametrize("attention", ["model", "merged"])
@pytest.mark.parametrize("arch", ["llama", "llava", "qwen3"])
def test_prefix_cached_path_equals_full_path(arch, attention):
    model = sl.tiny_model(arch)
    b = batch_for(model, arch, padding="left")
    adapter = ScAle(model)
    with torch.no_grad():
        adapter.head_theta.normal_(0, 1.0)
        adapter.mlp_theta.normal_(0, 1.0)
    target = torch.tensor([3, 5, 7])
    with adapter.applied():
        full = model(**b).logits[:, -1]
    torch.nn.functional.cross_entropy(full, target).backward()
    grads_full = [p.grad.clone() for p in adapter.parameters()]
    adapter.zero_grad()
    cache = prefix_cache(model, b)
    for _epoch in range(2):  # the same cache serves every epoch
        adapter.zero_grad()
        with adapter.applied():
            step = last_token_logits(model, cache, b["input_ids"], b["attention_mask"], attention=attention)
        torch.nn.functional.cross_entropy(step, target).backward()
        assert (step - full).abs().max() <= 1e-5
        assert cache.get_seq_length() == b["input_ids"].shape[1] - 1  # the prefix, never grown
        for g_full, p in zip(grads_full, adapter.parameters()):
            assert (g_full - p.grad).abs().max() <= 1e-5


def test_merged_attention_names_what_it_cannot_replace_and_restores_the_model():
    llama = sl.tiny_model("llama")
    b = sl.tiny_batch(llama, padding="left")
    cache = prefix_cache(llama, b)
    with pytest.raises(ValueError, match="'model'.*'merged'"):
        last_token_logits(llama, cache, b["input_ids"], b["attention_mask"], attention="flash")
    mistral = sl.tiny_model("mistral")  # sliding-window layers keep their own cache layout
    b = sl.tiny_batch(mistral, padding="left")
    with pytest.raises(ValueError, match="DynamicSlidingWindowLayer.*attention='model'"):
        last_token_logits(mistral, prefix_cache(mistral, b), b["input_ids"], b["attention_mask"], attention="merged")
    falcon = sl.tiny_model("falcon")  # reshapes the cached keys itself
    b = sl.tiny_batch(falcon, padding="left")
    with pytest.raises(ValueError, match="falcon: .*attention='model'"):
        last_token_logits(falcon, prefix_cache(falcon, b), b["input_ids"], b["attention_mask"], attention="merged")
    assert falcon.config._attn_implementation == "sdpa"  # restored after the error
    assert sl.count_hooks(falcon) == 0


def test_prefix_cache_refuses_bidirectional_models_and_right_padding():
    model = sl.tiny_model("paligemma")
    b = sl.tiny_batch(model)
    with pytest.raises(ValueError, match="attend to it"):
        prefix_cache(model, b["input_ids"], b["attention_mask"])
    llama = sl.tiny_model("llama")
    b = sl.tiny_batch(llama, padding="right")
    with pytest.raises(ValueError, match="left-padded"):
        prefix_cache(llama, b["input_ids"], b["attention_mask"])


@pytest.mark.parametrize("arch", ["llama", "llava"])
def test_train_scale_modes_agree_learn_and_reuse_prefixes(arch, monkeypatch):
    from scale_lib.scaling import adapter as scale_mod

    base = sl.tiny_model(arch)
    b = sl.tiny_batch(base, batch=12, padding="left", images=arch in VLMS)
    labels = torch.randint(5, 50, (12,), generator=torch.Generator().manual_seed(0))
    real_prefix = scale_mod.prefix_cache
    losses, prefixes = {}, {}
    for mode in ("off", "reuse", "recompute"):
        calls = []
        monkeypatch.setattr(scale_mod, "prefix_cache", lambda *a, **k: calls.append(1) or real_prefix(*a, **k))
        adapter = ScAle(sl.tiny_model(arch))
        losses[mode] = scale_mod.train_scale(adapter, b, labels, steps=9, batch_size=4, lr=0.1, cache=mode, progress=False)
        prefixes[mode] = len(calls)
    # the same first step (same θ, same rows) in every mode; per-step equality of logits and gradients is
    # proven above. (Later steps are not compared: Adam's 1/√v amplifies float noise in near-zero gradients.)
    assert abs(losses["reuse"][0] - losses["off"][0]) < 1e-5 and abs(losses["recompute"][0] - losses["off"][0]) < 1e-5
    for mode in losses:  # 3 epochs over the same 12 rows: the loss falls
        assert sum(losses[mode][-3:]) < sum(losses[mode][:3])
    assert prefixes == {"off": 0, "reuse": 3, "recompute": 9}  # reuse: one prefix per minibatch, for all epochs
    adapter = ScAle(sl.tiny_model(arch))
    with pytest.raises(ValueError, match="unknown cache mode 'always'"):
        scale_mod.train_scale(adapter, b, labels, steps=1, cache="always")
    with pytest.raises(ValueError, match="inputs have 12 rows but labels has 3"):
        scale_mod.train_scale(adapter, b, labels[:3], steps=1)


def test_train_scale_builds_prefixes_from_the_unscaled_model():
    """Regression: the trainer once built each minibatch's prefix inside the adapter's hooks, so the
    prompt's second-to-last token was scaled by the coefficients of the moment. From a trained-looking θ
    the cached first step must equal the plain one, and building a prefix under hooks must raise."""
    from scale_lib.scaling import adapter as scale_mod

    b = sl.tiny_batch(sl.tiny_model("llama"), batch=8, padding="left")
    labels = torch.randint(5, 50, (8,), generator=torch.Generator().manual_seed(0))
    first = {}
    for mode in ("off", "reuse"):
        adapter = ScAle(sl.tiny_model("llama"))
        with torch.no_grad():
            adapter.head_theta.copy_(torch.randn(adapter.head_theta.shape, generator=torch.Generator().manual_seed(1)))
        first[mode] = scale_mod.train_scale(adapter, b, labels, steps=1, batch_size=8, lr=0.1, cache=mode, progress=False)[0]
    assert abs(first["reuse"] - first["off"]) < 1e-5
    with adapter.applied(), pytest.raises(RuntimeError, match="scaling hooks attached"):
        prefix_cache(adapter.model, b["input_ids"], b["attention_mask"])
    assert sl.count_hooks(adapter.model) == 0


def test_scale_trains_saves_and_loads_on_a_model_type_without_a_built_in_layout(tmp_path):
    from scale_lib.core import arch

    model = sl.tiny_model("llama")
    model.config.model_type = "my_decoder"  # a type LAYOUTS does not know
    with pytest.warns(UserWarning, match=r"(?s)'my_decoder' has no built-in language layout; inferred Layout\(layers='model.layers', attn_out='self_attn.o_proj', mlp='mlp'.*register_layout"):
        inferred = ScAle(model)  # read from the module tree, and said so
    assert inferred.layout.attn_out == "self_attn.o_proj" and inferred.map.n_layers == 2
    layout = sl.Layout(layers="layers", attn_out="self_attn.o_proj", mlp="mlp", final_norm="norm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit layout: no guess, no warning
        adapter = ScAle(model, layout=layout)
    from scale_lib.scaling.adapter import train_scale

    b = sl.tiny_batch(model, batch=8, padding="left")
    labels = torch.randint(5, 50, (8,), generator=torch.Generator().manual_seed(0))
    losses = train_scale(adapter, b, labels, steps=3, lr=0.1, batch_size=4, progress=False)
    assert len(losses) == 3 and not torch.allclose(adapter.coefficients()["heads"], torch.ones(1))
    adapter.save(tmp_path)
    loaded = ScAle.load(tmp_path, model)  # the layout travels with the adapter
    for k, v in adapter.coefficients().items():
        torch.testing.assert_close(loaded.coefficients()[k], v)
    try:  # the other way in: register the type once
        sl.register_layout("my_decoder", layout)
        again = ScAle.load(tmp_path, model)
        torch.testing.assert_close(again.coefficients()["mlp"], adapter.coefficients()["mlp"])
        assert sl.model_map(model).n_layers == adapter.map.n_layers
        with pytest.raises(ValueError, match="'my_decoder' already has a language layout"):
            sl.register_layout("my_decoder", layout)
        with pytest.raises(TypeError, match="must be a scale_lib.Layout"):
            sl.register_layout("other", {"layers": "layers"})
    finally:
        arch.LAYOUTS.pop("my_decoder", None)
    with pytest.warns(UserWarning, match="'my_decoder' has no built-in language layout"):  # unregistered again: back to a guess
        sl.model_map(model)


def test_prefix_cache_holds_no_graph_even_when_weights_train():
    """Regression: the cache is a constant of training, built without gradients, whatever requires grad."""
    model = sl.tiny_model("llama")
    for p in model.parameters():
        p.requires_grad_(True)
    b = sl.tiny_batch(model, batch=2, seq=8, padding="left")
    cache = prefix_cache(model, b)
    assert not any(t.requires_grad for layer in cache.layers for t in (layer.keys, layer.values))
