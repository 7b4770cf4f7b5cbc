"""The page in a real headless Chromium against a real ``qsim serve`` on the loopback:
pick a tenant, run a workload query and see its verdict; a pasted escape attempt is
refused and shown as an error; XSS payloads in pasted SQL and in a tenant name stay text;
a write changes only the session's workspace until the reset button; every replay is in
the run history; no customer value is on the page."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from run_folders import realistic_spec, write_run
from serve_fixtures import Service

from simulator.report import generate_reports
from simulator.results.verdicts import QUERY_VERDICTS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("serve_page")]

XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"
VERDICT_WAIT_MS = 180_000  # engine workers start slowly on a loaded machine
FAILED = ("harness_error", "candidate_error", "baseline_error", "both_error", "skipped")


class Page:
    """A Chromium page with every console message, dialog and request recorded."""

    def __init__(self, browser: Any, url: str) -> None:
        self.console: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1300, "height": 1000})
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def run(self, button: str) -> str:
        """Click ``button`` and wait until the replay ends; return its final state."""
        self.page.click(button)
        self.page.wait_for_selector("body[data-last-state]", timeout=VERDICT_WAIT_MS)
        return str(self.page.get_attribute("body", "data-last-state"))

    def injected(self) -> dict[str, Any]:
        return self.page.evaluate(
            """() => ({
                img: document.querySelectorAll('img').length,
                scripts: document.querySelectorAll('script').length,
                handlers: Array.from(document.querySelectorAll('*')).flatMap(
                    el => Array.from(el.attributes).map(a => a.name)
                ).filter(name => name.startsWith('on')),
            })"""
        )


def sides(page: Any) -> dict[str, list[str]]:
    """The engines table: label -> [baseline cell, candidate cell]."""
    rows = page.eval_on_selector_all(
        "#sides tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))"
    )
    return {row[0]: row[1:] for row in rows}


def replays(results: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(results / "history.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM serve_replays ORDER BY id")]


def test_pick_a_tenant_run_a_query_and_see_the_verdict(
    browser: Any, service: Service, serve_config: Path
) -> None:
    watched = Page(browser, service.url)
    page = watched.page
    tenants = page.eval_on_selector_all("#tenant-pick option", "o => o.map(x => x.value)")
    assert tenants == ["t01", "t02"]
    page.select_option("#tenant-pick", "t02")
    page.click("#tenant-open")
    page.wait_for_selector("#warm-state.warm", timeout=VERDICT_WAIT_MS)
    assert page.inner_text("#tenant-name") == "t02"
    select = page.locator("tr", has=page.locator("td", has_text="select")).first
    query_id = select.locator("td").nth(1).inner_text()
    assert watched.run(f"button[data-query-id='{query_id}']") == "done"
    verdict = page.inner_text("#verdict")
    assert verdict in QUERY_VERDICTS and verdict not in FAILED
    table = sides(page)
    assert table["engine"] == ["base", "cand"]
    assert table["status"] == ["ok", "ok"]
    assert table["version"] == ["v1.1.3", "v2.0.1"]
    for label in ("wall", "CPU"):
        assert all(cell.endswith(" ms") and float(cell[:-3]) > 0 for cell in table[label])
    assert all(cell.endswith(" MB") for cell in table["peak memory"])
    assert len(table["checksum"][0]) == 32
    assert table["rows returned"][0] == table["rows returned"][1]
    # The SQL as sent, literals masked (workload SQL may carry customer values).
    assert page.inner_text("#sql-baseline").strip().upper().startswith(("SELECT", "WITH"))
    assert "?" in page.inner_text("#sql-baseline")
    assert page.inner_text(".sql-note >> nth=0") == "(literals masked)"
    assert "after the click" in page.inner_text("#verdict-time")
    assert watched.console == [] and watched.dialogs == []
    assert all(url.startswith(service.url) for url in watched.requests)
    recorded = replays(serve_config.parent / "results")[-1]
    assert (recorded["tenant"], recorded["query_id"], recorded["pasted"]) == ("t02", query_id, 0)
    assert (recorded["baseline"], recorded["candidate"]) == ("base", "cand")
    assert recorded["verdict"] == verdict and recorded["state"] == "done"
    page.close()


ESCAPES = [
    ("COPY orders TO '/tmp/qsim-serve-escape.csv'", "COPY statements are not replayed"),
    ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv()"),
    ("SELECT * FROM '/etc/passwd'", "a file path where a table is read"),
    ("ATTACH '/tmp/qsim-serve-escape.db' AS x", "refused: cannot parse as trino"),
    ("SELECT 1; SELECT 2", "replays one"),
    ("SELECT " + "1 + " * 4000 + "1", "has 16008 characters; the limit is 10000"),
]


def test_a_pasted_escape_attempt_is_refused_and_shown(
    browser: Any, service: Service, serve_config: Path
) -> None:
    watched = Page(browser, f"{service.url}?tenant=t01")
    page = watched.page
    before = len(replays(serve_config.parent / "results"))
    for sql, message in ESCAPES:
        page.evaluate("sql => { document.getElementById('pasted').value = sql; }", sql)
        assert watched.run("#run-pasted") == "error", sql
        assert message in page.inner_text("#job-error"), sql
        assert page.is_visible("#job-error") and not page.is_visible("#verdict-box")
    assert not Path("/tmp/qsim-serve-escape.csv").exists()
    assert not Path("/tmp/qsim-serve-escape.db").exists()
    recorded = replays(serve_config.parent / "results")[before:]
    assert [r["state"] for r in recorded] == ["refused"] * len(ESCAPES)
    assert all(r["pasted"] == 1 and r["tenant"] == "t01" for r in recorded)
    page.close()


def test_xss_in_pasted_sql_and_in_a_tenant_name_stays_text(browser: Any, service: Service) -> None:
    watched = Page(browser, f"{service.url}?tenant=t01")
    page = watched.page
    pasted = f"SELECT '{XSS}' AS \"{XSS}\", count(*) AS n FROM orders"
    page.fill("#pasted", pasted)
    assert watched.run("#run-pasted") == "done"
    assert page.inner_text("#verdict") == "match"
    assert XSS in page.inner_text("#sql-baseline")  # the operator's own text, as text
    assert watched.injected() == {"img": 0, "scripts": 1, "handlers": []}
    # A tenant name carrying markup: in the address and in an API call.
    other = Page(browser, f"{service.url}?tenant={urllib.request.quote(XSS)}")
    assert "not in the workload" in other.page.inner_text("#page-error")
    assert other.injected() == {"img": 0, "scripts": 1, "handlers": []}
    status = page.evaluate(
        """async t => (await fetch('/api/replay', {method: 'POST', headers: {'X-Qsim-Request':
        '1'}, body: JSON.stringify({tenant: t, baseline: 'base', candidate: 'cand',
        query_id: 'x'})})).status""",
        XSS,
    )
    assert status == 400
    assert watched.dialogs == [] and other.dialogs == []
    refused = "error: Failed to load resource: the server responded with a status of 400"
    assert [m for m in watched.console if not m.startswith(refused)] == []
    assert other.console == []
    page.close()
    other.page.close()


def test_writes_stay_in_the_session_until_reset(browser: Any, service: Service) -> None:
    watched = Page(browser, f"{service.url}?tenant=t01")
    page = watched.page
    page.wait_for_selector("#warm-state.warm", timeout=VERDICT_WAIT_MS)

    def count_checksums() -> list[str]:
        page.fill("#pasted", "SELECT count(*) AS n FROM orders")
        assert watched.run("#run-pasted") == "done"
        return sides(page)["checksum"]

    before = count_checksums()
    assert before[0] == before[1]
    page.fill("#pasted", "DELETE FROM orders WHERE qty > 1")
    assert watched.run("#run-pasted") == "done"
    assert page.inner_text("#verdict") == "match"
    deleted = sides(page)["rows affected"]
    assert deleted[0] == deleted[1] and int(deleted[0]) > 0
    evidence = json.loads(page.text_content("#evidence") or "")
    assert evidence["candidate"]["writes"]["orders"]["row_count"] >= 0
    after = count_checksums()
    assert after[0] == after[1] != before[0]  # the count changed in this session
    page.click("#reset")
    page.wait_for_selector("#warm-state.warm", timeout=VERDICT_WAIT_MS)
    assert count_checksums() == before  # back to the generation
    page.close()


def test_a_post_from_another_origin_is_refused(service: Service) -> None:
    request = urllib.request.Request(
        f"{service.url}api/reset",
        data=b'{"tenant": "t01"}',
        headers={"Origin": "http://evil.example", "X-Qsim-Request": "1"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 403


def test_no_customer_value_reaches_the_page(browser: Any, service: Service, world: Path) -> None:
    files = sorted((world / "store").glob("*/tables/t01/customers/**/*.parquet"))
    names = pq.read_table(files[0], columns=["name"]).column("name").to_pylist()
    values = [n for n in names if n and len(n) >= 4]
    assert values
    watched = Page(browser, f"{service.url}?tenant=t01")
    page = watched.page
    seen: list[str] = []
    page.on("response", lambda r: seen.append(r.text()) if "/api/jobs/" in r.url else None)
    page.fill("#pasted", "SELECT name, country FROM customers ORDER BY customer_id")
    assert watched.run("#run-pasted") == "done"
    assert sides(page)["rows returned"][0] == str(len(names))
    # An engine error quoting a value: the message is shown masked.
    page.fill("#pasted", "SELECT CAST(name AS INTEGER) AS n FROM customers")
    assert watched.run("#run-pasted") == "done"
    assert page.inner_text("#verdict") == "both_error"
    assert "?" in sides(page)["error"][0]
    shown = page.content() + "".join(seen)
    assert not [v for v in values if v in shown]
    assert "No customer value is shown" in page.inner_text("#values-banner")
    page.close()


def test_the_tenants_last_nightly_findings_and_report(
    browser: Any, service: Service, serve_config: Path
) -> None:
    results = serve_config.parent / "results"
    run_dir = write_run(results, realistic_spec(run_id="t-nightly-1", pipeline="t"))
    generate_reports(run_dir)  # records the run in results/history.sqlite
    watched = Page(browser, f"{service.url}?tenant=t01")
    page = watched.page
    nightly = page.inner_text("#nightly")
    assert "t-nightly-1" in nightly and "2 findings for this tenant" in nightly
    assert "write_mismatch p_ins" in nightly
    page.click("#nightly-link")
    page.wait_for_selector("#decision")
    assert page.inner_text("#decision") == "DO NOT SHIP"
    assert watched.console == [] and watched.dialogs == []
    page.close()
