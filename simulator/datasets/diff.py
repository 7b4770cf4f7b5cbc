"""``diff``: compare two generations table by table from their manifests.

Reported per table: present in only one generation, schema changes (columns added,
removed or retyped), row counts, the canonical checksum (with the columns whose checksums
differ) and partitions added, removed or changed. Manifests carry every checksum, so no
data file is read.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from simulator.datasets.manifest import MANIFEST_FILE, decode_schema
from simulator.datasets.store import Generation


def diff_generations(old: Generation, new: Generation) -> list[str]:
    """One line per difference between ``old`` and ``new`` (empty when their tables are
    identical), prefixed ``tenant/table``."""
    lines: list[str] = []
    old_tenants, new_tenants = old.manifest["tenants"], new.manifest["tenants"]
    for tenant in sorted(set(old_tenants) | set(new_tenants)):
        old_tables = old_tenants.get(tenant, {})
        new_tables = new_tenants.get(tenant, {})
        for table in sorted(set(old_tables) | set(new_tables)):
            where = f"{tenant}/{table}"
            if table not in new_tables:
                lines.append(
                    f"{where}: only in {old.id[:12]} ({old_tables[table]['row_count']} rows)"
                )
            elif table not in old_tables:
                lines.append(
                    f"{where}: only in {new.id[:12]} ({new_tables[table]['row_count']} rows)"
                )
            else:
                lines.extend(_diff_table(where, old_tables[table], new_tables[table]))
    return lines


def _schema(entry: dict[str, Any], where: str) -> pa.Schema:
    return decode_schema(entry["schema"], f"{MANIFEST_FILE}: {where}")


def _diff_table(where: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines = []
    old_schema, new_schema = _schema(old, where), _schema(new, where)
    if not old_schema.equals(new_schema):
        old_fields = {f.name: f for f in old_schema}
        new_fields = {f.name: f for f in new_schema}
        changes = [f"-{n}" for n in old_fields if n not in new_fields]
        changes += [f"+{n}" for n in new_fields if n not in old_fields]
        changes += [
            f"{n} {old_fields[n].type}->{new_fields[n].type}"
            for n in old_fields
            if n in new_fields and not old_fields[n].equals(new_fields[n])
        ]
        lines.append(
            f"{where}: schema differs ({', '.join(changes) or 'column order or metadata'})"
        )
    if old["partition_columns"] != new["partition_columns"]:
        lines.append(
            f"{where}: partition columns {old['partition_columns']} -> {new['partition_columns']}"
        )
    if old["row_count"] != new["row_count"]:
        delta = new["row_count"] - old["row_count"]
        lines.append(f"{where}: rows {old['row_count']} -> {new['row_count']} ({delta:+d})")
    if old["checksum"] != new["checksum"]:
        old_columns, new_columns = old["column_checksums"], new["column_checksums"]
        columns = [
            name
            for name in new_schema.names
            if name in old_columns and old_columns[name] != new_columns.get(name)
        ]
        detail = f"columns differing: {', '.join(columns)}" if columns else "shared columns equal"
        lines.append(f"{where}: checksum differs ({detail})")
    old_parts, new_parts = old["partitions"], new["partitions"]
    added = sorted(set(new_parts) - set(old_parts))
    removed = sorted(set(old_parts) - set(new_parts))
    changed = sorted(k for k in set(old_parts) & set(new_parts) if old_parts[k] != new_parts[k])
    for label, keys in (("added", added), ("removed", removed), ("changed", changed)):
        if keys:
            shown = ", ".join(keys[:5]) + (f", ... ({len(keys)} in all)" if len(keys) > 5 else "")
            lines.append(f"{where}: partitions {label}: {shown}")
    return lines
