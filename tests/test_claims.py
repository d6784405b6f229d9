"""Pre-registration that can be checked: every claims file came before the results it decides.

A claims file ``claims/<chapter>.md`` decides the measurements in ``figures/<chapter>/metrics.json``.
The test reads the git history: the commit that first added the claims file must not touch that
metrics file, and the metrics file must have been written again by a later commit (the run the
claims decide). It skips, saying why, when the history is shallow or absent.
"""

import subprocess
from pathlib import Path

import pytest

from scale_lib.book import claims as claims_lib

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = sorted((ROOT / "claims").glob("*.md"))


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


def history_or_skip() -> None:
    try:
        if git("rev-parse", "--is-shallow-repository") == "true":
            pytest.skip("shallow clone: the claims' history cannot be read (git fetch --unshallow to run this test)")
    except (subprocess.CalledProcessError, FileNotFoundError) as err:
        pytest.skip(f"no git history here ({err})")


def test_there_are_claims_files_and_they_parse():
    assert CLAIMS, "no claims files in claims/"
    for path in CLAIMS:
        claims = claims_lib.load_claims(path.stem, path=path)
        assert claims and len({c["id"] for c in claims}) == len(claims), f"{path.name}: claim ids must be unique"


@pytest.mark.parametrize("path", CLAIMS, ids=[p.stem for p in CLAIMS])
def test_claims_were_committed_before_their_results(path):
    history_or_skip()
    rel = path.relative_to(ROOT).as_posix()
    results = f"figures/{path.stem}/metrics.json"
    added = git("log", "--diff-filter=A", "--format=%H", "--", rel).splitlines()
    if not added:
        pytest.skip(f"{rel} is not committed yet")
    first = added[-1]
    if not (ROOT / results).is_file():
        pytest.skip(f"{results} does not exist yet: the study {rel} decides has not run (its claims are not decided yet)")
    touched = git("show", "--name-only", "--format=", first).splitlines()
    assert results not in touched, f"{rel} first appears in {first[:8]}, the same commit as the results it decides ({results})"
    later = git("log", "--format=%H", f"{first}..HEAD", "--", results).splitlines()
    assert later, f"{results} has not been written by any commit after {rel} was first committed ({first[:8]}): the claims are not yet decided"


@pytest.mark.parametrize("path", CLAIMS, ids=[p.stem for p in CLAIMS])
def test_every_claim_names_a_metric_its_chapter_writes(path):
    import json

    metrics = ROOT / "figures" / path.stem / "metrics.json"
    if not metrics.is_file():
        pytest.skip(f"{metrics.relative_to(ROOT)} does not exist yet")
    claims_lib.check_metrics(claims_lib.load_claims(path.stem, path=path), json.loads(metrics.read_text()))


def test_bad_claims_files_and_verdicts_name_the_problem(tmp_path):
    bad = tmp_path / "x.md"
    bad.write_text("no json here")
    with pytest.raises(ValueError, match="exactly one ```json block"):
        claims_lib.load_claims("x", path=bad)
    bad.write_text('```json\n{"claims": [{"id": "a", "statement": "s", "rule": "r"}]}\n```')
    with pytest.raises(ValueError, match=r"claim 'a' lacks \['metric'\]"):
        claims_lib.load_claims("x", path=bad)
    with pytest.raises(FileNotFoundError, match="no claims file for chapter 'nope'"):
        claims_lib.load_claims("nope", path=tmp_path / "nope.md")
    claims = [{"id": "a", "statement": "s", "metric": "m", "rule": "r"}]
    with pytest.raises(ValueError, match=r"claims without a verdict: \['a'\]; verdicts for no claim: \['b'\]"):
        claims_lib.claims_report(claims, {"b": True})
    assert bool(claims_lib.claims_report(claims, {"a": True}).loc["a", "held"])
    with pytest.raises(ValueError, match=r"\('a', 'm'\)"):
        claims_lib.check_metrics(claims, {"other": 1})
