"""Solutions for chapter 01 (the spatial benchmark)."""

from __future__ import annotations


def diagonal_direction(a: tuple[int, int], b: tuple[int, int]) -> str:
    """The diagonal direction of point ``a`` relative to ``b``; points are (row, column), north is up (smaller row)."""
    (ra, ca), (rb, cb) = a, b
    return ("North" if ra < rb else "South") + ("east" if ca > cb else "west")


def count_turns(path: list[tuple[int, int]]) -> tuple[int, int]:
    """(right turns, all turns) along a path of grid cells (row, column), walked from its first cell."""
    steps = [(r2 - r1, c2 - c1) for (r1, c1), (r2, c2) in zip(path, path[1:])]
    right = total = 0
    for (dr, dc), following in zip(steps, steps[1:]):
        if following != (dr, dc):  # a change of direction is a turn
            total += 1
            right += following == (dc, -dr)  # rows grow downwards: heading east (0, 1), a right turn heads south (1, 0)
    return right, total
