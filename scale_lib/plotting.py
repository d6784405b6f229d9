"""The book's one plotting style, and saving figures where the README finds them."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

from .book import output_dir

__all__ = ["use_style", "save_figure", "explorer", "PALETTE"]

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


def explorer(draw, *, save: tuple[str, str] | None = None, **controls):
    """An interactive figure: ``draw(**values)`` redrawn whenever one of the ``controls`` changes.

    The figure for the controls' default values is drawn straight away as ordinary cell output, so
    a headless run (tests, ``make book``) exercises exactly the code a reader's slider does and
    shows the same picture as the static figure. Redraws go into an ``Output`` widget and happen
    only when a control changes — no widget output is captured while a notebook runs headless,
    which avoids an intermittent stall of notebook executors on cells whose output an
    ``Output`` widget captures (``ipywidgets.interact`` does).

    ``save=(notebook, name)`` also saves the default figure with :func:`save_figure`.
    """
    import ipywidgets as widgets
    from IPython.display import display

    def values():
        return {name: c.value for name, c in controls.items()}

    draw(**values())
    if save is not None:
        save_figure(plt.gcf(), *save)
    plt.show()
    out = widgets.Output()

    def redraw(_change=None):
        with out:
            out.clear_output(wait=True)
            draw(**values())
            plt.show()

    for c in controls.values():
        c.observe(redraw, names="value")
    box = widgets.VBox([widgets.HBox(list(controls.values())), out])
    display(box)
    return None
