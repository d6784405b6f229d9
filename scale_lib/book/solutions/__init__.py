"""Reference solutions to the notebooks' code exercises — kept apart so an exercise cell shows the task, not the answer.

Each exercise cell calls one of these on a line marked ``# SOLUTION``; ``make student`` replaces
those lines with ``raise NotImplementedError`` (see :mod:`scale_lib.book.student`), and CI runs the
notebooks with them in place, so an answer key cannot rot unnoticed. Look here only after trying.
One module per chapter: ``hooks`` (00), ``benchmark`` (01), ``discovery`` (02), ``scale`` (03),
``toys`` (04), ``norms`` (05), ``real_model`` (06), ``causal`` (07).
"""

from . import benchmark, causal, discovery, hooks, norms, real_model, scale, toys
from .real_model import cloze_choice, fold_one_layer

__all__ = ["hooks", "benchmark", "discovery", "scale", "toys", "norms", "real_model", "causal", "cloze_choice", "fold_one_layer"]
