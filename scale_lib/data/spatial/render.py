"""Render a layout as an RGB image (``numpy.uint8``, H × W × 3), at any size.

``cell`` is the side of one grid cell in pixels. Small cells (the tiny CPU model: one vision patch
per cell) draw each place or animal as a distinct icon — a shape in a colour — that the text
names; large cells (real VLMs) add the name as text, as SpatialEval's images do.
"""

from __future__ import annotations

import numpy as np

from .generate import ANIMALS, PLACES

__all__ = ["render", "ICON_SHAPES", "RGB"]

RGB = {"red": (220, 50, 47), "blue": (38, 110, 220), "green": (40, 160, 60), "orange": (240, 140, 20), "purple": (140, 60, 190),
       "black": (0, 0, 0), "white": (255, 255, 255), "grey": (150, 150, 150)}
_ANIMAL_COLOURS = dict(zip(ANIMALS, ["orange", "blue", "grey", "green", "purple"]))


def _masks() -> list[np.ndarray]:
    """Twelve distinct 8 × 8 binary shapes."""
    y, x = np.mgrid[0:8, 0:8] + 0.5
    r = np.hypot(x - 4, y - 4)
    return [
        np.ones((8, 8), bool), r < 3.2, (r < 3.6) & (r > 2.0), y > np.abs(x - 4) * 1.6 + 1,  # square, disc, ring, triangle
        (np.abs(x - 4) < 1.2) | (np.abs(y - 4) < 1.2), np.abs(x - y) < 1.5, (y.astype(int) % 3) == 0,  # plus, diagonal, stripes
        (x.astype(int) % 3) == 0, ((x.astype(int) + y.astype(int)) % 2) == 0, np.abs(x - 4) + np.abs(y - 4) < 3.5,  # bars, checker, diamond
        (y < 3) | (np.abs(x - 4) < 1.2), (np.abs(x - y) < 1.3) | (np.abs(x + y - 8) < 1.3),  # T, X
    ]


ICON_SHAPES = dict(zip(PLACES + ANIMALS, _masks() + _masks()[:5]))


def _icon(name: str, colour: str, cell: int) -> np.ndarray:
    mask = ICON_SHAPES[name]
    k = max(1, cell // 8)
    big = np.kron(mask, np.ones((k, k), bool))[:cell, :cell]
    tile = np.full((cell, cell, 3), 255, np.uint8)
    tile[: big.shape[0], : big.shape[1]][big] = RGB[colour]
    return tile


def _label(img: np.ndarray, text: str, top: int, left: int, cell: int) -> np.ndarray:
    try:  # only large cells carry text labels: the tiny testbed's images need no Pillow
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as e:
        raise ImportError("labelled images (cells of 32 px and more) are drawn with Pillow: pip install 'scale_lib[images]'") from e

    pil = Image.fromarray(img)
    font = ImageFont.load_default(size=max(10, cell // 5))  # readable at 64-px cells and above
    ImageDraw.Draw(pil).text((left + 2, top + 1), text, fill=(0, 0, 0), font=font)
    return np.array(pil)  # a writable copy


def render(layout: dict, cell: int = 8, *, labels: bool | None = None) -> np.ndarray:
    """The image of a layout: ``cell`` pixels per grid cell (8 for the tiny model, 64+ for real VLMs)."""
    if cell < 4:
        raise ValueError(f"cell={cell} pixels is too small to draw anything; use cell >= 4")
    labels = cell >= 48 if labels is None else labels
    task = layout.get("task")
    if task == "spatial_map":
        n = layout["size"]
        img = np.full((n * cell, n * cell, 3), 255, np.uint8)
        for p in layout["places"]:
            r, c = p["row"], p["col"]
            icon = _icon(p["name"], p["colour"], cell)
            if labels:  # marker in the lower part, name above it (as SpatialEval draws them)
                icon[: cell // 2] = 255
            img[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = icon
            if labels:
                img = _label(img, p["name"], r * cell, c * cell, cell)
        return img
    if task == "maze_nav":
        img = np.zeros((7 * cell, 7 * cell, 3), np.uint8)
        paint = lambda rc, colour: img.__setitem__((slice(rc[0] * cell, (rc[0] + 1) * cell), slice(rc[1] * cell, (rc[1] + 1) * cell)), RGB[colour])  # noqa: E731
        for rc in layout["open"]:
            paint(rc, "white")
        for rc in layout["path"]:
            paint(rc, layout["path_colour"])
        paint(layout["path"][0], "green")
        paint(layout["path"][-1], "red")
        if labels:
            for rc, ch in ((layout["path"][0], "S"), (layout["path"][-1], "E")):
                img = _label(img, ch, rc[0] * cell, rc[1] * cell, cell)
        return img
    if task == "spatial_grid":
        img = np.full((5 * cell, 5 * cell, 3), 255, np.uint8)
        for r, row in enumerate(layout["grid"]):
            for c, animal in enumerate(row):
                img[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = _icon(animal, _ANIMAL_COLOURS[animal], cell)
                if labels:
                    img = _label(img, animal, r * cell, c * cell, cell)
        return img
    raise ValueError(f"unknown layout task {task!r}; valid tasks are 'spatial_map', 'maze_nav', 'spatial_grid'")


