"""The book's public home, kept in one place: ``pyproject.toml``'s ``[project.urls] Repository``.

    python -m scale_lib.book.home          # rewrite every Colab badge and clone line to that home; then `make sync`
    python -m scale_lib.book.home --check  # exit 1 if any file names another home

A fork changes the one line in ``pyproject.toml`` and runs this; ``tests/test_setup.py`` fails while
any notebook or the README still points elsewhere.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from scale_lib.book.env import repo_root
from scale_lib.book.site import repository

__all__ = ["HOME_PATTERN", "files_with_home", "stale_homes", "rewrite_homes"]

#: the places a home appears: Colab links (``colab.research.google.com/github/OWNER/NAME/blob/...``) and clone lines (``github.com/OWNER/NAME``)
HOME_PATTERN = re.compile(r"(?P<prefix>colab\.research\.google\.com/github/|https://github\.com/)(?P<home>[\w.-]+/[\w.-]+?)(?P<suffix>/blob/|\.git\b|[\"'\s)])")


def files_with_home(root: Path | None = None) -> list[Path]:
    root = root or repo_root()
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.py")) + [root / "README.md", root / "site" / "index.md"]


def stale_homes(root: Path | None = None) -> dict[str, set[str]]:
    """``{file: {other homes it names}}`` — empty when every file agrees with ``pyproject.toml``."""
    home = repository(root)
    out = {}
    for path in files_with_home(root):
        if path.exists():
            found = {m["home"] for m in HOME_PATTERN.finditer(path.read_text())} - {home}
            if found:
                out[str(path)] = found
    return out


def rewrite_homes(root: Path | None = None) -> list[Path]:
    """Point every badge and clone line at ``pyproject.toml``'s home; returns the files changed."""
    home = repository(root)
    changed = []
    for path in files_with_home(root):
        if not path.exists():
            continue
        text = path.read_text()
        new = HOME_PATTERN.sub(lambda m: f"{m['prefix']}{home}{m['suffix']}", text)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report files that name another home")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_homes()
        for f, homes in stale.items():
            print(f"{f}: names {sorted(homes)}, not {repository()}")
        return 1 if stale else 0
    for path in rewrite_homes():
        print(f"rewrote {path}")
    print("now run `make sync` to update the paired .ipynb files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
