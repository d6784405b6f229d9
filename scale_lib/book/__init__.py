"""The book's machinery: it imports the science, the science never imports it.

* :mod:`~scale_lib.book.env` — fast/full mode, :func:`pick`, paths, :func:`save_metrics`, seeding;
* :mod:`~scale_lib.book.plotting` / :mod:`~scale_lib.book.explorer` — the figures' style and the interactive figures;
* :mod:`~scale_lib.book.claims` — pre-registered claims, read from ``claims/`` and decided from metrics;
* :mod:`~scale_lib.book.exercises` / :mod:`~scale_lib.book.solutions` — exercise checks and answer keys;
* :mod:`~scale_lib.book.run_book`, :mod:`~scale_lib.book.site`, :mod:`~scale_lib.book.student`,
  :mod:`~scale_lib.book.home` — executing every chapter, the rendered site, the student copy, the repository's home.
"""

from scale_lib.book.env import FAST_ENV, is_fast, output_dir, pick, repo_root, save_metrics, seed_everything, use_cores

__all__ = ["FAST_ENV", "is_fast", "output_dir", "pick", "repo_root", "save_metrics", "seed_everything", "use_cores"]
