"""The HTML page without a browser: escaping, self-containment, CSP, evidence, charts,
and literal masking."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path

import numpy as np
import pytest
from run_folders import realistic_spec, write_run

from simulator.report import generate_reports
from simulator.report.charts import (
    _mean_in_flight,
    concurrency_timeline,
    latency_scatter,
    ratio_histogram,
)
from simulator.results.execution import Execution
from simulator.results.masking import mask_literals

PAYLOAD = "</script><img src=x onerror=alert(1)>"


def test_every_text_is_escaped(results: Path) -> None:
    run_dir = write_run(results, realistic_spec(taint=PAYLOAD))
    html = generate_reports(run_dir, use_history=False).report_path.read_text()
    assert "<img" not in html and html.count("<script>") == 1
    escaped = "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    # Tenant, pattern, query id, SQL, error, engine names/versions, partitions, columns...
    assert html.count(escaped) > 100
    for field in ("t01", "p_ins", "events", "day=2024-01-02", "BinderException", "2.0.1"):
        assert f"{field}{escaped}" in html, field


def test_page_is_self_contained_with_a_script_hash_csp(results: Path) -> None:
    outcome = generate_reports(write_run(results, realistic_spec()), use_history=False)
    text = outcome.report_path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "@import" not in text and "url(" not in text
    # The only absolute URL is the SVG namespace, which browsers never fetch.
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}
    script = re.search(r"<script>(.*)</script>", text, re.S)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text)
    assert csp is not None
    policy = html.unescape(csp.group(1))
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy


def test_finding_evidence_and_replay_command(results: Path) -> None:
    spec = realistic_spec(faults=True, from_bank=True)
    html = generate_reports(write_run(results, spec), use_history=False).report_path.read_text()
    assert 'id="faults-banner"' in html and "duckdb-2.0.1, duckdb-2.1.0" in html
    assert "load phase: closed loop, concurrency 4</p>" in html
    assert "DO NOT SHIP" in html
    assert (
        "qsim replay --config configs/nightly.toml --tenant t01 --query-id t01-p_ins-q0 "
        "--candidate duckdb-2.0.1"
    ) in html
    assert '<td class="v-write_mismatch">missing</td><td class="num">102</td>' in html
    assert 'Differing columns: <span class="mono badge">n</span>' in html
    assert "Binder Error: Referenced column &#34;amount&#34; not found" in html
    assert "Appeared only under concurrent load" in html
    assert "baseline from bank</span>" in html
    assert "Baseline results from the bank" in html and "18 execution(s)" in html


def test_ratio_histogram_bins_and_colours() -> None:
    svg = str(ratio_histogram([1.0, 1.01, 0.99, 1.6, 0.5]))
    assert svg.count("<rect") == 1 + 3  # frame + three occupied bins
    assert 'fill="#c0392b"' in svg and 'fill="#2f6fb0"' in svg
    assert "3 pattern(s)" in svg
    assert "no latency ratios" in str(ratio_histogram([]))


def test_latency_scatter_is_log_log_and_escapes_labels() -> None:
    svg = str(latency_scatter([(10.0, 20.0, "<b>p</b>", True), (100.0, 100.0, "q", False)]))
    assert svg.count("<circle") == 2
    assert "&lt;b&gt;p&lt;/b&gt;" in svg and "<b>" not in svg
    assert ">10 ms<" in svg and ">100 ms<" in svg and ">1000 ms<" not in svg


def _execution(engine: str, start: float, end: float) -> Execution:
    return Execution(
        execution_id=f"{engine}{start}",
        run_id="r",
        engine=engine,
        tenant="t",
        query_id="q",
        phase="load",
        started_at=start,
        finished_at=end,
    )


def test_concurrency_peak_per_engine() -> None:
    runs = [
        _execution("base", 100.0, 104.0),
        _execution("base", 101.0, 103.0),
        _execution("base", 102.0, 105.0),  # three in flight at 102..103
        _execution("rc", 100.0, 110.0),
    ]
    svg = str(concurrency_timeline(runs))
    assert svg.count("<polyline") == 2
    assert 'class="tick">3.0</text>' in svg and "10.0 s" in svg
    banked = [_execution("base", 50.0, 51.0)]
    banked[0].from_bank = True  # ran in an earlier run: not part of this load
    assert "10.0 s" in str(concurrency_timeline(runs + banked))


def test_mean_in_flight_is_time_weighted() -> None:
    starts, ends = np.array([0.0, 1.0, 2.0]), np.array([4.0, 3.0, 5.0])
    means = _mean_in_flight(starts, ends, np.array([0.0, 1.0, 2.0, 3.0, 5.0, 6.0]))
    assert means.tolist() == pytest.approx([1.0, 2.0, 3.0, 1.5, 0.0])


def test_mask_literals() -> None:
    masked = mask_literals("SELECT a FROM t WHERE d = '2024-01-01' AND n > 5 LIMIT 10", "duckdb")
    assert masked == "SELECT a FROM t WHERE d = ? AND n > ? LIMIT ?"
    assert mask_literals("SELEC 'secret' 42 FROM", "") == "SELEC ? ? FROM"


BIDI = "\u202e\u2066"


def test_bidirectional_controls_are_shown_not_obeyed(results: Path) -> None:
    run_dir = write_run(results, realistic_spec(taint=BIDI))
    outcome = generate_reports(run_dir, use_history=False)
    page = outcome.report_path.read_text()
    junit = (run_dir / "junit.xml").read_text()
    for text in (page, junit):
        assert not any(ch in text for ch in BIDI)
        assert "[U+202E][U+2066]" in text


def test_error_text_is_masked_in_the_page_unless_a_diff_sample_was_asked(results: Path) -> None:
    quiet = write_run(results, realistic_spec(run_id="quiet"))
    page = generate_reports(quiet, use_history=False).report_path.read_text()
    assert "shown unmasked" not in page and "error messages are masked" in page
    loud = write_run(results, realistic_spec(run_id="loud", diff_sample_rows=3))
    page = generate_reports(loud, use_history=False).report_path.read_text()
    assert "engine error messages are shown unmasked" in page
