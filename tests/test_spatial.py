"""The SpatialEval-style benchmark: generator, independent checker, splits, scorers, rendering."""

import collections
import dataclasses

import numpy as np
import pytest

from scale_lib.data import spatial
from scale_lib.data.spatial import SpatialItem


@pytest.fixture(scope="module")
def many():
    return spatial.generate_benchmark(1000, modalities=("tqa",))  # 3-5 TQA questions per layout: >= 3,000 items per task


def test_checker_agrees_with_generator_on_thousands_of_items(many):
    per_task = collections.Counter(i.task for i in many)
    assert min(per_task.values()) >= 3000
    assert spatial.check_items(many) == []


def test_checker_catches_a_wrong_answer(many):
    item = many[0]
    wrong = dataclasses.replace(item, answer_index=(item.answer_index + 1) % len(item.options))
    problems = spatial.check_items([item, wrong])
    assert len(problems) == 1 and wrong.id in problems[0] and "stored answer" in problems[0]
    with pytest.raises(ValueError, match="1 inconsistent benchmark item"):
        spatial.validate_items([wrong])


def test_generation_is_deterministic_and_splits_are_disjoint():
    a = spatial.generate_items("maze_nav", 30, split="train", seed=3)
    b = spatial.generate_items("maze_nav", 30, split="train", seed=3)
    assert [i.prompt() for i in a] == [i.prompt() for i in b]
    layouts = {s: {repr(i.layout) for i in spatial.generate_benchmark(60, split=s, modalities=("tqa",))} for s in spatial.SPLITS}
    assert not (layouts["train"] & layouts["val"]) and not (layouts["train"] & layouts["test"]) and not (layouts["val"] & layouts["test"])
    assert all(spatial.layout_split(i.layout) == "train" for i in a)


def test_answers_are_placed_uniformly_and_every_question_type_exists(many):
    spatial_items = [i for i in many if i.kind == "spatial" and len(i.options) == 4]
    counts = collections.Counter(i.answer_index for i in spatial_items)
    assert min(counts.values()) > 0.2 * len(spatial_items)
    kinds = {(i.task, i.qtype) for i in many}
    for task in spatial.TASKS:
        assert {(task, q) for q in ("q0", "q1", "q2")} <= kinds
    assert {i.qtype for i in many if i.kind == "nonspatial"} == {"count", "exist"}  # TQA: colours are not in the text
    assert any(len(i.options) == 2 for i in many if i.task == "maze_nav" and i.qtype == "q2")


def test_modalities_show_the_right_text():
    items = spatial.generate_items("spatial_grid", 1)
    by_mod = {i.modality: i for i in items if i.qtype == "q1"}
    assert "|" in by_mod["tqa"].prompt() and "|" in by_mod["vtqa"].prompt()
    assert "|" not in by_mod["vqa"].prompt() and by_mod["vqa"].has_image and not by_mod["tqa"].has_image


def test_ambiguous_map_text_is_flagged_and_can_be_excluded():
    items = spatial.generate_items("spatial_map", 80, modalities=("tqa",))
    flagged = [i for i in items if "text_ambiguous" in i.flags]
    assert flagged and all(i.kind == "spatial" and not spatial.text_determines_answer(i) for i in flagged)
    clean = spatial.generate_items("spatial_map", 80, modalities=("tqa",), identifiable_only=True)
    assert all(spatial.text_determines_answer(i) for i in clean) and len(clean) == len(items) - len(flagged)


def test_text_determination_on_a_hand_written_case():
    layout = {"task": "spatial_map", "size": 6, "relations": [], "places": [
        {"name": "Bank", "row": 0, "col": 0, "colour": "red"}, {"name": "Cafe", "row": 1, "col": 1, "colour": "red"},
        {"name": "Park", "row": 2, "col": 2, "colour": "red"}]}
    text = "Consider a map with multiple objects: Bank is in the map. Cafe is to the Southeast of Bank. Park is to the Southeast of Cafe."
    ask = lambda q: SpatialItem("x", "spatial_map", "q0", "tqa", text, q, ("Northeast", "Northwest", "Southeast", "Southwest"), 2, layout)  # noqa: E731
    assert spatial.text_determines_answer(ask("In which direction is Park relative to Bank?"))  # by transitivity
    assert spatial.derive_answer(ask("In which direction is Park relative to Bank?")) == "Southeast"
    text2 = "Consider a map with multiple objects: Bank is in the map. Cafe is to the Southeast of Bank. Park is to the Southeast of Bank."
    item = SpatialItem("y", "spatial_map", "q0", "tqa", text2, "In which direction is Park relative to Cafe?", ("Northeast", "Northwest", "Southeast", "Southwest"), 2, layout)
    assert not spatial.text_determines_answer(item)


def test_maze_turns_on_a_hand_written_path():
    layout = {"task": "maze_nav", "path": [[5, 3], [5, 2], [5, 1], [4, 1], [3, 1], [2, 1], [2, 2], [2, 3]], "open": [], "path_colour": "blue"}
    text = spatial.generate.maze_text(layout)
    right = SpatialItem("m", "maze_nav", "q0", "tqa", text, "How many right turns are there in the provided path from S to E?", ("0", "1", "2", "3"), 2, layout)
    total = dataclasses.replace(right, question="How many total turns are there in the provided path from S to E?")
    # left, left, up, up, up, right, right: left->up and up->right are both clockwise
    assert spatial.derive_answer(right) == "2" and spatial.derive_answer(total) == "2"


@pytest.mark.parametrize("field, value, match", [
    ("answer_index", 4, r"answer_index 4 is out of range for 4 options \(0\.\.3\)"),
    ("options", ("A",), "has 1 options"),
    ("options", ("x", "x", "y", "z"), "options repeat"),
    ("task", "spatial_real", r"unknown task 'spatial_real'.*spatial_map"),
    ("modality", "audio", r"unknown modality 'audio'.*tqa"),
    ("question", "  ", "empty question"),
])
def test_malformed_items_are_rejected(field, value, match):
    item = spatial.generate_items("spatial_grid", 1, modalities=("tqa",))[0]
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(item, **{field: value})


@pytest.mark.parametrize("response, letter", [
    ("B", "B"), ("b", "B"), (" (B) ", "B"), ("B. Northeast", "B"), ("Answer: b", "B"), ("The answer is B.", "B"),
    ("I think it is B", None), ("", None), ("E", None), ("a cat", None), ("Northeast", None),
])
def test_strict_scorer(response, letter):
    assert spatial.strict_letter(response) == letter


def test_lenient_scorer_reads_free_text():
    items = {i.qtype: i for i in spatial.generate_items("spatial_grid", 1, modalities=("tqa",))}
    q1 = items["q1"]
    assert spatial.score_lenient(f"It looks like a {q1.answer} to me.", q1)
    q0 = items["q0"]
    assert spatial.score_lenient(f"There are {q0.answer} of them", q0)
    words = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five"}
    if q0.answer in words:
        assert spatial.score_lenient(f"I count {words[q0.answer]}.", q0)
    exist = items["exist"]
    assert spatial.score_lenient(f"{exist.answer}, definitely", exist)
    assert spatial.lenient_choice("no idea", q1) is None
    with pytest.raises(TypeError, match="must be a str"):
        spatial.strict_letter(None)


@pytest.mark.parametrize("task", spatial.TASKS)
def test_render_any_size(task):
    item = spatial.generate_items(task, 1, modalities=("vqa",))[0]
    for cell in (8, 16, 64):
        img = spatial.render(item.layout, cell)
        assert img.dtype == np.uint8 and img.shape[2] == 3 and img.shape[0] % cell == 0
    tiny = spatial.render(item.layout, 8)
    assert len(np.unique(tiny.reshape(-1, 3), axis=0)) >= 3
    with pytest.raises(ValueError, match="too small"):
        spatial.render(item.layout, 2)


def test_distinct_places_have_distinct_icons():
    from scale_lib.data.spatial.generate import ANIMALS, PLACES
    from scale_lib.data.spatial.render import ICON_SHAPES
    for group in (PLACES, ANIMALS):
        masks = [ICON_SHAPES[n].tobytes() for n in group]
        assert len(set(masks)) == len(group)


def test_load_spatialeval_offline_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises((ConnectionError, ImportError), match="generate_benchmark|datasets"):
        spatial.load_spatialeval("tqa")
    with pytest.raises(ValueError, match="unknown modality 'text'"):
        spatial.load_spatialeval("text")


def test_unknown_task_and_modality_in_generation():
    with pytest.raises(ValueError, match="unknown task 'maze'"):
        spatial.generate_items("maze", 1)
    with pytest.raises(ValueError, match=r"unknown modalities \['audio'\]"):
        spatial.generate_items("maze_nav", 1, modalities=("audio",))
