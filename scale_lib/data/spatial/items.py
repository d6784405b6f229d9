"""The benchmark item: one multiple-choice question about one layout, in one modality."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

__all__ = ["SpatialItem", "TASKS", "MODALITIES", "LETTERS", "GENERIC_DESCRIPTION", "layout_split", "split_key", "SPLITS", "PROMPT_STYLES"]

TASKS = ("spatial_map", "maze_nav", "spatial_grid")
MODALITIES = ("tqa", "vqa", "vtqa")
LETTERS = "ABCD"
SPLITS = ("train", "val", "test")
#: How :meth:`SpatialItem.prompt` asks: ``"letter"`` (strict letter answers) or ``"spatialeval"`` (the real benchmark's free text).
PROMPT_STYLES = ("letter", "spatialeval")
#: SpatialEval's VQA modality gives the image and only a one-line description.
GENERIC_DESCRIPTION = {
    "spatial_map": "The image shows a map with several named places.",
    "maze_nav": "The image shows a maze with a start S, an exit E and a path.",
    "spatial_grid": "The image shows a grid of animals.",
}


def split_key(layout: dict):
    """What decides a layout's split: a function of the layout that any two layouts share when they
    look the same **in some modality** — so no test item is seen, in any form, in training.

    * Spatial-Grid: the grid (text and image show exactly it);
    * Maze-Nav: the maze without its path colour (TQA's ASCII never shows the colour; two mazes
      differing only in colour would otherwise leak through TQA);
    * Spatial-Map: the set of place names (the image shows positions and names, the text names and
      relations; both determine the names, so layouts alike in either modality share a split).
    """
    task = layout.get("task")
    if task == "maze_nav":
        return {k: v for k, v in layout.items() if k != "path_colour"}
    if task == "spatial_map":
        return {"task": task, "names": sorted(p["name"] for p in layout["places"])}
    return layout


def layout_split(layout: dict, fractions=(0.8, 0.1, 0.1)) -> str:
    """The split a layout belongs to, from a stable hash of :func:`split_key`.

    Splits are disjoint by construction: layouts that look the same in any modality always land in
    the same split, whatever seed or order produced them.
    """
    digest = hashlib.sha256(json.dumps(split_key(layout), sort_keys=True).encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edges = [sum(fractions[: i + 1]) for i in range(len(fractions))]
    return SPLITS[next(i for i, e in enumerate(edges) if u < e)]


@dataclass(frozen=True)
class SpatialItem:
    """One question. ``answer_index`` points into ``options``; ``layout`` is the ground truth the
    question was generated from (object coordinates, the maze, the grid), and ``description`` the
    full text form of the layout (shown in TQA and VTQA).
    """

    id: str
    task: str
    qtype: str  # "q0", "q1", "q2" (SpatialEval's question types) or "colour" / "count" / "exist"
    modality: str
    description: str
    question: str
    options: tuple[str, ...]
    answer_index: int
    layout: dict = field(repr=False)
    split: str = "test"
    flags: tuple[str, ...] = ()

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"item {self.id!r}: unknown task {self.task!r}; valid tasks are {TASKS}")
        if self.modality not in MODALITIES:
            raise ValueError(f"item {self.id!r}: unknown modality {self.modality!r}; valid modalities are {MODALITIES}")
        if self.split not in SPLITS:
            raise ValueError(f"item {self.id!r}: unknown split {self.split!r}; valid splits are {SPLITS}")
        if not 2 <= len(self.options) <= len(LETTERS):
            raise ValueError(f"item {self.id!r}: has {len(self.options)} options; an item needs 2 to {len(LETTERS)}")
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"item {self.id!r}: options repeat: {self.options}")
        if not 0 <= self.answer_index < len(self.options):
            raise ValueError(f"item {self.id!r}: answer_index {self.answer_index} is out of range for {len(self.options)} options (0..{len(self.options) - 1})")
        if not self.question.strip():
            raise ValueError(f"item {self.id!r}: empty question")

    @property
    def kind(self) -> str:
        """``"spatial"`` (SpatialEval's q0–q2) or ``"nonspatial"`` (colour, count, existence)."""
        return "spatial" if self.qtype in ("q0", "q1", "q2") else "nonspatial"

    @property
    def answer(self) -> str:
        return self.options[self.answer_index]

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer_index]

    @property
    def has_image(self) -> bool:
        return self.modality in ("vqa", "vtqa")

    def context(self) -> str:
        """What the text side shows: the full description (TQA, VTQA) or the one-line one (VQA)."""
        return GENERIC_DESCRIPTION[self.task] if self.modality == "vqa" else self.description

    def prompt(self, style: str = "letter") -> str:
        """The text prompt.

        ``"letter"`` (the book's strict format): context, question, lettered options, "Answer with
        the option's letter." ``"spatialeval"``: the real benchmark's form for free-text answers,
        "Please answer the following multiple-choice question … Available options: A. …", scored
        with :func:`scale_lib.data.spatial.score_exact` (the wording outside the quoted fragments is ours).
        """
        if style not in PROMPT_STYLES:
            raise ValueError(f"unknown prompt style {style!r}; valid styles are {PROMPT_STYLES}")
        if style == "spatialeval":
            opts = ", ".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(self.options))
            return (f"{self.context()}\nPlease answer the following multiple-choice question based on the provided information. "
                    f"{self.question} Available options: {opts}.")
        opts = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(self.options))
        return f"{self.context()}\n{self.question}\n{opts}\nAnswer with the option's letter."
