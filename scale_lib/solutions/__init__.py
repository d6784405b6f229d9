"""Reference solutions to the notebooks' code exercises — kept apart so an exercise cell shows the task, not the answer.

Each exercise cell calls one of these on a line marked ``# SOLUTION``; ``make student`` replaces
those lines with ``raise NotImplementedError`` (see :mod:`scale_lib.student`), and CI runs the
notebooks with them in place, so an answer key cannot rot unnoticed. Look here only after trying.
"""

from .real_model import cloze_choice, fold_one_layer

__all__ = ["cloze_choice", "fold_one_layer"]
