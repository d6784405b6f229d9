"""Pre-registered claims: read a chapter's ``claims/<chapter>.md`` and report which held.

A claims file is Markdown written — and committed on its own — before the runs it decides; its one
fenced ``json`` block lists ``{"id", "statement", "metric", "rule"}`` per claim. A chapter computes a
verdict for every claim id and :func:`claims_report` prints them beside the pre-registered wording.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["claims_path", "load_claims", "claims_report", "check_metrics"]


def claims_path(chapter: str) -> Path:
    from scale_lib.book.env import repo_root

    return repo_root() / "claims" / f"{chapter}.md"


def load_claims(chapter: str, *, path: Path | None = None) -> list[dict]:
    """The claims of ``chapter`` (e.g. ``"06_real_model"``), in file order."""
    path = claims_path(chapter) if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no claims file for chapter {chapter!r} at {path}")
    blocks = re.findall(r"```json\n(.*?)\n```", path.read_text(), flags=re.S)
    if len(blocks) != 1:
        raise ValueError(f"{path} must hold exactly one ```json block of claims; it has {len(blocks)}")
    claims = json.loads(blocks[0])["claims"]
    for c in claims:
        missing = {"id", "statement", "metric", "rule"} - set(c)
        if missing:
            raise ValueError(f"{path}: claim {c.get('id', '?')!r} lacks {sorted(missing)}")
    return claims


def claims_report(claims: list[dict], verdicts: dict[str, bool], values: dict | None = None):
    """One row per claim: id, statement, rule, the measured value and whether it held.

    Raises when a claim has no verdict or a verdict names no claim (each names the bad ids)."""
    import pandas as pd

    ids = [c["id"] for c in claims]
    missing, unknown = [i for i in ids if i not in verdicts], [v for v in verdicts if v not in ids]
    if missing or unknown:
        raise ValueError(f"claims without a verdict: {missing}; verdicts for no claim: {unknown}; the claims are {ids}")
    values = values or {}
    return pd.DataFrame([{"claim": c["id"], "statement": c["statement"], "rule": c["rule"], "measured": values.get(c["id"], ""),
                          "held": bool(verdicts[c["id"]])} for c in claims]).set_index("claim")


def check_metrics(claims: list[dict], metrics: dict) -> None:
    """Raise when a claim names a metric the study does not write (the top-level key before any ``.``)."""
    missing = [(c["id"], c["metric"]) for c in claims if c["metric"].split(".")[0] not in metrics]
    if missing:
        raise ValueError(f"claims name metrics that metrics.json does not have: {missing}; it has {sorted(metrics)[:12]} …")
