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
# name: ps01
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# tests:
#   files: true
#   ok_format: false

# %% [markdown]
# # Problem set 01 · The spatial benchmark
#
# Goes with chapter 01. 2 graded exercises. Under each task, `grader.check("…")` runs the
# public checks; the autograder also runs hidden ones, written to catch the plausible wrong answers.
# Work in order; each exercise takes the time marked.

# %%
import scale_lib as sl
from scale_lib.data.spatial.graded import graded_items

train_items = graded_items(["map_copy/2", "grid_corner/2"], 48, seed=0, split="train")
test_items = graded_items(["map_copy/2", "grid_corner/2"], 48, seed=1, split="test")

# %% [raw]
# # BEGIN QUESTION
# name: q1_direction_of
# points: 2

# %% [markdown]
# **Exercise 1 — eight directions** (★☆☆ · 10 min). Points are (row, column) with row 0 at the top
# (north) and column 0 on the left (west). Write `direction_of(a, b)`: the direction of `a` as seen
# from `b`, one of "North", "South", "East", "West" (the points share a column or a row),
# "Northeast", "Northwest", "Southeast", "Southwest" (they share neither). Raise `ValueError`
# when `a == b`.
#
# <details><summary>Hint</summary>A smaller row is further north; build the name from a north/south part and an east/west part.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def direction_of(a, b):
    # BEGIN SOLUTION
    (ra, ca), (rb, cb) = a, b
    if (ra, ca) == (rb, cb):
        raise ValueError(f"{a} and {b} are the same point: no direction")
    ns = "North" if ra < rb else "South" if ra > rb else ""
    ew = "East" if ca > cb else "West" if ca < cb else ""
    return ns + ew.lower() if ns and ew else ns or ew
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_two_examples(direction_of):
    assert direction_of((0, 0), (1, 1)) == "Northwest", "(0, 0) is up and to the left of (1, 1)"
    assert direction_of((2, 1), (0, 1)) == "South", "(2, 1) is two rows below (0, 1)"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_every_pair_of_a_4x4_grid(direction_of):
    from scale_lib.data.spatial.generate import in_direction

    cells = [(r, c) for r in range(4) for c in range(4)]
    for a in cells:
        for b in cells:
            if a == b:
                continue
            got = direction_of(a, b)
            assert in_direction(a, b, got), f"{a} is not {got} of {b}"
            diagonal = a[0] != b[0] and a[1] != b[1]
            assert (got in ("Northeast", "Northwest", "Southeast", "Southwest")) == diagonal, f"{a} from {b}: {got}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_same_point_raises(direction_of):
    try:
        direction_of((1, 1), (1, 1))
    except ValueError:
        return
    raise AssertionError("direction_of(a, a) must raise ValueError")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2_answer_prior
# points: 2

# %% [markdown]
# **Exercise 2 — the answer-prior shortcut** (★★☆ · 15 min). Before calling an accuracy a skill, measure
# what a shortcut reaches on the same items. (The items here are the small graded map and grid
# questions of `scale_lib.data.spatial.graded`, which chapter 06 uses; here they are only data.) Write
# `answer_prior_accuracy(train_items, test_items)`: count how often each option word was the right
# answer in `train_items` (compare words case-insensitively; each item has `.options` and
# `.answer_index`), then score every test item by choosing its option with the highest training count. When k options tie for the highest count, the
# item scores 1/k if the answer is among them (a random tie-break, in expectation), else 0. Return the
# mean score over the test items.
#
# <details><summary>Hint</summary>`collections.Counter` over the training answers; an option never seen as an answer has count 0.
# Fit on the training items only: a prior fitted on the test items is a leak.</details>

# %% [raw]
# # BEGIN SOLUTION

# %%
def answer_prior_accuracy(train_items, test_items):
    # BEGIN SOLUTION
    from collections import Counter

    freq = Counter(i.options[i.answer_index].lower() for i in train_items)
    total = 0.0
    for item in test_items:
        counts = [freq.get(o.lower(), 0) for o in item.options]
        tied = [k for k, c in enumerate(counts) if c == max(counts)]
        total += (1.0 / len(tied)) if item.answer_index in tied else 0.0
    return total / len(test_items)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_a_range(answer_prior_accuracy, train_items, test_items):
    acc = answer_prior_accuracy(train_items, test_items)
    assert 0.0 <= acc <= 1.0, f"an accuracy lies in [0, 1], got {acc}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_matches_the_library_audit(answer_prior_accuracy, train_items, test_items):
    from scale_lib.scaling.shortcuts import answer_prior, heuristic_accuracy

    want = heuristic_accuracy(answer_prior(train_items), test_items)
    got = answer_prior_accuracy(train_items, test_items)
    assert abs(got - want) < 1e-9, f"expected {want:.4f} on these items, got {got:.4f}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
def test_ties_and_no_leak(answer_prior_accuracy):
    from types import SimpleNamespace as I

    train = [I(options=("Yes", "No"), answer_index=0)] * 3 + [I(options=("No", "Yes"), answer_index=0)]
    test = [I(options=("no", "yes"), answer_index=0)] * 4 + [I(options=("cat", "dog"), answer_index=1)]
    # "yes" was the answer 3 times in training, "no" once: the prior picks "yes" (wrong on the first 4);
    # "cat"/"dog" never appear: a tie of two, worth 1/2
    got = answer_prior_accuracy(train, test)
    assert abs(got - 0.1) < 1e-9, f"expected 0.1 (0 + 0 + 0 + 0 + 1/2 over 5), got {got}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION
