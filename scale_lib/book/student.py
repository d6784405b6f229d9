"""The student edition: every notebook with its exercise solutions removed.

    python -m scale_lib.book.student            # ->  build/student/NN_title.ipynb

(``make student`` builds the whole student release, these chapters included: :mod:`scale_lib.book.course`.)

In the book's notebooks an exercise's reference answer is one line that calls
:mod:`scale_lib.book.solutions` and ends with ``# SOLUTION``. The student edition replaces each such line
with ``raise NotImplementedError(...)`` at the same indentation, so the exercise's check cell says
"not written yet" until the student writes it; it drops the import of the solutions and switches the
checks to :func:`scale_lib.book.exercises.student_mode`, in which no check prints the expected answer.
The book itself (and CI) runs with the solutions in place, so an answer key cannot rot unnoticed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["MARKER", "strip_solutions", "build_student"]

MARKER = "# SOLUTION"
_LINE = re.compile(rf"^(?P<indent>[ \t]*)(?P<code>.*?)\s*{re.escape(MARKER)}\b.*$")
_STUB = 'raise NotImplementedError("exercise: your code here")'
_SOLUTIONS_IMPORT = re.compile(r"^\s*(from scale_lib\.book import solutions\b.*|import scale_lib\.book\.solutions\b.*|from scale_lib\.book\.solutions import .*)$")
_LIBRARY_IMPORT = re.compile(r"^(import scale_lib\b|from scale_lib\b)")
_STUDENT_MODE = "from scale_lib.book.exercises import student_mode; student_mode()  # the student edition: checks reveal no answer\n"


def strip_solutions(source: str) -> tuple[str, int]:
    """``source`` with every ``# SOLUTION`` line replaced by a stub, the solutions' import dropped and
    the student mode switched on after the first import of the library; returns (new source, lines replaced)."""
    out, n, mode = [], 0, False
    for line in source.splitlines(keepends=True):
        bare = line.rstrip("\n")
        m = _LINE.match(bare)
        if m:
            out.append(f"{m['indent']}{_STUB}\n")
            n += 1
        elif _SOLUTIONS_IMPORT.match(bare):
            continue
        else:
            out.append(line)
            if not mode and _LIBRARY_IMPORT.match(bare):
                out.append(_STUDENT_MODE)
                mode = True
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
