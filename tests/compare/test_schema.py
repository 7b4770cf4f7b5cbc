"""Schema comparison: name policies, canonical types, harmless physical differences."""

from __future__ import annotations

import pytest

from simulator.compare.schema import compare_schema, is_float_type


def test_equal_schemas_have_no_problems_or_notes():
    result = compare_schema(["a", "b"], ["int", "string"], ["a", "b"], ["int", "string"])
    assert result.ok and result.notes == []


def test_column_count_difference_is_a_problem():
    result = compare_schema(["a", "b"], ["int", "int"], ["a"], ["int"])
    assert not result.ok
    assert result.problems == ["column count 2 (baseline) vs 1 (candidate)"]


@pytest.mark.parametrize(
    ("policy", "ok", "notes"),
    [("case_sensitive", False, 0), ("case_insensitive", True, 1), ("ignore", True, 0)],
)
def test_name_case_follows_the_policy(policy, ok, notes):
    result = compare_schema(["Total"], ["int"], ["total"], ["int"], column_names=policy)
    assert result.ok is ok
    assert len(result.notes) == notes


def test_renamed_column_fails_unless_names_are_ignored():
    assert not compare_schema(["a"], ["int"], ["b"], ["int"]).ok
    assert compare_schema(["a"], ["int"], ["b"], ["int"], column_names="ignore").ok


def test_canonical_type_change_is_a_problem_naming_the_column():
    result = compare_schema(["x", "avg"], ["int", "decimal"], ["x", "avg"], ["int", "float"])
    assert result.problems == ["column 1 (avg): type decimal vs float"]


def test_harmless_physical_widening_is_a_note_not_a_failure():
    result = compare_schema(
        ["n", "s", "t"],
        ["int", "string", "timestamp"],
        ["n", "s", "t"],
        ["int", "string", "timestamp"],
        baseline_physical=["int32", "string", "timestamp[us]"],
        candidate_physical=["int64", "large_string", "timestamp[ns]"],
    )
    assert result.ok
    assert len(result.notes) == 3
    assert "int32 vs int64" in result.notes[0]


def test_configured_equivalence_turns_a_type_change_into_a_note():
    result = compare_schema(
        ["avg"], ["decimal"], ["avg"], ["float"], type_equivalence=[("decimal", "float")]
    )
    assert result.ok
    assert "configured equivalent" in result.notes[0]


def test_timezone_gained_is_a_problem():
    assert not compare_schema(["t"], ["timestamp"], ["t"], ["timestamptz"]).ok


def test_all_null_column_is_compatible_with_any_type():
    result = compare_schema(["x"], ["null"], ["x"], ["int"])
    assert result.ok and "all-NULL" in result.notes[0]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="policy"):
        compare_schema(["a"], ["int"], ["a"], ["int"], column_names="fuzzy")
    with pytest.raises(ValueError, match="baseline has 2 column names but 1 types"):
        compare_schema(["a", "b"], ["int"], ["a"], ["int"])


def test_float_and_decimal_are_the_tolerant_types():
    assert is_float_type("float") and is_float_type("decimal")
    assert not is_float_type("int") and not is_float_type("list<float>")


def test_renamed_derived_column_is_reported_apart_not_a_problem():
    result = compare_schema(
        ['"substring"(s, 1, 2)', "n", "CAST(x AS TEXT)"],
        ["string", "int", "string"],
        ['main."substring"(s, 1, 2)', "n", "CAST(x AS VARCHAR)"],
        ["string", "int", "string"],
        derived_names=[True, False, True],
    )
    assert result.ok
    assert result.derived_renames == [
        {
            "position": 0,
            "baseline": '"substring"(s, 1, 2)',
            "candidate": 'main."substring"(s, 1, 2)',
        },
        {"position": 2, "baseline": "CAST(x AS TEXT)", "candidate": "CAST(x AS VARCHAR)"},
    ]


def test_renamed_aliased_or_plain_column_still_fails_beside_derived_names():
    result = compare_schema(
        ["total", "upper(s)"],
        ["int", "string"],
        ["sum", "UPPER(s)"],
        ["int", "string"],
        derived_names=[False, True],
    )
    assert result.problems == ["column 0: name 'total' vs 'sum'"]
    assert result.derived_renames == []
    assert len(result.notes) == 1


def test_derived_names_of_another_length_are_ignored():
    result = compare_schema(["f(x)"], ["int"], ["g(x)"], ["int"], derived_names=[True, True])
    assert not result.ok and result.derived_renames == []
