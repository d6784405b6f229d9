"""The shared core: what both halves of the book stand on, importing neither.

* :mod:`~scale_lib.core.arch` — the model map: where each architecture keeps its heads, attention and MLP outputs;
* :mod:`~scale_lib.core.hooks` — :func:`scaled` / :class:`Scaling`, multipliers at sites such as ``"L3.H5"``;
* :mod:`~scale_lib.core.tiny` — tiny offline instances of real architectures, for tests and exercises;
* :mod:`~scale_lib.core.prefix` — the prompt's prefix run once, only the last token per step;
* :mod:`~scale_lib.core.scoring` — a multiple-choice answer from next-token logits;
* :mod:`~scale_lib.core.stats` — intervals and exact tests from the standard tools;
* :mod:`~scale_lib.core.schedules` — learning-rate schedules and minibatch orders;
* :mod:`~scale_lib.core.training` — the one optimisation loop every method trains with.
"""
