"""Chapter 07's causal test (scale_lib.scaling.causal, scale_lib.scaling.causal_study) on a testbed made in seconds."""

import pytest
import torch

from scale_lib.core import stats
from scale_lib.core.hooks import scaled
from scale_lib.models import testbed
from scale_lib.scaling import causal, causal_study


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("testbed")
    testbed.main(pretrain_steps=3, tune_steps=3, n_train=60, n_eval=8, batch_size=16, seed=11, progress=False, directory=d)
    return d


@pytest.fixture(scope="module")
def data(tiny_dir):
    return causal_study.load_study_data(11, n_per_kind=16, n_val_layouts=8, n_test_layouts=8, directory=tiny_dir)


def logits(adapter, batch, cached):
    model = adapter.model
    inputs = batch.inputs()
    if cached:
        past = causal.prefix_cache(model, inputs["input_ids"], inputs["attention_mask"], causal=True, pixel_values=inputs["pixel_values"])
        with adapter.applied():
            return causal.last_token_logits(model, past, inputs["input_ids"], inputs["attention_mask"], reuse=False)
    with adapter.applied():
        return model(**inputs).logits[:, -1]


def test_hide_tunes_only_its_scope_and_stops_by_the_rule(data):
    before = {n: p.clone() for n, p in data.pretrained.named_parameters()}
    rule = causal.HidingRule(check_every=2, max_steps=4, stop_at=1.0, floor=0.0, batch_size=8)
    hidden = causal.hide(data.pretrained, data.nonspatial, data.val, data.tokenizer, "qk", rule)
    assert hidden.steps == 2 and hidden.status == "matched" and [c[0] for c in hidden.curve] == [0, 2] and hidden.curve[-1][1] == hidden.val_spatial  # 1.0 is reached at the first check
    changed = {n for n, p in hidden.model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.split(".")[-2] in ("q_proj", "k_proj") and ".language_model." in n for n in changed)
    assert all(torch.equal(p, before[n]) for n, p in data.pretrained.named_parameters()), "hide must leave its input model unchanged"
    never = causal.hide(data.pretrained, data.nonspatial, data.val, data.tokenizer, "vo", causal.HidingRule(check_every=2, max_steps=4, stop_at=0.0 + 1e-9, floor=0.0, batch_size=8))
    assert (never.status == "not reached") == (never.val_spatial > 1e-9) and (never.status != "not reached" or (never.steps == 4 and len(never.tried) == 3))
    with pytest.raises(ValueError, match=r"unknown tuning scope 'qkv'; valid scopes are \['qk', 'vo'\]"):
        causal.hide(data.pretrained, data.nonspatial, data.val, data.tokenizer, "qkv")
    with pytest.raises(ValueError, match=r"damage band \[0.8, 0.75\] is empty"):
        causal.HidingRule(floor=0.8, stop_at=0.75)


def test_logit_scale_starts_as_identity_caches_exactly_and_leaves_no_hooks(data):
    model = data.pretrained
    adapter = causal.LogitScale(model)
    frozen = logits(causal.Frozen(model), data.test, cached=False)
    assert torch.allclose(logits(adapter, data.test, cached=False), frozen, atol=1e-5)
    with torch.no_grad():
        adapter.theta[1, 3] = 2.0
    full, cached = logits(adapter, data.test, cached=False), logits(adapter, data.test, cached=True)
    assert torch.allclose(full, cached, atol=1e-4) and not torch.allclose(full, frozen, atol=1e-4)
    inputs = data.test.inputs(slice(0, 4))
    with adapter.applied():
        model(**inputs).logits[:, -1].sum().backward()
    assert adapter.theta.grad is not None and adapter.theta.grad[1, 3] != 0
    with pytest.raises(RuntimeError, match="boom"):
        with adapter.applied():
            raise RuntimeError("boom")
    assert all(not q._forward_hooks for q in adapter.queries), "LogitScale hooks leaked"
    with pytest.raises(ValueError, match="must contain 1"):
        causal.LogitScale(model, bound=(0.0, 0.5))


def test_damping_controls_match_the_hooks_they_stand_for(data):
    model = data.pretrained
    heads = [(0, 1), (2, 5)]
    damped = causal.Damped(causal.Frozen(model), heads, 0.25)
    with scaled(model, {"L0.H1": 0.25, "L2.H5": 0.25}):
        want = model(**data.test.inputs()).logits[:, -1]
    assert torch.allclose(logits(damped, data.test, cached=True), want, atol=1e-5)
    baked = causal.baked_damping(model, heads, 0.25)
    with scaled(model, {"L0.H1": 0.25, "L2.H5": 0.25}, positions="all"):
        want_all = model(**data.test.inputs()).logits[:, -1]
    assert torch.allclose(baked(**data.test.inputs()).logits[:, -1], want_all, atol=1e-5)
    with pytest.raises(ValueError, match="head 9 of layer 0 is out of range.*valid heads are 0..7"):
        causal.Damped(causal.Frozen(model), [(0, 9)], 0.5)
    picked = causal.selective_heads(model, data.val, k=2)
    assert len(picked) == 2 and all(0 <= l < 4 and 0 <= h < 8 for l, h in picked)


def test_fit_method_chooses_on_validation_and_leaves_the_model(data):
    before = {n: p.clone() for n, p in data.pretrained.named_parameters()}
    fitted = causal.fit_method("scale", data.pretrained, data.train, data.val, data.test, steps=(1, 2), lrs=(0.01, 0.1), batch_size=8)
    assert len(fitted.grid) == 4 and {(g["lr"], g["steps"]) for g in fitted.grid} == {(0.01, 1), (0.01, 2), (0.1, 1), (0.1, 2)}
    best = max(fitted.grid, key=lambda g: (g["val_spatial"], -g["steps"], -g["lr"]))
    assert (fitted.lr, fitted.steps, fitted.val_spatial) == (best["lr"], best["steps"], best["val_spatial"])
    assert fitted.test.shape == (len(data.test),) and fitted.n_params == 36
    assert all(torch.equal(p, before[n]) for n, p in data.pretrained.named_parameters())
    lora = causal.fit_method("lora_all", data.pretrained, data.train, data.val, data.test, steps=(1,), lrs=(1e-3,), batch_size=8)
    assert lora.n_params > 0 and lora.test.shape == (len(data.test),)
    with pytest.raises(ValueError, match="unknown method 'ia3'; valid methods are"):
        causal.fit_method("ia3", data.pretrained, data.train, data.val, data.test)


def test_statistics_on_hand_made_numbers():
    r = stats.ratio_of_sums([0.1, 0.3], [0.2, 0.2], n_boot=200)
    assert r["share"] == pytest.approx(1.0) and r["ci"][0] <= 1.0 <= r["ci"][1] and r["dropped"] == 0 and r["n"] == 2
    assert stats.ratio_of_sums([0.1], [-0.2], n_boot=50)["dropped"] == 50
    d = stats.paired_difference([0.1, 0.1], [0.2, 0.2], [0.2, 0.2], [0.2, 0.2], n_boot=100)
    assert d["difference"] == pytest.approx(0.5) and d["ci"] == pytest.approx([0.5, 0.5])
    s = stats.sign_test([1, 1, 1, -1, 0])
    assert (s["positive"], s["negative"], s["zero"]) == (3, 1, 1) and s["p"] == pytest.approx(0.625)
    m = stats.mcnemar([1, 0, 0, 0, 1], [1, 1, 1, 1, 0])
    assert (m["a_only"], m["b_only"]) == (1, 3) and m["p"] == pytest.approx(0.625)
    assert causal.recovery(1.0, 0.6, 0.8) == pytest.approx(0.5) and causal.recovery(0.5, 0.6, 0.8) != causal.recovery(0.5, 0.6, 0.8)
    ok, why = causal.included({"per_type_before": [{"qtype": "q1", "accuracy": 0.89}, {"qtype": "exist", "accuracy": 1.0}, {"qtype": "count", "accuracy": 1.0}]})
    assert not ok and "q1 0.890 < 0.9" in why


def test_study_seed_and_summary_are_consistent(data):
    rule = causal.HidingRule(check_every=1, max_steps=2, stop_at=1.0, floor=0.0, batch_size=8)
    methods = {a: ("scale",) for a in causal_study.ARMS}
    row = causal_study.study_seed(data, rule=rule, methods=methods, steps=(1,), lrs={"scale": (0.1,)}, progress=False, k_heads=2)
    assert set(row["arms"]) == set(causal_study.ARMS) and len(row["selective_heads"]) == 2
    for arm, info in row["arms"].items():
        m = info["methods"]["scale"]
        assert m["gain"] == pytest.approx(m["spatial"] - info["damaged_spatial"])
        assert len(row["items"][arm]["scale"]) == len(data.test)
    rows = [row, {**row, "seed": 12, "included": True}]
    for r in rows:
        r["included"] = True
    out = causal_study.summarize(rows, n_boot=100)
    assert out["causal_seeds_included"] == [11, 12] and len(out["causal_scale_recovery_qk"]) == 2
    assert set(out["lora_last_gain_by_testbed"]) == set() and set(out["scale_gain_by_testbed"]) == {"11", "12"}
    assert len(out["causal_difference_ci"]) == 2
    with pytest.raises(ValueError, match="unknown arms"):
        causal_study.study_seed(data, arms=("qk", "routing"))
