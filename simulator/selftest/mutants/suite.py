"""The mutation suite: qsim's detection power, measured by qsim on this installation.

One run replays the demo workload (``configs/demo.toml``'s world, redirected into a work
folder) on a real DuckDB baseline and, as candidates, one mutant engine per class of
:data:`~simulator.selftest.mutants.classes.MUTATIONS` (the same DuckDB release, changed in
one known way). Each mutant reports per execution whether it really changed the answer;
that is the ground truth. Per class the suite counts:

- ``changed``: queries whose answer the mutant changed (for ``shuffle_rows`` only queries
  with a top-level ORDER BY that nondeterminism does not reach count: without one, or
  ordered by ``rand()``, a different order is not a change);
- ``right``: changed queries flagged with the verdict the class calls for
  (:data:`EXPECTED`); ``wrong``: flagged with another failing verdict; ``missed``: the rest,
  grouped by verdict and reason;
- ``collateral``: failing verdicts on queries the mutant did not change, other than the
  consequences of a changed write (a later statement of the tenant that reads a table a
  changed write touched).

Performance mutants (``slow_join``) run in a second run with the performance phase on; a
pattern counts as changed when its statements were slowed, and ``right`` when it is
``regressed``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from simulator.jobs.run_report import run_and_report
from simulator.results.layout import QUERIES_FILE, RecordKind
from simulator.results.reader import read_records
from simulator.results.verdicts import REGRESSION_VERDICTS
from simulator.selftest.mutants.classes import MUTATIONS
from simulator.selftest.world import build_world, scenario_data, to_config

ADAPTER = "simulator.selftest.mutants.adapter:MutantDuckDB"
BASELINE = "baseline"
EXPECTED = {
    "result": "result_mismatch",
    "write": "write_mismatch",
    "error": "candidate_error",
    "performance": "regressed",
}
PERF_MUTATIONS = tuple(name for name, family in MUTATIONS.items() if family == "performance")
TARGET_SCORE = 0.95


def candidate_name(mutation: str) -> str:
    """The candidate engine that carries ``mutation``."""
    return f"mutant_{mutation}"


@dataclass
class ClassScore:
    """What the suite found for one mutant class."""

    mutation: str
    family: str
    changed: int = 0
    right: int = 0
    wrong: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    collateral: Counter[str] = field(default_factory=Counter)
    # Write classes: changed and rightly flagged statements per table they write.
    changed_in: Counter[str] = field(default_factory=Counter)
    right_in: Counter[str] = field(default_factory=Counter)

    @property
    def score(self) -> float:
        """Share of changed queries flagged with the right verdict (1.0 when none changed)."""
        return self.right / self.changed if self.changed else 1.0

    @property
    def ok(self) -> bool:
        """At least :data:`TARGET_SCORE` found, something changed, and no collateral."""
        return self.changed > 0 and self.score >= TARGET_SCORE and not self.collateral


@dataclass
class MutationReport:
    """Per-class scores and the run folders behind them."""

    classes: list[ClassScore] = field(default_factory=list)
    runs: dict[str, Path] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Every class passed."""
        return bool(self.classes) and all(c.ok for c in self.classes)


def _engine(base: dict[str, Any], mutation: str | None) -> dict[str, Any]:
    engine = {**base, "settings": dict(base.get("settings", {}))}
    if mutation is not None:
        engine["adapter"] = ADAPTER
        engine["settings"]["mutation"] = mutation
    return engine


def _config(
    work: Path, world: str, mutations: list[str], *, perf: bool, name: str, scale: float | None
) -> Any:
    data = scenario_data(world, work, scale)
    # The scenario's first candidate engine (the newest release) is both the baseline and,
    # mutated, every candidate: any difference is the mutant's.
    base = data["engines"][data["run"]["candidates"][0]]
    data["engines"] = {
        BASELINE: _engine(base, None),
        **{candidate_name(m): _engine(base, m) for m in mutations},
    }
    data["run"].update(
        name=name, baseline=BASELINE, candidates=[candidate_name(m) for m in mutations]
    )
    data["perf"] = {**data.get("perf", {}), "enabled": perf}
    if perf:
        data["perf"]["max_patterns"] = 0
    return to_config(data, world)


def run_mutants(
    work: Path,
    mutations: list[str] | None = None,
    *,
    world: str = "demo",
    scale: float | None = None,
    echo: Callable[[str], None] = print,
) -> MutationReport:
    """Run the mutant classes ``mutations`` (default: all) over the world and workload of
    ``configs/<world>.toml`` in ``work`` (generated at ``scale`` with the large-write
    pipeline when given) and score them.

    Refuses (ValueError) an unknown class name. Raises QsimError when the world or a run
    cannot be set up.
    """
    chosen = list(mutations or MUTATIONS)
    unknown = [m for m in chosen if m not in MUTATIONS]
    if unknown:
        raise ValueError(f"unknown mutant classes: {', '.join(unknown)}")
    began = time.monotonic()
    report = MutationReport()
    correctness = [m for m in chosen if m not in PERF_MUTATIONS]
    performance = [m for m in chosen if m in PERF_MUTATIONS]
    for label, group, perf in (
        ("mutants", correctness, False),
        ("mutants-perf", performance, True),
    ):
        if not group:
            continue
        cfg = _config(work, world, group, perf=perf, name=label, scale=scale)
        build_world(cfg)
        echo(f"selftest --mutants: {len(group)} mutant classes ({label}) ...")
        outcome = run_and_report(cfg)
        report.runs[label] = outcome.run_dir
        report.classes.extend(score_run(outcome.run_dir, group))
    report.wall_s = time.monotonic() - began
    return report


def score_run(run_dir: Path, mutations: list[str]) -> list[ClassScore]:
    """Score every class of ``mutations`` from its run folder."""
    queries = {row["query_id"]: row for row in pq.read_table(run_dir / QUERIES_FILE).to_pylist()}
    executions: dict[str, list[dict[str, Any]]] = {}
    for record in read_records(run_dir, RecordKind.EXECUTIONS):
        executions.setdefault(record["engine"], []).append(record)
    verdicts: dict[str, dict[str, dict[str, Any]]] = {}
    for verdict in read_records(run_dir, RecordKind.VERDICTS):
        verdicts.setdefault(verdict["candidate"], {})[verdict["query_id"]] = verdict
    perf: dict[str, list[dict[str, Any]]] = {}
    for verdict in read_records(run_dir, RecordKind.PERF):
        perf.setdefault(verdict["candidate"], []).append(verdict)
    scores = []
    for mutation in mutations:
        name = candidate_name(mutation)
        changed = _changed(mutation, executions.get(name, []), queries)
        if MUTATIONS[mutation] == "performance":
            scores.append(_score_perf(mutation, changed, queries, perf.get(name, [])))
        else:
            scores.append(_score_queries(mutation, changed, queries, verdicts.get(name, {})))
    return scores


def _changed(
    mutation: str, records: list[dict[str, Any]], queries: dict[str, dict[str, Any]]
) -> set[str]:
    """Query ids whose answer the mutant changed, by its own account."""
    changed = set()
    for record in records:
        notes = record.get("engine_notes") or {}
        raised = record["status"] == "error" and record["error_class"] == "MutantError"
        if record["phase"] != "load" or not (notes.get("changed") or raised):
            continue
        query = queries.get(record["query_id"])
        if query is None:
            continue
        fixed_order = query["order_by"] and (
            not query["nondeterministic"] or query.get("row_set_fixed")
        )
        if mutation == "shuffle_rows" and not fixed_order:
            continue  # another order of rows whose order is unspecified or random is no change
        changed.add(record["query_id"])
    return changed


def _consequences(changed: set[str], queries: dict[str, dict[str, Any]]) -> set[str]:
    """Queries that read a table an earlier changed statement of their tenant wrote."""
    touched: dict[str, set[str]] = {}
    out = set()
    for query in sorted(queries.values(), key=lambda q: (q["tenant"], q["seq"])):
        tables = touched.setdefault(query["tenant"], set())
        written = set(query["tables_written"] or ())
        # A statement reading a damaged table, or changing one in place (DELETE, UPDATE,
        # INSERT into it), carries the damage on.
        rebuilt = query["kind"] in ("ctas", "ddl")
        if set(query["tables_read"] or ()) & tables or (written & tables and not rebuilt):
            out.add(query["query_id"])
            tables.update(written)
        elif query["query_id"] in changed:
            tables.update(written)
        elif rebuilt:
            tables.difference_update(written)  # rebuilt from clean inputs
    return out


def _score_queries(
    mutation: str,
    changed: set[str],
    queries: dict[str, dict[str, Any]],
    verdicts: dict[str, dict[str, Any]],
) -> ClassScore:
    family = MUTATIONS[mutation]
    score = ClassScore(mutation, family, changed=len(changed))
    expected = EXPECTED[family]
    explained = _consequences(changed, queries)
    for query_id in changed:
        if family == "write" and query_id in queries:
            score.changed_in.update(queries[query_id]["tables_written"] or ())
    for query_id, verdict in verdicts.items():
        name = verdict["verdict"]
        label = f"{name}: {verdict.get('reason') or '-'}"
        if query_id in changed:
            if name == expected:
                score.right += 1
                if family == "write" and query_id in queries:
                    score.right_in.update(queries[query_id]["tables_written"] or ())
            elif name in REGRESSION_VERDICTS:
                score.wrong[label] += 1
            else:
                score.missed[label] += 1
        elif name in REGRESSION_VERDICTS and query_id not in explained:
            score.collateral[label] += 1
    unjudged = changed - set(verdicts)
    if unjudged:
        score.missed["no verdict"] += len(unjudged)
    return score


def _score_perf(
    mutation: str,
    changed: set[str],
    queries: dict[str, dict[str, Any]],
    perf: list[dict[str, Any]],
) -> ClassScore:
    slowed = {(queries[q]["tenant"], queries[q]["pattern_id"]) for q in changed}
    score = ClassScore(mutation, MUTATIONS[mutation])
    for verdict in perf:
        key = (verdict["tenant"], verdict["pattern_id"])
        name = verdict["verdict"]
        if key in slowed:
            score.changed += 1
            if name == "regressed":
                score.right += 1
            else:
                score.missed[name] += 1
        elif name in ("regressed", "improved"):
            score.collateral[name] += 1
    return score


HEADER = ("mutant class", "family", "changed", "right", "wrong", "missed", "collateral", "score")


def render(report: MutationReport) -> str:
    """The per-class table, then the misses and collateral findings by verdict and reason."""
    rows = [HEADER]
    for c in report.classes:
        rows.append(
            (
                c.mutation,
                c.family,
                str(c.changed),
                str(c.right),
                str(sum(c.wrong.values())),
                str(sum(c.missed.values())),
                str(sum(c.collateral.values())),
                f"{c.score:.0%}" + ("" if c.ok else "  FAIL"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for c in report.classes:
        for table, n in sorted(c.changed_in.items()):
            lines.append(f"  {c.mutation} on {table}: {c.right_in[table]}/{n} changed writes right")
        for title, counts in (
            ("wrong", c.wrong),
            ("missed", c.missed),
            ("collateral", c.collateral),
        ):
            for label, n in counts.most_common():
                lines.append(f"  {c.mutation} {title}: {n} x {label}")
    changed = sum(c.changed for c in report.classes)
    right = sum(c.right for c in report.classes)
    collateral = sum(sum(c.collateral.values()) for c in report.classes)
    share = right / changed if changed else 1.0
    lines.append(
        f"overall: {right}/{changed} changed queries flagged right ({share:.1%}), "
        f"{collateral} collateral findings"
    )
    return "\n".join(lines)
