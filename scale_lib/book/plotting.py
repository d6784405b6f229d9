"""The book's one plotting style, and saving figures where the README finds them."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

from scale_lib.book.env import output_dir

__all__ = ["use_style", "save_figure", "gap_bars", "PALETTE"]

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


def gap_bars(ax, labels, gaps, ci95, *, lower_is_better: bool = True, unit: str = "", fmt: str = "{:+.3f}", legend_loc: str = "best"):
    """Horizontal bars of paired differences with their 95 % intervals, coloured by what the interval
    says: better (interval entirely on the good side of 0), worse, or within noise (it crosses 0).
    Each bar is labelled with its value, so a difference too small to see as a bar is still read.
    Returns the colour class of each bar (``"better" | "worse" | "noise"``)."""
    from matplotlib.patches import Patch

    labels, gaps, ci95 = list(labels), [float(g) for g in gaps], [float(c) for c in ci95]
    if not (len(labels) == len(gaps) == len(ci95)):
        raise ValueError(f"gap_bars needs one gap and one ci95 per label, got {len(labels)} labels, {len(gaps)} gaps, {len(ci95)} ci95")
    good = -1.0 if lower_is_better else 1.0  # the sign of an improvement
    kinds = ["better" if good * g - c > 0 else "worse" if good * g + c < 0 else "noise" for g, c in zip(gaps, ci95)]
    colors = {"better": PALETTE[2], "worse": PALETTE[3], "noise": (0.6, 0.6, 0.6)}
    y = list(range(len(labels)))
    ax.barh(y, gaps, xerr=ci95, color=[colors[k] for k in kinds], capsize=4)
    ax.set_yticks(y, labels)
    ax.axvline(0, color="k", lw=0.8)
    ax.invert_yaxis()
    lo = min(g - c for g, c in zip(gaps, ci95))
    hi = max(g + c for g, c in zip(gaps, ci95))
    span = max(hi, 0) - min(lo, 0)
    for yi, g, c in zip(y, gaps, ci95):
        half = f"{c:.2g}" if 0 < abs(c) and fmt.format(c).lstrip("+-").strip("0.") == "" else fmt.format(c).lstrip("+")  # never "± 0.000" for a tiny CI
        ax.text(max(g + c, 0) + 0.02 * span, yi, f"{fmt.format(g)} ± {half}{(' ' + unit) if unit else ''}",
                va="center", ha="left", fontsize=9)
    ax.set_xlim(min(lo, 0) - 0.05 * span, max(hi, 0) + 0.45 * span)
    names = {"better": "better (95 % CI excludes 0)", "worse": "worse (95 % CI excludes 0)", "noise": "within noise (CI crosses 0)"}
    ax.legend(handles=[Patch(color=colors[k], label=names[k]) for k in ("better", "noise", "worse") if k in kinds],
              loc=legend_loc, fontsize=8, frameon=True)
    return kinds


