"""The data the chapters use, all generated or shipped offline.

* :mod:`~scale_lib.data.spatial` — a SpatialEval-style benchmark (maps, mazes, grids; text, image, both);
* :mod:`~scale_lib.data.cloze` — the real model's prompts as cloze batches;
* :mod:`~scale_lib.data.corpus` — Python's own help pages as a character corpus.
"""
