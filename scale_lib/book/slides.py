"""One slide deck per chapter, built from the executed notebook (reveal.js, through nbconvert).

    python -m scale_lib.book.slides          # make slides: build/notebooks/*.ipynb -> build/site/slides/NN_title.slides.html

A deck is the chapter's lecture skeleton, made from what the chapter itself shows, never re-executed:

* the title slide: the chapter's first cell (title, what it shows, objectives);
* one slide per section (a ``## `` heading) with the heading and the section's first paragraph;
* every figure the chapter drew, on its own slide under its section's heading, code hidden;
* the exercises' headings (with their difficulty and time marks) and the questions for discussion.

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

__all__ = ["deck", "write_deck", "build_slides", "SLIDES_DIR", "MAX_PARAGRAPH"]

SLIDES_DIR = "slides"
#: a section slide keeps its heading and at most this many characters of the first paragraph
MAX_PARAGRAPH = 420
_HEADING = re.compile(r"^##\s+(?P<title>.+)$", re.M)
_EXERCISE = re.compile(r"^\*\*Exercise \d+[a-z]?\b[^\n]*", re.M)
_MARKERS = re.compile(r"<!--.*?-->", re.S)


def _first_paragraph(text: str) -> str:
    body = _HEADING.sub("", text, count=1).strip()
    para = body.split("\n\n")[0].strip() if body else ""
    if len(para) > MAX_PARAGRAPH:
        para = para[:MAX_PARAGRAPH].rsplit(" ", 1)[0] + " …"
    return para


def _has_figure(cell) -> bool:
    return cell.cell_type == "code" and any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def deck(nb):
    """A copy of the executed notebook ``nb`` cut down to a lecture deck, with ``slideshow`` metadata."""
    import nbformat

    out = nbformat.v4.new_notebook(metadata=copy.deepcopy(nb.metadata))
    cells = nb.cells

    def add(cell, kind):
        cell = copy.deepcopy(cell)
        cell.metadata["slideshow"] = {"slide_type": kind}
        out.cells.append(cell)

    first = next((c for c in cells if c.cell_type == "markdown"), None)
    if first is None:
        raise ValueError("the notebook has no markdown cell: there is no title for a deck")
    add(nbformat.v4.new_markdown_cell(_MARKERS.sub("", first.source)), "slide")
    for cell in cells:
        if cell is first:
            continue
        if cell.cell_type == "markdown":
            text = _MARKERS.sub("", cell.source)
            head = _HEADING.search(text)
            if head and text.lstrip().startswith("##"):
                title = head["title"]
                if "discussion" in title.lower() or "questions" in title.lower():
                    add(nbformat.v4.new_markdown_cell(text), "slide")
                else:
                    add(nbformat.v4.new_markdown_cell(f"## {title}\n\n{_first_paragraph(text)}"), "slide")
            exercises = _EXERCISE.findall(text)
            if exercises and not (head and "exercise" in head["title"].lower()):
                add(nbformat.v4.new_markdown_cell("\n\n".join(e.split(". ")[0] if len(e) > 200 else e for e in exercises)), "fragment")
            elif exercises:
                add(nbformat.v4.new_markdown_cell("\n\n".join(e[:200] for e in exercises)), "slide")
        elif _has_figure(cell):
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
