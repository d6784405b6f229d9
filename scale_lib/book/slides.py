"""One slide deck per chapter, built from the executed notebook (reveal.js, through nbconvert).

    python -m scale_lib.book.slides          # make slides: build/notebooks/*.ipynb -> build/site/slides/NN_title.slides.html

A deck is the chapter's lecture skeleton, made from what the chapter itself shows, never re-executed:

* the title slide: the chapter's first cell (title, what it shows, objectives);
* one slide per section (a ``## `` heading) with the heading and the section's first paragraph;
* every figure the chapter drew, on its own slide under its section's heading, code hidden;
* the exercises' titles (with their difficulty and time marks) and the questions for discussion;
* not the chapter's own assertions (its "Checked" section).

Everything else is left to the notebook. reveal.js is loaded from unpkg (nbconvert's default), so a deck
needs a network connection to display as slides; to present a live notebook instead, JupyterLab's
RISE extension (``pip install jupyterlab-rise``) reads the same ``slideshow`` metadata —
:func:`deck` returns it.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

from scale_lib.book.env import repo_root

__all__ = ["deck", "write_deck", "build_slides", "SLIDES_DIR", "MAX_PARAGRAPH", "SKIP"]

SLIDES_DIR = "slides"
#: a section slide keeps its heading and at most this many characters of the first paragraph
MAX_PARAGRAPH = 420
_HEADING = re.compile(r"^##\s+(?P<title>.+)$", re.M)
_EXERCISE = re.compile(r"\*\*Exercise \d+[a-z]?\b.*?\*\*(?: \(★[★☆]{2} · \d+ min\))?")
_MARKERS = re.compile(r"<!--.*?-->", re.S)
_BADGE = re.compile(r"^\[!\[Open In Colab\].*$", re.M)
#: sections a lecture skips (the chapter's own assertions)
SKIP = ("checked",)


def _first_paragraph(body: str) -> str:
    para = body.strip().split("\n\n")[0].strip() if body.strip() else ""
    if len(para) > MAX_PARAGRAPH:
        para = para[:MAX_PARAGRAPH].rsplit(" ", 1)[0] + " …"
    return para


def _has_figure(cell) -> bool:
    return cell.cell_type == "code" and any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def _sections(cells) -> list[dict]:
    """The chapter cut at its ``## `` headings: each with its title, text, exercises and figures."""
    out = [dict(title=None, text="", exercises=[], figures=[])]
    for cell in cells:
        if cell.cell_type == "markdown":
            text = _MARKERS.sub("", cell.source)
            pieces = _HEADING.split(text)  # [before, title1, body1, title2, body2, ...]
            out[-1]["text"] += pieces[0]
            out[-1]["exercises"] += _EXERCISE.findall(pieces[0])
            for title, body in zip(pieces[1::2], pieces[2::2]):
                out.append(dict(title=title.strip(), text=body, exercises=_EXERCISE.findall(body), figures=[]))
        elif _has_figure(cell):
            out[-1]["figures"].append(cell)
    return out


def deck(nb):
    """A copy of the executed notebook ``nb`` cut down to a lecture deck, with ``slideshow`` metadata."""
    import nbformat

    out = nbformat.v4.new_notebook(metadata=copy.deepcopy(nb.metadata))

    def add(cell, kind):
        cell.metadata["slideshow"] = {"slide_type": kind}
        out.cells.append(cell)

    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), None)
    if first is None:
        raise ValueError("the notebook has no markdown cell: there is no title for a deck")
    intro = _BADGE.sub("", _MARKERS.sub("", nb.cells[first].source)).strip()
    title, _, rest = intro.partition("\n")
    learn = re.search(r"\*\*You will learn to\*\*.*?(?=\n\n|\Z)", rest, re.S)
    add(nbformat.v4.new_markdown_cell("\n\n".join(x for x in (title, _first_paragraph(rest), learn.group(0) if learn else "") if x)), "slide")
    for sec in _sections(nb.cells[first + 1:]):
        name = (sec["title"] or "").lower()
        if sec["title"] is None or any(k in name for k in SKIP):
            continue
        if "discussion" in name:
            body = sec["text"].strip()
        elif sec["exercises"]:
            body = "\n".join(f"* {e}" for e in sec["exercises"])
        else:
            body = _first_paragraph(sec["text"])
        add(nbformat.v4.new_markdown_cell(f"## {sec['title']}\n\n{body}"), "slide")
        for cell in sec["figures"]:
            fig = copy.deepcopy(cell)
            fig.outputs = [o for o in fig.outputs if "image/png" in o.get("data", {})]
            fig.source = ""
            add(fig, "subslide")
    return out


def write_deck(executed: Path, target_dir: Path) -> Path:
    """Write ``executed``'s deck as ``target_dir/<stem>.slides.html``; returns its path."""
    import nbformat
    from nbconvert import SlidesExporter

    nb = nbformat.read(executed, as_version=4)
    slides = deck(nb)
    exporter = SlidesExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(slides)
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / f"{Path(executed).stem}.slides.html"
    path.write_text(html)
    return path


def build_slides(executed: Path | None = None, target: Path | None = None) -> list[Path]:
    """A deck for every executed chapter in ``executed`` (default ``build/notebooks``) into ``target``
    (default ``build/site/slides``, beside the rendered book, which links them)."""
    root = repo_root()
    executed = Path(executed or root / "build" / "notebooks")
    target = Path(target or root / "build" / "site" / SLIDES_DIR)
    chapters = sorted(p.stem for p in (root / "notebooks").glob("[0-9][0-9]_*.py"))
    found = [executed / f"{c}.ipynb" for c in chapters if (executed / f"{c}.ipynb").exists()]
    if not found:
        raise FileNotFoundError(f"no executed chapter in {executed}: run `make book` (or `make fast-book`) first")
    missing = sorted(set(chapters) - {p.stem for p in found})
    if missing:
        print(f"warning: no executed copy of {missing}: no deck for them", file=sys.stderr)
    written = [write_deck(p, target) for p in found]
    for p in written:
        print(p)
    return written


if __name__ == "__main__":
    build_slides(*(Path(a) for a in sys.argv[1:3]))
