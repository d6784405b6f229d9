"""Browser tests: the rendered site and live JupyterLab in headless Chromium (Debian's package).

Run with ``make browser-test`` (``pytest -m browser tests/browser``). Skipped, with a message saying
how to run them, when not asked for with ``-m browser``, when Playwright is missing, or when no
Chromium is installed (``apt-get install chromium`` as root; Playwright drives it through
``executable_path``, no browser download).
"""

import os
import shutil
import socket

import pytest

CHROMIUM = (os.environ.get("SCALE_LIB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
            or shutil.which("google-chrome"))


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
        item.add_marker(pytest.mark.browser)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()
