"""The book's interactive figures: :func:`explorer` (an ipywidgets figure that redraws on every
control change) and the hook its browser test reads (:func:`explorer_check`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from scale_lib.book.plotting import save_figure

__all__ = ["figure_pixels_sha", "explorer_check", "explorer"]


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
        style = getattr(c, "style", None)
        if style is not None and hasattr(style, "description_width") and not style.description_width:
            style.description_width = "initial"  # the whole label, never "weight de…"

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
    box = widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
    box.add_class("scale-lib-explorer")  # how a browser test finds the book's explorers among other widgets
    display(box)
    return None
