"""Canonical type names: the Arrow types whose values hash alike share one name."""

from __future__ import annotations

import pyarrow as pa

from simulator.canonical.spec import ChecksumInputError


def canonical_type(data_type: pa.DataType) -> str:
    """The canonical name of an Arrow type: the names that hash alike share one name.

    int, float, decimal, string, binary, bool, date, timestamp, timestamptz, time, interval
    (durations too), null, list<T>, struct<name:T,...>, map<K,V>, union<name:T,...>. Refuses
    (``ChecksumInputError``) types without a canonical form.
    """
    t = data_type
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_fixed_size_binary(t)
    ):
        return "binary"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz is not None else "timestamp"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_duration(t) or t.id == pa.month_day_nano_interval().id:
        return "interval"
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_dictionary(t):
        return canonical_type(t.value_type)
    if pa.types.is_map(t):
        return f"map<{canonical_type(t.key_type)},{canonical_type(t.item_type)}>"
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
        or pa.types.is_fixed_size_list(t)
    ):
        return f"list<{canonical_type(t.value_type)}>"
    if pa.types.is_struct(t):
        fields = ",".join(
            f"{t.field(i).name}:{canonical_type(t.field(i).type)}" for i in range(t.num_fields)
        )
        return f"struct<{fields}>"
    if pa.types.is_union(t):
        members = ",".join(
            f"{t.field(i).name}:{canonical_type(t.field(i).type)}" for i in range(t.num_fields)
        )
        return f"union<{members}>"
    if pa.types.is_run_end_encoded(t):
        return canonical_type(t.value_type)
    if isinstance(t, pa.BaseExtensionType):
        return canonical_type(t.storage_type)
    raise ChecksumInputError(f"cannot checksum Arrow type {t}: it has no canonical form")
