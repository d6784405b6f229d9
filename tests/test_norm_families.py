"""Norm surgery on more families: what is Input- and what is Output-Norm there, folding that keeps
the logits, and clear errors where an operation cannot apply (nothing changed when it raises)."""

import pytest
import torch

import scale_lib as sl
from scale_lib.norms import gamma as ns


def _model(arch):
    torch.manual_seed(0)
    model = sl.tiny_model(arch, initializer_range=0.2)
    with torch.no_grad():  # non-trivial γ, so folding has something to fold
        for info in ns.classify_norms(model):
            w = model.get_submodule(info.name).weight
            w.copy_(w + 0.3 * torch.randn_like(w))
    return model


def _logits(model, arch):
    batch = sl.tiny_batch(model, padding="none", images=arch in sl.VLM_ARCHITECTURES)
    with torch.no_grad():
        return model(**batch).logits


def test_olmo2_has_only_output_norms_inside_its_layers():
    infos = ns.classify_norms(_model("olmo2"))
    inside = [i for i in infos if ".layers." in i.name]
    assert inside and all(i.role == "output" for i in inside)
    assert {i.name.rsplit(".", 1)[-1] for i in inside} == {"post_attention_layernorm", "post_feedforward_layernorm", "q_norm", "k_norm"}
    assert "post-sublayer" in next(i for i in inside if i.name.endswith("post_feedforward_layernorm")).reason


@pytest.mark.parametrize("arch", ["olmo2", "phi3", "granite", "gemma3"])
def test_fold_keeps_the_logits(arch):
    model = _model(arch)
    before = _logits(model, arch)
    ns.fold_gamma(model)
    torch.testing.assert_close(_logits(model, arch), before, atol=2e-4, rtol=2e-4)
    folded = [i for i in ns.classify_norms(model) if i.role == "input"]
    if arch == "olmo2":
        assert all(i.followed_by == ("lm_head",) for i in folded)  # only an untied final norm can be an Input-Norm there


@pytest.mark.parametrize("arch", ["olmo2", "phi3", "granite", "gemma3", "mixtral"])
def test_iwd_groups_decay_exactly_the_input_norms(arch):
    model = _model(arch)
    groups = {g["name"]: g for g in ns.param_groups(model, 0.1, "iwd")}
    roles = {id(p): role for p, role in ns.gamma_parameters(model).values()}
    decayed = {id(p) for g in groups.values() if g["weight_decay"] > 0 for p in g["params"]}
    assert roles and all((pid in decayed) == (role == "input") for pid, role in roles.items())


def test_gemma3_vlm_maps_its_language_model():
    infos = ns.classify_norms(_model("gemma3"))
    assert all(i.name.startswith("model.language_model.") for i in infos)
    assert {i.role for i in infos if "q_norm" in i.name} == {"output"}


def test_phi3_hg_says_why_and_changes_nothing():
    model = _model("phi3")
    before = _logits(model, "phi3")
    with pytest.raises(ValueError, match=r"HG gives each branch.*phi3 fuses them into \['model.layers.0.self_attn.qkv_proj'\]"):
        ns.apply_variant(model, ns.NormVariant(hg=True))
    assert not hasattr(model, "norm_variant") or model.norm_variant == ns.NormVariant()
    torch.testing.assert_close(_logits(model, "phi3"), before, atol=0, rtol=0)
    ns.apply_variant(model, ns.NormVariant(gamma="or", placement="dp"))  # what does apply keeps the function (OR, DP)
    torch.testing.assert_close(_logits(model, "phi3"), before, atol=2e-4, rtol=2e-4)


def test_mixtral_fold_raises_before_changing_anything():
    model = _model("mixtral")
    before = {n: p.clone() for n, p in model.named_parameters()}
    assert next(i for i in ns.classify_norms(model) if i.name.endswith("layers.0.post_attention_layernorm")).role == "input"
    with pytest.raises(ValueError, match=r"fold_gamma rewrites the linear maps that read model.layers.0.post_attention_layernorm.*MixtralTopKRouter, not nn.Linear"):
        ns.fold_gamma(model)
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    with pytest.raises(ValueError, match="not nn.Linear"):
        ns.apply_variant(model, ns.NormVariant(hg=True))
    ns.reset_gamma(model, "input")  # what works on it
    assert torch.equal(model.model.layers[0].input_layernorm.weight, torch.ones(64))


@pytest.mark.parametrize("arch", ["llama", "gemma", "gemma2", "gemma3_text"])
def test_gamma_reset_sets_the_effective_gamma_on_every_storage(arch):
    """Regression: a (1 + w) norm (Gemma) was reset to w = 1, i.e. γ = 2. Reset now means effective γ = 1."""
    from scale_lib.norms import gamma
    from scale_lib.norms.gamma import classify_norms, gamma_of, stores_offset

    model = sl.tiny_model(arch)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and p.dim() == 1:
                p.uniform_(-0.4, 0.6)
    names = [i.name for i in classify_norms(model)]
    norm = model.get_submodule(names[0])
    assert stores_offset(norm) == arch.startswith("gemma")
    before = {n: p.clone() for n, p in model.named_parameters()}
    with gamma.gamma_reset(model, names[:2]):
        for n in names[:2]:
            assert torch.allclose(gamma_of(model.get_submodule(n)), torch.ones(1)), n
    with gamma.gamma_reset(model, names[:1], to="mean"):
        g = gamma_of(model.get_submodule(names[0]))
        assert torch.allclose(g, g.mean().expand_as(g))
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_stores_offset_is_not_fooled_by_a_layernorm_bias():
    from scale_lib.norms.gamma import stores_offset

    norm = torch.nn.LayerNorm(8)
    with torch.no_grad():
        norm.bias.fill_(0.7)
        norm.weight.fill_(1.3)
    assert stores_offset(norm) is False
    assert torch.allclose(norm.bias, torch.full((8,), 0.7)) and torch.allclose(norm.weight, torch.full((8,), 1.3))


@pytest.mark.parametrize("arch", ["llama", "gemma", "gemma2", "gemma3_text"])
def test_reset_and_fold_mean_gamma_one_on_every_storage(arch):
    """reset_gamma and fold_gamma write the *effective* γ = 1, whatever the family stores (w or 1 + w):
    one rule (anatomy.identity_weight), found by behaviour, not by class name."""
    from scale_lib.norms.anatomy import identity_weight
    from scale_lib.norms.gamma import classify_norms, fold_gamma, gamma_of, reset_gamma, stores_offset

    def randomised():
        model = sl.tiny_model(arch).eval()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "norm" in name and p.dim() == 1:
                    p.uniform_(-0.4, 0.6)
        return model

    model = reset_gamma(randomised())
    for info in classify_norms(model):
        norm = model.get_submodule(info.name)
        assert identity_weight(norm) == (0.0 if stores_offset(norm) else 1.0)
        assert torch.allclose(gamma_of(norm), torch.ones(1)), info.name
    model = randomised()
    ids = torch.randint(0, model.config.vocab_size, (2, 10), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(input_ids=ids).logits
        fold_gamma(model)
        after = model(input_ids=ids).logits
    assert torch.allclose(before, after, atol=1e-4), "folding changed the function"
    for info in classify_norms(model):
        if info.role == "input":
            assert torch.allclose(gamma_of(model.get_submodule(info.name)), torch.ones(1)), info.name
