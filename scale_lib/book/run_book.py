"""Execute every notebook of the book, in order, and regenerate ``figures/``.

    python -m scale_lib.book.run_book                 # full mode (make book)
    SCALE_LIB_FAST=1 python -m scale_lib.book.run_book   # fast mode, seconds per notebook
    python -m scale_lib.book.run_book 02 03           # only notebooks whose name starts with 02 or 03

Executed copies, with their outputs, are written to ``build/notebooks/`` (the committed notebooks
stay output-free). Each notebook's wall time is printed and recorded in ``build/run_times.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import nbformat
from nbclient import NotebookClient

from scale_lib.book.env import is_fast, repo_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="run only notebooks whose file name starts with one of these")
    parser.add_argument("--timeout", type=int, default=7200, help="seconds one cell may take (default 7200: chapter 07's study is one cell of about an hour)")
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
    for nb_path in notebooks:
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
        nb.metadata["scale_lib"] = {"mode": mode, "seconds": times[nb_path.stem]}  # the site marks fast-mode pages
        nbformat.write(nb, out_dir / nb_path.name)
        print(f"    done in {times[nb_path.stem]:.0f} s -> {out_dir / nb_path.name}", flush=True)
    record = root / "build" / f"run_times_{mode}.json"
    old = json.loads(record.read_text()) if record.exists() else {}
    record.write_text(json.dumps({**old, **times}, indent=2) + "\n")
    total = sum(times.values())
    print(f"all {len(notebooks)} notebooks ran in {mode} mode in {total:.0f} s ({total / 60:.1f} min); figures are in {root / 'figures'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
