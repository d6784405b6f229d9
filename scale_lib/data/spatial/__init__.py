"""A SpatialEval-style spatial benchmark, generated offline: Spatial-Map, Maze-Nav and Spatial-Grid
in the TQA / VQA / VTQA modalities, with non-spatial control questions, an independent checker,
strict and lenient scorers, images at any size, and a loader for the real dataset.
"""

from .checker import check_items, derive_answer, text_determines_answer, validate_items
from .generate import (
    DEVIATIONS,
    FIDELITIES,
    answerable,
    generate_benchmark,
    generate_items,
)
from .hub import load_spatialeval
from .items import (
    LETTERS,
    MODALITIES,
    PROMPT_STYLES,
    SPLITS,
    TASKS,
    SpatialItem,
    layout_split,
    split_key,
)
from .render import render
from .scoring import (
    exact_answer,
    lenient_choice,
    majority_rate,
    score_exact,
    score_lenient,
    score_strict,
    strict_letter,
)

__all__ = [
    "SpatialItem", "TASKS", "MODALITIES", "SPLITS", "LETTERS", "layout_split",
    "generate_items", "generate_benchmark", "render", "gallery_figure",
    "derive_answer", "check_items", "validate_items", "text_determines_answer",
    "strict_letter", "score_strict", "lenient_choice", "score_lenient", "load_spatialeval",
    "exact_answer", "score_exact", "majority_rate", "FIDELITIES", "DEVIATIONS", "answerable", "split_key", "PROMPT_STYLES",
]


def __getattr__(name):
    if name == "gallery_figure":  # a matplotlib figure: imported on first use, so the data need no plotting stack
        from .gallery import gallery_figure

        return gallery_figure
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
