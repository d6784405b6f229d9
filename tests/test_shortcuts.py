"""The shortcut audit (scale_lib.scaling.shortcuts), the shortcut-proof levels (scale_lib.data.spatial.graded) and
chapter 06's study helpers (scale_lib.scaling.real_study), on hand-made items and a tiny Llama."""

import re
from dataclasses import dataclass

import pytest
import torch
from _word_models import tiny_llama, word_tokenizer

from scale_lib.data.cloze import encode_cloze
from scale_lib.data.spatial import graded
from scale_lib.scaling import real_study as rs
from scale_lib.scaling import shortcuts as sc

PROOF = list(rs.PROOF_SCAN_LEVELS) + ["grid_corner_balanced/5", "grid_cell_balanced/5", "map_coord/5", "map_coord/6", "grid_count/3",
                                      "grid_count/5"]


@dataclass(frozen=True)
class Item:
    context: str
    question: str
    options: tuple
    answer_index: int
    level: str = "hand"


# ------------------------------------------------------------------------------------------- heuristics
def test_each_heuristic_does_what_it_says():
    item = Item("cat dog cat. Bank is to the Northeast of Park.\nrabbit cat", "Where is the cat? dog", ("dog", "cat", "rabbit", "horse"), 1)
    picks = {h.name: max(range(4), key=lambda k, s=h(item): (s[k], -k)) for h in sc.BATTERY if h.applies(item)}
    assert picks["present"] == 0 and picks["absent"] == 3  # first of the tied present / absent options
    assert picks["most_frequent"] == 1 and picks["least_frequent"] == 3 and picks["least_frequent_present"] == 0
    assert picks["first_mentioned"] == 1 and picks["last_mentioned"] == 1  # "cat" opens and closes the context
    assert picks["in_question"] == 0 and picks["alphabetical"] == 1 and picks["shortest"] == 0
    assert [picks[f"slot_{k}"] for k in range(4)] == [0, 1, 2, 3]
    assert sc.score_item(sc.HEURISTICS["most_frequent"], item) == 1.0
    assert sc.score_item(sc.HEURISTICS["present"], item) == pytest.approx(1 / 3)  # three options tie: 1/3 credit
    assert sc.score_item(sc.HEURISTICS["absent"], item) == 0.0


def test_copy_and_opposite_read_the_sentence_that_shares_the_question_words():
    item = Item("Bank is in the map. Park is to the Southwest of Bank. Hotel is to the Northeast of Park.",
                "In which direction is Hotel from Park?", ("Northeast", "Northwest", "Southeast", "Southwest"), 0)
    assert sc.score_item(sc.HEURISTICS["copy_stated"], item) == 1.0  # "Hotel ... Park" shares two names; "Park ... Bank" one
    inverted = Item(item.context, "In which direction is Park from Hotel?", item.options, 3)
    assert sc.score_item(sc.HEURISTICS["copy_stated"], inverted) == 0.0
    assert sc.score_item(sc.HEURISTICS["opposite_of_stated"], inverted) == 1.0
    with pytest.raises(ValueError, match=r"'opposite_of_stated' cannot read item of level 'hand' \(options \('cat'"):
        sc.HEURISTICS["opposite_of_stated"](Item("cat", "?", ("cat", "dog", "pig", "cow"), 0))


def test_answer_prior_and_bad_input():
    train = [Item("", "?", ("a", "b"), 0), Item("", "?", ("b", "a"), 1), Item("", "?", ("b", "c"), 1)]
    prior = sc.answer_prior(train)
    assert sc.score_item(prior, Item("", "?", ("c", "a"), 1)) == 1.0  # "a" was the answer twice
    with pytest.raises(ValueError, match="unknown heuristic 'vibes'.*'present'"):
        sc.heuristic_accuracy("vibes", train)
    with pytest.raises(TypeError, match=r"has no \['context', 'question'\]"):
        sc.audit([type("Bare", (), {"options": ("a",), "answer_index": 0})()])
    with pytest.raises(ValueError, match="at least one"):
        sc.audit([])


def test_the_old_levels_are_shortcut_prone_as_the_review_found():
    best = sc.best_by_level(sc.audit(graded.graded_items(["map_copy/2", "grid_corner/2", "map_exists/4", "grid_exists/3"], 256, seed=300)))
    assert best["map_copy/2"] == 1.0 and best["map_exists/4"] == 1.0 and best["grid_exists/3"] == 1.0
    assert best["grid_corner/2"] > 0.5  # the most frequent animal of a 2 x 2 grid


@pytest.mark.parametrize("split", [None, "test"])
def test_every_heuristic_is_within_chance_on_every_shortcut_proof_level(split):
    table = sc.audit(graded.graded_items(PROOF, 512, seed=11, split=split))
    assert (table.n == 512).all()
    worst = table.assign(excess=table.best - table.chance).sort_values("excess").iloc[-1]
    assert worst.excess <= 0.05, f"{worst.level}: {worst.best_heuristic} scores {worst.best:.3f} (chance {worst.chance:.2f})"
    prior = sc.answer_prior(graded.graded_items(PROOF, 128, seed=12, split="train"))
    items = graded.graded_items(PROOF, 512, seed=11, split=split)
    assert sc.heuristic_accuracy(prior, items) <= 0.25 + 0.05


# ------------------------------------------------------------------------------------------- the levels
def _grid(text):
    return [row.split(" | ") for row in text.splitlines()[1:]]


def test_shortcut_proof_answers_rederived_from_the_text():
    corners = {"top-left": (0, 0), "top-right": (0, -1), "bottom-left": (-1, 0), "bottom-right": (-1, -1)}
    for item in graded.graded_items(PROOF + list(rs.CONTROLS_THAT_CAN_FAIL), 24, seed=5):
        family, size = graded.parse_level(item.level)
        if family.startswith("grid") and family != "grid_count" or family in ("grid_count",):
            grid = _grid(item.context)
            assert len(grid) == size and all(len(r) == size for r in grid)
        if family == "grid_corner_balanced":
            r, c = corners[re.search(r"the (\S+) corner", item.question).group(1)]
            assert grid[r][c] == item.answer
            flat = sum(grid, [])
            assert len({flat.count(o) for o in item.options}) == 1  # every option equally often
        elif family == "grid_cell_balanced":
            r, c = map(int, re.search(r"row (\d+), column (\d+)", item.question).groups())
            assert grid[r - 1][c - 1] == item.answer
            flat = sum(grid, [])
            assert len({flat.count(o) for o in item.options}) == 1
        elif family == "map_coord":
            pos = {n: (int(r), int(c)) for n, r, c in re.findall(r"(\w+) is at row (\d+), column (\d+)", item.context)}
            a, b = re.match(r"In which direction is (\w+) from (\w+)\?", item.question).groups()
            (ra, ca), (rb, cb) = pos[a], pos[b]
            assert item.answer == ("North" if ra < rb else "South") + ("east" if ca > cb else "west")
            assert not set(sc.words(item.context)) & {d.lower() for d in item.options}  # no direction word in the text
        elif family == "grid_count":
            animal = re.search(r"the word (\w+) written", item.question).group(1)
            assert graded.COUNT_WORDS[sum(grid, []).count(animal) - 1] == item.answer
        elif family in ("grid_absent", "map_absent"):
            present = [o for o in item.options if o.lower() in sc.words(item.context)]
            assert len(present) == 3 and item.answer not in present


def test_balanced_blocks_answer_each_option_once_and_splits_are_disjoint():
    items = graded.graded_items(["grid_cell_balanced/3"], 16, seed=2)
    for b in range(0, 16, 4):
        block = items[b:b + 4]
        assert len({i.context for i in block}) == 1 and len({i.options for i in block}) == 1
        assert sorted(i.answer_index for i in block) == [0, 1, 2, 3]
    from scale_lib.data.spatial.items import layout_split

    for split in ("train", "val", "test"):
        for item in graded.graded_items(["grid_corner_balanced/2", "map_coord/3", "map_copy/2", "grid_absent/3"], 16, seed=3, split=split):
            assert layout_split(item.layout, graded.SPLIT_FRACTIONS) == split
    assert graded.shortcut_proof("map_coord/2") and not graded.shortcut_proof("map_copy/2")
    assert all(i.kind == "nonspatial" for i in graded.general_items()) and len(graded.general_items()) == 12


def test_bad_levels_and_splits_name_the_valid_choices():
    with pytest.raises(ValueError, match="unknown level family 'grid_diag'.*'grid_cell_balanced'"):
        graded.graded_items(["grid_diag/3"], 4)
    with pytest.raises(ValueError, match=r"size must be one of \[3, 4, 5\] for grid_absent"):
        graded.graded_items(["grid_absent/2"], 4)
    with pytest.raises(ValueError, match=r"unknown split 'dev'.*'train', 'val', 'test'"):
        graded.graded_items(["map_coord/2"], 4, split="dev")


# ------------------------------------------------------------------------------------------- the study helpers
@pytest.fixture(scope="module")
def word_tok():
    items = graded.graded_items(PROOF + list(rs.CONTROLS_THAT_CAN_FAIL) + ["map_copy/2", "grid_exists/3"], 30, seed=0) + graded.general_items()
    return word_tokenizer(items, set(graded.PLACES) | set(graded.CONTROL_ANIMALS) | {"Two", "words"})


@pytest.fixture(scope="module")
def tiny_lm(word_tok):
    return tiny_llama(word_tok)


def test_options_that_are_not_single_tokens_are_refused(word_tok):
    bad = graded.GradedItem("map_copy/2", "Bank", "?", ("Two words", "Bank", "Park", "Hotel"), 1, {})
    with pytest.raises(ValueError, match="option 'Two words' is 2 tokens"):
        encode_cloze([bad], word_tok)


def test_presence_bias_learns_to_pick_what_the_context_mentions(tiny_lm, word_tok):
    train = encode_cloze(graded.graded_items(["grid_exists/3"], 32, seed=1), word_tok)
    test = rs.Scorer(tiny_lm, encode_cloze(graded.graded_items(["grid_exists/3", "grid_absent/3"], 16, seed=2), word_tok))
    bias = rs.train_method(tiny_lm, "presence_bias", train, lr=0.3, steps=60, batch_size=8, seed=0)
    assert bias.weights.numel() == 1 and float(bias.weights.detach()[0]) > 0
    right = test.correct("presence_bias", bias)
    assert right[:16].mean() == 1.0 and right[16:].mean() == 0.0  # exactly the shortcut: wrong on every "not on the grid"
    freq = rs.train_method(tiny_lm, "frequency_bias", train, lr=0.3, steps=10, batch_size=8, seed=0)
    assert freq.weights.numel() == 2
    with pytest.raises(ValueError, match="unknown context bias 'colour'"):
        rs.ContextBias("colour")


def test_every_method_trains_and_scores_on_one_cache(tiny_lm, word_tok):
    levels = ["grid_cell_balanced/2", "map_copy/2"]
    trains = {s: encode_cloze(graded.graded_items(levels, 8, seed=s, split="train"), word_tok) for s in (10, 11)}
    test_batch = encode_cloze(graded.graded_items(levels + ["grid_absent/3"], 8, seed=300, split="test"), word_tok)
    test = rs.Scorer(tiny_lm, test_batch)
    lrs = {m: rs.LR_GRID[m][1] for m in rs.ALL_METHODS if m != "frozen"}
    correct, trained, extra = rs.run_methods(tiny_lm, trains, test, lrs, steps=2, batch_size=4, extra={"again": test}, progress=False)
    assert set(correct) == set(rs.ALL_METHODS) and list(correct["frozen"]) == [None] and list(correct["scale"]) == [10, 11]
    for m in rs.ALL_METHODS:
        for s, right in correct[m].items():
            assert right.shape == (24,) and torch.equal(right, extra["again"][m][s])
    # the cached last-token path agrees with the adapter's own full forward
    full = trained["scale", 10].correct(test_batch)
    assert torch.equal(full, correct["scale"][10])
    acc = rs.level_accuracy(correct, test_batch.levels)
    assert set(acc["scale"]) == set(levels + ["grid_absent/3"])
    chosen, scores = rs.choose_lr(tiny_lm, "calibration", trains[10], test, grid=(0.3, 0.1), steps=2, batch_size=4, seed=1)
    assert chosen in (0.1, 0.3) and list(scores) == [0.1, 0.3]
    with pytest.raises(ValueError, match="no learning rate for \\['scale'\\]"):
        rs.run_methods(tiny_lm, trains, test, {}, methods=("frozen", "scale"), steps=1, batch_size=4)
    with pytest.raises(ValueError, match="unknown methods \\['prompting'\\]"):
        rs.run_methods(tiny_lm, trains, test, lrs, methods=("prompting",), steps=1, batch_size=4)
    windows = torch.randint(2, len(word_tok), (6, 9))
    general = rs.Scorer(tiny_lm, encode_cloze(graded.general_items(), word_tok))
    for m in ("frozen", "scale", "lora_r1_last", "lora_r1"):
        out = rs.general_check(tiny_lm, m, trained.get((m, 10)), windows, general)
        assert out["loss"] > 0 and 0 <= out["accuracy"] <= 1
    assert rs.general_check(tiny_lm, "calibration", trained["calibration", 10], windows, general) == {"loss": None, "accuracy": None}


def test_hierarchical_bootstrap_resamples_draws_and_items():
    levels = ["a"] * 4 + ["b"] * 4
    ones, zeros = torch.ones(8), torch.zeros(8)
    assert rs.hierarchical_bootstrap({1: ones, 2: ones}, zeros, levels) == (1.0, 1.0, 1.0)
    mixed = {1: torch.tensor([1.0, 0, 1, 0, 1, 1, 0, 0]), 2: torch.tensor([1.0, 1, 1, 1, 0, 0, 0, 0])}
    mean, lo, hi = rs.hierarchical_bootstrap(mixed, zeros, levels, n_boot=500)
    assert mean == 0.5 and lo < 0.5 < hi
    assert rs.hierarchical_bootstrap(mixed, zeros, levels, rows=[True] * 4 + [False] * 4, n_boot=10)[0] == 0.75
    with pytest.raises(ValueError, match="must match"):
        rs.hierarchical_bootstrap(mixed, {1: ones, 2: ones, 3: ones}, levels)
    with pytest.raises(ValueError, match="7 levels for 8 test items"):
        rs.hierarchical_bootstrap(mixed, zeros, levels[:-1])
