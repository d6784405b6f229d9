"""``figures/*/metrics.json`` hold only keys that the current code writes: a key no notebook or library
code can produce any more (a renamed or dropped measurement) fails here until the chapter is re-run
in full mode (``save_metrics`` replaces the file whole)."""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
METRICS = sorted((ROOT / "figures").glob("*/metrics.json"))


def _writable(sources: list[Path]) -> tuple[set[str], list[re.Pattern]]:
    """Every string literal and keyword name in ``sources``, and every f-string as a pattern (its
    formatted fields match any text): what a metrics key can be spelled from."""
    names, patterns = set(), []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
            elif isinstance(node, ast.keyword) and node.arg:
                names.add(node.arg)
            elif isinstance(node, ast.JoinedStr):
                fixed = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                if len(fixed) >= 3 and re.fullmatch(r"[\w.]*", fixed):  # a key-like f-string, e.g. f"{name}_gap_ci95"
                    parts = [re.escape(v.value) if isinstance(v, ast.Constant) else r"[\w.]+" for v in node.values]
                    patterns.append(re.compile("".join(parts)))
    return names, patterns


@pytest.mark.parametrize("path", METRICS, ids=lambda p: p.parent.name)
def test_every_metrics_key_is_one_the_code_writes(path):
    notebook = ROOT / "notebooks" / f"{path.parent.name}.py"
    names, patterns = _writable([notebook, *sorted((ROOT / "scale_lib").rglob("*.py"))])
    stale = [k for k in json.loads(path.read_text()) if k not in names and not any(p.fullmatch(k) for p in patterns)]
    assert not stale, (f"{path.relative_to(ROOT)} holds keys no code writes any more: {stale}; "
                       f"re-run the chapter in full mode (SCALE_LIB_FAST=0 python -m scale_lib.book.run_book {path.parent.name[:2]})")
