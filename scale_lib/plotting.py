"""The book's one plotting style, and saving figures where the README finds them."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

from .book import output_dir

__all__ = ["use_style", "save_figure", "PALETTE"]

#: Colour-blind-safe palette used across the book.
PALETTE = sns.color_palette("colorblind")


def use_style(context: str = "notebook") -> None:
    """Apply the book's style (seaborn whitegrid, colour-blind palette, readable sizes)."""
    sns.set_theme(context=context, style="whitegrid", palette=PALETTE)
    matplotlib.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 130,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "bold",
            "figure.autolayout": False,
        }
    )


def save_figure(fig: plt.Figure, notebook: str, name: str) -> Path:
    """Save ``fig`` as ``<output_dir(notebook)>/<name>.png`` and return the path."""
    if not name or "/" in name:
        raise ValueError(f"figure name must be a plain file stem like 'head_effects', got {name!r}")
    path = output_dir(notebook) / f"{name}.png"
    fig.savefig(path)
    return path
