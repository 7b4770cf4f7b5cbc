"""Schema comparison of two results: column count, names under a policy, types.

Types are compared on their canonical names (``canonical.canonical_type``), which already
fold the harmless physical differences: integer widths and signedness, float32 vs float64,
string vs large_string, decimal precision and scale, timestamp units. Such a difference in
the physical types (``Execution.result_schema``) is reported as a note, never a failure.
A canonical difference (int vs float, decimal vs float, timestamp vs timestamptz, a list of
ints vs a list of strings) is a schema mismatch unless the config's ``type_equivalence``
groups name both types. A column typed ``null`` (every value NULL, no type inferred) is
compatible with any type and reported as a note.

A name the engine derives from the expression text of an unaliased projection (the
workload's ``derived_names``) may change between releases while the column is the same
(``"substring"(s, 1, 2)`` vs ``main."substring"(s, 1, 2)``): such a rename is reported in
``derived_renames``, apart from the problems. An alias or a plain column name still fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

COLUMN_NAME_POLICIES = ("case_sensitive", "case_insensitive", "ignore")
TOLERANT_TYPES = ("float", "decimal")


@dataclass(frozen=True)
class SchemaComparison:
    """Outcome of comparing two schemas.

    ``problems`` are failures (a schema mismatch); ``notes`` are harmless differences
    (the ``schema_note`` of a matching verdict); ``derived_renames`` the derived names that
    differ (position, baseline and candidate name): cosmetic, not a problem.
    """

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    derived_renames: list[dict[str, object]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def is_float_type(canonical_name: str) -> bool:
    """True for the canonical float and decimal types (the tolerant-comparison columns)."""
    return canonical_name in TOLERANT_TYPES


def _names_equal(left: str, right: str, policy: str) -> bool:
    if policy == "ignore":
        return True
    if policy == "case_insensitive":
        return left.casefold() == right.casefold()
    return left == right


def _configured_equivalent(left: str, right: str, groups: Sequence[Sequence[str]]) -> bool:
    lname, rname = left.lower(), right.lower()
    for group in groups:
        members = {g.lower() for g in group}
        if lname in members and rname in members:
            return True
    return False


def compare_schema(
    baseline_names: Sequence[str],
    baseline_types: Sequence[str],
    candidate_names: Sequence[str],
    candidate_types: Sequence[str],
    *,
    baseline_physical: Sequence[str] = (),
    candidate_physical: Sequence[str] = (),
    column_names: str = "case_insensitive",
    type_equivalence: Sequence[Sequence[str]] = (),
    derived_names: Sequence[bool] = (),
) -> SchemaComparison:
    """Compare two schemas column by column (by position).

    ``*_types`` are canonical type names; ``*_physical`` the engines' Arrow type names when
    known (for notes only). ``column_names`` is case_sensitive | case_insensitive | ignore.
    ``derived_names`` marks per position a name the engine derives (ignored unless it
    covers every column).
    Returns problems (count, name or type mismatches) and harmless notes. Refuses
    (ValueError) an unknown policy or names and types of different lengths on one side.
    """
    if column_names not in COLUMN_NAME_POLICIES:
        raise ValueError(f"unknown column name policy {column_names!r}")
    for side, names, types in (
        ("baseline", baseline_names, baseline_types),
        ("candidate", candidate_names, candidate_types),
    ):
        if len(names) != len(types):
            raise ValueError(f"{side} has {len(names)} column names but {len(types)} types")
    problems: list[str] = []
    notes: list[str] = []
    renames: list[dict[str, object]] = []
    if len(baseline_names) != len(candidate_names):
        problems.append(
            f"column count {len(baseline_names)} (baseline) vs {len(candidate_names)} (candidate)"
        )
        return SchemaComparison(problems=problems, notes=notes, derived_renames=renames)
    physical_known = len(baseline_physical) == len(candidate_physical) == len(baseline_names)
    derived = list(derived_names) if len(derived_names) == len(baseline_names) else []
    for i, (bname, btype, cname, ctype) in enumerate(
        zip(baseline_names, baseline_types, candidate_names, candidate_types, strict=True)
    ):
        if not _names_equal(bname, cname, column_names):
            if derived and derived[i]:
                renames.append({"position": i, "baseline": bname, "candidate": cname})
            else:
                problems.append(f"column {i}: name {bname!r} vs {cname!r}")
        elif bname != cname and column_names != "ignore":
            notes.append(f"column {i}: name {bname!r} vs {cname!r} (case only)")
        label = f"column {i} ({bname})"
        if btype != ctype:
            if _configured_equivalent(btype, ctype, type_equivalence):
                notes.append(f"{label}: type {btype} vs {ctype} (configured equivalent)")
            elif "null" in (btype, ctype):
                notes.append(f"{label}: type {btype} vs {ctype} (an all-NULL column)")
            else:
                problems.append(f"{label}: type {btype} vs {ctype}")
        elif physical_known and baseline_physical[i] != candidate_physical[i]:
            notes.append(
                f"{label}: type {baseline_physical[i]} vs {candidate_physical[i]} "
                f"(harmless: both canonical {btype})"
            )
    return SchemaComparison(problems=problems, notes=notes, derived_renames=renames)
