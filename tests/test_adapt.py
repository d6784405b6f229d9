"""ScAle and the baselines on the same batches: each trains what it says, scores consistently, and leaves the model alone."""

import pytest
import torch

import scale_lib as sl
from scale_lib.core.schedules import batch_schedule
from scale_lib.models import testbed
from scale_lib.scaling.adapt import METHODS, adapt, compare
from scale_lib.scaling.adapter import ScAle, ScAleConfig, cache_check, cached_step_speedup


@pytest.fixture(scope="module")
def setup():
    items = testbed.testbed_items(8, "train")
    tok = testbed.WordTokenizer.from_texts(testbed.testbed_prompt(i) for i in items)
    torch.manual_seed(0)
    model = testbed.build_testbed(tok, testbed.TestbedConfig(layers=2, hidden=64, heads=8))
    sl.freeze(model)
    batch = testbed.encode_items(items, tok)
    with torch.no_grad():
        model(**batch.inputs(slice(0, 1)), output_hidden_states=True)  # transformers adds its own hooks on first use; count after
    return model, batch


def test_batch_schedule_covers_every_row_each_epoch_and_keeps_minibatches():
    sched = batch_schedule(10, 4, 9, seed=1)
    assert [len(r) for r in sched] == [4, 4, 2] * 3
    for epoch in range(3):
        assert sorted(torch.cat(sched[3 * epoch: 3 * epoch + 3]).tolist()) == list(range(10))
    first = {tuple(r.tolist()) for r in sched[:3]}
    assert {tuple(r.tolist()) for r in sched[3:6]} == first  # same minibatches, so prefix caches are reused
    assert all(torch.equal(a, b) for a, b in zip(sched, batch_schedule(10, 4, 9, seed=1)))
    assert not all(torch.equal(a, b) for a, b in zip(sched, batch_schedule(10, 4, 9, seed=2)))
    with pytest.raises(ValueError, match="batch_size >= 1.*batch_size=0"):
        batch_schedule(10, 0, 3)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_scores_and_leaves_the_model_unchanged(setup, method):
    model, batch = setup
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hooks = sl.count_hooks(model)
    a = adapt(model, method, batch, steps=3, batch_size=8, progress=False)
    assert a.method == method and len(a.losses) == (0 if method == "frozen" else 3)
    assert (a.n_params == 0) == (method == "frozen")
    if method == "scale":
        assert a.n_params == 2 * 8 + 2  # one per head and one per MLP, per layer
    scores = a.option_logits(batch)
    assert scores.shape == (len(batch), 4)
    assert torch.isinf(scores[batch.option_ids < 0]).all() and torch.isfinite(scores[batch.option_ids >= 0]).all()
    acc = a.accuracy(batch)
    assert 0 <= acc["spatial"] <= 1 and 0 <= acc["nonspatial"] <= 1
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "the caller's model must not change"
    assert sl.count_hooks(model) == hooks and not any(p.requires_grad for p in model.parameters())


def test_methods_see_the_same_batches_and_learn(setup):
    model, batch = setup
    a = adapt(model, "lora_r1", batch, steps=24, batch_size=8, lr=1e-2, progress=False)
    assert sum(a.losses[-3:]) < sum(a.losses[:3])  # each of the 3 minibatches, seen first and last
    again = adapt(model, "lora_r1", batch, steps=24, batch_size=8, lr=1e-2, progress=False)
    assert a.losses == again.losses  # seeded: same numbers on CPU
    s = adapt(model, "scale", batch, steps=24, batch_size=8, lr=0.1, progress=False)
    assert sum(s.losses[-3:]) < sum(s.losses[:3])


def test_bad_method_and_options(setup):
    model, batch = setup
    with pytest.raises(ValueError, match=r"unknown method 'lora'.*'lora_r1'"):
        adapt(model, "lora", batch)
    with pytest.raises(ValueError, match="scale_config is for method 'scale', not 'ia3'"):
        adapt(model, "ia3", batch, scale_config=ScAleConfig())
    with pytest.raises(ValueError, match=r"unknown methods \['prompt'\]"):
        compare(model, batch, batch, ["scale", "prompt"])


def test_linear_probe_rejects_an_answer_outside_the_options(setup):
    model, batch = setup
    broken = testbed.EncodedBatch(batch.input_ids, batch.attention_mask, batch.pixel_values, batch.labels.clone(), batch.option_ids, batch.items)
    broken.labels[2] = 0
    with pytest.raises(ValueError, match="row 2: its answer token 0 is not among its options"):
        adapt(model, "linear_probe", broken, steps=1, progress=False)


def test_compare_table_gain_and_fraction(setup):
    model, batch = setup
    c = compare(model, batch, batch, ["frozen", "scale", "lora_r1"], seeds=(0, 1), steps=2, batch_size=8, names=testbed.QTYPE_NAMES, progress=False)
    assert c.runs.method.tolist() == ["frozen", "scale", "scale", "lora_r1", "lora_r1"]
    assert set(c.question_types) == {testbed.QTYPE_NAMES[q] for q in ("q1", "exist", "count")}
    frozen = c.runs.spatial[c.runs.method == "frozen"].item()
    gains = c.runs.spatial[c.runs.method == "scale"].to_numpy() - frozen
    assert c.gain("scale").to_numpy() == pytest.approx(gains)
    s = c.summary()
    assert s.loc["scale", "seeds"] == 2 and s.loc["frozen", "seeds"] == 1
    lora_gain = c.runs.spatial[c.runs.method == "lora_r1"].mean() - frozen
    expected = gains.mean() / lora_gain if lora_gain > 0 else float("nan")
    assert c.fraction_of_gain() == pytest.approx(expected, nan_ok=True)
    assert len(c.per_question()) == 5 * 3
    with pytest.raises(ValueError, match=r"methods \['ia3'\] were not run in this comparison; it ran \['frozen', 'scale', 'lora_r1'\]"):
        c.gain("ia3")


def test_cache_check_and_speedup_on_the_testbed_model(setup):
    model, batch = setup
    adapter = ScAle(model)
    with torch.no_grad():
        adapter.head_theta.normal_()  # away from the identity, so the check means something
    diffs = cache_check(adapter, batch.inputs(slice(0, 6)), batch.labels[:6])
    assert diffs["max_logit_diff"] <= 1e-5 and diffs["max_grad_diff"] <= 1e-5
    assert all(p.grad is None for p in adapter.parameters())
    speed = cached_step_speedup(adapter, batch.inputs(slice(0, 4)), batch.labels[:4], repeats=1)
    assert speed["plain_ms"] > 0 and speed["cached_ms"] > 0 and speed["tokens"] == batch.input_ids.shape[1]


def test_coefficient_frame_and_flips(setup):
    model, batch = setup
    a = ScAle(model, ScAleConfig(layers=[1]))
    b = ScAle(model, ScAleConfig(layers=[1]))
    with torch.no_grad():
        a.head_theta.fill_(2.0)
        b.head_theta.fill_(-2.0)
    from scale_lib.scaling.adapt import coefficient_frame

    f = coefficient_frame([a, b])
    assert f.shape == (2, 9) and list(f.columns[-2:]) == ["H7", "MLP"]
    assert f.loc[0].isna().all()  # layer 0 is not scaled: no coefficient
    assert f.loc[1, "H3"] == pytest.approx(1.0) and f.loc[1, "MLP"] == pytest.approx(1.0)  # 2σ(2) + 2σ(−2) = 2
    assert coefficient_frame(a).loc[1, "H0"] == pytest.approx(2 * torch.sigmoid(torch.tensor(2.0)).item())
    with pytest.raises(ValueError, match="at least one"):
        coefficient_frame([])
    c = compare(model, batch, batch, ["frozen", "scale"], steps=3, batch_size=8, progress=False)
    fl = c.flips("scale")
    d = (c.correct["scale", 0] - c.correct["frozen", 0])[c.spatial]
    assert fl.loc[0, "fixed"] - fl.loc[0, "broken"] == int(d.sum())


def test_sweep_agreement_matches_a_direct_sweep(setup):
    model, batch = setup
    from scale_lib.scaling.adapt import sweep_agreement
    from scale_lib.scaling.sweep import rescaling_sweep

    a = ScAle(model, ScAleConfig(layers=[1]))
    with torch.no_grad():
        a.head_theta.copy_(torch.linspace(-2, 2, 8)[None])
    table, rho = sweep_agreement(a, batch, kind="spatial")
    assert table.site.tolist() == [f"L1.H{h}" for h in range(8)] and -1 <= rho <= 1
    rows = torch.tensor([r for r, i in enumerate(batch.items) if i.kind == "spatial"])
    s = rescaling_sweep(model, batch.inputs(rows), batch.labels[rows], ["L1.H3"], [0.5, 1.5], option_ids=batch.option_ids[rows], progress=False)
    assert table.sweep_direction[3] == pytest.approx(s.delta[s.scale == 1.5].item() - s.delta[s.scale == 0.5].item())
    assert table.coefficient.tolist() == pytest.approx((2 * torch.sigmoid(torch.linspace(-2, 2, 8))).tolist())
    with pytest.raises(ValueError, match="one below 1 and one above 1"):
        sweep_agreement(a, batch, scales=(1.5, 2.0))
    with pytest.raises(ValueError, match=r"no 'visual' items.*\['nonspatial', 'spatial'\]"):
        sweep_agreement(a, batch, kind="visual")


@pytest.mark.parametrize("method", ["lora_r1", "lora_r4", "ia3"])
def test_weight_baselines_train_the_model_itself_and_unload(setup, method):
    """No copy of the backbone per run (issue #24): peft wraps the caller's model while it trains or scores, then unloads."""
    model, batch = setup
    a = adapt(model, method, batch, steps=3, batch_size=8, lr=1e-2, progress=False)
    assert a.module.model is model
    assert not any(k in n for n, _ in model.named_modules() for k in ("lora_", "ia3_")), "no peft layer left in the model"
    assert not hasattr(model, "peft_config")
    first = a.option_logits(batch)
    torch.testing.assert_close(a.option_logits(batch), first)  # re-wrapping restores the same trained weights
    frozen = adapt(model, "frozen", batch, progress=False).option_logits(batch)
    assert (first - frozen)[torch.isfinite(first)].abs().max() > 1e-6
