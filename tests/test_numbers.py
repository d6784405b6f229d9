"""Numbers in the prose are bound to measurements — one mechanism for the whole book.

Every decimal number, percentage or "N×" in a notebook's markdown (and in the README) must carry a
marker right after it (HTML comments: invisible in JupyterLab, Colab and the rendered site):

* ``0.74<!--m:scale_fraction_of_lora_r1_gain-->`` — a **measurement**: the test reads that key from
  the chapter's ``figures/<notebook>/metrics.json`` (the full run) and fails when the prose disagrees
  beyond the precision it prints (``74 %`` is compared as 0.74 ± 0.005; ``×`` numbers as they are).
  In the README, name the chapter: ``<!--m:03_scale_spatial/scale_gain_min_over_testbeds-->``, or a
  benchmark's recorded result: ``<!--m:bench:sweep/ratio_naive_over_cached-->``.
  Keys index into lists and dicts with dots: ``scale_gain_by_testbed.2``.
* ``0.05<!--x-->`` — **not a measurement of this book**: a setting, a threshold, a paper's number,
  a formula's value. The marker says the author decided so.

A number with neither marker fails the test, so a hand-typed result cannot slip in unnoticed, and a
re-run that changes a measurement fails until the prose says what the new run measured.
Exempt without a marker: arXiv ids (``arXiv:2606.29579``), confidence levels ("95 %"), numbers
inside inline code or LaTeX (``$...$``), and link targets.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
NUMBER = re.compile(r"(?<![\w.:/])(?P<sign>[−-])?(?P<num>\d[\d,]*\.\d+|\d+(?:,\d{3})*)(?P<unit>\s?%|\s?×(?!\s?[\w(]))?(?![\w.]*\d)")
MARKER = re.compile(r"^[A-Za-z]{0,2}[*_)\]]*\s?<!--\s*(?:m:(?P<key>[\w./:-]+)|(?P<x>x))\s*-->")
EXEMPT = re.compile(r"`[^`]*`|\$[^$]*\$|\]\([^)]*\)|arXiv:?\s?\d+\.\d+|\b95 %|https?://\S+")


def markdown_of(path: Path) -> str:
    cells = path.read_text().split("# %%")
    text = "\n".join(c for c in cells if c.startswith(" [markdown]"))
    return "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines())


def claims(text: str):
    """(number as printed, unit, marker key or 'x' or None) for every checked number in ``text``."""
    blanked = EXEMPT.sub(lambda m: " " * len(m.group()), text)
    for m in NUMBER.finditer(blanked):
        num, unit = m.group("num"), (m.group("unit") or "").strip()
        marker = MARKER.match(text[m.end():])
        if "." not in num and not unit and marker is None:
            continue  # plain integers (counts, sizes, years, section numbers) need no marker; with one, they are checked
        key = None if marker is None else (marker.group("key") or "x")
        yield (m.group("sign") or "") + num, unit, key, text[max(0, m.start() - 40):m.end() + 10].replace("\n", " ")


def lookup(metrics: dict, key: str):
    """``a.b.2``: key ``a``, then ``b``, then list index 2; a dict key that itself contains dots
    (chapter 07's ``causal_share`` has ``"qk.scale"``) is matched greedily, longest first."""
    value, parts = metrics, key.split(".")
    while parts:
        if isinstance(value, list):
            value, parts = value[int(parts[0])], parts[1:]
            continue
        for n in range(len(parts), 0, -1):
            if ".".join(parts[:n]) in value:
                value, parts = value[".".join(parts[:n])], parts[n:]
                break
        else:
            raise KeyError(parts[0])
    return value


def agrees(printed: str, unit: str, value: float) -> bool:
    number = float(printed.replace("−", "-").replace(",", ""))
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    if unit == "%":
        number, decimals = number / 100, decimals + 2
    return abs(number - value) <= 0.5 * 10 ** -decimals + 1e-12


def check(text: str, metrics_for, where: str) -> list[str]:
    problems = []
    for printed, unit, key, context in claims(text):
        if key is None:
            problems.append(f"{where}: '{printed}{unit}' has no marker (<!--m:key--> for a measurement, <!--x--> otherwise): …{context}…")
        elif key != "x":
            try:
                metrics, name = metrics_for(key)
                value = lookup(metrics, name)
            except (KeyError, IndexError, ValueError, FileNotFoundError) as err:
                problems.append(f"{where}: '{printed}{unit}' names {key!r}, which metrics.json does not have ({err})")
                continue
            if not agrees(printed, unit, float(value)):
                problems.append(f"{where}: prose says {printed}{unit} but metrics.json has {key} = {value}: …{context}…")
    return problems


def _metrics(nb: str) -> dict:
    return json.loads((ROOT / "figures" / nb / "metrics.json").read_text())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_number_in_a_chapter_is_bound_to_its_metrics(path):
    problems = check(markdown_of(path), lambda key: (_metrics(path.stem), key), path.name)
    assert not problems, "\n".join(problems)


def test_every_number_in_the_readme_is_bound_to_metrics():
    def metrics_for(key):
        nb, _, name = key.partition("/")
        if nb.startswith("bench:"):  # a benchmark's recorded result: benchmarks/results/<name>.json
            return json.loads((ROOT / "benchmarks" / "results" / f"{nb[6:]}.json").read_text()), name
        return _metrics(nb), name

    problems = check((ROOT / "README.md").read_text(), metrics_for, "README.md")
    assert not problems, "\n".join(problems)


def test_the_checker_catches_what_it_should():
    metrics = {"share": 0.736, "by": [0.1, 0.25], "arm": {"qk.scale": {"ci": [0.2, 0.4]}}}
    assert lookup(metrics, "arm.qk.scale.ci.1") == 0.4
    ok = "ScAle recovered 74 %<!--m:share--> of it, and 0.25<!--m:by.1--> later; lr 0.05<!--x-->; `0.3` in code; 95 % interval."
    assert check(ok, lambda k: (metrics, k), "t") == []
    assert "prose says 0.70" in check("it was 0.70<!--m:share-->", lambda k: (metrics, k), "t")[0]
    assert "has no marker" in check("it was 0.74 then", lambda k: (metrics, k), "t")[0]
    assert "does not have" in check("x 0.1<!--m:nope-->", lambda k: (metrics, k), "t")[0]
