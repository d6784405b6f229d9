"""Self-checks for the notebooks' exercises: your answer vs the one the library computes."""

from __future__ import annotations

import math

__all__ = ["check"]


def check(name: str, answer, expected, *, tol: float = 0.0, explanation: str = "") -> bool | None:
    """Print whether ``answer`` matches ``expected`` and return True/False (None if unanswered).

    Numbers match within ``tol`` (relative); strings case- and space-insensitively; anything else by ``==``.
    """
    if answer is None or answer is Ellipsis:
        print(f"[{name}] not answered yet: set the answer variable above and run this cell again.")
        return None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool) and isinstance(answer, (int, float)):
        ok = math.isclose(float(answer), float(expected), rel_tol=tol, abs_tol=tol if expected == 0 else 0.0)
    elif isinstance(expected, str) and isinstance(answer, str):
        ok = answer.strip().lower() == expected.strip().lower()
    else:
        ok = answer == expected
    mark = "correct" if ok else f"not quite: expected {expected!r}, you said {answer!r}"
    print(f"[{name}] {mark}" + (f"\n  why: {explanation}" if explanation else ""))
    return ok
