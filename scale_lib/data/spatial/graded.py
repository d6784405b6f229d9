"""Text-only spatial questions at graded difficulty, in **cloze** form, for a small real LLM.

SpatialEval's sizes (a 6-place map, a 5 × 5 grid) put a 135 M-parameter model at chance, so a
study of "latent skill" on it needs easier levels where the model is partly right. This module
builds them from the benchmark's own layouts (:func:`~scale_lib.data.spatial.generate.map_layout`,
:func:`~scale_lib.data.spatial.generate.grid_layout`, with their size parameters) and asks:

=================  ==========================================================================  ===========
level family       question                                                                    options
=================  ==========================================================================  ===========
``map_copy``       the direction of A from B, where the text states "A is to the D of B"       4 diagonals
``map_invert``     the direction of B from A, for the same stated relation (answer: opposite)  4 diagonals
``grid_corner``    the animal in a named corner of the grid                                    4 animals
``grid_cell``      the animal at row r, column c                                               4 animals
``map_exists``     *non-spatial control*: which of four places is on the map                   4 places
``grid_exists``    *non-spatial control*: which of four animals is on the grid                 4 animals
=================  ==========================================================================  ===========

These levels are **shortcut-prone**: a reader of words alone answers many of them (copy the only
direction word of ``map_copy/2``; pick the animal that occurs most often in a 2 × 2 grid; pick the
option that appears in the context for both controls; see :mod:`scale_lib.scaling.shortcuts`). The book
keeps them as the contrast. The **shortcut-proof** levels below defeat the whole battery of
:mod:`scale_lib.scaling.shortcuts` by construction:

==========================  ====================================================================  ===========
level family                question                                                              options
==========================  ====================================================================  ===========
``grid_corner_balanced``    the animal in a named corner; the four corners hold the four           4 animals
                            options, and every option occurs equally often in the grid
``grid_cell_balanced``      the animal at row r, column c, in a grid where every option occurs     4 animals
                            equally often
``map_coord``               the direction of A from B, where the text gives each place's row      4 diagonals
                            and column and states no direction at all
``grid_absent``             *control a presence amplifier gets wrong*: which animal is **not**    4 animals
                            on the grid (three options are on it)
``map_absent``              *control a presence amplifier gets wrong*: which place is **not** on   4 places
                            the map
``grid_count``              *control no word-level shortcut answers*: how many times an animal    one … four
                            is written in the grid
==========================  ====================================================================  ===========

Balanced levels are generated in **blocks of four items** that share one option list and whose
answers are the four options once each (and, for ``grid_*_balanced``, one grid): any rule that
ignores the asked position — and every heuristic of the battery does — scores exactly chance on a
whole block. ``n`` that is a multiple of 4 keeps the balance exact.

``graded_items(..., split="train" | "val" | "test")`` keeps only items whose layout hashes into that
split (:func:`scale_lib.data.spatial.items.layout_split`, fractions :data:`SPLIT_FRACTIONS`), so a test
item's layout is never seen in training.

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

from .generate import (
    ANIMALS,
    DIAGONALS,
    direction_of,
    grid_layout,
    grid_text,
    map_layout,
    map_text,
)
from .items import SPLITS, layout_split

__all__ = ["PLACES", "GradedItem", "FAMILIES", "SPATIAL_FAMILIES", "CONTROL_FAMILIES", "PROMPT", "OPPOSITE", "CONTROL_ANIMALS",
           "parse_level", "graded_items", "level_name", "SHORTCUT_PROOF_FAMILIES", "SHORTCUT_PRONE_FAMILIES", "BALANCED_FAMILIES",
           "SPLIT_FRACTIONS", "COUNT_WORDS", "shortcut_proof", "general_items"]

#: The cloze prompt: context, question, and the answer word is scored right after "Answer:".
PROMPT = "{context}\nQuestion: {question}\nAnswer:"
SPATIAL_FAMILIES = ("map_copy", "map_invert", "grid_corner", "grid_cell", "grid_corner_balanced", "grid_cell_balanced", "map_coord")
CONTROL_FAMILIES = ("map_exists", "grid_exists", "grid_absent", "map_absent", "grid_count")
FAMILIES = SPATIAL_FAMILIES + CONTROL_FAMILIES
#: Families built to defeat every heuristic of :mod:`scale_lib.scaling.shortcuts` (spatial ones, and the control no shortcut answers).
SHORTCUT_PROOF_FAMILIES = ("grid_corner_balanced", "grid_cell_balanced", "map_coord", "grid_count")
#: The first levels of the book: kept as the shortcut-prone contrast.
SHORTCUT_PRONE_FAMILIES = ("map_copy", "map_invert", "grid_corner", "grid_cell", "map_exists", "grid_exists")
#: Families generated in blocks of four items whose answers are the four options once each.
BALANCED_FAMILIES = ("grid_corner_balanced", "grid_cell_balanced", "map_coord", "grid_count")
#: Train / validation / test fractions of the layout hash split of graded items.
SPLIT_FRACTIONS = (0.5, 0.25, 0.25)
#: The options of ``grid_count`` (one token each after a space for SmolLM2's tokenizer).
COUNT_WORDS = ("one", "two", "three", "four")
OPPOSITE = {"Northeast": "Southwest", "Southwest": "Northeast", "Northwest": "Southeast", "Southeast": "Northwest"}
#: Place names that are one token after a space for SmolLM2's tokenizer (SpatialEval-style plain names;
#: Bakery, Cafe and Garage are two tokens, so the graded maps use these instead).
PLACES = ("Bank", "Cinema", "Hotel", "Library", "Market", "Museum", "Park", "School", "Temple", "Church", "Hospital", "Station")
#: Animals that never appear on a grid: the wrong options of ``grid_exists``.
CONTROL_ANIMALS = ("horse", "lion", "pig", "cow")
_SIZES = {"map": range(2, 7), "grid": range(2, 6)}
_FAMILY_SIZES = {"grid_absent": range(3, 6), "grid_count": range(3, 6), "map_absent": range(4, 7)}
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
        return "spatial" if self.family in SPATIAL_FAMILIES else "nonspatial"

    @property
    def shortcut_proof(self) -> bool:
        """Built so that no heuristic of :mod:`scale_lib.scaling.shortcuts` beats chance (see :func:`shortcut_proof`)."""
        return self.family in SHORTCUT_PROOF_FAMILIES

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
    sizes = _FAMILY_SIZES.get(family, _SIZES[family.split("_")[0]])
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


def _balanced_grid_block(family: str, size: int, rng: random.Random) -> list[GradedItem]:
    """One grid in which the four options occur equally often; four questions whose answers are the four options."""
    options = rng.sample(ANIMALS, 4)
    filler = [a for a in ANIMALS if a not in options]
    cells = [(r, c) for r in range(size) for c in range(size)]
    per, rest = divmod(size * size, 4)
    grid = [[""] * size for _ in range(size)]
    if family == "grid_corner_balanced":
        corners = [(0, 0), (0, size - 1), (size - 1, 0), (size - 1, size - 1)]
        for (r, c), animal in zip(corners, rng.sample(options, 4)):
            grid[r][c] = animal
        pool = [a for a in options for _ in range(per - 1)] + [rng.choice(filler) for _ in range(rest)]
        free = [rc for rc in cells if rc not in corners]
    else:
        pool = [a for a in options for _ in range(per)] + [rng.choice(filler) for _ in range(rest)]
        free = cells
    rng.shuffle(pool)
    for (r, c), animal in zip(free, pool):
        grid[r][c] = animal
    layout = {"task": "spatial_grid", "grid": grid}
    context = grid_text(layout)
    rng.shuffle(options)
    out = []
    for answer in options:
        where = [(r, c) for r, c in cells if grid[r][c] == answer]
        if family == "grid_corner_balanced":
            (r, c), = [rc for rc in where if rc in corners]
            corner = _CORNER_NAMES[corners.index((r, c))]
            question = f"What animal is in the {corner} corner of the grid?"
        else:
            r, c = rng.choice(where)
            question = f"What animal is in row {r + 1}, column {c + 1} of the grid?"
        out.append(GradedItem(level_name(family, size), context, question, tuple(options), options.index(answer), layout))
    return out


def coord_text(layout: dict) -> str:
    """A map given by coordinates only: no direction word appears."""
    places = layout["places"]
    said = " ".join(f"{p['name']} is at row {p['row'] + 1}, column {p['col'] + 1}." for p in places)
    return (f"Consider a map with multiple objects, each at a row and a column; row 1 is the top row and column 1 the "
            f"leftmost column: {said}")


def _map_coord_block(family: str, size: int, rng: random.Random) -> list[GradedItem]:
    """Four direction questions whose answers are the four diagonals once each, on maps stated by coordinates."""
    out = []
    targets = list(DIAGONALS)
    rng.shuffle(targets)
    for target in targets:
        while True:
            layout = map_layout(rng, n_places=size, size=size, names=PLACES)
            places = layout["places"]
            pairs = [(a, b) for a in places for b in places if a is not b
                     and direction_of((a["row"], a["col"]), (b["row"], b["col"])) == target]
            if pairs:
                break
        a, b = rng.choice(pairs)
        question = f"In which direction is {a['name']} from {b['name']}?"
        out.append(GradedItem(level_name(family, size), coord_text(layout), question, DIAGONALS, DIAGONALS.index(target), layout))
    return out


def _count_block(family: str, size: int, rng: random.Random) -> list[GradedItem]:
    """Four counting questions (answers one, two, three, four once each), each on its own grid."""
    out = []
    counts = [1, 2, 3, 4]
    rng.shuffle(counts)
    for count in counts:
        target = rng.choice(ANIMALS)
        others = [a for a in ANIMALS if a != target]
        pool = [target] * count + [rng.choice(others) for _ in range(size * size - count)]
        rng.shuffle(pool)
        layout = {"task": "spatial_grid", "grid": [pool[r * size:(r + 1) * size] for r in range(size)]}
        question = f"How many times is the word {target} written in the grid?"
        out.append(GradedItem(level_name(family, size), grid_text(layout), question, COUNT_WORDS, count - 1, layout))
    return out


def _absent_item(family: str, size: int, rng: random.Random) -> GradedItem:
    """Which option is not in the context: three options are, one is not."""
    if family == "map_absent":
        layout = map_layout(rng, n_places=size, size=size, names=PLACES)
        present = [p["name"] for p in layout["places"]]
        absent = rng.choice([p for p in PLACES if p not in present])
        options, k = _shuffled(absent, rng.sample(present, 3), rng)
        return GradedItem(level_name(family, size), map_text(layout), "Which of these places is not on the map?", options, k, layout)
    kinds = rng.sample(ANIMALS, 4)
    present, absent = kinds[:3], kinds[3]
    pool = present + [rng.choice(present) for _ in range(size * size - 3)]
    rng.shuffle(pool)
    layout = {"task": "spatial_grid", "grid": [pool[r * size:(r + 1) * size] for r in range(size)]}
    options, k = _shuffled(absent, present, rng)
    return GradedItem(level_name(family, size), grid_text(layout), "Which of these animals is not on the grid?", options, k, layout)


_BLOCKS = {"grid_corner_balanced": _balanced_grid_block, "grid_cell_balanced": _balanced_grid_block, "map_coord": _map_coord_block,
           "grid_count": _count_block}


def shortcut_proof(level: str) -> bool:
    """Is ``level`` one of the shortcut-proof families (:data:`SHORTCUT_PROOF_FAMILIES`)?"""
    return parse_level(level)[0] in SHORTCUT_PROOF_FAMILIES


def graded_items(levels, n: int, *, seed: int = 0, split: str | None = None) -> list[GradedItem]:
    """``n`` items of each level, from one seeded generator per level (adding a level never changes another's items).

    ``split``: keep only items whose layout hashes into ``"train"``, ``"val"`` or ``"test"``
    (:data:`SPLIT_FRACTIONS`); ``None`` keeps every draw (the book's first chapters). Balanced
    families are drawn in blocks of four (see the module docstring); a block is kept or dropped
    whole by the split (a grid block shares its layout; a map block is kept when all four of its
    layouts fall in the split).

    >>> items = graded_items(["map_copy/2", "grid_cell_balanced/3", "grid_exists/3"], 64, seed=1, split="test")
    """
    if isinstance(levels, str):
        levels = [levels]
    if n < 1:
        raise ValueError(f"n={n}: need at least one item per level")
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits are {SPLITS} or None")

    def keep(item: GradedItem) -> bool:
        return split is None or layout_split(item.layout, SPLIT_FRACTIONS) == split

    out = []
    for level in levels:
        family, size = parse_level(level)
        rng = random.Random(f"graded/{level}/{seed}" + ("" if split is None else f"/{split}"))
        got: list[GradedItem] = []
        for _ in range(1000 * n):
            if len(got) >= n:
                break
            if family in _BLOCKS:
                block = _BLOCKS[family](family, size, rng)
                if all(keep(i) for i in block):
                    got += block
            else:
                make = _absent_item if family in ("grid_absent", "map_absent") else _map_item if family.startswith("map") else _grid_item
                item = make(family, size, rng)
                if keep(item):
                    got.append(item)
        if len(got) < n:
            raise ValueError(f"could not draw {n} items of {level!r} in split {split!r}")
        out += got[:n]
    return out


#: Plain questions with one-token answers: a general-capability check under an adapter (not spatial, not on a grid or map).
_GENERAL = (
    ("The capital of France is Paris. The capital of Italy is", ("Rome", "Paris", "London", "Berlin"), 0),
    ("Water freezes at zero degrees. Ice is frozen", ("water", "fire", "sand", "stone"), 0),
    ("Monday, Tuesday, Wednesday,", ("Thursday", "Sunday", "Monday", "Friday"), 0),
    ("One, two, three, four,", ("five", "nine", "one", "seven"), 0),
    ("The opposite of hot is", ("cold", "warm", "big", "red"), 0),
    ("A baby cat is called a", ("kitten", "puppy", "calf", "lamb"), 0),
    ("The sun rises in the", ("east", "west", "north", "south"), 0),
    ("Bread is made from", ("flour", "glass", "iron", "paper"), 0),
    ("The colour of the sky on a clear day is", ("blue", "green", "red", "black"), 0),
    ("January, February, March,", ("April", "June", "May", "December"), 0),
    ("A cow gives us", ("milk", "wood", "gold", "salt"), 0),
    ("You write with a", ("pen", "spoon", "shoe", "cup"), 0),
)


def general_items(*, seed: int = 0) -> list[GradedItem]:
    """Twelve plain questions (capitals, days, opposites, …) in the same cloze form, options shuffled by ``seed``."""
    rng = random.Random(f"general/{seed}")
    out = []
    for context, options, k in _GENERAL:
        opts, idx = _shuffled(options[k], [o for i, o in enumerate(options) if i != k], rng)
        out.append(GradedItem("general", context, "Complete the sentence.", opts, idx, {"task": "general", "text": context}))
    return out
