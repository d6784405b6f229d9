import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SCALE_LIB_FAST", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

import scale_lib as sl  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def output_of(model, batch):
    """Logits for LMs/VLMs, last hidden state for encoders."""
    out = model(**batch)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


@pytest.fixture(scope="session")
def tiny_models():
    cache = {}

    def get(arch):
        if arch not in cache:
            cache[arch] = sl.tiny_model(arch)
        return cache[arch]

    return get

# ---------------------------------------------------------------------------------------------- nbmake's executed copies
# With SCALE_LIB_KEEP_EXECUTED=1 (set by .ci/run), every notebook nbmake runs without error is also written,
# with its outputs, to build/notebooks/ (what `python -m scale_lib.book.run_book` writes), so that `make ci-book`
# can reuse the fast-mode chapters instead of running them a second time (run_book --reuse checks that the copy
# ran in fast mode from exactly the cells the notebook holds now). The committed notebooks are never written.
if os.environ.get("SCALE_LIB_KEEP_EXECUTED") == "1":
    import time as _time

    try:
        import nbmake.pytest_items as _nbmake_items
    except ImportError:  # nbmake not installed: nothing to keep
        _nbmake_items = None
    if _nbmake_items is not None:
        _NotebookRun = _nbmake_items.NotebookRun

        class _KeepingNotebookRun(_NotebookRun):
            def execute(self):
                from scale_lib.book.env import is_fast
                from scale_lib.book.run_book import keep_executed

                start = _time.perf_counter()
                res = super().execute()
                if res.error is None:
                    keep_executed(res.nb, self.filename, "fast" if is_fast() else "full", _time.perf_counter() - start, by="nbmake")
                return res

        _nbmake_items.NotebookRun = _KeepingNotebookRun


# ---------------------------------------------------------------------------------------------- browser tests
# tests/browser/: the rendered site and live JupyterLab in headless Chromium (Debian's package).
# Run with `make browser-test` (pytest -m browser tests/browser). Skipped, with a message saying how to
# run them, when not asked for with -m browser, when Playwright is missing, or when no Chromium is
# installed (`apt-get install chromium` as root; Playwright drives it through executable_path).
import shutil as _shutil  # noqa: E402
import socket as _socket  # noqa: E402

CHROMIUM = (os.environ.get("SCALE_LIB_CHROMIUM") or _shutil.which("chromium") or _shutil.which("chromium-browser")
            or _shutil.which("google-chrome"))


def pytest_collection_modifyitems(config, items):
    asked = "browser" in (config.getoption("-m") or "")
    reason = None
    if not asked:
        reason = "browser tests run with `make browser-test` (pytest -m browser tests/browser)"
    elif CHROMIUM is None:
        reason = "no Chromium: `apt-get install chromium` (as root), or set SCALE_LIB_CHROMIUM to a Chromium binary"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            reason = "Playwright is not installed: pip install -e '.[browser]' (make install does it)"
    for item in items:
        if "tests/browser/" not in str(item.path).replace("\\", "/"):
            continue
        item.add_marker(pytest.mark.browser)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with _socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def free_port_factory():
    return _free_port


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()
