"""An adapter that serves Arrow IPC files as results, so a test can have a real worker
process (in any runtime, any pyarrow) checksum exactly the Arrow data the parent holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from simulator.engines.contract import EngineAdapter, StatementResult, TableSpec


def _serve(path: str | Path) -> StatementResult:
    reader = pa.ipc.open_file(pa.memory_map(str(path)))
    batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
    return StatementResult(schema=reader.schema, batches=batches)


class ArrowFileAdapter(EngineAdapter):
    """``execute(path)`` returns the batches of the Arrow IPC file at ``path`` as they are
    stored (same types, same batch boundaries); table ``name`` is ``WORKSPACE/name.arrow``."""

    def open(self, workspace: str, settings: dict[str, Any]) -> None:
        """Remember the workspace."""
        self.workspace = Path(workspace)

    def load_tables(self, tables: list[TableSpec]) -> None:
        """Tables are files in the workspace: nothing to load."""

    def seal(self) -> None:
        """Nothing to lock: the adapter only reads files the test wrote."""

    def version(self) -> str:
        """The runtime's pyarrow release (what the test varies)."""
        return f"pyarrow {pa.__version__}"

    def execute(self, sql: str) -> StatementResult:
        """The Arrow IPC file named by ``sql``."""
        return _serve(sql)

    def read_table(self, name: str) -> StatementResult:
        """The file ``WORKSPACE/name.arrow``."""
        return _serve(self.workspace / f"{name}.arrow")

    def list_tables(self) -> list[str]:
        """Every ``*.arrow`` file of the workspace."""
        return sorted(path.stem for path in self.workspace.glob("*.arrow"))

    def close(self) -> None:
        """Nothing to release."""
