"""Execute every notebook of the book, in order, and regenerate ``figures/``.

    python -m scale_lib.book.run_book                 # full mode (make book)
    SCALE_LIB_FAST=1 python -m scale_lib.book.run_book   # fast mode, seconds per notebook
    python -m scale_lib.book.run_book 02 03           # only notebooks whose name starts with 02 or 03
    SCALE_LIB_FAST=1 python -m scale_lib.book.run_book --reuse 03   # keep an executed copy of these very cells

Executed copies, with their outputs, are written to ``build/notebooks/`` (the committed notebooks
stay output-free). Each notebook's wall time is printed and recorded in ``build/run_times_<mode>.json``.
With ``--reuse``, a notebook whose executed copy in ``build/notebooks/`` ran in the same mode from
exactly the same cells (same :func:`cells_sha`) is not run again: ``.ci/run`` reuses the fast-mode
copies that ``make test``'s nbmake run wrote (``SCALE_LIB_KEEP_EXECUTED=1``, see ``tests/conftest.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from scale_lib.book.env import is_fast, repo_root


def cells_sha(nb) -> str:
    """A digest of a notebook's cells (type and source, not outputs): two notebooks with the same
    digest execute the same code and show the same prose."""
    cells = [[c.cell_type, c.source] for c in nb.cells]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()[:16]


def keep_executed(nb, source_path, mode: str, seconds: float, by: str, out_dir=None) -> None:
    """Write an executed notebook to ``out_dir`` (``build/notebooks/``) with what the site and ``--reuse`` read."""
    source = nbformat.read(source_path, as_version=4)
    nb.metadata["scale_lib"] = {"mode": mode, "seconds": round(seconds, 1), "cells_sha": cells_sha(source), "by": by}
    out_dir = repo_root() / "build" / "notebooks" if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / source_path.name)


def reusable(nb_path, mode: str, out_dir=None) -> float | None:
    """The recorded seconds of the executed copy of ``nb_path`` in ``out_dir`` (``build/notebooks/``) when it
    ran in ``mode`` from exactly the cells ``nb_path`` holds now; ``None`` when it must run again."""
    copy = (repo_root() / "build" / "notebooks" if out_dir is None else Path(out_dir)) / Path(nb_path).name
    if not copy.exists():
        return None
    meta = nbformat.read(copy, as_version=4).metadata.get("scale_lib", {})
    if meta.get("mode") != mode or meta.get("cells_sha") != cells_sha(nbformat.read(nb_path, as_version=4)):
        return None
    return float(meta.get("seconds", 0.0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="run only notebooks whose file name starts with one of these")
    parser.add_argument("--timeout", type=int, default=7200, help="seconds one cell may take (default 7200: chapter 07's study is one cell of about an hour)")
    parser.add_argument("--reuse", action="store_true", help="skip a notebook whose executed copy in build/notebooks ran in this mode from the same cells")
    args = parser.parse_args(argv)

    root = repo_root()
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.prefixes:
        notebooks = [nb for nb in notebooks if nb.name.startswith(tuple(args.prefixes))]
        if not notebooks:
            names = [nb.name for nb in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
            parser.error(f"no notebook starts with {args.prefixes}; notebooks are {names}")
    out_dir = root / "build" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    mode = "fast" if is_fast() else "full"
    times: dict[str, float] = {}
    reused = []
    for nb_path in notebooks:
        kept = reusable(nb_path, mode, out_dir) if args.reuse else None
        if kept is not None:
            times[nb_path.stem] = kept
            reused.append(nb_path.stem)
            print(f"[{mode}] {nb_path.name}: reused {out_dir / nb_path.name} (ran in {kept:.0f} s from these same cells)", flush=True)
            continue
        print(f"[{mode}] {nb_path.name} ...", flush=True)
        nb = nbformat.read(nb_path, as_version=4)
        start = time.perf_counter()
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": str(nb_path.parent)}})
        try:
            client.execute()
        except Exception as err:  # the executed copy keeps the traceback for reading
            nbformat.write(nb, out_dir / nb_path.name)
            print(f"FAILED {nb_path.name} after {time.perf_counter() - start:.0f} s: {str(err)[-2000:]}", file=sys.stderr)
            print(f"the executed copy with the error is {out_dir / nb_path.name}", file=sys.stderr)
            return 1
        times[nb_path.stem] = round(time.perf_counter() - start, 1)
        keep_executed(nb, nb_path, mode, times[nb_path.stem], by="run_book", out_dir=out_dir)  # the site marks fast-mode pages
        print(f"    done in {times[nb_path.stem]:.0f} s -> {out_dir / nb_path.name}", flush=True)
    record = root / "build" / f"run_times_{mode}.json"
    old = json.loads(record.read_text()) if record.exists() else {}
    record.write_text(json.dumps({**old, **times}, indent=2) + "\n")
    total = sum(times.values())
    if reused:
        print(f"{len(notebooks) - len(reused)} notebooks ran in {mode} mode now, {len(reused)} were reused ({', '.join(reused)}); "
              f"their recorded times sum to {total:.0f} s ({total / 60:.1f} min); figures are in {root / 'figures'}")
    else:
        print(f"all {len(notebooks)} notebooks ran in {mode} mode in {total:.0f} s ({total / 60:.1f} min); figures are in {root / 'figures'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
