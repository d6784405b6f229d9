"""Graded problem sets and the course releases, built with an existing autograder (otter-grader).

Each chapter has a problem set, ``course/problem_sets/NN_title.py``: a jupytext notebook in
`Otter Assign's format <https://otter-grader.readthedocs.io/en/latest/otter_assign/notebook_format.html>`_
(raw ``# BEGIN QUESTION`` / ``# BEGIN SOLUTION`` / ``# BEGIN TESTS`` cells), with the reference
solution and public and hidden tests in one file. Otter Assign splits it into

* an **instructor** version: the solutions, every test, and ``autograder.zip`` — what ``otter run``
  (or Gradescope, or ``otter grade`` in Docker) grades a submission with;
* a **student** version: the tasks with ``...`` where the code goes and only the public tests, which
  ``grader.check("q1_…")`` runs.

::

    python -m scale_lib.book.course release   # make release: build/course/{instructor,student}
    python -m scale_lib.book.course student   # make student: build/course/student only
    python -m scale_lib.book.course grade build/course/instructor/00_scaling_hooks/autograder.zip my.ipynb

The student release also holds the chapters with their exercise solutions removed
(:mod:`scale_lib.book.student`, with :func:`scale_lib.book.exercises.student_mode` on, so no check
prints an expected answer) and a wheel of ``scale_lib`` without :mod:`scale_lib.book.solutions`:
a student who installs it cannot import a solution.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from scale_lib.book.env import repo_root

__all__ = ["QUESTION", "STRANDS", "strand_map", "Assigned", "problem_sets", "questions", "assign", "grade", "replace_answers", "build_student_wheel", "build_release", "main"]

log = logging.getLogger(__name__)

#: a question's config line in a problem set: ``# name: q1_head_prehook``
QUESTION = re.compile(r"^# # BEGIN QUESTION\s*\n# name:\s*(?P<name>\w+)", re.M)


#: The book's two strands on one tool, and the chapter that joins them (the instructor page draws this).
STRANDS = {
    "ScAle": ("00", "01", "02", "03", "06", "07"),
    "γ (scale vectors)": ("00", "04", "05", "06"),
}
_TITLES = {"00": "00 hooks", "01": "01 benchmark", "02": "02 discovery", "03": "03 ScAle", "04": "04 theory toys",
           "05": "05 γ in pre-training", "06": "06 a real model", "07": "07 causal test"}


def strand_map(path: Path | None = None):
    """Draw the two strands (:data:`STRANDS`) as a reading map; save it to ``path`` if given; returns the figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    pos = {"00": (0, 0.5), "01": (1, 1), "02": (2, 1), "03": (3, 1), "04": (1.5, 0), "05": (3.1, 0), "06": (4.2, 0.5), "07": (5.4, 0.5)}
    colours = {"ScAle": "#3b75af", "γ (scale vectors)": "#c8553d"}
    fig, ax = plt.subplots(figsize=(9, 3.2))
    boxes = {}
    for ch, (x, y) in pos.items():
        shared = ch in ("00", "06")
        boxes[ch] = ax.text(x, y, _TITLES[ch], ha="center", va="center", fontsize=10, fontweight="bold" if shared else "normal",
                            bbox=dict(boxstyle="round,pad=0.4", fc="#f3f3f3" if shared else "white", ec="#555555"))
    fig.canvas.draw()  # the boxes' patches get their size here: the arrows are clipped at them
    for strand, chapters in STRANDS.items():
        for a, b in zip(chapters, chapters[1:]):
            ax.annotate("", xy=pos[b], xytext=pos[a],
                        arrowprops=dict(arrowstyle="-|>", color=colours[strand], lw=2, mutation_scale=14, shrinkA=3, shrinkB=3,
                                        patchA=boxes[a].get_bbox_patch(), patchB=boxes[b].get_bbox_patch()))
        ax.plot([], [], color=colours[strand], lw=2, label=f"{strand}: " + " → ".join(chapters))
    ax.text(2.2, 0.5, "the bridge (04 §7): a ScAle coefficient is a last-token γ\non the input of o_proj; 04's fold says what it can and cannot add",
            ha="center", va="center", fontsize=8.5, style="italic", color="#444444")
    ax.set_xlim(-0.6, 6.0)
    ax.set_ylim(-0.45, 1.45)
    ax.axis("off")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False, fontsize=9)
    ax.set_title("Two strands on one tool: read 00 first, then either strand; 06 tests both on a real model, 07 closes ScAle's", fontsize=11)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig


def problem_sets(root: Path | None = None) -> list[Path]:
    """Every problem set, ``course/problem_sets/NN_title.py``, in chapter order."""
    return sorted(Path(root or repo_root() / "course" / "problem_sets").glob("[0-9][0-9]_*.py"))


def questions(problem_set: Path) -> list[str]:
    """The question names of a problem set, in order (``q1_head_prehook``, …)."""
    return [m["name"] for m in QUESTION.finditer(Path(problem_set).read_text())]


@dataclass(frozen=True)
class Assigned:
    """What Otter Assign made of one problem set."""

    name: str
    autograder_zip: Path  #: what grades a submission (instructor only)
    solution: Path  #: the notebook with the reference solutions (instructor only): a correct submission
    student: Path  #: the notebook a student fills in
    questions: tuple[str, ...]


def _otter_module(name: str):
    """Import part of otter-grader (in this process: its import alone takes seconds, so it happens once)."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise RuntimeError("otter-grader is not installed: `pip install 'otter-grader[grading]'` (scale_lib's `course` extra; "
                           "`make install` installs it)") from err


@contextlib.contextmanager
def _chdir(path):
    """``contextlib.chdir`` (Python 3.11+), for 3.10."""
    import os

    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def assign(problem_set: Path, target: Path) -> Assigned:
    """Run Otter Assign on ``problem_set`` (a ``.py`` master) into ``target``/{autograder,student}."""
    import jupytext

    problem_set = Path(problem_set)
    if not problem_set.exists():
        raise FileNotFoundError(f"no problem set {problem_set}; the problem sets are {[p.name for p in problem_sets()]}")
    names = questions(problem_set)
    if not names:
        raise ValueError(f"{problem_set} has no '# BEGIN QUESTION' cell with a '# name:' line: it is not an Otter Assign master")
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    with tempfile.TemporaryDirectory() as tmp:
        master = Path(tmp) / f"{problem_set.stem}.ipynb"
        jupytext.write(jupytext.read(problem_set), master)
        otter_assign = _otter_module("otter.assign")
        out = io.StringIO()
        try:
            with _chdir(tmp), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                otter_assign.main(str(master), str(target.resolve()), no_pdfs=True)
        except Exception as err:
            raise RuntimeError(f"otter assign failed on {problem_set.name}: {err}\n{out.getvalue()[-3000:]}") from err
    zips = sorted((target / "autograder").glob("*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"otter assign wrote {len(zips)} autograder zips for {problem_set.name}, expected one")
    stable = target / "autograder" / "autograder.zip"
    zips[0].rename(stable)  # otter stamps the name with the time; the course's links need a fixed one
    return Assigned(problem_set.stem, stable, target / "autograder" / master.name, target / "student" / master.name, tuple(names))


def grade(autograder_zip: Path, submission: Path) -> dict[str, tuple[float, float]]:
    """Grade ``submission`` (a notebook) with ``autograder_zip`` through otter's own non-containerised
    grader (what ``otter run`` calls): ``{question: (score, max score)}``."""
    submission, autograder_zip = Path(submission), Path(autograder_zip)
    for p in (submission, autograder_zip):
        if not p.exists():
            raise FileNotFoundError(f"{p} does not exist")
    api = _otter_module("otter.api")
    results = api.grade_submission(str(submission.resolve()), str(autograder_zip.resolve()), quiet=True)
    if results.has_catastrophic_failure():
        raise RuntimeError(f"otter could not grade {submission.name}: {results.catastrophic_error}")
    return {name: (float(tf.score), float(tf.possible)) for name, tf in results.results.items()}


def replace_answers(notebook: Path, answers: dict[str, str], target: Path) -> Path:
    """A copy of ``notebook`` in which the code cell defining each ``name`` (``def name(`` or
    ``class name``) is replaced by ``answers[name]`` — how a test makes a wrong submission."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    left = dict(answers)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for name in list(left):
            if re.search(rf"^(def|class) {re.escape(name)}\b", cell.source, re.M):
                cell.source = left.pop(name)
                cell.outputs = []
    if left:
        raise ValueError(f"no cell of {Path(notebook).name} defines {sorted(left)}")
    nbformat.write(nb, target)
    return Path(target)


def build_student_wheel(target: Path) -> Path:
    """A wheel of ``scale_lib`` built from the tracked sources **without** :mod:`scale_lib.book.solutions`."""
    root = repo_root()
    files = subprocess.run(["git", "ls-files", "pyproject.toml", "README.md", "LICENSE", "scale_lib"], cwd=root, capture_output=True, text=True)
    if files.returncode != 0:
        raise RuntimeError("not a git checkout: the student wheel is built from the tracked files")
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        for name in files.stdout.split():
            if name.startswith("scale_lib/book/solutions/"):
                continue
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, src / name)
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(target), str(src)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"building the student wheel failed:\n{done.stderr[-3000:]}")
    wheel = next(target.glob("scale_lib-*.whl"))
    leaked = [n for n in zipfile.ZipFile(wheel).namelist() if "/solutions/" in n]
    if leaked:
        raise RuntimeError(f"the student wheel holds solutions: {leaked}")
    return wheel


_STUDENT_README = """# Student release

- `chapters/`: the book's chapters with every exercise's reference answer removed. Their checks say
  whether an answer is right, never what it is.
- `problem_sets/NN_title/`: one graded problem set per chapter. Fill in the `...` cells; `grader.check("q1_…")`
  runs the public checks; your instructor grades the notebook with hidden ones.
- `{wheel}`: the library without its solutions. Install it with
  `pip install {wheel}` (plus `torch`, and the book's other packages: `pip install "{wheel}[notebooks]"`).
"""

_INSTRUCTOR_README = """# Instructor release (keep it away from students)

For each problem set `NN_title/`: `autograder/NN_title.ipynb` holds the reference solutions,
`autograder/tests/` every test (hidden ones included) and `autograder/autograder.zip` grades a submission:

    otter run -a NN_title/autograder/autograder.zip submission.ipynb    # no Docker; results.json
    otter grade -a NN_title/autograder/autograder.zip -p submissions/   # many, in Docker
    python -m scale_lib.book.course grade NN_title/autograder/autograder.zip submission.ipynb

The keys to the chapters' own exercises are `scale_lib/book/solutions/` in the repository.
The course plan, learning outcomes and the projects' rubrics are on the site's instructor page.
"""


def build_release(target: Path | None = None, *, instructor: bool = True) -> dict[str, Path]:
    """Build ``target`` (default ``build/course``): ``student/`` always, ``instructor/`` unless told not to."""
    from scale_lib.book.student import build_student

    target = Path(target or repo_root() / "build" / "course")
    student = target / "student"
    if student.exists():
        shutil.rmtree(student)
    (student / "problem_sets").mkdir(parents=True)
    out = {"student": student}
    build_student(target=student / "chapters")
    for ps in problem_sets():
        with tempfile.TemporaryDirectory() as tmp:
            a = assign(ps, Path(tmp) / ps.stem)
            shutil.copytree(a.student.parent, student / "problem_sets" / ps.stem)
            if instructor:
                dest = target / "instructor" / ps.stem
                if dest.exists():
                    shutil.rmtree(dest)
                shutil.copytree(a.autograder_zip.parent, dest / "autograder")
        print(f"{ps.stem}: {len(a.questions)} question(s)")
    wheel = build_student_wheel(student)
    (student / "README.md").write_text(_STUDENT_README.format(wheel=wheel.name))
    if instructor:
        (target / "instructor" / "README.md").write_text(_INSTRUCTOR_README)
        out["instructor"] = target / "instructor"
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["release"]:
        print(build_release())
    elif argv[:1] == ["student"]:
        print(build_release(instructor=False))
    elif argv[:1] == ["grade"] and len(argv) == 3:
        for q, (score, top) in grade(Path(argv[1]), Path(argv[2])).items():
            print(f"{q}: {score:g} / {top:g}")
    else:
        print("usage: python -m scale_lib.book.course release | student | grade AUTOGRADER.zip SUBMISSION.ipynb", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
