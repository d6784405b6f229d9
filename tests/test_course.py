"""The course kit: graded problem sets that the autograder itself (otter-grader) grades, and a student
release that holds no solution.

* every problem-set exercise: otter gives the reference solution full marks and a plausible wrong
  answer (``tests/_course_wrong_answers.py``) less than full marks;
* every exercise, in the chapters and the problem sets, carries a difficulty and a time mark;
* the student release: no solution in a notebook, none importable from its wheel, and a check there
  prints no expected answer.
"""

import io
import re
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from _course_wrong_answers import WRONG

from scale_lib.book import course
from scale_lib.book import exercises as ex

pytest.importorskip("otter", reason="otter-grader is not installed (scale_lib's course extra)")

ROOT = Path(__file__).resolve().parents[1]
PROBLEM_SETS = course.problem_sets()
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
EXERCISE = re.compile(r"^# \*\*Exercise (\d+)\b.*$", re.M)
MARK = re.compile(r"\*\*Exercise \d+[a-z]? — .+?\*\* \((★[★☆]{2}) · (\d+) min\)")


def test_every_chapter_has_a_problem_set():
    assert [p.stem for p in PROBLEM_SETS] == [c.stem for c in CHAPTERS], "one problem set per chapter, named like the chapter"


@pytest.mark.parametrize("problem_set", PROBLEM_SETS, ids=lambda p: p.stem)
def test_the_autograder_grades_a_correct_and_a_wrong_submission(problem_set, tmp_path):
    assigned = course.assign(problem_set, tmp_path / "dist")
    assert WRONG[problem_set.stem], "every problem set needs its wrong answers"
    right = course.grade(assigned.autograder_zip, assigned.solution)
    assert set(right) == set(assigned.questions)
    for q, (score, top) in right.items():
        assert top > 0 and score == top, f"{problem_set.stem} {q}: the reference solution scored {score} of {top}"
    wrong = course.replace_answers(assigned.solution, WRONG[problem_set.stem], tmp_path / "wrong.ipynb")
    graded = course.grade(assigned.autograder_zip, wrong)
    assert set(graded) == set(assigned.questions)
    for q, (score, top) in graded.items():
        assert score < top, f"{problem_set.stem} {q}: the plausible wrong answer got full marks ({score} of {top}): a hidden test is missing"
    # the student version holds no solution and no hidden test
    student = assigned.student.read_text()
    for name in WRONG[problem_set.stem]:
        assert name in student, f"the student version lost the exercise's {name}"
    assert "BEGIN SOLUTION" not in student and "hidden: true" not in student
    for test_file in (assigned.student.parent / "tests").glob("*.py"):
        assert "hidden=True" not in test_file.read_text(), f"{test_file.name}: a hidden test reached the student version"
    assert any("hidden=True" in f.read_text() for f in (assigned.autograder_zip.parent / "tests").glob("*.py")), "the autograder has hidden tests"


@pytest.mark.parametrize("path", CHAPTERS + PROBLEM_SETS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_exercise_carries_a_difficulty_and_a_time(path):
    text = path.read_text()
    headings = [m.group(0) for m in EXERCISE.finditer(text)]
    assert headings, f"{path.name} has no exercise"
    unmarked = [h for h in headings if not MARK.search(h)]
    assert not unmarked, f"{path.name}: exercises without a '(★★☆ · 10 min)' mark after their bold title: {unmarked}"


def test_check_reveals_no_answer_in_student_mode():
    buf = io.StringIO()
    try:
        ex.student_mode(True)
        with redirect_stdout(buf):
            assert ex.check("q", 41, 4242, explanation="because of the secret 4242") is False
            assert ex.check("q", 4242, 4242) is True
    finally:
        ex.student_mode(False)
    assert "4242" not in buf.getvalue().replace("[q] correct", ""), buf.getvalue()
    buf = io.StringIO()
    with redirect_stdout(buf):
        ex.check("q", 41, 4242)
    assert "4242" in buf.getvalue(), "the book's own edition does show the expected answer"


def test_a_prediction_cannot_be_changed_after_the_reveal(capsys):
    ex._PREDICTIONS.pop("t", None)
    ex._REVEALED.discard("t")
    assert ex.reveal("t", 3) is None, "no prediction yet: nothing to compare"
    assert ex.predict("t", 2) == 2
    assert ex.reveal("t", 3) is False
    assert ex.predict("t", 3) == 2, "after the reveal the first prediction is kept"
    assert ex.reveal("t", 3) is False


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return course.build_release(tmp_path_factory.mktemp("course"), instructor=True)


def test_the_student_release_holds_no_solution(release):
    student = release["student"]
    chapters = sorted((student / "chapters").glob("*.ipynb"))
    assert len(chapters) == len(CHAPTERS)
    for nb in chapters:
        text = nb.read_text()
        assert "solutions." not in text and "import solutions" not in text, f"{nb.name} still uses the solutions"
        assert "# SOLUTION" not in text, f"{nb.name} still has a solution line"
        assert "student_mode()" in text, f"{nb.name} does not switch its checks to the student mode"
    sets = sorted((student / "problem_sets").glob("*/*.ipynb"))
    assert [p.parent.name for p in sets] == [p.stem for p in PROBLEM_SETS]
    wheel = next(student.glob("scale_lib-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "scale_lib/book/exercises.py" in names and not [n for n in names if "/solutions/" in n], "the student wheel must hold no solution"
    assert not list(student.rglob("autograder.zip")), "the autograder (with the hidden tests) is for the instructor only"
    instructor = release["instructor"]
    assert len(list(instructor.glob("*/autograder/autograder.zip"))) == len(PROBLEM_SETS)


def _points(problem_set: Path) -> int:
    return sum(int(p) for p in re.findall(r"^# points:\s*(\d+)", problem_set.read_text(), re.M))


def test_the_instructor_page_agrees_with_the_kit():
    page = (ROOT / "site" / "instructor.md").read_text()
    for ps in PROBLEM_SETS:
        n = ps.stem[:2]
        m = re.search(rf"\| PS{n} \((\d+)\) \|$", page, re.M)
        assert m, f"the session plan does not assign PS{n}"
        assert int(m.group(1)) == _points(ps), f"PS{n}: the plan says {m.group(1)} points, the problem set has {_points(ps)}"
        assert f'href="slides/{ps.stem}.slides.html"' in page, f"no slide deck linked for chapter {ps.stem}"
    n_exercises = sum(len(course.questions(ps)) for ps in PROBLEM_SETS)
    assert f"{n_exercises} code exercises" in page, f"the page should say there are {n_exercises} problem-set exercises"
    assert (ROOT / "site" / "_static" / "strand_map.png").exists()
    assert course.STRANDS["ScAle"][0] == course.STRANDS["γ (scale vectors)"][0] == "00"


def test_a_deck_has_the_title_sections_figures_and_exercises(tmp_path):
    import base64

    import nbformat

    from scale_lib.book.slides import deck, write_deck

    png = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                         "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 99 · A chapter\n\nWhat it shows."),
        nbformat.v4.new_code_cell("import torch"),
        nbformat.v4.new_markdown_cell("## 1 · A section\n\n" + "Long prose. " * 80 + "\n\nSecond paragraph."),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})]),
        nbformat.v4.new_markdown_cell("## 2 · Exercises\n\n**Exercise 1 — a task** (★☆☆ · 5 min). Do it."),
        nbformat.v4.new_markdown_cell("## Questions for discussion\n\n1. Why?"),
    ])
    d = deck(nb)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in d.cells]
    assert kinds[0] == "slide" and kinds.count("subslide") == 1, kinds
    assert all(c.source == "" for c in d.cells if c.cell_type == "code"), "a deck shows figures, not code"
    assert "Second paragraph" not in "".join(c.source for c in d.cells), "a section slide keeps only the first paragraph"
    assert any("Exercise 1 — a task** (★☆☆ · 5 min)" in c.source for c in d.cells)
    assert any("Questions for discussion" in c.source for c in d.cells)
    path = tmp_path / "99_chapter.ipynb"
    nbformat.write(nb, path)
    html = write_deck(path, tmp_path / "slides").read_text()
    assert "reveal" in html.lower() and "data:image/png;base64" in html and "import torch" not in html
