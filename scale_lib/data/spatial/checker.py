"""An independent checker: re-derives every answer from the item's text (or, for images-only
facts, from the layout's coordinates) without calling the generator's code, and tells whether a
Spatial-Map text description actually determines the answer.

    >>> problems = check_items(items)      # [] when every answer re-derives
    >>> validate_items(items)              # raises ValueError naming the bad items
"""

from __future__ import annotations

import re
from itertools import product

from .items import SpatialItem

__all__ = ["derive_answer", "check_items", "validate_items", "text_determines_answer", "parse_map_relations", "parse_maze", "parse_grid"]

_UNIT = {"North": (-1, 0), "South": (1, 0), "East": (0, 1), "West": (0, -1)}


def _split_direction(d: str) -> list[tuple[int, int]]:
    """'Southwest' -> [(1, 0), (0, -1)]: the unit steps a direction name is made of."""
    parts = re.findall(r"North|South|[Ee]ast|[Ww]est", d)
    if not parts or "".join(parts).lower() != d.lower():
        raise ValueError(f"cannot read direction {d!r}")
    return [_UNIT[p.capitalize()] for p in parts]


def _is_in(pa, pb, direction) -> bool:
    dr, dc = pa[0] - pb[0], pa[1] - pb[1]
    return all((dr * ur > 0) if ur else (dc * uc > 0) for ur, uc in _split_direction(direction))


def _named_direction(pa, pb) -> str:
    dr, dc = pa[0] - pb[0], pa[1] - pb[1]
    return {(-1, 1): "Northeast", (-1, -1): "Northwest", (1, 1): "Southeast", (1, -1): "Southwest"}[(int(dr > 0) * 2 - 1, int(dc > 0) * 2 - 1)]


# ------------------------------------------------------------------------------------- map
def parse_map_relations(text: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(names in order of mention, [(subject, direction, reference)]) from a Spatial-Map description."""
    names = re.findall(r"(\w+) is in the map", text)
    rels = re.findall(r"(\w+) is to the (\w+) of (\w+)\.", text)
    for s, _, r in rels:
        for n in (s, r):
            if n not in names:
                names.append(n)
    return names, rels


def _orders(names, rels):
    """Transitive closure of the strict row and column orders the relations state."""
    idx = {n: i for i, n in enumerate(names)}
    n = len(names)
    less = {"row": [[False] * n for _ in range(n)], "col": [[False] * n for _ in range(n)]}
    for s, d, r in rels:
        for ur, uc in _split_direction(d):
            axis, sign = ("row", ur) if ur else ("col", uc)
            a, b = (idx[s], idx[r]) if sign < 0 else (idx[r], idx[s])  # a < b on that axis
            less[axis][a][b] = True
    for m in less.values():
        for k, i, j in product(range(n), repeat=3):
            if m[i][k] and m[k][j]:
                m[i][j] = True
    return idx, less


def text_determines_answer(item: SpatialItem) -> bool:
    """Does the Spatial-Map text alone fix the answer? (SpatialEval's known flaw: not always.)

    Relations give strict orders between places along the north–south and east–west axes; a
    fact is determined only when the transitive closure of those orders decides it. Other tasks'
    texts are complete, so they always determine the answer.
    """
    if item.task != "spatial_map" or item.kind != "spatial":
        return True
    names, rels = parse_map_relations(item.description)
    idx, less = _orders(names, rels)

    def status(a, b, direction):  # is "a in direction of b" true, false, or undecided by the text?
        result = True
        for ur, uc in _split_direction(direction):
            axis, sign = ("row", ur) if ur else ("col", uc)
            i, j = idx[a], idx[b]
            holds = less[axis][i][j] if sign < 0 else less[axis][j][i]  # a before b on that axis (north/west) or after
            fails = less[axis][j][i] if sign < 0 else less[axis][i][j]
            if fails:
                return False  # one axis the wrong way decides a "no", whatever the other axis does
            if not holds:
                result = None
        return result

    q = item.question
    if m := re.match(r"In which direction is (\w+) relative to (\w+)\?", q):
        a, b = m.group(1), m.group(2)  # both axes must be ordered
        return status(a, b, "North") is not None and status(a, b, "East") is not None
    if m := re.match(r"Which object is in the (\w+) of (\w+)\?", q):
        d, b = m.group(1), m.group(2)
        return all(status(o, b, d) is not None for o in item.options)
    if m := re.match(r"How many objects are in the (\w+) of (\w+)\?", q):
        d, b = m.group(1), m.group(2)
        return all(status(o, b, d) is not None for o in names if o != b)
    raise ValueError(f"item {item.id!r}: unrecognised Spatial-Map question {q!r}")


def _derive_map(item: SpatialItem) -> str:
    places = {p["name"]: (p["row"], p["col"]) for p in item.layout["places"]}
    colours = {p["name"]: p["colour"] for p in item.layout["places"]}
    q = item.question
    if m := re.match(r"In which direction is (\w+) relative to (\w+)\?", q):
        return _named_direction(places[m.group(1)], places[m.group(2)])
    if m := re.match(r"Which object is in the (\w+) of (\w+)\?", q):
        hits = [o for o in item.options if o in places and _is_in(places[o], places[m.group(2)], m.group(1))]
        return hits[0] if len(hits) == 1 else f"<{len(hits)} options fit>"
    if m := re.match(r"How many objects are in the (\w+) of (\w+)\?", q):
        b = m.group(2)
        return str(sum(_is_in(p, places[b], m.group(1)) for n, p in places.items() if n != b))
    if m := re.match(r"What colour is the marker of (\w+)\?", q):
        return colours[m.group(1)]
    if m := re.match(r"How many markers are (\w+)\?", q):
        return str(sum(c == m.group(1) for c in colours.values()))
    if m := re.match(r"Is there a (\w+) on the map\?", q):
        return "Yes" if m.group(1) in places else "No"
    raise ValueError(f"item {item.id!r}: unrecognised Spatial-Map question {q!r}")


# ------------------------------------------------------------------------------------- maze
def parse_maze(text: str) -> list[tuple[int, int]]:
    """The S→E path traced through the ASCII maze in a Maze-Nav description."""
    rows = [line for line in text.splitlines() if line.startswith("#")]
    cells = {(r, c): ch for r, line in enumerate(rows) for c, ch in enumerate(line)}
    start = next(k for k, v in cells.items() if v == "S")
    path, prev = [start], None
    while cells[path[-1]] != "E":
        r, c = path[-1]
        nxt = [(r + dr, c + dc) for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)) if cells.get((r + dr, c + dc)) in ("X", "E") and (r + dr, c + dc) != prev]
        if len(nxt) != 1:
            raise ValueError(f"the maze path is not a single chain at {(r, c)}: {len(nxt)} ways on")
        prev = path[-1]
        path.append(nxt[0])
    return path


def _derive_maze(item: SpatialItem) -> str:
    q = item.question
    if q == "What colour is the path?":
        return item.layout["path_colour"]
    path = parse_maze(item.description)
    right = left = 0
    for a, b, c in zip(path, path[1:], path[2:]):
        v1, v2 = (b[1] - a[1], -(b[0] - a[0])), (c[1] - b[1], -(c[0] - b[0]))  # to x-right, y-up axes
        cross = v1[0] * v2[1] - v1[1] * v2[0]
        right, left = right + (cross < 0), left + (cross > 0)  # clockwise = negative cross product
    if q.startswith("How many right turns"):
        return str(right)
    if q.startswith("How many total turns"):
        return str(right + left)
    if m := re.match(r"Is the exit \(E\) (.+?) the starting point \(S\)", q):
        (sr, sc), (er, ec) = path[0], path[-1]
        up, down, lft, rgt = er < sr, er > sr, ec < sc, ec > sc
        rel = m.group(1)
        truth = {
            "directly to the left of": lft and not (up or down), "directly to the right of": rgt and not (up or down),
            "directly above": up and not (lft or rgt), "directly below": down and not (lft or rgt),
            "to the top left of": up and lft, "to the top right of": up and rgt,
            "to the bottom left of": down and lft, "to the bottom right of": down and rgt,
        }
        if rel not in truth:
            raise ValueError(f"item {item.id!r}: unknown relation {rel!r}")
        return "Yes" if truth[rel] else "No"
    raise ValueError(f"item {item.id!r}: unrecognised Maze-Nav question {q!r}")


# ------------------------------------------------------------------------------------- grid
def parse_grid(text: str) -> list[list[str]]:
    rows = [[cell.strip() for cell in line.split("|")] for line in text.splitlines() if "|" in line]
    if len(rows) != 5 or any(len(r) != 5 for r in rows):
        raise ValueError(f"a Spatial-Grid description must have 5 rows of 5 animals; got {[len(r) for r in rows]}")
    return rows


def _derive_grid(item: SpatialItem) -> str:
    grid = parse_grid(item.description)
    q = item.question
    if m := re.match(r"How many blocks contain (\w+)\?", q):
        return str(sum(a == m.group(1) for row in grid for a in row))
    if m := re.match(r"What is the animal (?:at|in the block located at) the (top|bottom)-(left|right) corner", q):
        return grid[0 if m.group(1) == "top" else -1][0 if m.group(2) == "left" else -1]
    if m := re.match(r"What is the animal (?:at|in the block located at) the (\d)\w\w row,? (?:and the )?(\d)\w\w column", q):
        return grid[int(m.group(1)) - 1][int(m.group(2)) - 1]
    if m := re.match(r"Is there a (\w+) in the grid\?", q):
        return "Yes" if any(m.group(1) in row for row in grid) else "No"
    if q == "How many different kinds of animals are in the grid?":
        return str(len({a for row in grid for a in row}))
    raise ValueError(f"item {item.id!r}: unrecognised Spatial-Grid question {q!r}")


def derive_answer(item: SpatialItem) -> str:
    """The answer to ``item``, re-derived from its text (and coordinates for image-only facts)."""
    return {"spatial_map": _derive_map, "maze_nav": _derive_maze, "spatial_grid": _derive_grid}[item.task](item)


def check_items(items) -> list[str]:
    """One line per item whose stored answer disagrees with the re-derived one (empty: all agree)."""
    problems = []
    for item in items:
        try:
            derived = derive_answer(item)
        except (ValueError, KeyError, StopIteration) as err:
            problems.append(f"{item.id}: cannot re-derive the answer ({err})")
            continue
        if derived != item.answer:
            problems.append(f"{item.id}: stored answer {item.answer!r} but the layout gives {derived!r}")
    return problems


def validate_items(items) -> None:
    """Raise ``ValueError`` listing every item whose answer does not re-derive."""
    problems = check_items(items)
    if problems:
        shown = "\n  ".join(problems[:10])
        raise ValueError(f"{len(problems)} inconsistent benchmark item(s):\n  {shown}" + ("\n  ..." if len(problems) > 10 else ""))
