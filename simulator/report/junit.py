"""``junit.xml``: one test case per pattern and candidate, so CI systems list qsim's findings
natively. A case fails when the pattern has an unaccepted finding that blocks shipping; the
failure text carries the evidence. Accepted findings pass and say so in system-out; a
pattern with no verdict yet (incomplete run) or only skipped queries is skipped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from simulator.config import ReportSection
from simulator.report.evidence import Evidence
from simulator.report.findings import Finding
from simulator.report.gate import blocks_ship
from simulator.results.reader import RunData

# XML 1.0 cannot carry most control characters, which engine error messages may contain.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def evidence_text(finding: Finding, evidence: Evidence) -> str:
    """Plain-text evidence of one finding (for JUnit failure bodies and terminals)."""
    b, c = evidence.baseline, evidence.candidate
    lines = [
        f"finding {finding.id} [{finding.status}] weight {finding.weight:g}",
        f"query {evidence.query_id} of tenant {evidence.tenant}",
        f"sql: {evidence.sql}",
    ]
    for side in (b, c):
        lines.append(
            f"{side.engine} {side.version}: status {side.status or '?'}, rows returned "
            f"{side.rows_returned}, rows affected {side.rows_affected}, checksum "
            f"{side.multiset or '-'}" + (" (baseline bank)" if side.from_bank else "")
        )
        if side.error_class or side.error_message:
            lines.append(f"  error {side.error_class}: {side.error_message}")
    if evidence.differing_columns:
        lines.append("differing columns: " + ", ".join(evidence.differing_columns))
    for p in evidence.partitions:
        lines.append(
            f"partition {p.table}/{p.partition or '(whole table)'} {p.change}: "
            f"baseline rows {p.baseline_rows}, candidate rows {p.candidate_rows}"
        )
    lines += [f"{name}: {value}" for name, value in evidence.perf + evidence.other]
    if finding.under_load_only:
        lines.append("appeared only under concurrent load")
    if finding.intermittent:
        lines.append("intermittent: came and went when replayed alone too")
    lines.append(f"replay: {evidence.replay}")
    return "\n".join(lines)


def build_junit(
    data: RunData,
    findings: list[Finding],
    evidence: dict[str, Evidence],
    settings: ReportSection,
) -> bytes:
    """The junit.xml document: testsuite per candidate, testcase per pattern id."""
    patterns = sorted(
        {str(r.get("pattern_id") or "") for r in data.queries.values()}
        | {v.pattern_id for v in data.verdicts}
        | {p.pattern_id for p in data.perf}
    )
    by_case: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        by_case[(f.key.candidate, f.key.pattern_id)].append(f)
    judged: dict[tuple[str, str], set[str]] = defaultdict(set)
    for v in data.verdicts:
        judged[(v.candidate, v.pattern_id)].add(v.verdict)
    for p in data.perf:
        judged[(p.candidate, p.pattern_id)].add(p.verdict)
    root = ET.Element("testsuites", name=_clean(f"qsim {data.pipeline} {data.run_id}"))
    total_failures = total_skipped = 0
    for candidate in data.candidates:
        suite = ET.SubElement(root, "testsuite", name=_clean(f"qsim.{candidate}"))
        failures = skipped = 0
        for pattern in patterns:
            case = ET.SubElement(
                suite,
                "testcase",
                name=_clean(pattern),
                classname=_clean(f"qsim.{data.pipeline}.{candidate}"),
            )
            case_findings = by_case.get((candidate, pattern), [])
            blocking = [f for f in case_findings if blocks_ship(f, settings)]
            if blocking:
                failures += 1
                failure = ET.SubElement(
                    case,
                    "failure",
                    type=blocking[0].key.verdict,
                    message=_clean(
                        "; ".join(
                            f"{f.key.verdict} in tenant {f.key.tenant} ({f.status})"
                            for f in blocking
                        )
                    ),
                )
                failure.text = _clean(
                    "\n\n".join(evidence_text(f, evidence[f.id]) for f in blocking)
                )
            elif not judged.get((candidate, pattern), set()) - {"skipped"}:
                skipped += 1
                reason = "no verdict yet" if not data.complete else "all queries skipped"
                ET.SubElement(case, "skipped", message=reason)
            other = [f for f in case_findings if f not in blocking]
            if other:
                out = ET.SubElement(case, "system-out")
                out.text = _clean(
                    "\n".join(
                        f"{f.id} accepted by {f.accepted.accepted_by}: {f.accepted.reason}"
                        if f.accepted
                        else f"{f.id}: below the gate"
                        for f in other
                    )
                )
        suite.set("tests", str(len(patterns)))
        suite.set("failures", str(failures))
        suite.set("skipped", str(skipped))
        suite.set("errors", "0")
        total_failures += failures
        total_skipped += skipped
    root.set("tests", str(len(patterns) * len(data.candidates)))
    root.set("failures", str(total_failures))
    root.set("skipped", str(total_skipped))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
