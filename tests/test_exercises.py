"""Every code exercise's check passes the reference solution and raises on a plausible wrong answer —
so an answer key cannot rot, and a student's mistake gets a message, not silence."""

import pytest
import torch
import transformers as tf

import scale_lib as sl
from scale_lib.book import exercises as ex
from scale_lib.book import solutions as sol


def not_written(*args, **kwargs):
    raise NotImplementedError("exercise: your code here")


@pytest.fixture(scope="module")
def llama():
    torch.manual_seed(0)
    cfg = tf.LlamaConfig(vocab_size=60, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True,
                         initializer_range=0.3)  # large weights: every site moves the predictions
    model = sl.freeze(tf.LlamaForCausalLM(cfg).eval())
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)  # trained-looking γ, so a wrong fold shows
    return model


IDS = torch.randint(3, 60, (2, 10), generator=torch.Generator().manual_seed(1))


def test_every_exercise_says_not_written_yet():
    with pytest.raises(AssertionError, match="not written yet"):
        ex.test_kl_divergence(not_written)
    with pytest.raises(AssertionError, match="not written yet"):
        ex.test_count_turns(not_written)


def test_head_prehook(llama):
    ex.test_head_prehook(sol.hooks.head_scaling_prehook, llama, IDS)

    def every_position(head, scale, head_dim):
        def hook(module, args):
            x = args[0].clone()
            x[:, :, head * head_dim:(head + 1) * head_dim] *= scale
            return (x,)
        return hook

    with pytest.raises(AssertionError, match="earlier positions must stay"):
        ex.test_head_prehook(every_position, llama, IDS)
    assert sl.count_hooks(llama) == 0


def test_kl_divergence():
    ex.test_kl_divergence(sol.hooks.kl_divergence)
    with pytest.raises(AssertionError, match="NaN"):
        ex.test_kl_divergence(lambda p, q: (p * (p / q).log()).sum(-1))
    with pytest.raises(AssertionError, match="KL"):
        ex.test_kl_divergence(lambda p, q: sol.hooks.kl_divergence(q, p))  # the other direction


def test_benchmark_exercises():
    ex.test_diagonal_direction(sol.benchmark.diagonal_direction)
    with pytest.raises(AssertionError, match="rows grow downwards"):
        ex.test_diagonal_direction(lambda a, b: ("North" if a[0] > b[0] else "South") + ("east" if a[1] > b[1] else "west"))
    ex.test_count_turns(sol.benchmark.count_turns)
    with pytest.raises(AssertionError, match="count_turns"):
        ex.test_count_turns(lambda path: (0, len(path) - 2))  # counts every step as a turn


def test_discovery_exercises(llama):
    from scale_lib.scaling.sweep import PromptCache

    ex.test_wilson_interval(sol.discovery.wilson_interval)
    with pytest.raises(AssertionError, match="wilson_interval"):
        ex.test_wilson_interval(lambda k, n: (k / n - 1.96 * (k / n * (1 - k / n) / n) ** 0.5, k / n + 1.96 * (k / n * (1 - k / n) / n) ** 0.5))
    ids = torch.randint(3, 60, (32, 8), generator=torch.Generator().manual_seed(2))
    cache = PromptCache(llama, {"input_ids": ids, "attention_mask": torch.ones_like(ids)}, progress=False)
    labels = cache.predictions({"L1.mlp": 0.0})
    assert (cache.predictions() != labels).any()  # the site matters, so ignoring the scale is visible
    ex.test_site_sweep(sol.discovery.site_sweep, cache, labels, "L1.mlp")
    with pytest.raises(AssertionError, match="site_sweep"):
        ex.test_site_sweep(lambda c, y, site, scales: {float(s): float((c.predictions() == y).float().mean()) for s in scales}, cache, labels, "L1.mlp")


def test_scale_exercises(llama):
    from scale_lib.scaling.adapter import ScAle

    ex.test_bounded_scale(sol.scale.BoundedScale)

    class ZeroInit(sol.scale.BoundedScale):
        def __init__(self, n, lo=0.0, hi=2.0):
            super().__init__(n, lo, hi)
            with torch.no_grad():
                self.theta.zero_()  # σ(0) = ½: identity only when the bound is symmetric around 1

    with pytest.raises(AssertionError, match="every coefficient must be 1"):
        ex.test_bounded_scale(ZeroInit)
    adapter = ScAle(llama)
    before = [p.clone() for p in adapter.parameters()]
    inputs = {"input_ids": IDS, "attention_mask": torch.ones_like(IDS)}
    labels = torch.tensor([3, 4])
    ex.test_cached_step(sol.scale.cached_step, adapter, inputs, labels)

    def prefix_under_hooks(adapter, inputs, labels):  # the bug the book's own trainer once had: now refused loudly
        from scale_lib.core.prefix import last_token_logits, prefix_cache

        with adapter.applied():
            cache = prefix_cache(adapter.model, inputs["input_ids"], inputs["attention_mask"])
            logits = last_token_logits(adapter.model, cache, inputs["input_ids"], inputs["attention_mask"])
        torch.nn.functional.cross_entropy(logits, labels).backward()
        return logits.detach()

    with pytest.raises(AssertionError, match="raised RuntimeError.*scaling hooks attached"):
        ex.test_cached_step(prefix_under_hooks, adapter, inputs, labels)
    assert all(torch.equal(a, b) for a, b in zip(before, adapter.parameters()))  # the check gives the adapter back as it came
    assert sl.count_hooks(llama) == 0


def test_toy_exercises():
    ex.test_theta_velocity(sol.toys.theta_velocity)
    with pytest.raises(AssertionError, match="against autograd"):
        ex.test_theta_velocity(lambda gamma, weight, g: -(gamma**2) * g)  # forgets the w wᵀ term
    ex.test_balancedness(sol.toys.balancedness)
    with pytest.raises(AssertionError, match="not conserved"):
        ex.test_balancedness(lambda gamma, weight: gamma**2 + weight.pow(2).sum(0))


def test_norm_exercises(llama):
    ex.test_fold_mlp_norm(sol.norms.fold_mlp_norm, llama, IDS)

    def into_down_proj(model, layer):
        block = model.model.layers[layer]
        with torch.no_grad():
            block.mlp.down_proj.weight.mul_(block.post_attention_layernorm.weight[:, None])
            block.post_attention_layernorm.weight.fill_(1.0)

    with pytest.raises(AssertionError, match="which two projections"):
        ex.test_fold_mlp_norm(into_down_proj, llama, IDS)
    ex.test_iwd_groups(sol.norms.input_norm_decay_groups, llama)

    def decay_everything(model, wd):
        return [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": wd}]

    trainable = sl.tiny_model("llama")  # a model with trainable parameters
    with pytest.raises(AssertionError, match="decayed but should not be"):
        ex.test_iwd_groups(decay_everything, trainable)
    ex.test_iwd_groups(sol.norms.input_norm_decay_groups, trainable)


def test_causal_exercise():
    """Chapter 07's ratio of sums: the solution passes, the plain mean of the shares is named as the mistake."""
    ex.test_share_from_seeds(sol.causal.share_from_seeds)
    with pytest.raises(AssertionError, match="plain mean"):
        ex.test_share_from_seeds(lambda shares, losses: sum(shares) / len(shares))
    with pytest.raises(AssertionError, match="share_from_seeds"):
        ex.test_share_from_seeds(lambda shares, losses: sum(s * l for s, l in zip(shares, losses)))
