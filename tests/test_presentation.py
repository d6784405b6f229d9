"""Presentation helpers: the gap bars' colour classes and the site builder's code folding."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402

import scale_lib as sl  # noqa: E402
from scale_lib.book.site import fold_long_code  # noqa: E402


def test_gap_bars_colour_what_the_interval_says():
    fig, ax = plt.subplots()
    kinds = sl.gap_bars(ax, ["a", "b", "c"], [-0.10, -0.002, 0.05], [0.03, 0.004, 0.01], lower_is_better=True)
    assert kinds == ["better", "noise", "worse"]
    labels = [t.get_text() for t in ax.texts]
    assert labels[1].startswith("-0.002 ± 0.004"), labels  # a bar too small to see still shows its value
    assert sl.gap_bars(ax, ["a"], [0.1], [0.02], lower_is_better=False) == ["better"]
    with pytest.raises(ValueError, match="one gap and one ci95 per label"):
        sl.gap_bars(ax, ["a", "b"], [0.1], [0.02])
    plt.close(fig)


def test_long_code_cells_are_folded_but_exercises_stay_open():
    long = "\n".join(f"x{i} = {i}" for i in range(20))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(long),
                                         nbformat.v4.new_code_cell(long + "\ny = 2  # SOLUTION"), nbformat.v4.new_markdown_cell(long)])
    assert fold_long_code(nb, max_lines=12) == 1
    assert [c.metadata.get("tags", []) for c in nb.cells] == [[], ["hide-input"], [], []]
    assert fold_long_code(nb, max_lines=12) == 0  # idempotent


def test_fast_mode_pages_say_so_under_their_title():
    from scale_lib.book.site import FAST_NOTE, executed_mode, mark_fast_mode

    def chapter(mode_meta=None, printed="full mode"):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("[badge](x)\n\n# 03 · Title\n\nIntro."),
                                             nbformat.v4.new_code_cell("print(...)")])
        nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed + "\n")]
        if mode_meta:
            nb.metadata["scale_lib"] = {"mode": mode_meta}
        return nb

    assert executed_mode(chapter()) == "full" and executed_mode(chapter(printed="fast mode")) == "fast"
    assert executed_mode(chapter("fast")) == "fast"  # run_book's record wins over the printed line
    full, fast = chapter("full"), chapter("fast")
    assert not mark_fast_mode(full) and "warning" not in full.cells[0].source
    assert mark_fast_mode(fast)
    lines = fast.cells[0].source.splitlines()
    assert lines.index("# 03 · Title") < lines.index(FAST_NOTE.splitlines()[0]) < lines.index("Intro.")


def test_every_explorer_gets_a_note_on_how_to_run_it_live():
    from scale_lib.book.site import EXPLORER_NOTE, annotate_explorers

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("sl.explorer(draw, x=slider)"), nbformat.v4.new_code_cell("print(1)"),
                                         nbformat.v4.new_code_cell("sl.explorer(\n    draw2, y=dropdown)")])
    assert annotate_explorers(nb) == 2
    kinds = [(c.cell_type, c.source == EXPLORER_NOTE) for c in nb.cells]
    assert kinds == [("code", False), ("markdown", True), ("code", False), ("code", False), ("markdown", True)]
