"""ScAle across testbeds and the damage diagnostics (scale_lib.scaling.latent), on a testbed made in seconds."""

import pandas as pd
import pytest
import torch

from scale_lib.models import testbed
from scale_lib.scaling import latent


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A real testbed checkpoint from a few steps of the shipped recipe (pretrain, then tune attention)."""
    d = tmp_path_factory.mktemp("testbed")
    testbed.main(pretrain_steps=3, tune_steps=3, n_train=12, n_eval=6, batch_size=16, seed=11, progress=False, directory=d)
    return d


def test_checkpoint_keeps_exactly_the_weights_tuning_changed(tiny_dir):
    tuned, _, record = testbed.load_testbed(tiny_dir)
    pre, _, _ = testbed.load_testbed(tiny_dir, stage="pretrained")
    changed = {n for (n, a), (_, b) in zip(tuned.named_parameters(), pre.named_parameters()) if not torch.equal(a, b)}
    assert changed and all(".language_model." in n and ".self_attn." in n for n in changed)  # the recipe tunes LM attention only
    assert record["seed"] == 11 and record["command"].endswith("--seed 11")
    with pytest.raises(ValueError, match="unknown stage 'before'.*'tuned', 'pretrained'"):
        testbed.load_testbed(tiny_dir, stage="before")
    with pytest.raises(FileNotFoundError, match=r"seed 99.*shipped seeds are \(0, 1, 2"):
        testbed.load_testbed(seed=99)
    with pytest.raises(ValueError, match="a seed or a directory"):
        testbed.load_testbed(tiny_dir, seed=0)


def test_shipped_testbeds_have_their_pretuned_weights():
    for seed in testbed.TESTBED_SEEDS:
        assert (testbed.testbed_dir(seed) / "pretuned.safetensors").is_file(), f"testbed seed {seed} lacks pretuned.safetensors"
    assert testbed.RECIPE_SEED not in testbed.FRESH_SEEDS and len(testbed.FRESH_SEEDS) >= 5


def test_tuning_change_finds_the_one_head_that_moved(tiny_dir):
    pre, _, _ = testbed.load_testbed(tiny_dir, stage="pretrained")
    same = latent.tuning_change(pre, pre)
    assert (same.change == 0).all() and len(same) == 4 * 8 * 4  # layers × heads × projections
    moved, _, _ = testbed.load_testbed(tiny_dir, stage="pretrained")
    d = 128 // 8
    with torch.no_grad():
        moved.model.language_model.layers[2].self_attn.k_proj.weight[5 * d:6 * d] *= 1.5  # head 5's key rows only
        moved.model.language_model.layers[1].self_attn.o_proj.weight[:, 3 * d:4 * d] *= 0.0  # head 3's output columns
    ch = latent.tuning_change(pre, moved).set_index(["layer", "head", "projection"]).change
    assert ch[2, 5, "k_proj"] == pytest.approx(0.5) and ch[1, 3, "o_proj"] == pytest.approx(1.0)
    assert (ch.drop([(2, 5, "k_proj"), (1, 3, "o_proj")]) == 0).all()


def test_restored_swaps_weights_in_and_always_back(tiny_dir):
    tuned, _, _ = testbed.load_testbed(tiny_dir)
    pre, _, _ = testbed.load_testbed(tiny_dir, stage="pretrained")
    attn = tuned.model.language_model.layers[0].self_attn
    q0, v0 = attn.q_proj.weight.clone(), attn.v_proj.weight.clone()
    with latent.restored(tuned, pre, "routing", layers=[0]):
        assert torch.equal(attn.q_proj.weight, pre.model.language_model.layers[0].self_attn.q_proj.weight)
        assert torch.equal(attn.v_proj.weight, v0)  # content untouched
    assert torch.equal(attn.q_proj.weight, q0)
    with pytest.raises(RuntimeError, match="boom"):
        with latent.restored(tuned, pre):
            raise RuntimeError("boom")
    assert torch.equal(attn.q_proj.weight, q0) and torch.equal(attn.v_proj.weight, v0)
    with pytest.raises(ValueError, match="unknown projection group 'queries'.*content.*routing"):
        with latent.restored(tuned, pre, "queries"):
            pass
    with pytest.raises(ValueError, match=r"unknown projections \['w_proj'\]"):
        with latent.restored(tuned, pre, ("q_proj", "w_proj")):
            pass
    with pytest.raises(ValueError, match="layer 7 is out of range"):
        with latent.restored(tuned, pre, layers=[7]):
            pass
    assert torch.equal(attn.q_proj.weight, q0)


def test_sweep_summary_picks_safe_gains_and_selective_drops():
    rows = []
    for site, scale, sp, ns in [("L0.H1", 0.0, -0.20, 0.00), ("L0.H2", 0.0, -0.40, -0.30), ("L1.H0", 2.0, 0.08, -0.10), ("L1.H3", 0.0, 0.05, -0.01)]:
        rows += [dict(site=site, scale=scale, group="spatial", delta=sp), dict(site=site, scale=scale, group="nonspatial", delta=ns)]
    s = latent.sweep_summary(pd.DataFrame(rows))
    assert s["best_gain"] == pytest.approx(0.05) and s["best_gain_site"] == "L1.H3 x 0"  # L1.H0 gains more but costs non-spatial
    assert s["selective_drop"] == pytest.approx(-0.20) and s["selective_drop_site"] == "L0.H1 x 0"  # L0.H2 is not selective
    with pytest.raises(ValueError, match="groups 'spatial' and 'nonspatial'"):
        latent.sweep_summary(pd.DataFrame([dict(site="L0.H1", scale=0.0, group="all", delta=0.1)]))


def test_share_interval_brackets_the_share():
    g = torch.Generator().manual_seed(0)
    frozen = (torch.rand(400, generator=g) < 0.6).float()
    lora = torch.ones(400)
    scale = torch.maximum(frozen, (torch.rand(400, generator=g) < 0.5).float())
    share = (scale.mean() - frozen.mean()) / (lora.mean() - frozen.mean())
    lo, hi = latent.share_interval(frozen, scale, lora)
    assert lo < float(share) < hi and hi - lo < 0.3
    with pytest.raises(ValueError, match="equal, non-empty"):
        latent.share_interval(frozen, scale[:10], lora)


def test_study_testbed_row_is_consistent(tiny_dir):
    data = latent.load_data(directory=tiny_dir, n_per_kind=12, n_test_layouts=6)
    before = {n: p.clone() for n, p in data.model.named_parameters()}
    row = latent.study_testbed(data, steps=2, probes=True)
    details = row.pop("_details")
    assert all(torch.equal(p, before[n]) for n, p in data.model.named_parameters()), "the study must leave the testbed as it was"
    assert row["scale_gain"] == pytest.approx(row["scale_spatial"] - row["frozen_spatial"])
    assert row["fixed"] + row["broken"] <= row["n_spatial"] and row["scale_params"] == 36
    assert 0 <= row["restore_routing_spatial"] <= 1 and 0 <= row["probe_pretrained_spatial"] <= 1
    assert set(details) == {"scale", "change", "sweep"} and (details["change"].change > 0).any()
    assert {"head_best_gain", "head_selective_drop", "L0_attn_off_spatial", "L0_attn_off_nonspatial"} <= set(row)
    sweep = details["sweep"]
    assert set(sweep.kind) == {"head", "attn"} and set(sweep[sweep.kind == "attn"].scale) == {0.0} and set(sweep[sweep.kind == "head"].scale) == {0.0, 2.0}
    with pytest.raises(ValueError, match="exactly one of seed"):
        latent.load_data()
    with pytest.raises(ValueError, match="unknown testbed seed 42"):
        latent.across_testbeds([42])


def test_claims_and_gain_summary_on_a_hand_made_table():
    table = pd.DataFrame({"fixed": [30, 8], "broken": [10, 14], "scale_nonspatial": [1.0, 0.98], "frozen_nonspatial": [1.0, 1.0],
                          "lora_r1_gain": [0.2, 0.0], "scale_gain": [0.08, -0.024], "share": [0.4, float("nan")]}, index=[1, 2])
    c = latent.claims_table(table, latent.SCALE_CLAIMS)
    assert c.loc[1].all() and not c.loc[2].any()  # 20 > 2·√40 ≈ 12.6; -6 fails; 2 points fails; no LoRA gain fails
    s = latent.gain_summary(table)
    assert s["gain_mean"] == pytest.approx(0.028) and s["gain_ci"][0] < 0 < s["gain_ci"][1]
    assert list(s["share_defined"]) == [True, False] and s["share_mean"] == pytest.approx(0.4)
    d = pd.DataFrame({"L0_attn_off_spatial": [-0.4, -0.02], "L0_attn_off_nonspatial": [-0.1, -0.3], "head_selective_drop": [-0.2, -0.01]})
    assert latent.claims_table(d, latent.DISCOVERY_CLAIMS).values.tolist() == [[True, True, True], [False, False, False]]
