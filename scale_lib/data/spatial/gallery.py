"""A gallery figure: rendered items per task, with the text each modality shows."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from .items import TASKS
from .render import RGB, render

__all__ = ["gallery_figure"]

_TITLES = {"spatial_map": "Spatial-Map", "maze_nav": "Maze-Nav", "spatial_grid": "Spatial-Grid"}


def _cell_lines(ax, image, cell: int) -> None:
    """Thin grey lines between the cells, drawn on the figure only (the images the models see have none),
    so that neighbouring cells of one colour do not run together."""
    h, w = image.shape[:2]
    for x in range(cell, w, cell):
        ax.axvline(x - 0.5, color="0.6", lw=0.6)
    for y in range(cell, h, cell):
        ax.axhline(y - 0.5, color="0.6", lw=0.6)


def gallery_figure(items, *, per_task: int = 2, cell: int = 64, tiny_cell: int = 8):
    """One row per task: the large image (real VLMs), the tiny one (one patch per cell), and the
    TQA text with a question and its answer. Grey lines between cells are the figure's, not the images'."""
    fig, axes = plt.subplots(len(TASKS) * per_task, 3, figsize=(16, 4.4 * len(TASKS) * per_task), gridspec_kw={"width_ratios": [1.5, 1, 2.2]})
    row = 0
    for task in TASKS:
        chosen = [i for i in items if i.task == task and i.kind == "spatial"][: per_task * 7 : 7] or [i for i in items if i.task == task][:per_task]
        for item in chosen[:per_task]:
            large, tiny = render(item.layout, cell), render(item.layout, tiny_cell)
            axes[row, 0].imshow(large)
            axes[row, 0].set_title(f"{_TITLES[task]} ({cell} px cells)", fontsize=12)
            axes[row, 1].imshow(tiny, interpolation="nearest")
            _cell_lines(axes[row, 0], large, cell)
            _cell_lines(axes[row, 1], tiny, tiny_cell)
            axes[row, 1].set_title(f"tiny model input ({tiny_cell} px cells)", fontsize=12)
            if task == "maze_nav":  # what the colours mean (the text uses S, E, X, # instead)
                colours = {"start (S)": "green", "exit (E)": "red", "path (X)": item.layout["path_colour"], "open": "white", "wall (#)": "black"}
                axes[row, 1].legend(handles=[Patch(facecolor=[v / 255 for v in RGB[c]], edgecolor="grey", label=k) for k, c in colours.items()],
                                    loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False)
            text = "\n".join(textwrap.fill(line, 80) for line in item.prompt().replace(item.context(), item.description).splitlines())
            axes[row, 2].text(0.08 if task == "maze_nav" else 0, 1, f"{text}\n\ncorrect: {item.answer_letter} ({item.answer})"
                              + ("   [text does not determine it]" if "text_ambiguous" in item.flags else ""),
                              va="top", family="monospace", fontsize=9, wrap=True)
            for ax in axes[row]:
                ax.axis("off")
            row += 1
    fig.tight_layout()
    return fig
