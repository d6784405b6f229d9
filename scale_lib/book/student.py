"""The student edition: every notebook with its exercise solutions removed.

    python -m scale_lib.book.student            # or: make student   ->  build/student/NN_title.ipynb

In the book's notebooks an exercise's reference answer is one line that calls
:mod:`scale_lib.book.solutions` and ends with ``# SOLUTION``. The student edition replaces each such line
with ``raise NotImplementedError(...)`` at the same indentation, so the exercise's check cell says
"not written yet" until the student writes it. The book itself (and CI) runs with the solutions in
place, so an answer key cannot rot unnoticed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["MARKER", "strip_solutions", "build_student"]

MARKER = "# SOLUTION"
_LINE = re.compile(rf"^(?P<indent>[ \t]*)(?P<code>.*?)\s*{re.escape(MARKER)}\b.*$")
_STUB = 'raise NotImplementedError("exercise: your code here (the reference answer is in scale_lib.book.solutions)")'


def strip_solutions(source: str) -> tuple[str, int]:
    """``source`` with every ``# SOLUTION`` line replaced by a stub; returns (new source, lines replaced)."""
    out, n = [], 0
    for line in source.splitlines(keepends=True):
        m = _LINE.match(line.rstrip("\n"))
        if m:
            out.append(f"{m['indent']}{_STUB}\n")
            n += 1
        else:
            out.append(line)
    return "".join(out), n


def build_student(notebooks: Path | None = None, target: Path | None = None) -> list[Path]:
    """Write the student edition of every ``notebooks/NN_*.py`` to ``target`` (default ``build/student``)."""
    import jupytext

    from scale_lib.book.env import repo_root

    notebooks = Path(notebooks or repo_root() / "notebooks")
    target = Path(target or repo_root() / "build" / "student")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sorted(notebooks.glob("[0-9][0-9]_*.py")):
        text, n = strip_solutions(src.read_text())
        nb = jupytext.reads(text, fmt="py:percent")
        path = target / f"{src.stem}.ipynb"
        jupytext.write(nb, path)
        written.append(path)
        print(f"{path}: {n} solution line(s) removed")
    return written


if __name__ == "__main__":
    build_student(*(Path(a) for a in sys.argv[1:3]))
