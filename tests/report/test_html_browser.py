"""The report in a real headless Chromium: it loads without console errors or network
requests, shows the verdict line and findings, sorts and filters its tables, and no text
field can inject markup or script."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium_launch import CHROMIUM, CHROMIUM_ARGS
from run_folders import realistic_spec, write_run

from simulator.report import generate_reports
from simulator.report.history import History
from simulator.results.layout import HISTORY_FILE, RUN_FILE

playwright = pytest.importorskip("playwright.sync_api")

PAYLOADS = [
    "</script><img src=x onerror=alert(1)>",
    '"><img src=x onerror=alert(2)><"',
    "'><svg onload=alert(3)></svg><a href='javascript:alert(4)'>x</a>",
    "</style></title></textarea><script>alert(5)</script>",
    '" onmouseover="alert(6)" data-x="',
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} not installed"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Watched:
    """A page with every console message, page error, request and dialog recorded."""

    def __init__(self, browser: Any, url: str) -> None:
        self.console: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)
        self.page.goto(url)
        self.page.wait_for_load_state("load")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def visible_rows(page: Any, table: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr:not([hidden])",
        "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent.trim()))",
    )


def test_report_loads_sorts_and_filters(browser: Any, tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, realistic_spec(faults=True))
    report = generate_reports(run_dir, use_history=False).report_path
    url = report.resolve().as_uri()
    watched = Watched(browser, url)
    page = watched.page
    assert watched.console == []
    assert watched.requests == [url]
    assert page.is_visible("#decision") and page.inner_text("#decision") == "DO NOT SHIP"
    assert page.is_visible("#faults-banner")
    finding = page.locator("article.finding").first
    assert finding.is_visible()
    assert "write_mismatch" in finding.inner_text()
    assert page.locator("svg.chart").count() == 3
    # Sort the pattern table by ratio, descending on the second click.
    header = page.locator("#patterns thead th", has_text="ratio")
    header.click()
    header.click()
    ratios = [float(row[9].rstrip("×")) for row in visible_rows(page, "patterns")]
    assert ratios == sorted(ratios, reverse=True) and ratios[0] == pytest.approx(1.62)
    assert header.get_attribute("aria-sort") == "descending"
    # Filter by tenant: only its rows stay visible and the counter says so.
    page.fill("#pattern-filter", "t02")
    rows = visible_rows(page, "patterns")
    assert len(rows) == 6 and {row[1] for row in rows} == {"t02"}
    assert page.inner_text("#patterns-count") == "6 of 18 rows"
    page.fill("#pattern-filter", "")
    assert len(visible_rows(page, "patterns")) == 18
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert watched.console == [] and watched.dialogs == []
    page.close()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_text_field_can_inject(browser: Any, tmp_path: Path, payload: str) -> None:
    run_dir = write_run(tmp_path, realistic_spec(taint=payload, diff_sample_rows=3))
    run = json.loads((run_dir / RUN_FILE).read_text())
    run["filters"] = {"tenants": [f"t01{payload}"]}
    (run_dir / RUN_FILE).write_text(json.dumps(run))
    generate_reports(run_dir)  # records the run, so its pattern can be accepted
    with History(tmp_path / HISTORY_FILE) as history:
        history.accept(f"p_ins{payload}", reason=f"why{payload}", accepted_by=f"who{payload}")
    report = generate_reports(run_dir).report_path
    url = report.resolve().as_uri()
    watched = Watched(browser, url)
    page = watched.page
    page.hover("#patterns tbody tr")
    page.locator("article.finding details summary").first.click()
    assert watched.dialogs == []
    assert watched.requests == [url]
    injected = page.evaluate(
        """() => ({
            img: document.querySelectorAll('img').length,
            scripts: document.querySelectorAll('script').length,
            links: document.querySelectorAll('a[href^="javascript"]').length,
            svgOnload: document.querySelectorAll('svg[onload]').length,
            handlers: Array.from(document.querySelectorAll('*')).flatMap(
                el => Array.from(el.attributes).map(a => a.name)
            ).filter(name => name.startsWith('on') || name === 'data-x'),
        })"""
    )
    assert injected == {"img": 0, "scripts": 1, "links": 0, "svgOnload": 0, "handlers": []}
    body = page.inner_text("body")
    # The payload is shown as text wherever a field is: tenant, pattern, SQL, error...
    fields = ("t01", "p_ins", "BinderException", "day=2024-01-02", "duckdb-2.0.1", "why", "who")
    for field in fields:
        assert f"{field}{payload}" in body, field
    assert "secret-value" in body  # the diff sample is rendered, and escaped too
    assert watched.console == []
    page.close()


def test_bidi_controls_cannot_reorder_what_the_page_shows(browser: Any, tmp_path: Path) -> None:
    spoof = "accepted until \u202e10-10-6202\u202c"
    run_dir = write_run(tmp_path, realistic_spec(taint="\u2067"))
    generate_reports(run_dir)
    with History(tmp_path / HISTORY_FILE) as history:
        history.accept("p_ins\u2067", reason=spoof, accepted_by="ops\u200f")
    report = generate_reports(run_dir).report_path
    watched = Watched(browser, report.resolve().as_uri())
    text = watched.page.evaluate("() => document.body.innerText")
    controls = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    assert not any(ch in text for ch in controls)
    assert "accepted until [U+202E]10-10-6202[U+202C]" in text
    assert "t01[U+2067]" in text and "ops[U+200F]" in text
    assert watched.console == []
    watched.page.close()
