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
# name: ps07
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# tests:
#   files: true
#   ok_format: false

# %% [markdown]
# # Problem set 07 · The causal test: hiding and recovering a skill
#
# Goes with chapter 07. 2 graded exercises. Under each task, `grader.check("…")` runs the
# public checks; the autograder also runs hidden ones, written to catch the plausible wrong answers.
# Work in order; each exercise takes the time marked.

# %%
import torch

import scale_lib as sl

model = sl.tiny_model("llama", layers=2, hidden=64, heads=4, kv_heads=2, seed=0)
ids = torch.randint(0, model.config.vocab_size, (3, 8), generator=torch.Generator().manual_seed(0))

# %% [raw]
# # BEGIN QUESTION
# name: q1_recovery
# points: 1

# %% [markdown]
# **Exercise 1 — the share recovered** (★☆☆ · 5 min). A skill had accuracy `before`; hiding it left
# `damaged`; a method brought it to `after`. Write `recovery(before, damaged, after)`: the share of the
# **lost** accuracy the method brought back (1 = all of it, 0 = none, negative = it made things worse).
# Return `float("nan")` when nothing was lost (`before <= damaged`): a share of nothing is undefined.
#
# <details><summary>Hint</summary>Divide what came back by what was lost.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def recovery(before, damaged, after):
    # BEGIN SOLUTION
    lost = before - damaged
    return (after - damaged) / lost if lost > 0 else float("nan")
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_half(recovery):
    assert abs(recovery(0.9, 0.5, 0.7) - 0.5) < 1e-12, "0.5 → 0.7 of a 0.9 → 0.5 loss is half"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_edges(recovery):
    import math

    assert abs(recovery(0.8, 0.4, 0.3) + 0.25) < 1e-12, "below the damaged accuracy the share is negative"
    assert math.isnan(recovery(0.5, 0.5, 0.9)), "nothing lost: the share is undefined (nan), not a division error"
    assert math.isnan(recovery(0.4, 0.6, 0.6)), "an 'improvement' by the damage: undefined (nan)"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2_bake_damping
# points: 3

# %% [markdown]
# **Exercise 2 — bake a head damping into the weights** (★★★ · 25 min). Chapter 07's second positive
# control damps heads at **every** position by editing weights, not with a hook. Write
# `bake_damping(model, heads, factor)`: multiply the part of each layer's attention output projection
# `o_proj` that reads head h of layer l (for each `(l, h)` in `heads`) by `factor`, in place. This is the
# bridge between the book's two halves: a per-head scale on `o_proj`'s input is a γ folded into
# `o_proj`'s columns.
#
# <details><summary>Hint</summary>`o_proj.weight` is `(hidden, heads·head_dim)`: its input features are its **columns**.
# Check yourself: for a head of the **last** layer, the last position's logits equal `sl.scaled(model, {"L1.H1": factor})`'s;
# for a head of layer 0 they do not. Why? (What reads layer 0's output at the earlier positions?)</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def bake_damping(model, heads, factor):
    # BEGIN SOLUTION
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    with torch.no_grad():
        for layer, head in heads:
            w = model.model.layers[layer].self_attn.o_proj.weight
            w[:, head * head_dim:(head + 1) * head_dim] *= factor
    return model
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_changes_the_output(bake_damping, model, ids):
    import copy

    import torch

    m = copy.deepcopy(model)
    bake_damping(m, [(0, 1)], 0.0)
    with torch.no_grad():
        assert not torch.allclose(m(input_ids=ids).logits, model(input_ids=ids).logits), "damping a head to 0 must change the logits"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_equals_the_library_and_the_hook(bake_damping):
    import copy

    import torch

    import scale_lib as sl
    from scale_lib.scaling.causal import baked_damping

    model = sl.tiny_model("llama", layers=2, hidden=64, heads=4, kv_heads=2, seed=4)
    ids = torch.randint(0, model.config.vocab_size, (2, 6), generator=torch.Generator().manual_seed(4))
    heads = [(0, 1), (1, 3)]
    mine = bake_damping(copy.deepcopy(model), heads, 0.25)
    with torch.no_grad():
        got = mine(input_ids=ids).logits
        want = baked_damping(model, heads, 0.25)(input_ids=ids).logits
        assert torch.allclose(got, want, atol=1e-5), "not the library's baked damping: scale o_proj's columns (its inputs), not its rows"
        one = bake_damping(copy.deepcopy(model), [(1, 2)], 0.25)
        with sl.scaled(model, {"L1.H2": 0.25}):
            hooked = model(input_ids=ids).logits[:, -1]
        assert torch.allclose(one(input_ids=ids).logits[:, -1], hooked, atol=1e-5), "in the last layer, a baked damping gives the last position the hook's logits"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION
