"""The package's layers, as rules that can fail: the two halves never import each other, the science
never imports the book, the core imports neither half; no module is longer than 450 lines; ruff is
clean; the old flat paths (scale_lib ≤ 0.1) still work for one release."""

import ast
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "scale_lib"

#: which parts each part may import (itself included)
ALLOWED = {
    "core": {"core"},
    "data": {"core", "data"},
    "models": {"core", "data", "models"},
    "scaling": {"core", "data", "models", "scaling"},
    "norms": {"core", "data", "models", "norms"},
    "book": {"core", "data", "models", "scaling", "norms", "book"},
}


def _imports(path: Path):
    """(line, imported scale_lib part) for every import of scale_lib in ``path``, function-local ones included."""
    tree = ast.parse(path.read_text())
    here = path.relative_to(ROOT).with_suffix("").parts
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = list(here[:-1])[: len(here) - node.level] if node.level > 1 else list(here[:-1])
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod] if mod != "scale_lib" else [f"scale_lib.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "scale_lib" and len(parts) > 1:
                yield node.lineno, parts[1]


def test_every_module_lives_in_a_part():
    loose = sorted(p.name for p in PKG.glob("*.py") if p.name not in ("__init__.py", "_compat.py"))
    assert not loose, f"modules outside the parts {sorted(ALLOWED)}: {loose}"
    assert {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(ALLOWED)


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_layers_import_only_downwards(part):
    bad = []
    for path in sorted((PKG / part).rglob("*.py")):
        for line, target in _imports(path):
            if target not in ALLOWED[part]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports scale_lib.{target}")
    assert not bad, f"{part}/ may import only {sorted(ALLOWED[part])}:\n" + "\n".join(bad)


def test_no_module_is_longer_than_450_lines():
    long = {str(p.relative_to(ROOT)): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > 450}
    assert not long, f"split these modules (one idea per file): {long}"


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the notebooks extra)")
    out = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


def test_every_public_module_name_is_in_its_all():
    """Each module's ``__all__`` names only what it defines or imports, and the face serves every name it lists."""
    import importlib

    import scale_lib as sl

    for path in sorted(PKG.rglob("*.py")):
        mod = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if mod.startswith("scale_lib.book") and "solutions" not in mod:
            continue  # the book's modules import matplotlib and friends: covered by the notebooks
        module = importlib.import_module(mod)
        missing = [n for n in getattr(module, "__all__", []) if not hasattr(module, n)]
        assert not missing, f"{mod}.__all__ lists undefined names {missing}"
    for name in sl.__all__:
        assert getattr(sl, name) is not None, name


def test_old_flat_paths_still_work_and_warn():
    from scale_lib.models import testbed
    from scale_lib.scaling.adapter import ScAle

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import scale_lib.scale as old_scale
        import scale_lib.spatial.graded as old_graded
        from scale_lib.testbed import load_testbed
    assert old_scale.ScAle is ScAle and old_scale.prefix_cache.__module__ == "scale_lib.core.prefix"  # a split module answers for all its names
    assert load_testbed is testbed.load_testbed
    import scale_lib.data.spatial.graded as graded

    assert old_graded is graded and graded.__spec__.name == "scale_lib.data.spatial.graded"  # one copy, its own spec
    assert any(issubclass(w.category, DeprecationWarning) and "scale_lib.scaling.adapter" in str(w.message) for w in caught)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        old_scale.nothing  # noqa: B018


def test_the_command_recorded_in_every_checkpoint_still_runs():
    out = subprocess.run([sys.executable, "-m", "scale_lib.testbed", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "--seed" in out.stdout, out.stderr[-2000:]


def test_the_three_batches_declare_one_interface():
    from scale_lib.core.batch import PromptBatch, answer_labels, left_pad
    from scale_lib.data.cloze import ClozeBatch
    from scale_lib.models.hub_vlm import HubBatch
    from scale_lib.models.testbed import EncodedBatch

    e = torch.zeros(2, 3, dtype=torch.long)
    for batch in (EncodedBatch(e, e, torch.zeros(2, 3, 8, 8), e[:, 0], e, [0, 1]), ClozeBatch(e, e, e[:, 0], e, [0, 1]),
                  HubBatch({"input_ids": e}, e[:, 0], e, [0, 1])):
        assert isinstance(batch, PromptBatch) and len(batch) == 2
    ids, mask = left_pad([[5, 6], [7], []], pad_id=0)
    assert ids.tolist() == [[5, 6], [0, 7], [0, 0]] and mask.tolist() == [[1, 1], [0, 1], [0, 0]]
    assert answer_labels(torch.tensor([[3, 4], [5, 6]]), [1, 0]).tolist() == [4, 5]


def test_every_face_name_is_in_its_modules_all():
    import importlib

    import scale_lib as sl

    for name, module in sl._LAZY.items():
        assert name in importlib.import_module(f"scale_lib.{module}").__all__, f"scale_lib.{module}.__all__ lacks {name}"
    for name in ("LAYOUTS", "freeze", "count_hooks", "trainable_parameters", "register_layout"):
        assert name in sl.core.arch.__all__, name
    for name in ("Scaling", "scaled", "parse_site", "active_scalings"):
        assert name in sl.core.hooks.__all__, name
    from scale_lib.models import testbed

    assert {"predict", "sincos_2d", "evaluate", "checkpoint_root"} <= set(testbed.__all__)


def test_figures_go_where_the_reader_says(monkeypatch, tmp_path):
    from scale_lib.book import env

    monkeypatch.setenv(env.FIGURES_ENV, str(tmp_path / "mine"))
    monkeypatch.setenv(env.FAST_ENV, "0")
    assert env.output_dir("00_x") == tmp_path / "mine" / "00_x" and (tmp_path / "mine" / "00_x").is_dir()
    monkeypatch.delenv(env.FIGURES_ENV)
    assert env.figures_root() == ROOT / "figures"  # inside the clone: the committed figures


def test_testbeds_are_found_in_the_clone_or_where_the_reader_says(monkeypatch, tmp_path):
    from scale_lib.models import testbed

    assert testbed.checkpoint_root() == ROOT / "checkpoints" / "tiny_vlm"
    monkeypatch.setenv(testbed.CHECKPOINTS_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="has no tiny_vlm"):
        testbed.checkpoint_root()
    (tmp_path / "tiny_vlm").mkdir()
    assert testbed.checkpoint_root() == tmp_path / "tiny_vlm"
