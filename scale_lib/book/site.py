"""The rendered book: a static HTML site from the notebooks ``make book`` just executed.

    python -m scale_lib.book.site            # build/notebooks/*.ipynb -> build/site/index.html (make book does it)

Never re-executes anything: it renders the executed copies in ``build/notebooks/`` (full mode, with
every output and figure) with Sphinx + MyST-NB and the sphinx-book-theme, beside the landing page
(``site/index.md``: the reading order and what each chapter shows), the glossary and the references.
Widgets keep the state they had when the notebook ran (MyST-NB embeds the widget state); where a
widget needs a kernel, the page shows the default figure drawn under it and says how to run it live.
The repository's home (for the "open in Colab" and "source" links) is read from ``pyproject.toml``'s
``[project.urls] Repository`` — one place, so a fork changes it once (:func:`repository`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from scale_lib.book.env import repo_root

__all__ = ["repository", "build_site", "fold_long_code", "executed_mode", "mark_fast_mode", "annotate_explorers", "SITE_SOURCE", "FOLD_LINES"]

SITE_SOURCE = "site"
#: code cells longer than this are folded on the page ("Show code cell source"): prose and figures first
FOLD_LINES = 12


def repository(root: Path | None = None) -> str:
    """``owner/name`` of the book's public home, from ``pyproject.toml`` ([project.urls] Repository)."""
    text = ((root or repo_root()) / "pyproject.toml").read_text()
    m = re.search(r'^Repository\s*=\s*"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?"', text, re.M)
    if not m:
        raise ValueError("pyproject.toml needs [project.urls] Repository = \"https://github.com/OWNER/NAME\"")
    return m.group(1)


def fold_long_code(nb, max_lines: int = FOLD_LINES) -> int:
    """Tag every code cell of the notebook ``nb`` longer than ``max_lines`` lines ``hide-input``
    (MyST-NB folds its source behind a "Show code cell source" toggle; outputs stay visible).
    Cells with an exercise (a ``# SOLUTION`` line or an ``ex.test_`` call) stay open. Returns the count folded."""
    folded = 0
    for cell in nb.cells:
        src = cell.source
        if cell.cell_type != "code" or src.count("\n") + 1 <= max_lines or "# SOLUTION" in src or "ex.test_" in src:
            continue
        tags = cell.metadata.setdefault("tags", [])
        if "hide-input" not in tags:
            tags.append("hide-input")
            folded += 1
    return folded


FAST_NOTE = ("```{warning}\nThis page was executed in **fast mode**: every run shrunk to seconds, so its numbers and "
             "figures are not the book's results (the prose quotes the full run). `make book` executes it in full mode.\n```")


def executed_mode(nb) -> str:
    """``"full"``, ``"fast"`` or ``"unknown"``: how an executed notebook was run (``run_book`` records it;
    older copies are read from the first cell's printed ``full mode`` / ``fast mode``)."""
    mode = nb.metadata.get("scale_lib", {}).get("mode")
    if mode:
        return mode
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text = out.get("text", "")
            if "fast mode" in text:
                return "fast"
            if "full mode" in text:
                return "full"
    return "unknown"


def mark_fast_mode(nb) -> bool:
    """Put a warning under the title of a chapter executed in fast mode; returns whether it was one."""
    if executed_mode(nb) != "fast":
        return False
    import nbformat

    for cell in nb.cells:  # right under the chapter's title line
        lines = cell.source.splitlines() if cell.cell_type == "markdown" else []
        at = next((k for k, line in enumerate(lines) if line.startswith("# ")), None)
        if at is not None:
            cell.source = "\n".join(lines[: at + 1] + ["", FAST_NOTE, ""] + lines[at + 1 :])
            break
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(FAST_NOTE))
    return True


EXPLORER_NOTE = ('<div class="widget-note">\n\n**Live explorer.** The figure above is drawn for the controls\' default values. '
                 "On this page the controls cannot move it: they need a running Python kernel. Open the chapter in Colab "
                 "(the badge at the top) or in JupyterLab (`make test` installs everything, then `.venv/bin/jupyter lab notebooks/`), "
                 "run all cells, and the figure follows the controls.\n\n</div>")


def annotate_explorers(nb) -> int:
    """Under every code cell that builds an explorer (``sl.explorer(``), a note saying the page shows its
    default figure and how to run it live. Returns the number of notes added."""
    import nbformat

    cells, added = [], 0
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type == "code" and "sl.explorer(" in cell.source:
            cells.append(nbformat.v4.new_markdown_cell(EXPLORER_NOTE))
            added += 1
    nb.cells = cells
    return added


def build_site(executed: Path | None = None, target: Path | None = None, *, strict: bool = False) -> Path:
    """Render ``executed`` (default ``build/notebooks``) into ``target`` (default ``build/site``); returns the index page."""
    from sphinx.cmd.build import build_main

    root = repo_root()
    executed = Path(executed or root / "build" / "notebooks")
    target = Path(target or root / "build" / "site")
    chapters = {p.stem for p in (root / "notebooks").glob("[0-9][0-9]_*.py")}
    notebooks = sorted(p for p in executed.glob("[0-9][0-9]_*.ipynb") if p.stem in chapters)  # old names from earlier runs are left out
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks in {executed}: run `make book` (it executes them, then builds the site)")
    missing = sorted(chapters - {p.stem for p in notebooks})
    if missing:
        print(f"warning: no executed copy of {missing}; the site will not have them", file=sys.stderr)
    src = root / "build" / "site-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for path in (root / SITE_SOURCE).iterdir():
        (shutil.copytree if path.is_dir() else shutil.copy)(path, src / path.name)
    import nbformat

    for path in notebooks:  # each executed copy, prepared for reading on a page
        nb = nbformat.read(path, as_version=4)
        fold_long_code(nb)
        annotate_explorers(nb)
        if mark_fast_mode(nb):
            print(f"note: {path.name} was executed in fast mode; its page says so")
        nbformat.write(nb, src / path.name)
    shutil.copy(root / "notebooks" / "glossary.md", src / "glossary.md")
    shutil.copy(root / "references.bib", src / "references.bib")
    shutil.rmtree(target, ignore_errors=True)  # no pages left over from chapters that were renamed or removed
    args = ["-b", "html", "-q", str(src), str(target), "-D", f"html_context.repository={repository(root)}"]
    if strict:
        args.insert(0, "-W")
    code = build_main(args)
    if code:
        raise RuntimeError(f"sphinx-build failed with exit code {code}; see the messages above")
    from scale_lib.book.slides import SLIDES_DIR, build_slides

    build_slides(executed, target / SLIDES_DIR)  # one deck per chapter; the instructor page links them
    index = target / "index.html"
    print(f"the book: {index}")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executed", type=Path, default=None, help="folder of executed notebooks (default build/notebooks)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the site (default build/site)")
    args = parser.parse_args(argv)
    build_site(args.executed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
