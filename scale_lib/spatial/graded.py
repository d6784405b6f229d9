"""Text-only spatial questions at graded difficulty, in **cloze** form, for a small real LLM.

SpatialEval's sizes (a 6-place map, a 5 × 5 grid) put a 135 M-parameter model at chance, so a
study of "latent skill" on it needs easier levels where the model is partly right. This module
builds them from the benchmark's own layouts (:func:`~scale_lib.spatial.generate.map_layout`,
:func:`~scale_lib.spatial.generate.grid_layout`, with their size parameters) and asks:

=================  ==========================================================================  =========
level family       question                                                                    options
=================  ==========================================================================  =========
``map_copy``       the direction of A from B, where the text states "A is to the D of B"       4 diagonals
``map_invert``     the direction of B from A, for the same stated relation (answer: opposite)  4 diagonals
``grid_corner``    the animal in a named corner of the grid                                    4 animals
``grid_cell``      the animal at row r, column c                                               4 animals
``map_exists``     *non-spatial control*: which of four places is on the map                   4 places
``grid_exists``    *non-spatial control*: which of four animals is on the grid                 4 animals
=================  ==========================================================================  =========

A level is a family and a size, e.g. ``"map_copy/4"`` (4 places on a 4 × 4 map) or
``"grid_cell/3"`` (a 3 × 3 grid). Every option is one word that the tokenizer turns into one
token after a space, so **cloze scoring** — the option whose first token is likeliest after
``"Answer:"``, as lm-evaluation-harness scores small models — reads one logit per option, and the
prefix-cached ScAle trainer applies unchanged. :data:`PROMPT` is the template; wording moves a
small model's accuracy a lot, so the chapter prints it next to every number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .generate import ANIMALS, DIAGONALS, direction_of, grid_layout, grid_text, map_layout, map_text

__all__ = ["PLACES", "GradedItem", "FAMILIES", "SPATIAL_FAMILIES", "CONTROL_FAMILIES", "PROMPT", "OPPOSITE", "CONTROL_ANIMALS",
           "parse_level", "graded_items", "level_name"]

#: The cloze prompt: context, question, and the answer word is scored right after "Answer:".
PROMPT = "{context}\nQuestion: {question}\nAnswer:"
SPATIAL_FAMILIES = ("map_copy", "map_invert", "grid_corner", "grid_cell")
CONTROL_FAMILIES = ("map_exists", "grid_exists")
FAMILIES = SPATIAL_FAMILIES + CONTROL_FAMILIES
OPPOSITE = {"Northeast": "Southwest", "Southwest": "Northeast", "Northwest": "Southeast", "Southeast": "Northwest"}
#: Place names that are one token after a space for SmolLM2's tokenizer (SpatialEval-style plain names;
#: Bakery, Cafe and Garage are two tokens, so the graded maps use these instead).
PLACES = ("Bank", "Cinema", "Hotel", "Library", "Market", "Museum", "Park", "School", "Temple", "Church", "Hospital", "Station")
#: Animals that never appear on a grid: the wrong options of ``grid_exists``.
CONTROL_ANIMALS = ("horse", "lion", "pig", "cow")
_SIZES = {"map": range(2, 7), "grid": range(2, 6)}
_CORNER_NAMES = ("top-left", "top-right", "bottom-left", "bottom-right")


@dataclass(frozen=True)
class GradedItem:
    """One cloze question. ``options[answer_index]`` is right; ``kind`` is spatial or nonspatial."""

    level: str
    context: str
    question: str
    options: tuple[str, ...]
    answer_index: int
    layout: dict = field(repr=False, compare=False, hash=False)

    def __post_init__(self):
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"{self.level}: options repeat: {self.options}")
        if not 0 <= self.answer_index < len(self.options):
            raise ValueError(f"{self.level}: answer_index {self.answer_index} out of range for {len(self.options)} options")

    @property
    def family(self) -> str:
        return self.level.split("/")[0]

    @property
    def qtype(self) -> str:
        """The level, under the name the book's comparison tables group by."""
        return self.level

    @property
    def kind(self) -> str:
        return "nonspatial" if self.family in CONTROL_FAMILIES else "spatial"

    @property
    def answer(self) -> str:
        return self.options[self.answer_index]

    def prompt(self) -> str:
        return PROMPT.format(context=self.context, question=self.question)


def level_name(family: str, size: int) -> str:
    return f"{family}/{size}"


def parse_level(level: str) -> tuple[str, int]:
    """``"grid_cell/3"`` → ``("grid_cell", 3)``, with an error naming the valid families and sizes."""
    family, _, size = level.partition("/")
    if family not in FAMILIES:
        raise ValueError(f"unknown level family {family!r} in {level!r}; valid families are {FAMILIES}")
    sizes = _SIZES[family.split("_")[0]]
    if not size.isdigit() or int(size) not in sizes:
        raise ValueError(f"level {level!r}: size must be one of {list(sizes)} for {family} (e.g. '{family}/{sizes[0]}')")
    return family, int(size)


def _shuffled(correct: str, wrong: list[str], rng: random.Random) -> tuple[tuple[str, ...], int]:
    options = [correct] + wrong
    rng.shuffle(options)
    return tuple(options), options.index(correct)


def _map_item(family: str, size: int, rng: random.Random) -> GradedItem:
    layout = map_layout(rng, n_places=size, size=size, names=PLACES)
    places = layout["places"]
    context = map_text(layout)
    if family == "map_exists":
        present = rng.choice(places)["name"]
        absent = rng.sample([p for p in PLACES if p not in {q["name"] for q in places}], 3)
        options, k = _shuffled(present, absent, rng)
        return GradedItem(level_name(family, size), context, "Which of these places is on the map?", options, k, layout)
    i, j = rng.choice(layout["relations"])
    a, b = places[i], places[j]
    stated = direction_of((a["row"], a["col"]), (b["row"], b["col"]))
    if family == "map_copy":
        question, answer = f"In which direction is {a['name']} from {b['name']}?", stated
    else:
        question, answer = f"In which direction is {b['name']} from {a['name']}?", OPPOSITE[stated]
    options, k = _shuffled(answer, [d for d in DIAGONALS if d != answer], rng)
    options_in_order = tuple(sorted(options, key=DIAGONALS.index))  # directions always listed in one order
    return GradedItem(level_name(family, size), context, question, options_in_order, options_in_order.index(answer), layout)


def _grid_item(family: str, size: int, rng: random.Random) -> GradedItem:
    layout = grid_layout(rng, size=size)
    grid = layout["grid"]
    context = grid_text(layout)
    if family == "grid_exists":
        present = rng.choice(sorted({a for row in grid for a in row}))
        options, k = _shuffled(present, rng.sample(CONTROL_ANIMALS, 3), rng)
        return GradedItem(level_name(family, size), context, "Which of these animals is on the grid?", options, k, layout)
    if family == "grid_corner":
        corner = rng.choice(_CORNER_NAMES)
        r, c = (0 if corner.startswith("top") else size - 1), (0 if corner.endswith("left") else size - 1)
        question = f"What animal is in the {corner} corner of the grid?"
    else:
        r, c = rng.randrange(size), rng.randrange(size)
        question = f"What animal is in row {r + 1}, column {c + 1} of the grid?"
    correct = grid[r][c]
    options, k = _shuffled(correct, rng.sample([a for a in ANIMALS if a != correct], 3), rng)
    return GradedItem(level_name(family, size), context, question, options, k, layout)


def graded_items(levels, n: int, *, seed: int = 0) -> list[GradedItem]:
    """``n`` items of each level, from one seeded generator per level (adding a level never changes another's items).

    >>> items = graded_items(["map_copy/2", "grid_cell/3", "grid_exists/3"], 64, seed=1)
    """
    if isinstance(levels, str):
        levels = [levels]
    if n < 1:
        raise ValueError(f"n={n}: need at least one item per level")
    out = []
    for level in levels:
        family, size = parse_level(level)
        rng = random.Random(f"graded/{level}/{seed}")
        make = _map_item if family.startswith("map") else _grid_item
        out += [make(family, size, rng) for _ in range(n)]
    return out
