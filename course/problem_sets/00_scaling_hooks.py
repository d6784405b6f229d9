# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: ps00_scaling_hooks
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# tests:
#   files: true
#   ok_format: false

# %% [markdown]
# # Problem set 00 · Scaling hooks
#
# Goes with chapter 00. Two graded exercises. Under each task, `grader.check("…")` runs the public
# checks; the autograder also runs hidden ones, written to catch the plausible wrong answers.
# Exercise 1 is the graded version of chapter 00's Exercise 3: its hidden checks test any scale and
# an unchanged input, which the chapter's check does not. Work in order; each exercise takes the time marked.

# %%
import torch

import scale_lib as sl
from scale_lib.scaling.response import next_token_probs

model = sl.tiny_model("llama", layers=2, hidden=64, heads=4, kv_heads=2, seed=0)
contexts = torch.randint(0, model.config.vocab_size, (4, 9), generator=torch.Generator().manual_seed(0))
HEAD_DIM = model.config.hidden_size // model.config.num_attention_heads

# %% [raw]
# # BEGIN QUESTION
# name: q1_head_prehook
# points: 2

# %% [markdown]
# **Exercise 1 — a head-scaling pre-hook** (★★☆ · 15 min). An attention block concatenates its heads'
# outputs, `head_dim` numbers each, before its output projection `o_proj`. A forward pre-hook on
# `o_proj` (`module.register_forward_pre_hook(hook)`) receives that input as `args[0]`
# (batch × positions × heads·head_dim) and may return replacement `args`. Write
# `head_prehook(head, scale, head_dim)`: a hook that multiplies head `head`'s slice **at the last
# position only** by `scale`, for any `scale`, without changing the caller's tensor in place.
#
# <details><summary>Hint</summary>Clone <code>args[0]</code>, scale one slice of the clone, return a tuple.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def head_prehook(head, scale, head_dim):
    # BEGIN SOLUTION
    def hook(module, args):
        x = args[0].clone()
        x[:, -1, head * head_dim:(head + 1) * head_dim] *= scale
        return (x,) + tuple(args[1:])
    return hook
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_returns_a_hook(head_prehook, HEAD_DIM):
    assert callable(head_prehook(0, 1.0, HEAD_DIM)), "head_prehook must return a function (the hook)"




# %%
def test_identity_at_scale_one(head_prehook, HEAD_DIM):
    import torch

    x = torch.randn(2, 5, 4 * HEAD_DIM)
    out = head_prehook(1, 1.0, HEAD_DIM)(None, (x,))
    assert torch.equal(out[0], x), "at scale 1 the hook must change nothing"




# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_matches_sl_scaled_for_every_scale(head_prehook):
    import torch

    import scale_lib as sl

    model = sl.tiny_model("llama", layers=2, hidden=64, heads=4, kv_heads=2, seed=1)
    contexts = torch.randint(0, model.config.vocab_size, (3, 7), generator=torch.Generator().manual_seed(1))
    o_proj = model.model.layers[0].self_attn.o_proj
    for scale in (0.0, 0.5, 2.0):
        handle = o_proj.register_forward_pre_hook(head_prehook(1, scale, 16))
        try:
            with torch.no_grad():
                mine = model(input_ids=contexts).logits
        finally:
            handle.remove()
        with torch.no_grad(), sl.scaled(model, {"L0.H1": scale}):
            want = model(input_ids=contexts).logits
        assert torch.allclose(mine, want, atol=1e-5), f"at scale {scale} the logits differ from sl.scaled's"




# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_not_in_place_and_last_position_only(head_prehook):
    import torch

    HEAD_DIM = 16
    x = torch.randn(2, 5, 4 * HEAD_DIM)
    before = x.clone()
    out = head_prehook(2, 3.0, HEAD_DIM)(None, (x,))[0]
    assert torch.equal(x, before), "the hook changed its input in place"
    assert torch.equal(out[:, :-1], x[:, :-1]), "positions before the last must stay as they are"
    assert torch.equal(out[:, -1, :2 * HEAD_DIM], x[:, -1, :2 * HEAD_DIM]), "other heads must stay as they are"
    assert torch.allclose(out[:, -1, 2 * HEAD_DIM:3 * HEAD_DIM], 3.0 * x[:, -1, 2 * HEAD_DIM:3 * HEAD_DIM])



# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2_last_token_kl
# points: 2

# %% [markdown]
# **Exercise 2 — how far does a scaling move the prediction?** (★★☆ · 15 min). Write
# `last_token_kl(model, input_ids, scales)`: for each row, KL(unscaled ‖ scaled) in nats between the
# model's next-token distributions at the last position, without and with `sl.scaled(model, scales)`.
# It must be 0 where the two agree and never NaN, also when a probability is exactly 0.
#
# <details><summary>Hint</summary>KL(p ‖ q) = Σ p (log p − log q); which of the two distributions is p
# decides the direction; treat 0 · log 0 as 0.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def last_token_kl(model, input_ids, scales):
    # BEGIN SOLUTION
    with torch.no_grad():
        p = model(input_ids=input_ids).logits[:, -1].double().softmax(-1)
        with sl.scaled(model, scales):
            q = model(input_ids=input_ids).logits[:, -1].double().softmax(-1)
    return torch.where(p > 0, p * (p.clamp_min(1e-30).log() - q.clamp_min(1e-30).log()), torch.zeros_like(p)).sum(-1)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_shape_and_zero(last_token_kl, model, contexts):
    import torch

    kl = torch.as_tensor(last_token_kl(model, contexts, {}))
    assert kl.shape == (len(contexts),), f"one KL per row: expected shape ({len(contexts)},), got {tuple(kl.shape)}"
    assert torch.allclose(kl.double(), torch.zeros(len(contexts), dtype=torch.double), atol=1e-9), "with no scaling the KL is 0"




# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_direction_and_value(last_token_kl):
    import torch

    import scale_lib as sl
    from scale_lib.scaling.response import next_token_probs

    model = sl.tiny_model("llama", layers=2, hidden=64, heads=4, kv_heads=2, seed=2)
    contexts = torch.randint(0, model.config.vocab_size, (3, 7), generator=torch.Generator().manual_seed(2))
    scales = {"L0.attn": 0.0, "L1.H2": 3.0}
    p = next_token_probs(model, contexts).double()
    q = next_token_probs(model, contexts, scales).double()
    forward = (p * (p.log() - q.log())).sum(-1)
    mine = torch.as_tensor(last_token_kl(model, contexts, scales)).double()
    assert torch.allclose(mine, forward, rtol=1e-4, atol=1e-7), "not KL(unscaled ‖ scaled): check the direction"



# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION
