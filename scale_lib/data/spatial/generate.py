"""Generators for the three synthetic SpatialEval tasks, with non-spatial questions on the same layouts.

* **Spatial-Map** — places on a square map, one per row and column, so every pair is in a diagonal
  direction. The text names the first place "in the map", relates the second to it and every later
  one to two earlier ones (SpatialEval's form). q0 direction of A relative to B; q1 which place is
  in a direction of B; q2 how many places are in a direction (diagonal or half-plane) of B.
* **Maze-Nav** — 7 × 7 blocks with the outer wall, a path from S to E through the 5 × 5 interior.
  Text is ASCII (``#`` wall, space open, ``X`` path). q0 right turns; q1 total turns; q2 yes/no
  where E lies relative to S.
* **Spatial-Grid** — 5 × 5 tiles of animals. q0 how many tiles hold an animal; q1 the animal in a
  corner; q2 the animal at row k, column j.

Non-spatial questions (``qtype`` ``colour``, ``count``, ``exist``) ask about the same images
without any spatial relation, so "non-spatial accuracy preserved" can be measured.

Everything is computed from the layout with a seeded ``random.Random``; :mod:`.checker`
re-derives every answer independently.

**Fidelity.** ``fidelity="spatialeval"`` (the default) follows the real benchmark where it is known:
Spatial-Map q2 asks about diagonal directions only; Maze-Nav paths are blue and may go straight
(0 turns); Spatial-Grid q1/q2 use the real wording ("the block located at the top-left corner (the
first row and the first column)"), q0 counts an animal that is on the grid; every Yes/No control is
balanced. ``fidelity="book-v1"`` reproduces, draw for draw, the items the book's tiny testbed was
trained on (N/S/E/W half-planes in map q2, paths that always turn and are coloured three ways, grid
existence questions ≈ 81 % "Yes"). Deviations that remain in both: see :data:`DEVIATIONS`.

In both, an item is emitted only in the modalities that can answer it (the colour of a map marker
or of a maze path is not in the text, so those controls are VQA/VTQA only: :func:`answerable`).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

from .items import MODALITIES, TASKS, SpatialItem, layout_split

__all__ = [
    "PLACES", "ANIMALS", "COLOURS", "DIRECTIONS", "DIAGONALS",
    "map_layout", "map_text", "maze_layout", "maze_text", "grid_layout", "grid_text",
    "direction_of", "in_direction", "path_turns", "generate_items", "generate_benchmark",
    "FIDELITIES", "DEVIATIONS", "answerable", "EXTRA_ANIMALS",
]

#: ``"spatialeval"``: the real benchmark's templates and distributions where known; ``"book-v1"``: the
#: items the tiny testbed was trained on (kept draw for draw so its checkpoints stay valid).
FIDELITIES = ("spatialeval", "book-v1")
#: Known differences from the real SpatialEval that remain with ``fidelity="spatialeval"``.
DEVIATIONS = {
    "map names": "12 plain place names (Bakery, Bank, ...) instead of the real whimsical shop names",
    "maze shape": "mazes are open cells around one simple path; the real mazes have corridors and dead ends",
    "grid wording": "Spatial-Grid q1/q2 wording follows the quoted fragment of the real template; the rest of the sentence is ours",
    "prompt": "SpatialItem.prompt(style='spatialeval') follows the real 'Please answer ... Available options:' form as quoted, not verified character by character",
    "controls": "the non-spatial controls (colour, count, existence) are the book's: the real benchmark has none",
    "maze control": "with fidelity='spatialeval' paths are always blue, so Maze-Nav has no non-spatial control",
}
#: Animals never drawn on a grid: the "No" answer of a balanced existence question when all five are present.
EXTRA_ANIMALS = ("horse", "lion")
_TEXT_BLIND = {("spatial_map", "colour"), ("spatial_map", "count"), ("maze_nav", "colour")}


def answerable(task: str, qtype: str, modality: str) -> bool:
    """Can ``modality`` answer this question? TQA sees only the text, which never states colours."""
    return not (modality == "tqa" and (task, qtype) in _TEXT_BLIND)

PLACES = ("Bakery", "Bank", "Cafe", "Cinema", "Garage", "Hotel", "Library", "Market", "Museum", "Park", "School", "Temple")
ANIMALS = ("cat", "dog", "elephant", "giraffe", "rabbit")
COLOURS = ("red", "blue", "green", "orange", "purple")
PATH_COLOURS = ("blue", "orange", "purple")  # never green (S) or red (E)
DIAGONALS = ("Northeast", "Northwest", "Southeast", "Southwest")
DIRECTIONS = DIAGONALS + ("North", "South", "East", "West")
MAP_SIZE, N_PLACES = 6, 6
ORDINALS = ("1st", "2nd", "3rd", "4th", "5th")


# ------------------------------------------------------------------------------------- Spatial-Map
def direction_of(a: tuple[int, int], b: tuple[int, int]) -> str:
    """Diagonal direction of point a relative to b; points are (row, col), north = up = smaller row."""
    (ra, ca), (rb, cb) = a, b
    if ra == rb or ca == cb:
        raise ValueError(f"{a} and {b} share a row or column: no diagonal direction")
    return ("North" if ra < rb else "South") + ("east" if ca > cb else "west")


def in_direction(a: tuple[int, int], b: tuple[int, int], direction: str) -> bool:
    """Is a in ``direction`` of b? Diagonals are quadrants; N/S/E/W are half-planes."""
    (ra, ca), (rb, cb) = a, b
    north, south, east, west = ra < rb, ra > rb, ca > cb, ca < cb
    table = {"North": north, "South": south, "East": east, "West": west, "Northeast": north and east,
             "Northwest": north and west, "Southeast": south and east, "Southwest": south and west}
    if direction not in table:
        raise ValueError(f"unknown direction {direction!r}; valid directions are {DIRECTIONS}")
    return table[direction]


def map_layout(rng: random.Random, *, n_places: int = N_PLACES, size: int = MAP_SIZE, names: tuple[str, ...] = PLACES) -> dict:
    """``n_places`` of ``names`` on a ``size`` × ``size`` map, one per row and column. The defaults are
    SpatialEval's; smaller maps are the easier levels of :mod:`scale_lib.data.spatial.graded` (the draws at
    the defaults are unchanged)."""
    if not 2 <= n_places <= min(size, len(names)):
        raise ValueError(f"n_places={n_places}: a map needs 2 to min(size={size}, {len(names)} names) places")
    names = rng.sample(names, n_places)
    rows, cols = rng.sample(range(size), n_places), rng.sample(range(size), n_places)
    colours = [rng.choice(COLOURS) for _ in names]
    places = [{"name": n, "row": r, "col": c, "colour": k} for n, r, c, k in zip(names, rows, cols, colours)]
    relations = []  # (subject, reference) index pairs, in text order
    for i in range(1, n_places):
        for j in sorted(rng.sample(range(i), 1 if i == 1 else 2)):
            relations.append((i, j))
    return {"task": "spatial_map", "size": size, "places": places, "relations": relations}


def map_text(layout: dict) -> str:
    places = layout["places"]
    pos = lambda i: (places[i]["row"], places[i]["col"])  # noqa: E731
    sentences = [f"{places[0]['name']} is in the map."]
    sentences += [f"{places[i]['name']} is to the {direction_of(pos(i), pos(j))} of {places[j]['name']}." for i, j in layout["relations"]]
    return "Consider a map with multiple objects: " + " ".join(sentences)


def _map_questions(layout: dict, rng: random.Random, fidelity: str = "spatialeval") -> Iterator[tuple[str, str, list[str], int]]:
    places = layout["places"]
    names = [p["name"] for p in places]
    pos = {p["name"]: (p["row"], p["col"]) for p in places}
    a, b = rng.sample(names, 2)
    options = list(DIAGONALS)
    rng.shuffle(options)
    yield "q0", f"In which direction is {a} relative to {b}?", options, options.index(direction_of(pos[a], pos[b]))
    for _ in range(20):  # q1 needs a direction with one place in it and three outside
        b, d = rng.choice(names), rng.choice(DIAGONALS)
        inside = [n for n in names if n != b and in_direction(pos[n], pos[b], d)]
        outside = [n for n in names if n != b and not in_direction(pos[n], pos[b], d)]
        if inside and len(outside) >= 3:
            options = [rng.choice(inside)] + rng.sample(outside, 3)
            rng.shuffle(options)
            correct = next(o for o in options if o in inside)
            yield "q1", f"Which object is in the {d} of {b}?", options, options.index(correct)
            break
    b, d = rng.choice(names), rng.choice(DIRECTIONS if fidelity == "book-v1" else DIAGONALS)
    count = sum(in_direction(pos[n], pos[b], d) for n in names if n != b)
    options = [str(count)] + [str(x) for x in rng.sample([x for x in range(N_PLACES) if x != count], 3)]
    rng.shuffle(options)
    yield "q2", f"How many objects are in the {d} of {b}?", options, options.index(str(count))
    # non-spatial: colour of a marker, how many markers of a colour, is a place on the map
    p = rng.choice(places)
    options = [p["colour"]] + rng.sample([c for c in COLOURS if c != p["colour"]], 3)
    rng.shuffle(options)
    yield "colour", f"What colour is the marker of {p['name']}?", options, options.index(p["colour"])
    colour = rng.choice(COLOURS)
    count = sum(q["colour"] == colour for q in places)
    options = [str(count)] + [str(x) for x in rng.sample([x for x in range(N_PLACES + 1) if x != count], 3)]
    rng.shuffle(options)
    yield "count", f"How many markers are {colour}?", options, options.index(str(count))
    name = rng.choice(PLACES)
    options = ["Yes", "No"]
    yield "exist", f"Is there a {name} on the map?", options, 0 if name in names else 1


# ------------------------------------------------------------------------------------- Maze-Nav
HEADINGS = {(-1, 0): "up", (0, 1): "right", (1, 0): "down", (0, -1): "left"}


def path_turns(path: list[tuple[int, int]]) -> tuple[int, int]:
    """(right turns, left turns) along a path of (row, col) cells; right = clockwise on screen."""
    moves = [(r2 - r1, c2 - c1) for (r1, c1), (r2, c2) in zip(path, path[1:])]
    right = left = 0
    for (dr, dc), nxt in zip(moves, moves[1:]):
        if nxt == (dc, -dr):
            right += 1
        elif nxt == (-dc, dr):
            left += 1
    return right, left


def maze_layout(rng: random.Random, fidelity: str = "spatialeval") -> dict:
    for _ in range(1000):
        start = (rng.randint(1, 5), rng.randint(1, 5))
        path = [start]
        for _ in range(rng.randint(4, 12)):
            r, c = path[-1]
            steps = [(r + dr, c + dc) for dr, dc in HEADINGS if 1 <= r + dr <= 5 and 1 <= c + dc <= 5]
            # keep the path a simple chain: the next cell touches no earlier cell but the current one
            steps = [s for s in steps if s not in path and sum(abs(s[0] - p[0]) + abs(s[1] - p[1]) == 1 for p in path) == 1]
            if not steps:
                break
            path.append(rng.choice(steps))
        if len(path) >= 4 and (sum(path_turns(path)) >= 1 or fidelity != "book-v1"):
            break
    path_set = set(path)
    open_cells = sorted(path_set | {(r, c) for r in range(1, 6) for c in range(1, 6) if rng.random() < 0.25})
    colour = rng.choice(PATH_COLOURS) if fidelity == "book-v1" else "blue"
    return {"task": "maze_nav", "path": [list(p) for p in path], "open": [list(p) for p in open_cells], "path_colour": colour}


def maze_text(layout: dict) -> str:
    grid = [["#"] * 7 for _ in range(7)]
    for r, c in layout["open"]:
        grid[r][c] = " "
    for r, c in layout["path"]:
        grid[r][c] = "X"
    (sr, sc), (er, ec) = layout["path"][0], layout["path"][-1]
    grid[sr][sc], grid[er][ec] = "S", "E"
    rows = "\n".join("".join(row) for row in grid)
    return ("This is a maze: '#' is a wall, a space is open, 'S' is the start, 'E' is the exit and "
            f"'X' marks the path from S to E.\n{rows}")


RELATIVE = {
    "directly to the left of": lambda dr, dc: dr == 0 and dc < 0,
    "directly to the right of": lambda dr, dc: dr == 0 and dc > 0,
    "directly above": lambda dr, dc: dc == 0 and dr < 0,
    "directly below": lambda dr, dc: dc == 0 and dr > 0,
    "to the top left of": lambda dr, dc: dr < 0 and dc < 0,
    "to the top right of": lambda dr, dc: dr < 0 and dc > 0,
    "to the bottom left of": lambda dr, dc: dr > 0 and dc < 0,
    "to the bottom right of": lambda dr, dc: dr > 0 and dc > 0,
}


def _count_options(value: int, rng: random.Random, high: int = 9) -> list[str]:
    options = [str(value)] + [str(x) for x in rng.sample([x for x in range(high + 1) if x != value], 3)]
    rng.shuffle(options)
    return options


def _maze_questions(layout: dict, rng: random.Random, fidelity: str = "spatialeval"):
    path = [tuple(p) for p in layout["path"]]
    right, left = path_turns(path)
    options = _count_options(right, rng)
    yield "q0", "How many right turns are there in the provided path from S to E?", options, options.index(str(right))
    options = _count_options(right + left, rng)
    yield "q1", "How many total turns are there in the provided path from S to E?", options, options.index(str(right + left))
    (sr, sc), (er, ec) = path[0], path[-1]
    truth = [k for k, f in RELATIVE.items() if f(er - sr, ec - sc)]
    # ask the true relation half of the time, a false one otherwise
    rel = rng.choice(truth) if truth and rng.random() < 0.5 else rng.choice([k for k in RELATIVE if k not in truth])
    extra = {"directly to": ", with no vertical displacement", "directly ab": ", with no horizontal displacement", "directly be": ", with no horizontal displacement"}.get(rel[:11], "")
    yield "q2", f"Is the exit (E) {rel} the starting point (S){extra}?", ["Yes", "No"], 0 if rel in truth else 1
    if fidelity != "book-v1":
        return  # every real path is blue: a colour question would have one answer
    colour = layout["path_colour"]
    options = [colour] + rng.sample([c for c in COLOURS if c != colour], 3)
    rng.shuffle(options)
    yield "colour", "What colour is the path?", options, options.index(colour)


# ------------------------------------------------------------------------------------- Spatial-Grid
def grid_layout(rng: random.Random, fidelity: str = "spatialeval", *, size: int = 5) -> dict:
    """A ``size`` × ``size`` grid of animals (SpatialEval's is 5 × 5; smaller grids are easier levels)."""
    if not 2 <= size <= 9:
        raise ValueError(f"size={size}: a grid is 2 × 2 to 9 × 9")
    kinds = rng.sample(ANIMALS, rng.randint(3, 5))  # some animals absent: existence questions vary
    return {"task": "spatial_grid", "grid": [[rng.choice(kinds) for _ in range(size)] for _ in range(size)]}


def grid_text(layout: dict) -> str:
    rows = "\n".join(" | ".join(row) for row in layout["grid"])
    n = len(layout["grid"])
    return f"Consider a {n} by {n} grid of animals, row by row from the top:\n{rows}"


CORNERS = {"top-left": (0, 0), "top-right": (0, 4), "bottom-left": (4, 0), "bottom-right": (4, 4)}
_ORDINAL_WORDS = {0: "first", 4: "last"}


def _grid_questions(layout: dict, rng: random.Random, fidelity: str = "spatialeval"):
    grid = layout["grid"]
    present = {a for row in grid for a in row}
    animal = rng.choice(ANIMALS) if fidelity == "book-v1" else rng.choice(sorted(present))  # real counts are never 0
    count = sum(row.count(animal) for row in grid)
    options = [str(count)] + [str(x) for x in rng.sample([x for x in range(26) if x != count and abs(x - count) <= 6], 3)]
    rng.shuffle(options)
    yield "q0", f"How many blocks contain {animal}?", options, options.index(str(count))
    corner = rng.choice(list(CORNERS))
    r, c = CORNERS[corner]
    options = _animal_options(grid[r][c], rng)
    if fidelity == "book-v1":
        q1 = f"What is the animal at the {corner} corner of the grid?"
    else:
        q1 = f"What is the animal in the block located at the {corner} corner (the {_ORDINAL_WORDS[r]} row and the {_ORDINAL_WORDS[c]} column) of the grid?"
    yield "q1", q1, options, options.index(grid[r][c])
    r, c = rng.randrange(5), rng.randrange(5)
    options = _animal_options(grid[r][c], rng)
    if fidelity == "book-v1":
        q2 = f"What is the animal at the {ORDINALS[r]} row, {ORDINALS[c]} column of the grid?"
    else:
        q2 = f"What is the animal in the block located at the {ORDINALS[r]} row and the {ORDINALS[c]} column of the grid?"
    yield "q2", q2, options, options.index(grid[r][c])
    if fidelity == "book-v1":
        animal = rng.choice(ANIMALS)
    elif rng.random() < 0.5:  # balanced: Yes half of the time
        animal = rng.choice(sorted(present))
    else:
        absent = [a for a in ANIMALS if a not in present]
        animal = rng.choice(absent or list(EXTRA_ANIMALS))
    yield "exist", f"Is there a {animal} in the grid?", ["Yes", "No"], 0 if animal in present else 1
    options = _count_options(len(present), rng, high=5)
    yield "count", "How many different kinds of animals are in the grid?", options, options.index(str(len(present)))


def _animal_options(correct: str, rng: random.Random) -> list[str]:
    options = [correct] + rng.sample([a for a in ANIMALS if a != correct], 3)
    rng.shuffle(options)
    return options


# ------------------------------------------------------------------------------------- benchmark
_TASKS = {
    "spatial_map": (map_layout, map_text, _map_questions),
    "maze_nav": (maze_layout, maze_text, _maze_questions),
    "spatial_grid": (grid_layout, grid_text, _grid_questions),
}


def generate_items(task: str, n_layouts: int, *, split: str = "test", seed: int = 0, modalities=MODALITIES, qtypes=None, identifiable_only: bool = False,
                   fidelity: str = "spatialeval") -> list[SpatialItem]:
    """Items for ``n_layouts`` layouts of ``task`` in ``split``: every question of each layout, in
    every modality asked for. Seeded; layouts are assigned to splits by a hash of their content, so
    splits never share a layout.

    Spatial-Map questions whose answer the text relations do not determine (SpatialEval's known
    flaw; see :func:`scale_lib.data.spatial.text_determines_answer`) carry the flag ``"text_ambiguous"``;
    ``identifiable_only=True`` leaves them out. A question is emitted only in the modalities that
    can answer it (:func:`answerable`). ``fidelity``: see the module docstring.
    """
    from .checker import (
        text_determines_answer,  # the checker stays independent of this module
    )
    if task not in _TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks are {TASKS}")
    if fidelity not in FIDELITIES:
        raise ValueError(f"unknown fidelity {fidelity!r}; valid choices are {FIDELITIES}")
    bad = [m for m in modalities if m not in MODALITIES]
    if bad:
        raise ValueError(f"unknown modalities {bad}; valid modalities are {MODALITIES}")
    make_layout, make_text, make_questions = _TASKS[task]
    rng = random.Random(f"{task}-{split}-{seed}")
    items, seen, tries = [], set(), 0
    while len(seen) < n_layouts:
        tries += 1
        if tries > 50 * n_layouts + 1000:
            raise RuntimeError(f"could not find {n_layouts} distinct {task} layouts for split {split!r}")
        layout = make_layout(rng) if task == "spatial_map" else make_layout(rng, fidelity)
        key = repr(layout)
        if key in seen or layout_split(layout) != split:
            continue
        seen.add(key)
        text = make_text(layout)
        for qtype, question, options, answer in make_questions(layout, rng, fidelity):
            if qtypes is not None and qtype not in qtypes:
                continue
            made = [SpatialItem(
                id=f"{task}/{split}/{len(seen) - 1}/{qtype}/{modality}", task=task, qtype=qtype, modality=modality,
                description=text, question=question, options=tuple(options), answer_index=answer, layout=layout, split=split,
            ) for modality in modalities if answerable(task, qtype, modality)]
            if made and not text_determines_answer(made[0]):
                if identifiable_only:
                    continue
                made = [dataclasses.replace(m, flags=("text_ambiguous",)) for m in made]
            items.extend(made)
    return items


def generate_benchmark(n_layouts: int = 100, *, split: str = "test", seed: int = 0, tasks=TASKS, modalities=MODALITIES, qtypes=None, identifiable_only: bool = False,
                       fidelity: str = "spatialeval") -> list[SpatialItem]:
    """Items of every task (``n_layouts`` layouts each) — see :func:`generate_items`."""
    return [item for task in tasks for item in generate_items(task, n_layouts, split=split, seed=seed, modalities=modalities, qtypes=qtypes,
                                                              identifiable_only=identifiable_only, fidelity=fidelity)]
