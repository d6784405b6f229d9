"""The explorers, live: JupyterLab from the project's environment on 127.0.0.1, each chapter with an
explorer opened in fast mode, Run All, then a slider moved and a dropdown changed. Each change must
redraw the one figure above the controls, and the figure shown must be what the library draws for
the values now on the controls (the kernel re-renders ``draw(**values)`` with
``scale_lib.plotting.explorer_check`` and the pixels must match). The time from change to redrawn
figure is reported (``build/screenshots/lab/timings.json``), not asserted.

JupyterLab runs on a temporary copy of the notebooks (autosave never touches the committed files),
with ``--allow-root`` (CI runs as root), and exactly the process this test started is stopped.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots" / "lab"
CHAPTERS = [p.stem for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")) if "sl.explorer(" in p.read_text()]
TIMINGS: dict[str, list[float]] = {}


@pytest.fixture(scope="module")
def lab(tmp_path_factory, free_port_factory):
    work = tmp_path_factory.mktemp("lab")
    for nb in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy(nb, work / nb.name)
    port, token = free_port_factory(), "scale-lib-browser-test"
    env = {**os.environ, "SCALE_LIB_FAST": "1", "JUPYTER_CONFIG_DIR": str(work / ".jupyter"), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
                             f"--ServerApp.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.open_browser=False",
                             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"JupyterLab exited: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer on 127.0.0.1 within a minute")
        yield url, token
    finally:
        proc.terminate()  # exactly the process this fixture started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "timings.json").write_text(json.dumps(TIMINGS, indent=1) + "\n")


def _run_all(page, timeout_s: float):
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item:visible", has_text=re.compile(r"^Run All Cells")).first.click()
    deadline = time.time() + timeout_s
    done_js = """() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
                         return p.length > 0 && p.every(t => /\\[\\d+\\]/.test(t)); }"""
    while time.time() < deadline:
        if page.evaluate(done_js):  # every code cell has an execution count: Run All has finished
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] :text('Traceback')").count()
            assert errors == 0, "a cell raised during Run All (see the screenshot)"
            return
        time.sleep(1.0)
    pytest.fail(f"Run All did not finish within {timeout_s:.0f} s")


def _figure_src(cell) -> str:
    img = cell.locator(".jp-OutputArea-output img")
    return img.last.get_attribute("src") if img.count() else ""


def _pixels(src: str) -> str:
    from scale_lib.plotting import figure_pixels_sha

    return figure_pixels_sha(base64.b64decode(src.split(",", 1)[1]))


def _wait_redraw(page, cell, before: str, timeout_s: float = 120.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        src = _figure_src(cell)
        if src and src != before:
            return time.perf_counter() - start
        page.wait_for_timeout(50)
    pytest.fail("the figure did not change after the control changed (a stale figure, or a redraw that raised)")


def _wait_stable(page, cell, quiet_s: float = 2.0, timeout_s: float = 120.0) -> str:
    """The figure's src once it has stopped changing for ``quiet_s`` (every queued redraw has landed)."""
    last, since, start = _figure_src(cell), time.time(), time.time()
    while time.time() - start < timeout_s:
        page.wait_for_timeout(200)
        src = _figure_src(cell)
        if src != last:
            last, since = src, time.time()
        elif time.time() - since >= quiet_s:
            return src
    pytest.fail("the figure kept changing")


def _kernel_check(page) -> dict:
    """Run ``explorer_check()`` in a new cell at the end of the notebook; return what it printed."""
    page.keyboard.press("Escape")
    page.locator(".jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type("from scale_lib.plotting import explorer_check; _ = explorer_check()")
    page.keyboard.press("Shift+Enter")
    out = page.locator(".jp-OutputArea-output", has_text="EXPLORER_CHECK").last
    out.wait_for(timeout=120000)
    return json.loads(re.search(r"EXPLORER_CHECK (\{.*\})", out.inner_text()).group(1))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_explorer_redraws_one_figure_that_matches_the_library(browser, lab, chapter):
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/{chapter}.ipynb?token={token}", wait_until="domcontentloaded")
    page.locator(".jp-Notebook").first.wait_for(timeout=120000)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-Toolbar-kernelStatus").first.wait_for(timeout=120000)
    _run_all(page, timeout_s=600)
    text_widgets = page.locator(".jp-OutputArea-output", has_text=re.compile(r"^(HBox|VBox)\(children=|Error displaying widget")).count()
    assert text_widgets == 0, f"{chapter}: a widget rendered as text instead of controls (is the widget manager missing?)"
    controls = page.locator(".jp-OutputArea-output .widget-hbox").last
    assert controls.count(), f"{chapter}: no explorer controls rendered"
    cell = controls.locator("xpath=ancestor::div[contains(@class,'jp-CodeCell')]").first
    assert cell.locator(".jp-OutputArea-output img").count() == 1, f"{chapter}: the explorer cell should show exactly one figure"
    TIMINGS[chapter] = []
    changes = []
    slider = controls.locator(".widget-slider").first
    if slider.count():
        changes.append("slider")
        readout = slider.locator(".widget-readout")
        before = _figure_src(cell)
        handle = slider.locator(".noUi-handle, .ui-slider-handle").first
        handle.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        TIMINGS[chapter].append(_wait_redraw(page, cell, before))
        assert readout.count() == 0 or readout.inner_text().strip(), "the slider shows no value"
    dropdown = controls.locator(".widget-dropdown select").first
    if dropdown.count():
        changes.append("dropdown")
        before = _figure_src(cell)
        options = dropdown.locator("option")
        current = dropdown.input_value()
        target = next(options.nth(i).get_attribute("value") for i in range(options.count()) if options.nth(i).get_attribute("value") != current)
        dropdown.select_option(target)
        TIMINGS[chapter].append(_wait_redraw(page, cell, before))
    assert changes, f"{chapter}: the explorer has neither a slider nor a dropdown to move"
    shown = _pixels(_wait_stable(page, cell))
    assert cell.locator(".jp-OutputArea-output img").count() == 1, f"{chapter}: after the changes there is more than one figure (a stale duplicate)"
    check = _kernel_check(page)
    assert check["pixels"] == shown, (f"{chapter}: the figure on the page is not what the library draws for the controls' values "
                                      f"{check['values']}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    cell.screenshot(path=str(SHOTS / f"{chapter}.png"))
    print(f"{chapter}: {', '.join(changes)} redrew in {', '.join(f'{t:.2f} s' for t in TIMINGS[chapter])}")
    page.close()
