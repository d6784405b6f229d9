"""ScAle on the reader's own model (issue #24): any architecture, every VLM family in every cache mode,
peft, generation, merging — each on a tiny model."""

import warnings

import pytest
import torch

import scale_lib as sl
from scale_lib.core.infer import infer_layout
from scale_lib.core.prefix import last_token_logits, prefix_cache, select_rows
from scale_lib.scaling.adapter import ScAle, train_scale

CAUSAL_VLMS = [a for a in sl.VLM_ARCHITECTURES if a not in ("paligemma", "paligemma2")]  # PaliGemma: a prefix-LM (no prefix cache)


def _random_theta(adapter, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in adapter.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return adapter


@pytest.mark.parametrize("arch", [a for a in sl.ARCHITECTURES if a != "bert"])
def test_the_inferred_layout_is_the_built_in_one(arch):
    """The fallback for unknown types, checked where the answer is known: every built-in decoder layout."""
    model = sl.tiny_model(arch)
    guess, known = infer_layout(model), sl.LAYOUTS[model.config.model_type]
    assert guess.layers.endswith(known.layers) and guess.attn_out == known.attn_out and guess.mlp == known.mlp


def test_a_stack_that_cannot_be_inferred_says_what_was_found():
    model = sl.tiny_model("bert")
    with pytest.raises(ValueError, match=r"(?s)no stack fits.*encoder.layer \(2 x BertLayer\).*MLP: none"):
        infer_layout(model)
    model.config.model_type = "my_encoder"
    with pytest.raises(ValueError, match=r"(?s)unknown architecture 'my_encoder'.*no stack fits.*register_layout"):
        ScAle(model)


@pytest.mark.parametrize("arch", ["qwen3_vl", "internvl", "mistral3", "llama4", "idefics2", "gemma3n_text"])
def test_every_site_of_the_new_families_moves_the_last_token_only(arch):
    torch.manual_seed(0)
    model = sl.tiny_model(arch, initializer_range=0.2)
    b = sl.tiny_batch(model, padding="left", images=arch in sl.VLM_ARCHITECTURES)
    mm = sl.model_map(model)
    if arch == "gemma3n_text":
        assert mm.layout.post_norm
    with torch.no_grad():
        plain = model(**b).logits
        hooks_before = sl.count_hooks(model)  # InternVL registers hooks of its own on its first forward
        for layer in range(mm.n_layers):
            for site, scale in ((f"L{layer}.H1", 0.0), (f"L{layer}.mlp", 2.0), (f"L{layer}.heads", torch.linspace(0, 2, mm.n_heads))):
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # every site is reached
                    with sl.scaled(model, {site: scale}):
                        moved = model(**b).logits
                assert (moved - plain)[:, -1].abs().max() > 1e-4, f"{arch}: {site} changes nothing"
                earlier = b["attention_mask"][:, :-1].bool()
                torch.testing.assert_close(moved[:, :-1][earlier], plain[:, :-1][earlier], atol=1e-5, rtol=1e-5)
    assert sl.count_hooks(model) == hooks_before


@pytest.mark.parametrize("arch", ["qwen2_vl", "qwen2_5_vl", "qwen3_vl"])
def test_rows_of_a_flattened_image_batch_select_their_own_patches(arch):
    model = sl.tiny_model(arch)
    b = sl.tiny_batch(model, batch=4, padding="left", images=True)
    rows = torch.tensor([2, 0])
    sub = select_rows(b, rows)
    assert sub["pixel_values"].shape[0] == 2 * b["pixel_values"].shape[0] // 4 and sub["image_grid_thw"].shape == (2, 3)
    with torch.no_grad():
        whole = model(**b).logits[rows, -1]
        part = model(**sub).logits[:, -1]
    torch.testing.assert_close(part, whole, atol=1e-5, rtol=1e-5)
    bad = dict(b, mm_token_type_ids=torch.zeros_like(b["mm_token_type_ids"]))
    with pytest.raises(ValueError, match="lists 4 images/videos but mm_token_type_ids has placeholder tokens for 0"):
        select_rows(bad, rows)


@pytest.mark.parametrize("arch", CAUSAL_VLMS)
def test_a_reused_prefix_is_right_after_another_minibatch_ran(arch):
    """Qwen-VL models keep their rotary offset as state; a cache reused after another minibatch's prefix must
    still give the plain path's logits and gradients."""
    model = sl.tiny_model(arch)
    b = sl.tiny_batch(model, batch=4, padding="left", images=True)
    first, second = select_rows(b, torch.tensor([0, 1])), select_rows(b, torch.tensor([2, 3]))
    adapter = _random_theta(ScAle(model))
    target = torch.tensor([3, 5])
    with adapter.applied():
        plain = model(**first).logits[:, -1]
    torch.nn.functional.cross_entropy(plain, target).backward()
    grads = [p.grad.clone() for p in adapter.parameters()]
    adapter.zero_grad()
    cache = prefix_cache(model, first)
    prefix_cache(model, second)  # another minibatch's prefix in between (as every epoch does)
    with torch.no_grad():
        model(**second)
    with adapter.applied():
        step = last_token_logits(model, cache, first["input_ids"], first["attention_mask"])
    torch.nn.functional.cross_entropy(step, target).backward()
    assert (step - plain).abs().max() <= 1e-5
    for g, p in zip(grads, adapter.parameters()):
        assert (g - p.grad).abs().max() <= 1e-6


@pytest.mark.parametrize("arch", CAUSAL_VLMS)
def test_train_scale_runs_every_cache_mode_equal_to_the_plain_path(arch):
    base = sl.tiny_model(arch)
    b = sl.tiny_batch(base, batch=6, padding="left", images=True)
    labels = torch.randint(5, 50, (6,), generator=torch.Generator().manual_seed(0))
    losses, coefficients = {}, {}
    for mode in ("off", "reuse", "recompute"):
        adapter = _random_theta(ScAle(sl.tiny_model(arch)))
        losses[mode] = train_scale(adapter, b, labels, steps=4, batch_size=3, lr=0.05, cache=mode, progress=False)
        coefficients[mode] = adapter.coefficients()["heads"]
    for mode in ("reuse", "recompute"):  # steps 1-2 visit both minibatches once; step 3 reuses the first cache
        assert max(abs(a - c) for a, c in zip(losses[mode][:3], losses["off"][:3])) < 1e-5, (mode, losses)
        torch.testing.assert_close(coefficients[mode], coefficients["off"], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", ["llama", "qwen3", "gemma2"])
def test_generation_gives_the_same_tokens_with_and_without_a_kv_cache_in_each_mode(arch):
    model = sl.tiny_model(arch, initializer_range=0.2)
    b = sl.tiny_batch(model, batch=3, padding="left")
    adapter = _random_theta(ScAle(model), seed=3)
    kw = dict(max_new_tokens=6, do_sample=False, pad_token_id=0, output_scores=True, return_dict_in_generate=True)
    out = {}
    for mode in ("prompt_last", "every_new_token"):
        for cache in (True, False):
            out[mode, cache] = adapter.generate(b, scale=mode, use_cache=cache, **kw)
        assert torch.equal(out[mode, True].sequences, out[mode, False].sequences), mode
        for a, c in zip(out[mode, True].scores, out[mode, False].scores):
            torch.testing.assert_close(a, c, atol=1e-4, rtol=1e-4)
    naive = {}
    for cache in (True, False):  # what the plain hooks do: "the last position of each forward call"
        with adapter.applied(), torch.no_grad():
            naive[cache] = model.generate(**b, use_cache=cache, **kw)
    assert max(float((a - c).abs().max()) for a, c in zip(naive[True].scores, naive[False].scores)) > 1e-3  # why the modes exist
    # the two modes agree on the first token (both scale the prompt's last one) and differ afterwards
    torch.testing.assert_close(out["prompt_last", True].scores[0], out["every_new_token", True].scores[0])
    assert max(float((a - c).abs().max()) for a, c in zip(out["prompt_last", True].scores[1:], out["every_new_token", True].scores[1:])) > 1e-3
    with adapter.applied():  # the first generated token is the adapted last-token argmax
        first = model(**b).logits[:, -1].argmax(-1)
    assert torch.equal(out["prompt_last", True].sequences[:, b["input_ids"].shape[1]], first)
    # and with the frozen model the first token is different somewhere (the adapter does something)
    with torch.no_grad():
        frozen = model(**b).logits[:, -1]
    assert (frozen - out["prompt_last", True].scores[0]).abs().max() > 1e-3
    assert sl.count_hooks(model) == 0


def test_a_generation_mode_that_does_not_exist_is_refused():
    model = sl.tiny_model("llama")
    adapter = ScAle(model)
    with pytest.raises(ValueError, match=r"unknown generation mode scale='all_tokens'; valid: \('prompt_last', 'every_new_token'\)"):
        adapter.generate(sl.tiny_batch(model), scale="all_tokens", max_new_tokens=2)
    with pytest.raises(ValueError, match="left-padded"):
        adapter.generate(sl.tiny_batch(model, padding="right"), max_new_tokens=2)
    assert sl.count_hooks(model) == 0


@pytest.mark.parametrize("arch", ["llama", "gpt2", "phi", "gemma2", "gemma3_text", "qwen3", "llava"])
def test_a_merged_all_position_adapter_gives_the_hooked_logits(arch):
    import copy

    from scale_lib.scaling.adapter import ScAleConfig

    model = sl.tiny_model(arch, initializer_range=0.1)
    b = sl.tiny_batch(model, padding="left", images=arch in sl.VLM_ARCHITECTURES)
    adapter = _random_theta(ScAle(model, ScAleConfig(positions="all")), seed=4)
    with torch.no_grad(), adapter.applied():
        hooked = model(**b).logits
    with torch.no_grad():
        frozen = model(**b).logits
    merged_model = copy.deepcopy(model)
    twin = ScAle(merged_model, ScAleConfig(positions="all"))
    twin.load_state_dict(adapter.state_dict())
    twin.merge()
    with torch.no_grad():
        merged = merged_model(**b).logits
    assert (hooked - frozen).abs().max() > 1e-2  # the coefficients do something
    torch.testing.assert_close(merged, hooked, atol=2e-5, rtol=2e-5)
    with pytest.raises(RuntimeError, match="merged into the model's weights"):
        twin.applied()
    assert sl.count_hooks(merged_model) == sl.count_hooks(model)


def test_a_last_token_or_moe_adapter_refuses_to_merge_and_changes_nothing():
    from scale_lib.scaling.adapter import ScAleConfig
    from scale_lib.scaling.merge import HOOK_OVERHEAD

    model = sl.tiny_model("llama")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"(?s)last-token ScAle adapter \(positions='last'\) cannot be merged.*1\.0\d\dx a plain forward.*positions='all'"):
        _random_theta(ScAle(model)).merge()
    moe = sl.tiny_model("mixtral")
    moe_before = {k: v.clone() for k, v in moe.state_dict().items()}
    with pytest.raises(ValueError, match=r"(?s)cannot merge the MLP coefficient of layer 0.*mixture-of-experts.*mlp=False"):
        _random_theta(ScAle(moe, ScAleConfig(positions="all"))).merge()
    for m, saved in ((model, before), (moe, moe_before)):
        assert all(torch.equal(v, saved[k]) for k, v in m.state_dict().items())  # nothing half-applied
    import json
    from pathlib import Path

    measured = json.loads((Path(__file__).parents[1] / "benchmarks/results/hooks.json").read_text())["ratio_hooked_over_plain"]
    assert HOOK_OVERHEAD == pytest.approx(measured, abs=5e-4)  # the message quotes the benchmark


# ------------------------------------------------------------------------------------------- peft
peft = pytest.importorskip("peft")


def _peft_model(arch="llama", **cfg):
    from scale_lib.scaling.peft_method import ScAleLayer

    model = sl.tiny_model(arch)
    pm = peft.get_peft_model(model, sl.ScAlePeftConfig(**cfg))
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for m in pm.modules():
            if isinstance(m, ScAleLayer):
                m.scale_theta["default"].copy_(torch.randn(m.scale_theta["default"].shape, generator=gen))
    return model, pm


@pytest.mark.parametrize("arch", ["llama", "gemma2", "llava"])
def test_scale_as_a_peft_method_equals_the_hooks_and_round_trips(arch, tmp_path):
    from scale_lib.scaling.peft_method import scale_from_peft

    model, pm = _peft_model(arch)
    b = sl.tiny_batch(model, padding="left", images=arch in sl.VLM_ARCHITECTURES)
    with torch.no_grad():
        adapted = pm(**b).logits
        with pm.disable_adapter():
            frozen = pm(**b).logits
    view = scale_from_peft(pm)
    with torch.no_grad(), pm.disable_adapter(), view.applied():
        hooked = pm.get_base_model()(**b).logits
    assert (adapted - frozen).abs().max() > 1e-3
    torch.testing.assert_close(adapted, hooked, atol=1e-6, rtol=1e-6)  # the peft layers are the book's hooks
    pm.save_pretrained(tmp_path)
    assert peft.PeftConfig.from_pretrained(tmp_path).peft_type == "SCALE"
    loaded = peft.PeftModel.from_pretrained(sl.tiny_model(arch), tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**b).logits, adapted, atol=0, rtol=0)
    again = ScAle.load(tmp_path, sl.tiny_model(arch))  # the book's loader reads peft's files too
    for k, v in view.coefficients().items():
        torch.testing.assert_close(again.coefficients()[k], v)


def test_an_adapter_from_the_prefix_cached_trainer_loads_as_a_peft_one_with_its_coefficients(tmp_path):
    model = sl.tiny_model("llama")
    b = sl.tiny_batch(model, batch=8, padding="left")
    labels = torch.randint(5, 50, (8,), generator=torch.Generator().manual_seed(0))
    adapter = ScAle(model)
    train_scale(adapter, b, labels, steps=5, batch_size=4, lr=0.2, cache="reuse", progress=False)
    adapter.save(tmp_path, base_model="tiny/llama")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["README.md", "adapter_config.json", "adapter_model.safetensors"]
    card = (tmp_path / "README.md").read_text()
    assert "base_model: tiny/llama" in card and "bound (0.0, 2.0)" in card
    assert f"{float(adapter.coefficients()['heads'][1, 2]):.4f}" in card  # the coefficients themselves, not only θ
    pm = peft.PeftModel.from_pretrained(sl.tiny_model("llama"), tmp_path)
    assert pm.peft_config["default"].base_model_name_or_path == "tiny/llama"
    with torch.no_grad(), adapter.applied():
        hooked = model(**b).logits
    with torch.no_grad():
        torch.testing.assert_close(pm(**b).logits, hooked, atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match=r"saved for \{'model_type': 'llama', 'n_layers': 2, 'n_heads': 4\}"):
        ScAle.load(tmp_path, sl.tiny_model("llama", layers=3))


def test_the_book_trainer_accepts_a_peft_model_and_several_adapters_live_on_one_model():
    from scale_lib.scaling.adapter import ScAleConfig

    b = sl.tiny_batch(sl.tiny_model("llama"), batch=8, padding="left")
    labels = torch.randint(5, 50, (8,), generator=torch.Generator().manual_seed(0))
    pm = peft.get_peft_model(sl.tiny_model("llama"), ScAleConfig(layers=[1]).to_peft())
    peft_losses = train_scale(pm, b, labels, steps=4, batch_size=4, lr=0.2, progress=False)
    plain = ScAle(sl.tiny_model("llama"), ScAleConfig(layers=[1]))
    plain_losses = train_scale(plain, b, labels, steps=4, batch_size=4, lr=0.2, progress=False)
    assert peft_losses == pytest.approx(plain_losses, abs=1e-6)
    from scale_lib.scaling.peft_method import scale_from_peft

    torch.testing.assert_close(scale_from_peft(pm).coefficients()["heads"], plain.coefficients()["heads"])
    assert all(p.requires_grad for n, p in pm.named_parameters() if "scale_theta" in n)  # still trainable
    with torch.no_grad():
        first = pm(**b).logits
        pm.add_adapter("second", sl.ScAlePeftConfig(layers=[0], mlp=False))
        pm.set_adapter("second")
        second = pm(**b).logits  # a fresh adapter is the identity
        with pm.disable_adapter():
            frozen = pm(**b).logits
        pm.set_adapter("default")
        back = pm(**b).logits
    torch.testing.assert_close(second, frozen)
    torch.testing.assert_close(back, first)
    assert (first - frozen).abs().max() > 1e-4


def test_push_to_hub_uploads_the_three_files(monkeypatch):
    import huggingface_hub

    calls = {}

    class FakeApi:
        def create_repo(self, repo_id, **kw):
            calls["repo"] = repo_id

        def upload_folder(self, repo_id, folder_path, **kw):
            from pathlib import Path

            calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            return "uploaded"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    adapter = ScAle(sl.tiny_model("llama"))
    assert adapter.push_to_hub("me/tiny-scale") == "uploaded"
    assert calls == {"repo": "me/tiny-scale", "files": ["README.md", "adapter_config.json", "adapter_model.safetensors"]}


def test_a_peft_adapter_of_another_kind_or_model_is_refused(tmp_path):
    lora = peft.get_peft_model(sl.tiny_model("llama"), peft.LoraConfig(r=1, target_modules=["q_proj"]))
    lora.save_pretrained(tmp_path / "lora")
    with pytest.raises(ValueError, match="holds a peft LORA adapter, not a ScAle one"):
        ScAle.load(tmp_path / "lora", sl.tiny_model("llama"))
    _, pm = _peft_model("llama")
    pm.save_pretrained(tmp_path / "scale")
    with pytest.raises(ValueError, match="this ScAle adapter was made for"):
        peft.PeftModel.from_pretrained(sl.tiny_model("qwen3"), tmp_path / "scale")
    with pytest.raises(TypeError, match=r"train_scale trains a scale_lib.ScAle .* got LlamaForCausalLM"):
        train_scale(sl.tiny_model("llama"), {}, torch.zeros(1), steps=1)
    with pytest.raises(TypeError, match="only when its active adapter is a ScAle one"):
        train_scale(lora, {}, torch.zeros(1), steps=1)


def test_the_bridge_a_scale_coefficient_is_a_last_token_gamma_on_o_proj_input():
    """scale_lib.scaling.merge.bridge: hook == explicit γ; fold == all-position hook; fold != last-token hook
    except at the last layer; the frozen-weight velocity map has rank 1; bad layers and heads are named."""
    from scale_lib.scaling.merge import bridge

    model = sl.tiny_model("llama", layers=3, hidden=64, heads=4, kv_heads=2, seed=1)
    ids = torch.randint(0, model.config.vocab_size, (4, 10), generator=torch.Generator().manual_seed(1))
    first, last = bridge(model, ids, layer=0, head=2, coefficient=0.25), bridge(model, ids, layer=2, head=2, coefficient=0.25)
    for r in (first, last):
        assert r["hook_vs_gamma"] < 1e-6 and r["folded_vs_all_positions"] < 1e-4 and r["theta_velocity_rank"] == 1
    assert first["folded_vs_last_token"] > 1e-3 and last["folded_vs_last_token"] < 1e-4
    with pytest.raises(ValueError, match="layer"):
        bridge(model, ids, layer=3, head=0, coefficient=0.5)
    with pytest.raises(ValueError, match="head"):
        bridge(model, ids, layer=0, head=4, coefficient=0.5)
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in model.modules()), "bridge must leave no hook behind"
