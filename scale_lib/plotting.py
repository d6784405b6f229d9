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


#: every explorer of this kernel, newest last: (draw, controls) — what explorer_check re-renders
_EXPLORERS: list = []


def figure_pixels_sha(png: bytes) -> str:
    """A hash of a PNG's pixels (not its metadata), to compare two renderings of one figure."""
    import hashlib
    import io

    import numpy as np
    from PIL import Image

    return hashlib.sha256(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).tobytes()).hexdigest()


def explorer_check(index: int = -1) -> dict:
    """The current control values of an explorer and the pixel hash of a *fresh* rendering of
    ``draw(**values)`` — what a live-widget test compares with the figure the page shows."""
    import json

    from IPython.core.pylabtools import print_figure

    draw, controls = _EXPLORERS[index]
    values = {name: c.value for name, c in controls.items()}
    plt.close("all")
    draw(**values)
    fig = plt.gcf()
    png = print_figure(fig, "png", bbox_inches="tight")
    plt.close(fig)
    out = {"values": {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()}, "pixels": figure_pixels_sha(png)}
    print("EXPLORER_CHECK " + json.dumps(out, default=str))
    return out


def explorer(draw, *, save: tuple[str, str] | None = None, **controls):
    """An interactive figure: ``draw(**values)`` redrawn whenever one of the ``controls`` changes.

    One figure, replaced in place: the figure for the controls' default values is displayed as
    ordinary cell output (with a display id), the controls below it, and every change *updates that
    same output* (``DisplayHandle.update``) instead of appending a second plot. So a headless run
    (tests, ``make book``) shows exactly the reader's default picture and never captures output in
    an ``Output`` widget (which made notebook executors stall intermittently), and a live kernel
    shows one figure that follows the controls.

    A control without a ``description`` gets its keyword as one, so no slider shows a bare number.
    ``save=(notebook, name)`` also saves the default figure with :func:`save_figure`.
    """
    import ipywidgets as widgets
    from IPython.display import display

    for name, c in controls.items():
        if hasattr(c, "description") and not c.description:
            c.description = name
            c.style.description_width = "initial"

    def values():
        return {name: c.value for name, c in controls.items()}

    def render():
        plt.close("all")
        draw(**values())
        fig = plt.gcf()
        return fig

    fig = render()
    if save is not None:
        save_figure(fig, *save)
    handle = display(fig, display_id=True)
    plt.close(fig)

    def redraw(_change=None):
        fig = render()
        if handle is not None:  # outside IPython (plain Python, tests) display() returns no handle
            handle.update(fig)
        plt.close(fig)

    for c in controls.values():
        c.observe(redraw, names="value")
    _EXPLORERS.append((draw, controls))
    display(widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")))
    return None
