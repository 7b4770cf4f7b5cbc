"""Apache DataFusion adapter (the ``datafusion`` Python package).

Tables. A read-only table is a view over a Parquet listing of the generation's folder
(hive partition columns declared with their Arrow types), or, when that folder holds
files the table does not list, a view over the rows read into memory. Being views, they
refuse INSERT/UPDATE/DELETE, so replayed SQL can never make DataFusion write a file into
the generation. A writable table is an in-memory table materialized from the workspace's
Parquet copy: INSERT INTO, UPDATE, DELETE, CREATE TABLE AS and DROP work on it and the
post-state reads back as Arrow. Types are DataFusion's own Arrow types, so loading is
faithful; only the column order of a listing (data columns, then partition columns) is
put back into the declared order by the view.

Restarts. In-memory tables die with the worker, so every write that succeeded is appended
to a redo log in the workspace (``datafusion-redo.jsonl``); a worker started again over
the same workspace loads the tables and replays the log, so earlier writes survive a
timeout or crash as they do on the engines that keep files.

Sandbox. Every statement is planned with ``SQLOptions`` that refuse DDL and ``SET``
statements; a refused DDL is retried only when it is one of the in-memory kinds
(``CreateMemoryTable`` = CREATE TABLE [AS], ``CreateView``, ``DropTable``, ``DropView``),
so ``CREATE EXTERNAL TABLE`` (which reads any path) stays refused. A plan containing
``CopyTo`` anywhere (``COPY ... TO``, ``EXPLAIN ANALYZE COPY``) is refused before it runs.
URL tables (``SELECT * FROM '/etc/passwd'``) are never enabled and the package registers
no file-reading table functions. Spill files go to ``<workspace>/spill``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datafusion
import pyarrow as pa
from datafusion import RuntimeEnvBuilder, SessionConfig, SessionContext, SQLOptions

from simulator.engines import plan_tree
from simulator.engines.contract import EngineAdapter, StatementResult, TableSpec
from simulator.engines.plan_tree import PlanTree
from simulator.engines.sql_names import check_table, quote_identifier
from simulator.engines.table_files import read_batches

# DDL kinds that only touch the session's in-memory catalog.
IN_MEMORY_DDL = frozenset({"CreateMemoryTable", "CreateView", "DropTable", "DropView"})
REFUSED_DDL = re.compile(r"DDL not supported: (\w+)")
REDO_LOG = "datafusion-redo.jsonl"
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.I)


def _bytes(value: Any) -> int:
    """``memory_limit`` as bytes: an integer, or a size such as ``2GB`` / ``512MiB``."""
    if isinstance(value, int):
        return value
    match = SIZE.match(str(value))
    if not match:
        raise ValueError(f"datafusion adapter: memory_limit {value!r} is not a size")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def _options(allow_ddl: bool) -> SQLOptions:
    # SQLOptions' builders mutate in place, so each statement gets a fresh object.
    return SQLOptions().with_allow_ddl(allow_ddl).with_allow_dml(True).with_allow_statements(False)


def _plan_nodes(plan: Any) -> Iterator[str]:
    yield type(plan.to_variant()).__name__
    for child in plan.inputs():
        yield from _plan_nodes(child)


def _listing_root(spec: TableSpec) -> Path | None:
    """The folder a Parquet listing of ``spec`` must start at, or None when the files are
    not exactly the ``.parquet`` files under one folder (a listing would read others)."""
    if not spec.files:
        return None
    depth = len(spec.partition_columns) + 1
    roots = {Path(file).parents[depth - 1] for file in spec.files}
    if len(roots) != 1:
        return None
    root = roots.pop()
    listed = {str(path) for path in root.rglob("*.parquet")}
    return root if listed == {str(Path(f)) for f in spec.files} else None


class DataFusionAdapter(EngineAdapter):
    """DataFusion over one session. Settings: ``target_partitions`` (or ``threads``),
    ``batch_size``, ``memory_limit`` (bytes or ``2GB``: a fair spill pool)."""

    def __init__(self) -> None:
        self._ctx: SessionContext | None = None
        self._sealed = False
        self._redo: Path | None = None

    def open(self, workspace: str, settings: dict[str, Any]) -> None:
        """Create the session; refuses an unknown setting (ValueError)."""
        config = SessionConfig().with_information_schema(True)
        # Keep Parquet strings as ``string``/``binary``, the declared types, not view types.
        config = config.set("datafusion.execution.parquet.schema_force_view_types", "false")
        runtime = RuntimeEnvBuilder().with_disk_manager_specified(str(Path(workspace) / "spill"))
        for key, value in settings.items():
            if key in ("target_partitions", "threads"):
                config = config.with_target_partitions(int(value))
            elif key == "batch_size":
                config = config.with_batch_size(int(value))
            elif key == "memory_limit":
                runtime = runtime.with_fair_spill_pool(_bytes(value))
            else:
                raise ValueError(f"datafusion adapter: unknown setting {key!r}")
        (Path(workspace) / "spill").mkdir(parents=True, exist_ok=True)
        self._redo = Path(workspace) / REDO_LOG
        self._ctx = SessionContext(config, runtime)

    @property
    def ctx(self) -> SessionContext:
        if self._ctx is None:
            raise RuntimeError("datafusion adapter: not open")
        return self._ctx

    def load_tables(self, tables: list[TableSpec]) -> None:
        """Register read-only tables as views and writable ones as in-memory tables, then
        replay the redo log of an earlier worker over this workspace, if any."""
        ctx = self.ctx
        for spec in tables:
            root = None if spec.writable else _listing_root(spec)
            if root is not None:
                partition_types = [(c, spec.schema.field(c).type) for c in spec.partition_columns]
                # The declared schema, not the files' own: DataFusion adapts each file to it.
                file_schema = pa.schema(
                    [f for f in spec.schema if f.name not in spec.partition_columns]
                )
                frame = ctx.read_parquet(
                    str(root), table_partition_cols=partition_types, schema=file_schema
                )
                ctx.register_view(spec.name, frame.select(*spec.schema.names))
                continue
            # An empty table still needs one (empty) batch to carry its schema.
            batches = list(read_batches(spec)) or [pa.RecordBatch.from_pylist([], spec.schema)]
            if spec.writable:
                ctx.register_record_batches(spec.name, [batches])
            else:
                frame = ctx.create_dataframe([batches], schema=spec.schema)
                ctx.register_view(spec.name, frame)
        if self._redo is not None and self._redo.exists():
            with open(self._redo, encoding="utf-8") as log:
                statements = [json.loads(line)["sql"] for line in log if line.strip()]
            self._sealed = True
            for statement in statements:
                self._run(statement)
            self._sealed = False

    def seal(self) -> None:
        """From now on statements are planned under the sandbox's SQLOptions."""
        self._sealed = True

    def version(self) -> str:
        """What ``SELECT version()`` reports, e.g. ``Apache DataFusion 55.2.0, ...``."""
        batch = self.ctx.sql("SELECT version()").collect()[0]
        return str(batch.column(0)[0].as_py())

    def _plan(self, sql: str) -> tuple[datafusion.DataFrame, bool]:
        """The statement's DataFrame and whether it was an (already executed) DDL."""
        ctx = self.ctx
        if not self._sealed:
            return ctx.sql(sql), False
        try:
            return ctx.sql_with_options(sql, _options(allow_ddl=False)), False
        except Exception as err:
            refused = REFUSED_DDL.search(str(err))
            if refused is None or refused.group(1) not in IN_MEMORY_DDL:
                raise
        return ctx.sql_with_options(sql, _options(allow_ddl=True)), True

    def execute(self, sql: str) -> StatementResult:
        """Run one statement: rows stream from DataFusion's record batch stream; INSERT,
        UPDATE and DELETE report DataFusion's ``count``; DDL reports nothing. A write that
        succeeded is appended to the redo log."""
        result, wrote = self._run(sql)
        if wrote and self._redo is not None:
            with open(self._redo, "a", encoding="utf-8") as log:
                log.write(json.dumps({"sql": sql}) + "\n")
        return result

    def _run(self, sql: str) -> tuple[StatementResult, bool]:
        """The statement's result and whether it changed a table (DML or DDL)."""
        frame, was_ddl = self._plan(sql)
        if was_ddl:
            return StatementResult(None, iter(())), True
        nodes = set(_plan_nodes(frame.logical_plan()))
        if "CopyTo" in nodes:
            raise PermissionError("COPY ... TO writes files: refused by qsim's sandbox")
        if type(frame.logical_plan().to_variant()).__name__ == "DmlStatement":
            counts = [batch.column(0) for batch in frame.collect()]
            affected = sum(int(value.as_py() or 0) for column in counts for value in column)
            return StatementResult(None, iter(()), rows_affected=affected), True
        if "DmlStatement" in nodes:
            # EXPLAIN [ANALYZE] over a write: its (small) output is collected here so that a
            # write it performs is done before it is logged.
            schema = frame.schema()
            batches = frame.collect()
            return StatementResult(schema, iter(batches)), True
        return self._stream(frame), False

    @staticmethod
    def _stream(frame: datafusion.DataFrame) -> StatementResult:
        schema = frame.schema()

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in frame.execute_stream():
                yield batch.to_pyarrow()

        return StatementResult(schema, batches())

    def read_table(self, name: str) -> StatementResult:
        """Stream all rows of table ``name``; refuses (ValueError) an unknown table."""
        check_table("datafusion", name, self.list_tables())
        return self._stream(self.ctx.table(name))

    def table_row_count(self, name: str) -> int:
        """``count(*)`` of table ``name``."""
        check_table("datafusion", name, self.list_tables())
        batch = self.ctx.sql(f"SELECT count(*) FROM {quote_identifier(name)}").collect()[0]
        return int(batch.column(0)[0].as_py())

    def explain(self, sql: str) -> PlanTree:
        """The physical plan of ``sql`` from ``EXPLAIN`` under the sandbox's SQLOptions with
        DDL refused (planning a DDL statement would run it), as an operator tree."""
        frame = self.ctx.sql_with_options(f"EXPLAIN {sql}", _options(allow_ddl=False))
        rows = frame.to_arrow_table().to_pylist()
        physical = next((r["plan"] for r in rows if r["plan_type"] == "physical_plan"), None)
        if physical is None:
            raise ValueError("EXPLAIN returned no physical plan")
        return plan_tree.from_indented(str(physical))

    def list_tables(self) -> list[str]:
        """Tables and views of the default schema."""
        return sorted(self.ctx.catalog().schema().names())

    def close(self) -> None:
        """Drop the session (all in-memory tables go with it)."""
        self._ctx = None
