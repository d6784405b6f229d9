"""Rescaling sweeps: the cached sweep equals the naive one, and the table is tidy and correct."""

import pytest
import torch

import scale_lib as sl
from scale_lib.core.scoring import answer_predictions
from scale_lib.scaling.sweep import naive_sweep, rescaling_sweep


@pytest.mark.parametrize("arch", ["llama", "llava"])
def test_cached_sweep_equals_naive_sweep(arch):
    model = sl.tiny_model(arch)
    b = sl.tiny_batch(model, batch=10, padding="left", images=arch == "llava")
    with torch.no_grad():
        top = model(**b).logits[:, -1].topk(3).indices
    labels = top[:, 0].clone()
    labels[::3] = top[::3, 1]  # a few rows start wrong
    options = top[:, [0, 1, 2]]
    groups = ["spatial" if i % 2 else "nonspatial" for i in range(10)]
    sites, scales = ["L0.H1", "L1.attn", "L1.mlp"], [0.0, 1.0, 3.0]
    fast = rescaling_sweep(model, b, labels, sites, scales, option_ids=options, groups=groups, batch_size=4, progress=False)
    slow = naive_sweep(model, b, labels, sites, scales, option_ids=options, groups=groups, batch_size=4, progress=False)
    assert fast.equals(slow)
    assert len(fast) == len(sites) * len(scales) * 2
    assert set(fast.columns) == {"site", "layer", "kind", "head", "scale", "group", "accuracy", "baseline", "delta", "n"}
    one = fast[fast.scale == 1.0]
    assert (one.delta == 0).all(), "scale 1 must not change accuracy"
    # baseline: rows whose label is the unscaled top token are right
    spatial = fast[(fast.group == "spatial")].baseline.iloc[0]
    expected = float((labels == top[:, 0])[1::2].double().mean())
    assert abs(spatial - expected) < 1e-9
    assert sl.count_hooks(model) == (4 if arch == "llava" else 0)  # transformers' own hooks on LLaVA only


def test_answer_predictions_respects_options():
    logits = torch.tensor([[0.0, 5.0, 1.0, 2.0], [3.0, 0.0, 0.0, 1.0]])
    assert answer_predictions(logits, None).tolist() == [1, 0]
    assert answer_predictions(logits, torch.tensor([[2, 3, -1], [1, 3, 2]])).tolist() == [3, 3]


def test_sweep_bad_inputs():
    model = sl.tiny_model("llama")
    b = sl.tiny_batch(model)
    with pytest.raises(ValueError, match="inputs have 3 rows but labels has 2"):
        rescaling_sweep(model, b, torch.tensor([1, 2]), ["L0.H0"], [0.0], progress=False)
    with pytest.raises(ValueError, match="groups has 1 entries"):
        rescaling_sweep(model, b, torch.tensor([1, 2, 3]), ["L0.H0"], [0.0], groups=["a"], progress=False)
    with pytest.raises(ValueError, match="unknown site 'L0.X'"):
        rescaling_sweep(model, b, torch.tensor([1, 2, 3]), ["L0.X"], [0.0], progress=False)


def test_option_scores_masks_padding():
    from scale_lib.core.scoring import option_scores

    scores = option_scores(torch.tensor([[0.0, 5.0, 1.0, 2.0]]), torch.tensor([[3, 1, -1]]))
    assert scores[0, :2].tolist() == [2.0, 5.0] and scores[0, 2] == float("-inf")


def test_prompt_cache_matches_full_forward_and_leaves_no_hooks():
    from scale_lib.core.scoring import option_scores
    from scale_lib.scaling.sweep import PromptCache

    model = sl.tiny_model("llava")
    b = sl.tiny_batch(model, batch=6, padding="left", images=True)
    options = torch.tensor([[5, 6, 7, -1]] * 6)
    cache = PromptCache(model, b, option_ids=options, batch_size=4, progress=False)
    hooks = sl.count_hooks(model)  # after a first forward: LLaVA registers hooks of its own then
    assert len(cache) == 6
    for scales in ({}, {"L1.H0": 0.0, "L0.mlp": 2.0}, {}):  # and again unscaled: the cache was not changed by use
        with torch.no_grad(), sl.scaled(model, scales):
            full = model(**b).logits[:, -1]
        torch.testing.assert_close(cache.logits(scales), full, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(cache.option_probs(scales), option_scores(full, options).softmax(-1), atol=1e-5, rtol=1e-5)
        assert cache.predictions(scales).tolist() == answer_predictions(full, options).tolist()
    assert sl.count_hooks(model) == hooks
    with pytest.raises(ValueError, match="option_ids"):
        PromptCache(model, b, progress=False).option_probs()
    with pytest.raises(ValueError, match="unknown|out of range|valid"):
        cache.logits({"L9.H0": 0.0})
    assert sl.count_hooks(model) == hooks


@pytest.mark.parametrize("arch", ["llama", "llava", "qwen2_vl", "gemma2", "mixtral", "llama4"])
def test_stacked_settings_give_each_setting_its_own_logits(arch):
    """Many settings in one forward pass (issue #25): the logits of every setting equal a pass of its own,
    and the prefix cache is left as it was."""
    from scale_lib.core.hooks import parse_site
    from scale_lib.core.prefix import last_token_logits, prefix_cache
    from scale_lib.scaling.sweep import _settings_last_token

    model = sl.tiny_model(arch, initializer_range=0.1)
    b = sl.tiny_batch(model, batch=3, padding="left", images=arch in sl.VLM_ARCHITECTURES)
    mm = sl.model_map(model)
    settings = [(None, 1.0)] + [(parse_site(s), x) for s in ("L0.H1", "L1.heads", "L1.attn", "L0.mlp") for x in (0.0, 2.5)]
    with torch.no_grad():
        cache = prefix_cache(model, b)
        hooks = sl.count_hooks(model)  # after a first forward: LLaVA adds transformers' own hooks then
        before = [layer.keys.clone() for layer in cache.layers]
        stacked = _settings_last_token(model, mm, cache, b, settings).view(len(settings), 3, -1)
        for k, (site, x) in enumerate(settings):
            with sl.scaled(model, {} if site is None else {site: x}):
                one = last_token_logits(model, cache, b["input_ids"], b["attention_mask"])
            torch.testing.assert_close(stacked[k], one, atol=2e-5, rtol=2e-5)
        moved = (stacked[1:] - stacked[0]).abs().amax((1, 2))
        uniform = [k - 1 for k, (site, x) in enumerate(settings) if site is not None and site.kind == "heads" and x != 0 and mm.layout.post_norm]
        keep = [k for k in range(len(moved)) if k not in uniform]  # post-norm: a common factor on every head is divided out (chapter 00)
        assert moved[keep].min() > 1e-4  # every other setting moves something
    assert all(torch.equal(layer.keys, k) for layer, k in zip(cache.layers, before)) and sl.count_hooks(model) == hooks


def test_a_stacked_sweep_equals_one_setting_per_pass_and_the_naive_sweep():
    model = sl.tiny_model("llava")
    b = sl.tiny_batch(model, batch=10, padding="left", images=True)
    with torch.no_grad():
        top = model(**b).logits[:, -1].topk(3).indices
    labels, options = top[:, 0].clone(), top[:, [0, 1, 2]]
    labels[::3] = top[::3, 1]
    sites, scales = [f"L{layer}.H{h}" for layer in (0, 1) for h in range(4)] + ["L1.attn", "L0.mlp"], [0.0, 0.5, 2.0, 4.0]
    kw = dict(option_ids=options, batch_size=4, progress=False)
    stacked = rescaling_sweep(model, b, labels, sites, scales, max_stack_mb=512, **kw)
    small_stacks = rescaling_sweep(model, b, labels, sites, scales, max_stack_mb=0.001, **kw)  # one setting per stack
    single = rescaling_sweep(model, b, labels, sites, scales, max_stack_mb=0, **kw)
    naive = naive_sweep(model, b, labels, sites, scales, **kw)
    assert stacked.equals(single) and small_stacks.equals(single) and single.equals(naive)


@pytest.mark.parametrize("arch", ["llava", "qwen3"])
def test_a_sweep_sharing_one_prefix_equals_one_setting_per_pass(arch):
    """share_prefix stacks the settings without repeating the prefix cache (merged attention): the
    same table as one setting per pass, in groups of every size, and its logits equal to rounding."""
    from scale_lib.core.hooks import parse_site
    from scale_lib.core.prefix import prefix_cache
    from scale_lib.scaling.sweep import _settings_last_token

    model = sl.tiny_model(arch)
    b = sl.tiny_batch(model, batch=6, padding="left", images=arch == "llava")
    with torch.no_grad():
        top = model(**b).logits[:, -1].topk(3).indices
    labels, options = top[:, 0].clone(), top[:, [0, 1, 2]]
    labels[::3] = top[::3, 1]
    sites, scales = [f"L{layer}.H{h}" for layer in (0, 1) for h in range(4)] + ["L1.attn", "L0.mlp"], [0.0, 0.5, 2.0]
    kw = dict(option_ids=options, batch_size=4, progress=False)
    single = rescaling_sweep(model, b, labels, sites, scales, **kw)
    for group in (1, 7, 100):
        assert rescaling_sweep(model, b, labels, sites, scales, share_prefix=group, **kw).equals(single), group
    settings = [(None, 1.0)] + [(parse_site(s), x) for s in sites[:3] for x in scales]
    cache = prefix_cache(model, b)
    length = cache.get_seq_length()
    with torch.no_grad():
        shared = _settings_last_token(model, sl.model_map(model), cache, b, settings, share=True)
        repeated = _settings_last_token(model, sl.model_map(model), cache, b, settings, share=False)
    assert cache.get_seq_length() == length and cache.layers[0].keys.shape[0] == 6  # the cache is left as it was
    assert (shared - repeated).abs().max() <= 1e-5
    with pytest.raises(ValueError, match="share_prefix=-1"):
        rescaling_sweep(model, b, labels, sites, scales, share_prefix=-1, **kw)
