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
# name: ps05
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# tests:
#   files: true
#   ok_format: false

# %% [markdown]
# # Problem set 05 · Norm scale vectors
#
# Goes with chapter 05. 2 graded exercises. Under each task, `grader.check("…")` runs the
# public checks; the autograder also runs hidden ones, written to catch the plausible wrong answers.
# Work in order; each exercise takes the time marked.

# %%
import torch

import scale_lib as sl
from scale_lib.norms.gamma import count_gamma_parameters

# %% [raw]
# # BEGIN QUESTION
# name: q1_count_gamma
# points: 2

# %% [markdown]
# **Exercise 1 — count γ from a config** (★☆☆ · 10 min). Write `count_gamma(config)` for a Llama-style
# decoder config (`num_hidden_layers`, `hidden_size`): the number of RMSNorm γ parameters — each layer
# has one norm before attention and one before the MLP, and one final norm sits before the output.
# Check it against `count_gamma_parameters(sl.tiny_model("llama", layers=3, hidden=32))[0]`.
#
# <details><summary>Hint</summary>Each norm has one γ per feature. Do not forget the norm after the last layer.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def count_gamma(config):
    # BEGIN SOLUTION
    return (2 * config.num_hidden_layers + 1) * config.hidden_size
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_positive_int(count_gamma):
    import scale_lib as sl

    n = count_gamma(sl.tiny_model("llama", layers=1, hidden=32).config)
    assert isinstance(n, int) and n > 0, f"a count is a positive int, got {n!r}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_matches_the_models(count_gamma):
    import scale_lib as sl
    from scale_lib.norms.gamma import count_gamma_parameters

    for layers, hidden in [(1, 32), (3, 64), (5, 48)]:
        model = sl.tiny_model("llama", layers=layers, hidden=hidden, heads=4, kv_heads=2)
        want = count_gamma_parameters(model)[0]
        got = count_gamma(model.config)
        assert got == want, f"{layers} layers of width {hidden}: expected {want}, got {got}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2_remove_gamma
# points: 3

# %% [markdown]
# **Exercise 2 — remove γ** (★★☆ · 20 min). Chapter 05's ablation trains with every γ fixed at 1. Write
# `remove_gamma(model)`: set every norm's γ to the identity and freeze it (`requires_grad = False`);
# return how many γ parameters it froze. Careful: some families (Gemma) store γ as `1 + w`, so their
# identity is a stored **0**. Use `scale_lib.norms.anatomy.classify_norms(model)` (each entry's `.name`
# is the norm's module name: `model.get_submodule(info.name)`) and `scale_lib.norms.anatomy.identity_weight(norm)`.
#
# <details><summary>Hint</summary>`identity_weight(norm)` is 0.0 for a `(1 + w)` norm and 1.0 otherwise; `fill_` under `torch.no_grad()`.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def remove_gamma(model):
    # BEGIN SOLUTION
    from scale_lib.norms.anatomy import classify_norms, identity_weight

    n = 0
    for info in classify_norms(model):
        norm = model.get_submodule(info.name)
        with torch.no_grad():
            norm.weight.fill_(identity_weight(norm))
        norm.weight.requires_grad_(False)
        n += norm.weight.numel()
    return n
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_llama(remove_gamma):
    import torch

    import scale_lib as sl
    from scale_lib.norms.gamma import count_gamma_parameters

    model = sl.tiny_model("llama", layers=2, hidden=32, initializer_range=0.2)
    want = count_gamma_parameters(model)[0]
    n = remove_gamma(model)
    assert n == want, f"expected {want} γ parameters frozen, got {n}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_identity_and_frozen_in_two_families(remove_gamma):
    import torch

    import scale_lib as sl
    from scale_lib.norms.anatomy import classify_norms, identity_weight

    for arch in ("llama", "gemma2"):
        model = sl.tiny_model(arch, layers=2, hidden=32)
        for info in classify_norms(model):
            with torch.no_grad():
                model.get_submodule(info.name).weight.uniform_(0.5, 1.5)
        remove_gamma(model)
        for info in classify_norms(model):
            norm = model.get_submodule(info.name)
            w = norm.weight
            assert torch.all(w == identity_weight(norm)), f"{arch} {info.name}: γ is not the identity (Gemma stores 1 + w)"
            assert not w.requires_grad, f"{arch} {info.name}: γ is still trainable"
        others = [p for n, p in model.named_parameters() if "norm" not in n]
        assert all(p.requires_grad for p in others), f"{arch}: only the norms' γ may be frozen"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION
