"""The self-test's rule for a known change being found: at least 90 % of the changed
patterns flagged (the issue's "9 of 10 slowed patterns") and no other pattern."""

from __future__ import annotations

from simulator.selftest.suite import found_enough


def _patterns(n: int, prefix: str = "p") -> set[tuple[str, str]]:
    return {("t01", f"{prefix}{i}") for i in range(n)}


def test_one_miss_in_thirteen_is_found_two_are_not() -> None:
    expected = _patterns(13)
    assert found_enough(expected, set(sorted(expected)[:12]))
    assert not found_enough(expected, set(sorted(expected)[:11]))


def test_nine_of_ten_is_the_floor() -> None:
    expected = _patterns(10)
    assert found_enough(expected, set(sorted(expected)[:9]))
    assert not found_enough(expected, set(sorted(expected)[:8]))


def test_small_sets_need_every_pattern() -> None:
    expected = _patterns(3)
    assert found_enough(expected, expected)
    assert not found_enough(expected, set(sorted(expected)[:2]))


def test_any_other_pattern_flagged_fails_and_nothing_expected_fails() -> None:
    expected = _patterns(10)
    assert not found_enough(expected, expected | {("t02", "other")})
    assert not found_enough(set(), set())
