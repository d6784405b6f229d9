"""The rendered book in a real browser: every page loads, every local resource answers 200, every
figure is visible, no page shows a traceback, links between pages resolve; full-page screenshots go
to ``build/screenshots/site/`` for a person to look at."""

import functools
import http.server
import json
import re
import threading
import time
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "site"
SHOTS = ROOT / "build" / "screenshots" / "site"
LOAD_SECONDS: dict[str, float] = {}
PAGES = (["index.html"] + [f"{p.stem}.html" for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))]
         + ["glossary.html", "references.html", "your_own_model.html", "api.html", "instructor.html"])


@pytest.fixture(scope="module")
def site_url(free_port_factory):
    if not (SITE / "index.html").exists():
        pytest.fail(f"no site in {SITE}: run `make book` (or `make site` after it) first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a, **k: None  # quiet
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port_factory()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.parametrize("page_name", PAGES)
def test_page_loads_with_every_resource_and_figure(browser, site_url, page_name):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    bad = []
    page.on("response", lambda r: bad.append(f"{r.status} {r.url}") if r.url.startswith(site_url) and r.status != 200 else None)
    page.on("requestfailed", lambda r: bad.append(f"failed {r.url}") if r.url.startswith(site_url) else None)
    start = time.perf_counter()
    response = page.goto(urljoin(site_url, page_name), wait_until="networkidle")
    LOAD_SECONDS[page_name] = round(time.perf_counter() - start, 2)  # reported (build/screenshots/site/load_seconds.json), not asserted
    assert response is not None and response.status == 200, f"{page_name}: HTTP {response and response.status}"
    assert not bad, f"{page_name}: local resources that did not load: {bad[:5]}"
    text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    assert "Traceback (most recent call last)" not in text, f"{page_name} shows a raw traceback"
    assert "Error displaying widget" not in text, f"{page_name} shows a broken widget"
    # the figures: cell outputs and markdown figures (not theme icons, not the online-only Colab badge)
    images = page.eval_on_selector_all("main .cell_output img, main figure img",
                                       "els => els.map(e => [e.currentSrc.slice(0, 60), e.naturalWidth, e.getBoundingClientRect().width])")
    if page_name.startswith(tuple("0123456789")):
        assert images, f"{page_name}: a chapter without a single figure"
        import nbformat

        from scale_lib.book.site import executed_mode

        mode = executed_mode(nbformat.read(ROOT / "build" / "notebooks" / page_name.replace(".html", ".ipynb"), as_version=4))
        assert ("executed in fast mode" in text) == (mode == "fast"), f"{page_name} ran in {mode} mode; only fast-mode pages carry the warning"
        explorers = (ROOT / "notebooks" / page_name.replace(".html", ".py")).read_text().count("sl.explorer(")
        notes = page.locator("main .widget-note").count()
        assert notes == explorers, f"{page_name}: {explorers} explorers but {notes} notes on how to run them live"
    invisible = [src for src, natural, shown in images if natural == 0 or shown == 0]
    assert not invisible, f"{page_name}: figures that do not show: {invisible[:3]}"
    root_path = urlparse(site_url).path
    links = {urlparse(h).path[len(root_path):].lstrip("/") for h in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
             if h.startswith(site_url) and h.split("#")[0].endswith(".html")}  # paths under the site (api/… pages included)
    missing = sorted(name for name in links if not (SITE / name).exists())
    assert not missing, f"{page_name}: links to pages that do not exist: {missing}"
    # formulas are typeset offline (MathJax ships with the site): no raw \\( ... \\) or $$ left in the text
    if page.locator("main .math").count():
        page.wait_for_selector("main mjx-container", timeout=15000)
        raw = page.eval_on_selector_all("main .math", "els => els.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60))")
        assert not raw, f"{page_name}: formulas shown as raw TeX (MathJax did not typeset them): {raw[:3]}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{Path(page_name).stem}.png"), full_page=True)
    (SHOTS / "load_seconds.json").write_text(json.dumps(LOAD_SECONDS, indent=1) + "\n")
    page.close()


def test_long_code_is_folded_and_figures_zoom(browser, site_url):
    from scale_lib.book.site import FOLD_LINES

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(urljoin(site_url, "04_theory_toys.html"), wait_until="networkidle")
    open_lines = page.eval_on_selector_all("main div.cell:not(.tag_hide-input) div.cell_input pre",
                                           "els => els.map(e => e.textContent.split('\\n').filter(l => l.trim()).length)")
    assert page.locator("main .tag_hide-input").count() > 0, "no code cell is folded"
    long_open = [n for n in open_lines if n > FOLD_LINES + 1]
    # exercise cells stay open on purpose; everything else longer than FOLD_LINES is folded
    assert len(long_open) <= 3, f"{len(long_open)} long code cells are not folded: {long_open}"
    img = page.locator("main .cell_output img").first
    img.scroll_into_view_if_needed()
    img.click()
    zoom = page.locator(".figure-zoom img")
    zoom.wait_for(timeout=5000)
    assert zoom.bounding_box()["width"] > img.bounding_box()["width"], "clicking a figure should show it larger"
    page.keyboard.press("Escape")
    assert page.locator(".figure-zoom").count() == 0
    page.close()


def test_landing_page_lists_every_chapter_in_reading_order(browser, site_url):
    page = browser.new_page()
    page.goto(site_url, wait_until="networkidle")
    hrefs = [h for h in page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))") if re.match(r"^\d\d_", h)]
    chapters = [p.stem for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))]
    assert [h.split(".")[0] for h in dict.fromkeys(hrefs)] == chapters
    page.close()


def test_search_finds_the_book(browser, site_url):
    page = browser.new_page()
    page.goto(urljoin(site_url, "search.html?q=ScAle"), wait_until="networkidle")
    page.wait_for_selector("#search-results li, .search li", timeout=15000)
    assert page.locator("#search-results li, .search li").count() > 0, "the search page found nothing for 'ScAle'"
    page.close()


def test_every_chapter_has_a_slide_deck_the_instructor_page_links(browser, site_url):
    """One reveal.js deck per chapter (reveal.js itself comes from unpkg: offline it cannot start, so
    this checks the deck's own page and content, not the slide show)."""
    chapters = [p.stem for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))]
    page = browser.new_page()
    page.goto(urljoin(site_url, "instructor.html"), wait_until="networkidle")
    linked = {h for h in page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))") if h.startswith("slides/")}
    assert linked == {f"slides/{c}.slides.html" for c in chapters}, f"the instructor page links {sorted(linked)}"
    for chapter in chapters:
        response = page.goto(urljoin(site_url, f"slides/{chapter}.slides.html"), wait_until="domcontentloaded")
        assert response is not None and response.status == 200, f"no deck for {chapter}"
        html = page.content()
        assert html.count("<section") >= 3, f"{chapter}: a deck with fewer than three slides"
        assert "data:image/png;base64" in html, f"{chapter}: a deck without a figure"
    page.close()
