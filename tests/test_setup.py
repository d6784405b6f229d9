"""The book's shape: packaging lists agree, notebooks are paired and clean, README and CI agree."""

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _extra(pyproject: dict, name: str) -> set[str]:
    """The packages of one extra, with the extras it names of scale_lib itself (``scale_lib[plots]``) expanded."""
    out = set()
    for req in pyproject["optional-dependencies"][name]:
        if _name(req) == "scale-lib":
            for sub in req.split("[", 1)[1].rstrip("]").split(","):
                out |= _extra(pyproject, sub.strip())
        else:
            out.add(_name(req))
    return out


def test_environment_yml_lists_the_same_packages_as_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in pyproject["dependencies"]} | _extra(pyproject, "notebooks")
    text = (ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1]
    listed = {_name(line.strip()[2:]) for line in pip_section.splitlines() if line.strip().startswith("- ") and not line.strip().startswith("- -e")}
    assert listed == wanted, f"only in environment.yml: {listed - wanted}; only in pyproject: {wanted - listed}"


def test_constraints_pin_torch_so_no_cuda_build_is_pulled():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line and not line.startswith("#"))
    assert pins["torch"] == "2.13.0"
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()
    # the constraint file pins only packages the project asks for
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    asked = {_name(r) for r in pyproject["dependencies"]} | {_name(r) for extra in pyproject["optional-dependencies"].values() for r in extra}
    assert {_name(p) for p in pins} <= asked


@pytest.mark.parametrize("src", NOTEBOOK_SOURCES, ids=lambda p: p.stem)
def test_notebook_pair_in_sync_and_without_outputs(src):
    nb_path = src.with_suffix(".ipynb")
    assert nb_path.exists(), f"{src.name} has no paired {nb_path.name}: run `make sync`"
    py, ipynb = jupytext.read(src), jupytext.read(nb_path)
    cells = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert cells(py) == cells(ipynb), f"{src.name} and {nb_path.name} differ: run `make sync`"
    raw = nbformat.read(nb_path, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in raw.cells if c.cell_type == "code"), f"{nb_path.name} is committed with outputs"


@pytest.mark.parametrize("src", NOTEBOOK_SOURCES, ids=lambda p: p.stem)
def test_notebook_opens_with_colab_badge_and_colab_only_setup(src):
    nb = jupytext.read(src)
    assert "colab.research.google.com/github/" in nb.cells[0].source and src.stem in nb.cells[0].source
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    assert 'if "google.colab" in sys.modules' in setup


def test_readme_documents_exactly_two_setup_commands_and_every_notebook():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- setup-commands -->\s*```bash\n(.*?)```", readme, re.S)
    assert block, "README needs the fenced setup block after <!-- setup-commands -->"
    commands = [line for line in block.group(1).splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(commands) == 2, commands
    assert any("make book" in c for c in commands) and any("make test" in c for c in commands)
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = next(c for c in commands if "make test" in c).strip()
    assert test_cmd.split("#")[0].strip().endswith("make test") and "make test" in ci
    for src in NOTEBOOK_SOURCES:
        assert src.stem in readme, f"README does not mention {src.stem}"
    for bench in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        assert bench.name in readme, f"README's benchmark table does not list {bench.name}"


def test_every_notebook_records_metrics_in_full_mode():
    for src in NOTEBOOK_SOURCES:
        assert "sl.save_metrics(NB" in src.read_text(), f"{src.name} records no metrics.json"
        assert (ROOT / "figures" / src.stem / "metrics.json").exists(), f"figures/{src.stem}/metrics.json is missing: run `make book`"


def test_readme_python_snippets_run():
    import subprocess
    import sys

    snippets = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert snippets, "README shows no Python"
    result = subprocess.run([sys.executable, "-c", "\n".join(snippets)], capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_books_home_is_in_one_place():
    from scale_lib.book.home import stale_homes
    from scale_lib.book.site import repository

    assert repository() == "scale-lib/scale_lib" or "/" in repository()
    assert stale_homes() == {}, f"files name another home than pyproject.toml's: {stale_homes()} — run `python -m scale_lib.book.home`"


def test_site_sources_list_every_chapter_in_reading_order():
    index = (ROOT / "site" / "index.md").read_text()
    chapters = [p.stem for p in NOTEBOOK_SOURCES]
    listed = re.findall(r"\((\d\d_\w+)\.ipynb\)", index)
    assert listed == chapters, f"site/index.md lists {listed}; the chapters are {chapters}"
    toc = re.findall(r"^(\d\d_\w+)$", index, re.M)
    assert toc == chapters


@pytest.mark.parametrize("src", NOTEBOOK_SOURCES, ids=lambda p: p.stem)
def test_the_colab_cell_can_be_rerun_and_installs_the_tested_versions(src, tmp_path, monkeypatch):
    """Run the chapter's Colab cell twice, as Colab would, with the clone, pip and paths redirected here."""
    import subprocess
    import sys
    import types

    setup = next(c.source for c in jupytext.read(src).cells if c.cell_type == "code")
    cell = setup.split('if "google.colab" in sys.modules:', 1)[1].split("\nimport ", 1)[0]
    home = tmp_path / "content" / "scale_lib"
    code = ("if True:" + cell).replace("/content/scale_lib", str(home)).replace("/tmp/scale_lib-constraints.txt", str(tmp_path / "c.txt"))
    calls = []

    def fake_run(cmd, check):
        calls.append(cmd)
        if cmd[:2] == ["git", "clone"]:
            (home / "notebooks").mkdir(parents=True)
            (home / ".git").mkdir()
            (home / "constraints.txt").write_text((ROOT / "constraints.txt").read_text())

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for _ in range(2):
        exec(compile(code, src.name, "exec"), {"os": __import__("os"), "sys": sys})
    clones = [c for c in calls if c[:2] == ["git", "clone"]]
    installs = [c for c in calls if "-e" in c]
    assert len(clones) == 1 and len(installs) == 2  # the second run skips the clone
    assert installs[0][installs[0].index("-c") + 1] == str(tmp_path / "c.txt")
    pins = (tmp_path / "c.txt").read_text()
    assert "transformers==" in pins and "torch==" not in pins
    assert sys.path.count(str(home)) == 1


def test_run_book_reuses_an_executed_copy_only_of_the_same_cells_in_the_same_mode(tmp_path):
    """.ci/run's ci-book reuses the fast-mode chapters make test's nbmake executed (run_book --reuse):
    a copy from other cells, or from the other mode, must run again."""
    from scale_lib.book.run_book import cells_sha, keep_executed, reusable

    src = tmp_path / "src"
    src.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, src / "99_t.ipynb")
    out = tmp_path / "out"
    assert reusable(src / "99_t.ipynb", "fast", out) is None  # nothing executed yet
    executed = nbformat.read(src / "99_t.ipynb", as_version=4)
    executed.cells[1].outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    keep_executed(executed, src / "99_t.ipynb", "fast", 12.34, by="nbmake", out_dir=out)
    assert reusable(src / "99_t.ipynb", "fast", out) == 12.3
    assert reusable(src / "99_t.ipynb", "full", out) is None  # the other mode
    assert nbformat.read(out / "99_t.ipynb", as_version=4).metadata["scale_lib"]["cells_sha"] == cells_sha(nb)
    nb.cells[1].source = "x = 2"  # the chapter changed since it was executed
    nbformat.write(nb, src / "99_t.ipynb")
    assert reusable(src / "99_t.ipynb", "fast", out) is None
    assert executed.cells[1].outputs and not nb.cells[1].get("outputs")  # outputs do not enter the digest
    assert cells_sha(executed) != cells_sha(nb)
