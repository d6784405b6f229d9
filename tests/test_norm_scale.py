"""Norm surgery (scale_lib.norms.gamma) and the pre-training loop (scale_lib.norms.pretrain.pretrain) on tiny models."""

import copy

import pytest
import torch

from scale_lib.core.schedules import lr_factor
from scale_lib.core.tiny import tiny_model
from scale_lib.data.corpus import CharCorpus
from scale_lib.norms import gamma as ns
from scale_lib.norms.anatomy import is_tied
from scale_lib.norms.pretrain import PretrainConfig, char_llama, make_optimizers, pretrain

ARCHS = ["llama", "qwen3", "gemma", "gemma2"]


def _perturbed(arch):
    model = tiny_model(arch, layers=2)
    with torch.no_grad():  # trained-looking γ, so that identities are not trivially 1 * x
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.3)
    return model


def _ids(model, seed=0):
    return torch.randint(0, model.config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("arch", ARCHS)
def test_classification(arch):
    infos = {i.name.split(".", 3)[-1] if ".layers." in i.name else i.name: i for i in ns.classify_norms(tiny_model(arch, layers=1))}
    assert infos["input_layernorm"].role == "input"
    assert all(f.endswith(("q_proj", "k_proj", "v_proj")) for f in infos["input_layernorm"].followed_by)
    if arch == "qwen3":
        assert infos["self_attn.q_norm"].role == infos["self_attn.k_norm"].role == "output"
    if arch == "gemma2":
        assert infos["post_attention_layernorm"].role == "output" and infos["pre_feedforward_layernorm"].role == "input"
    final = [i for i in ns.classify_norms(tiny_model(arch, layers=1)) if i.followed_by == ("lm_head",)][0]
    assert final.role == ("output" if is_tied(tiny_model(arch, layers=1)) else "input")


def test_unknown_architecture_is_named():
    with pytest.raises(ValueError, match="gpt2.*known"):
        ns.classify_norms(tiny_model("gpt2", layers=1))


@pytest.mark.parametrize("arch", ARCHS)
def test_fold_is_exact_and_reset_is_not(arch):
    model = _perturbed(arch)
    ids = _ids(model)
    with torch.no_grad():
        ref = model(ids).logits
        folded = ns.fold_gamma(copy.deepcopy(model))
        assert (folded(ids).logits - ref).abs().max() < 1e-5
        for info in ns.classify_norms(folded):  # every Input-Norm γ is now the identity
            if info.role == "input":
                assert torch.allclose(ns.gamma_of(folded.get_submodule(info.name)), torch.ones(1))
        reset = ns.reset_gamma(copy.deepcopy(model))
        assert (reset(ids).logits - ref).abs().max() > 1e-2


@pytest.mark.parametrize("arch", ["llama", "qwen3", "gemma2"])
@pytest.mark.parametrize("variant", [ns.NormVariant(), ns.NormVariant(gamma="or"), ns.NormVariant(gamma="er"), ns.NormVariant(hg=True),
                                     ns.NormVariant(placement="dp"), ns.NormVariant(gamma="or", hg=True, placement="dp")])
def test_variants_keep_the_function(arch, variant):
    model = _perturbed(arch)
    ids = _ids(model)
    with torch.no_grad():
        ref = model(ids).logits
        got = ns.apply_variant(copy.deepcopy(model), variant)(ids).logits
    assert (got - ref).abs().max() < 1e-5


def test_variant_parameter_counts_and_gradients():
    base = tiny_model("llama", layers=2)  # hidden 64, 4 heads, 2 kv heads of 16: q 64, k/v 32, gate/up 128
    d, n_gamma = 64, 2 * 2 + 1
    assert ns.count_gamma_parameters(base)[0] == n_gamma * d
    assert ns.count_gamma_parameters(ns.apply_variant(copy.deepcopy(base), gamma="removed"))[0] == 0
    assert ns.count_gamma_parameters(ns.apply_variant(copy.deepcopy(base), gamma="scalar"))[0] == n_gamma
    assert ns.count_gamma_parameters(ns.apply_variant(copy.deepcopy(base), gamma="or"))[0] == n_gamma * (d + 1)
    hg = ns.apply_variant(copy.deepcopy(base), hg=True)  # per layer: 5 branch γ of d, plus the final norm
    assert ns.count_gamma_parameters(hg)[0] == 2 * 5 * d + d
    dp = ns.apply_variant(copy.deepcopy(base), hg=True, placement="dnp")
    assert ns.count_gamma_parameters(dp)[0] == 2 * (5 * d + 64 + 32 + 32 + 128 + 128) + d
    dp(_ids(dp)).logits.sum().backward()
    for name, (p, _) in ns.gamma_parameters(dp).items():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_removed_gamma_is_the_identity_and_frozen():
    model = ns.apply_variant(_perturbed("gemma"), gamma="removed")  # Gemma: (1 + w) with w fixed at 0
    for info in ns.classify_norms(model):
        norm = model.get_submodule(info.name)
        assert torch.equal(norm.gamma(), torch.ones(norm.dim))
        assert not list(norm.parameters())


def test_bad_variants_are_named():
    with pytest.raises(ValueError, match="'orr'.*valid forms"):
        ns.NormVariant(gamma="orr")
    with pytest.raises(ValueError, match="'dpp'.*valid placements"):
        ns.NormVariant(placement="dpp")
    with pytest.raises(ValueError, match="cannot be combined"):
        ns.NormVariant(gamma="removed", hg=True)
    model = ns.apply_variant(tiny_model("llama", layers=1), hg=True)
    with pytest.raises(ValueError, match="already has the norm variant"):
        ns.apply_variant(model, gamma="or")
    with pytest.raises(ValueError, match="stock models"):
        ns.fold_gamma(model)
    with pytest.raises(ValueError, match="'most'.*valid rules"):
        ns.param_groups(model, 0.1, rule="most")


def test_param_groups_by_role():
    model = tiny_model("qwen3", layers=2)
    by_name = lambda rule: {g["name"]: g for g in ns.param_groups(model, 0.1, rule)}  # noqa: E731
    gam = ns.gamma_parameters(model)
    n_input = sum(p.numel() for p, r in gam.values() if r == "input")
    n_all = sum(p.numel() for p, _ in gam.values())
    iwd, all_, none = by_name("iwd"), by_name("all"), by_name("none")
    assert sum(p.numel() for p in iwd["gamma_decayed"]["params"]) == n_input
    assert sum(p.numel() for p in all_["gamma_decayed"]["params"]) == n_all
    assert "gamma_decayed" not in none
    qk = by_name("qk")["gamma_decayed"]["params"]
    qk_names = {n for n, (p, _) in gam.items() if any(p is q for q in qk)}
    assert qk_names and all(".q_norm." in n or ".k_norm." in n for n in qk_names)
    assert len(qk_names) == 2 * 2  # q_norm and k_norm in each of the 2 layers; not the final norm
    with pytest.raises(ValueError, match="needs a model with QK-norm"):
        ns.param_groups(tiny_model("llama", layers=2), 0.1, rule="qk")
    total = sum(p.numel() for g in iwd.values() for p in g["params"])
    assert total == sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight
    assert any(p is emb for p in iwd["other"]["params"]) and iwd["other"]["weight_decay"] == 0.0


@pytest.mark.parametrize("variant", [ns.NormVariant(), ns.NormVariant(gamma="or", hg=True, placement="dnp")])
def test_save_load_generate(tmp_path, variant):
    model = ns.apply_variant(_perturbed("qwen3"), variant)
    ids = _ids(model)
    ns.save_variant_model(model, tmp_path)
    back = ns.load_variant_model(tmp_path)
    assert back.norm_variant == variant
    with torch.no_grad():
        assert torch.equal(back(ids).logits, model(ids).logits)
    out = back.generate(ids[:1, :4], max_new_tokens=3, do_sample=False)
    assert out.shape == (1, 7)


def test_lr_schedules():
    assert lr_factor(0, 100, 10) == pytest.approx(0.1)
    assert lr_factor(100, 100, 10, "cosine") == pytest.approx(0.0)
    assert lr_factor(50, 100, 10, "wsd") == 1.0 and lr_factor(90, 100, 10, "wsd") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="'linear'.*valid schedules"):
        lr_factor(0, 10, 1, "linear")
    with pytest.raises(ValueError, match="'lion'.*valid optimizers"):
        PretrainConfig(optimizer="lion")


@pytest.fixture(scope="module")
def corpus():
    return CharCorpus.from_pydoc()


@pytest.mark.parametrize("optimizer", ["adamw", "sgd", "muon"])
def test_pretrain_learns_and_is_reproducible(corpus, optimizer):
    lr = {"adamw": 1e-2, "sgd": 0.3, "muon": 1e-2}[optimizer]
    runs = []
    for _ in range(2):
        model = char_llama(corpus.vocab_size, layers=1, hidden=32, heads=4)
        cfg = PretrainConfig(steps=30, lr=lr, optimizer=optimizer, batch_size=8, seq_len=32, eval_batches=2, progress=False, schedule="wsd")
        runs.append(pretrain(model, corpus, cfg))
    a, b = runs
    assert a.train_loss == b.train_loss
    assert a.val_loss[-1] < a.train_loss[0] - 0.5, (a.train_loss[0], a.val_loss[-1])
    assert a.tokens == 30 * 8 * 32 and a.tokens_per_second > 0


def test_muon_splits_matrices_from_the_rest():
    model = char_llama(50, layers=1, hidden=32, heads=4)
    muon, adamw = make_optimizers(model, PretrainConfig(optimizer="muon"))
    assert isinstance(muon, torch.optim.Muon) and all(p.ndim == 2 for g in muon.param_groups for p in g["params"])
    assert isinstance(adamw, torch.optim.AdamW)


def test_pretrain_every_variant(corpus):
    for variant in [ns.NormVariant(gamma="removed"), ns.NormVariant(gamma="scalar"), ns.NormVariant(gamma="er", hg=True, placement="dnp")]:
        model = ns.apply_variant(char_llama(corpus.vocab_size, layers=1, hidden=32, heads=4), variant)
        hist = pretrain(model, corpus, steps=5, batch_size=4, seq_len=16, eval_batches=1, weight_decay=0.1, progress=False)
        assert all(torch.isfinite(torch.tensor(hist.train_loss)))


def test_paired_runs_share_start_and_data(corpus):
    from scale_lib.norms.paired import gap_curve, paired_gap, paired_runs

    make = lambda seed: char_llama(corpus.vocab_size, layers=1, hidden=32, heads=4, seed=seed)  # noqa: E731
    cfg = PretrainConfig(steps=12, lr=1e-2, batch_size=4, seq_len=16, eval_every=4, eval_batches=1, progress=False)
    arms = {"learnable": {}, "same": {}, "removed": {"gamma": "removed"}, "sgd": {"optimizer": "sgd", "lr": 0.1}}
    models = {}
    runs = paired_runs(make, arms, seeds=[0, 1, 2], config=cfg, corpus=corpus, progress=False, models=models)
    assert set(runs.arm) == set(arms) and sorted(set(runs.step)) == [4, 8, 12]
    assert set(models) == {(a, s) for a in arms for s in [0, 1, 2]} and models[("removed", 0)].norm_variant.gamma == "removed"
    same = paired_gap(runs, "same", "learnable")  # identical arms: exactly zero gap, no wins
    assert same["gap"] == 0.0 and same["wins"] == 0.0 and same["n_seeds"] == 3
    removed = paired_gap(runs, "removed", "learnable")
    assert removed["gap"] != 0.0 and removed["ci95"] > 0 and 0 <= removed["wins"] <= 1
    curve = gap_curve(runs, "removed", "learnable")
    assert list(curve.step) == [4, 8, 12]
    import matplotlib.pyplot as plt

    from scale_lib.norms.paired import plot_gap

    fig, ax = plt.subplots()
    drawn = plot_gap(ax, runs, "removed", "learnable", label="removed")
    assert drawn.equals(curve) and list(ax.lines[0].get_ydata()) == list(curve.gap)
    plt.close(fig)
    with pytest.raises(ValueError, match="'fixed'.*the runs have"):
        gap_curve(runs, "fixed", "learnable")
    with pytest.raises(ValueError, match="unknown options \\['momentumm'\\]"):
        paired_runs(make, {"a": {"momentumm": 0.9}}, seeds=[0], config=cfg, corpus=corpus, progress=False)


def test_t_quantile():
    from scale_lib.core.stats import t_quantile

    assert t_quantile(3) == pytest.approx(3.182, abs=1e-3) and t_quantile(1000) == pytest.approx(1.962, abs=1e-3)


def test_char_model_architectures():
    from scale_lib.norms.pretrain import char_model

    q = char_model(40, "qwen3", layers=1, hidden=32, heads=4)
    assert type(q).__name__ == "Qwen3ForCausalLM" and is_tied(q)
    assert torch.equal(char_model(40, "llama", layers=1, hidden=32, heads=4, seed=3).lm_head.weight,
                       char_model(40, "llama", layers=1, hidden=32, heads=4, seed=3).lm_head.weight)
    with pytest.raises(ValueError, match="'mamba'.*valid choices"):
        char_model(40, "mamba")


def test_throughput_ratio_runs_both_loops(corpus):
    from scale_lib.norms.pretrain import throughput_ratio

    make = lambda seed: char_llama(corpus.vocab_size, layers=1, hidden=16, heads=2, seed=seed)  # noqa: E731
    out = throughput_ratio(make, corpus, PretrainConfig(batch_size=2, seq_len=8), blocks=2, steps=3)
    assert out["ratio"] > 0 and out["ours_tokens_per_s"] > 0 and out["bare_tokens_per_s"] > 0 and out["blocks"] == 2


def test_hub_corpus_says_what_to_do_offline():
    import importlib.util

    if importlib.util.find_spec("datasets") is None:
        with pytest.raises(ImportError, match="pip install.*hub.*from_pydoc"):
            CharCorpus.from_hub()
    else:  # tests run with HF_HUB_OFFLINE=1: the hub is unreachable by design
        with pytest.raises(ConnectionError, match="from_pydoc"):
            CharCorpus.from_hub("no-such/dataset-here", None)
