"""Does a fresh full run reproduce the committed numbers? The check CI runs after executing the chapters.

    python -m scale_lib.book.verify 00 01 02 04      # figures/<chapter>/metrics.json against git HEAD's

Every key of the fresh ``metrics.json`` must exist in the committed one and the other way round, and every
value must be equal: strings and booleans exactly, numbers to 1e-9 relative, unless the chapter states a
**tolerance** for that key, with its reason, in the metrics it writes
(``save_metrics(NB, metrics, tolerances={"key": (abs, rel, "why")})`` stores them under ``_tolerances``).
Keys inside lists and dicts are checked leaf by leaf (``sweep.3.kl``); a tolerance on ``sweep`` covers
every leaf under it. The prose is checked against the fresh metrics by ``tests/test_numbers.py``, which
CI runs again after this. Exit status 1 lists every difference.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

__all__ = ["compare_metrics", "committed_metrics", "main", "DEFAULT_REL", "TIMING", "SHORT_TIMING"]

DEFAULT_REL = 1e-9  # "equal": what the same code on the same machine and thread count reproduces
#: The tolerance of a wall-clock time (``save_metrics(..., tolerances={"notebook_seconds": TIMING})``).
TIMING = (0.0, 1.0, "wall-clock time: it depends on the machine and on what else runs; a fresh run may take up to twice as long")
#: A sub-second timing, where scheduling noise alone can double it: half a second more, or twice as long.
SHORT_TIMING = (0.5, 1.0, "a sub-second wall-clock time: scheduling noise alone can double it")


def _leaves(value, prefix: str = ""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{prefix}{k}.")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{prefix}{i}.")
    else:
        yield prefix[:-1], value


def _tolerance(key: str, tolerances: dict) -> tuple[float, float] | None:
    """The tolerance of ``key`` or of the nearest enclosing key that has one."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        t = tolerances.get(".".join(parts[:n]))
        if t is not None:
            return float(t["abs"]), float(t["rel"])
    return None


def compare_metrics(fresh: dict, committed: dict) -> list[str]:
    """Differences between a fresh and a committed ``metrics.json`` (an empty list when they agree)."""
    tolerances = {**committed.get("_tolerances", {}), **fresh.get("_tolerances", {})}
    problems = []
    a = dict(_leaves({k: v for k, v in fresh.items() if k != "_tolerances"}))
    b = dict(_leaves({k: v for k, v in committed.items() if k != "_tolerances"}))
    for key in sorted(set(a) - set(b)):
        problems.append(f"{key}: new in this run ({a[key]!r}), not in the committed metrics")
    for key in sorted(set(b) - set(a)):
        problems.append(f"{key}: committed ({b[key]!r}) but not written by this run")
    for key in sorted(set(a) & set(b)):
        new, old = a[key], b[key]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (new, old))
        if not numbers:
            if new != old:
                problems.append(f"{key}: {old!r} committed, {new!r} now")
            continue
        if all(isinstance(v, float) and math.isnan(v) for v in (new, old)):
            continue
        tol = _tolerance(key, tolerances)
        abs_tol, rel_tol = tol if tol is not None else (0.0, DEFAULT_REL)
        if not abs(new - old) <= abs_tol + rel_tol * abs(old):
            why = "" if tol is None else f" (its stated tolerance: abs {abs_tol:g}, rel {rel_tol:g})"
            problems.append(f"{key}: {old!r} committed, {new!r} now, a difference of {new - old:+.3g}{why}")
    return problems


def committed_metrics(chapter: str, root: Path, ref: str = "HEAD") -> dict:
    """``figures/<chapter>/metrics.json`` as committed at ``ref``."""
    out = subprocess.run(["git", "-C", str(root), "show", f"{ref}:figures/{chapter}/metrics.json"], capture_output=True, text=True)
    if out.returncode:
        raise FileNotFoundError(f"no committed figures/{chapter}/metrics.json at {ref}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    from scale_lib.book.env import figures_root, repo_root

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="+", help="chapters to check (name prefixes, e.g. 00 01)")
    parser.add_argument("--ref", default="HEAD", help="the commit to compare with (default HEAD)")
    args = parser.parse_args(argv)
    root = repo_root()
    chapters = sorted(p.stem for p in (root / "notebooks").glob("[0-9][0-9]_*.py") if p.stem.startswith(tuple(args.prefixes)))
    if not chapters:
        parser.error(f"no chapter starts with {args.prefixes}")
    failed = 0
    for chapter in chapters:
        fresh = json.loads((figures_root() / chapter / "metrics.json").read_text())
        problems = compare_metrics(fresh, committed_metrics(chapter, root, args.ref))
        n = sum(1 for _ in _leaves({k: v for k, v in fresh.items() if k != "_tolerances"}))
        print(f"{chapter}: {n} numbers, {len(problems)} differ from {args.ref}")
        for p in problems:
            print(f"    {p}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
