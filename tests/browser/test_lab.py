"""The explorers, live: JupyterLab from the project's environment on 127.0.0.1, each chapter with an
explorer opened in fast mode, Run All, then a slider moved and a dropdown changed. Each change must
redraw the one figure above the controls, and the figure shown must be what the library draws for
the values now on the controls (the kernel re-renders ``draw(**values)`` with
``scale_lib.book.explorer.explorer_check`` and the pixels must match). The time from change to redrawn
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
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on screen (another tab may be open behind it)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, free_port_factory):
    work = tmp_path_factory.mktemp("lab")
    for nb in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy(nb, work / nb.name)
    # no "official Jupyter news?" pop-up over the notebook
    settings = work / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
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


def _wait_kernel(url: str, token: str, chapter: str, timeout_s: float = 120.0):
    """Wait until the notebook's kernel is started, idle and connected to the page: a Run All sent
    before that is dropped silently (every cell stays unexecuted)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        sessions = json.loads(urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=5).read())
        k = next((s["kernel"] for s in sessions if s.get("path", "").endswith(f"{chapter}.ipynb")), None)
        if k and k.get("execution_state") == "idle" and k.get("connections", 0) >= 1:
            return
        time.sleep(0.5)
    pytest.fail(f"{chapter}: its kernel did not become idle and connected within {timeout_s:.0f} s")


def _shutdown(url: str, token: str, chapter: str):
    """Stop this chapter's kernel (the next chapter gets the CPU to itself)."""
    sessions = json.loads(urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=5).read())
    for s in sessions:
        if s.get("path", "").endswith(f"{chapter}.ipynb"):
            urllib.request.urlopen(urllib.request.Request(f"{url}/api/sessions/{s['id']}?token={token}", method="DELETE"), timeout=30)


def _click_run_all(page):
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item:visible", has_text=re.compile(r"^Run All Cells")).first.click()


def _run_all(page, chapter: str, timeout_s: float):
    """Run All from the menu; wait until no cell is queued or running and the kernel is idle. Fail with
    the first error's text when a cell raised (Run All then stops, leaving later cells unexecuted)."""
    _click_run_all(page)
    clicked = time.time()
    state_js = """() => { const nb = document.querySelector(%r);
                          return {prompts: [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim()),
                                  status: (nb.querySelector('.jp-Notebook-ExecutionIndicator') || {getAttribute: () => null}).getAttribute('data-status')}; }""" % PANEL
    deadline, quiet = time.time() + timeout_s, 0
    while time.time() < deadline:
        time.sleep(1.0)
        st = page.evaluate(state_js)
        if int(time.time() - deadline) % 30 == 0:
            _shot(page, chapter, "progress")  # the latest state, for a human when this hangs
        started = any(re.search(r"\[\d+\]", t) for t in st["prompts"])
        busy = any("*" in t for t in st["prompts"]) or st["status"] not in (None, "idle")
        quiet = quiet + 1 if started and not busy else 0
        if not started and not busy and time.time() - clicked > 20:  # the click was lost: once more
            _click_run_all(page)
            clicked = time.time()
        if quiet >= 3:  # idle for three polls in a row: Run All has finished or stopped
            break
    else:
        _shot(page, chapter, "timeout")
        pytest.fail(f"{chapter}: Run All did not finish within {timeout_s:.0f} s (screenshot in {SHOTS})")
    errors = page.locator(PANEL).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", has_text="Traceback")
    not_run = sum(not re.search(r"\[\d+\]", t) for t in st["prompts"])
    if errors.count() or not_run:
        _shot(page, chapter, "error")
        text = errors.first.inner_text()[-1500:] if errors.count() else "(no traceback shown)"
        pytest.fail(f"{chapter}: Run All stopped at an error; {not_run} cells did not run.\n{text}")
    return len(st["prompts"])


def _shot(page, chapter: str, what: str):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{chapter}-{what}.png"), full_page=True)


def _figure_src(cell) -> str:
    img = cell.locator(".jp-OutputArea-output img")
    return img.last.get_attribute("src") if img.count() else ""


def _pixels(src: str) -> str:
    from scale_lib.book.explorer import figure_pixels_sha

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


def _kernel_check(page) -> list[dict]:
    """Run ``explorer_check(i)`` for every explorer in a new cell at the end of the notebook; return
    what each printed (control values and the pixel hash of a fresh rendering), in display order."""
    page.keyboard.press("Escape")
    page.locator(PANEL).locator(".jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type("from scale_lib.book.explorer import _EXPLORERS, explorer_check; _ = [explorer_check(i) for i in range(len(_EXPLORERS))]; "
                       "print('EXPLORER_CHECK_DONE')")
    page.keyboard.press("Shift+Enter")
    out = page.locator(PANEL).locator(".jp-OutputArea-output", has_text="EXPLORER_CHECK_DONE").last
    out.wait_for(timeout=120000)
    return [json.loads(m) for m in re.findall(r"EXPLORER_CHECK (\{.*\})", out.inner_text())]


def _move(page, chapter: str, box, cell, name: str) -> list[str]:
    """Move the first slider two steps right and pick another dropdown option; each must redraw."""
    changes = []
    slider = box.locator(".widget-slider").first
    if slider.count():
        changes.append("slider")
        before = _figure_src(cell)
        slider.locator(".noUi-handle, .ui-slider-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        TIMINGS[name].append(_wait_redraw(page, cell, before))
        label = slider.locator(".widget-label").first
        assert label.count() and label.inner_text().strip(), f"{name}: a slider without a label (the reader sees a bare number)"
    dropdown = box.locator(".widget-dropdown select").first
    if dropdown.count():
        changes.append("dropdown")
        before = _figure_src(cell)
        options = [o.get_attribute("value") for o in dropdown.locator("option").all()]
        current = dropdown.input_value()
        dropdown.select_option(next(v for v in options if v != current))
        TIMINGS[name].append(_wait_redraw(page, cell, before))
    assert changes, f"{name}: the explorer has neither a slider nor a dropdown to move"
    cut = box.locator(".widget-label").evaluate_all("els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")
    assert not cut, f"{name}: control labels cut off on the page: {cut}"
    return changes


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_explorer_redraws_one_figure_that_matches_the_library(browser, lab, chapter):
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # ?reset: a fresh workspace, so the previous chapter's tab is not restored beside this one
    page.goto(f"{url}/lab/tree/{chapter}.ipynb?reset&token={token}", wait_until="domcontentloaded")
    page.locator(PANEL).locator(".jp-Notebook").first.wait_for(timeout=120000)
    _wait_kernel(url, token, chapter)
    _run_all(page, chapter, timeout_s=600)
    as_text = page.locator(PANEL).locator(".jp-OutputArea-output", has_text=re.compile(r"^(HBox|VBox)\(children=|Error displaying widget"))
    assert as_text.count() == 0, f"{chapter}: a widget rendered as text instead of controls (is the widget manager missing?): {as_text.first.inner_text()[:200]}"
    boxes = page.locator(PANEL).locator(".scale-lib-explorer").all()
    expected = (ROOT / "notebooks" / f"{chapter}.py").read_text().count("sl.explorer(")
    assert len(boxes) == expected, f"{chapter}: {expected} explorers in the source, {len(boxes)} rendered with controls"
    shown, report = [], []
    for i, box in enumerate(boxes):
        name = f"{chapter}#{i}"
        TIMINGS[name] = []
        cell = box.locator("xpath=ancestor::div[contains(@class,'jp-CodeCell')]").first
        cell.scroll_into_view_if_needed()
        assert cell.locator(".jp-OutputArea-output img").count() == 1, f"{name}: the explorer cell should show exactly one figure"
        changes = _move(page, chapter, box, cell, name)
        shown.append(_pixels(_wait_stable(page, cell)))
        assert cell.locator(".jp-OutputArea-output img").count() == 1, f"{name}: after the changes there is more than one figure (a stale duplicate)"
        SHOTS.mkdir(parents=True, exist_ok=True)
        cell.screenshot(path=str(SHOTS / f"{chapter}-{i}.png"))
        report.append(f"{name}: {', '.join(changes)} redrew in {', '.join(f'{t:.2f} s' for t in TIMINGS[name])}")
    checks = _kernel_check(page)
    assert len(checks) == len(shown), f"{chapter}: the kernel knows {len(checks)} explorers, the page shows {len(shown)}"
    for i, (check, pixels) in enumerate(zip(checks, shown)):
        assert check["pixels"] == pixels, f"{chapter}#{i}: the figure on the page is not what the library draws for the controls' values {check['values']}"
    _shutdown(url, token, chapter)
    print("\n".join(report))
    page.close()
