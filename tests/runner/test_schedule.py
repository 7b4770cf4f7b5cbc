"""Load models: closed and open loop, global and per-tenant limits, lanes in step."""

from __future__ import annotations

from simulator.runner.schedule import Lane, LoadSchedule, release_offsets


def _lanes(tenants: int, engines: tuple[str, ...], length: int) -> dict[Lane, int]:
    return {Lane(f"t{i:02d}", e): length for i in range(1, tenants + 1) for e in engines}


def test_closed_loop_keeps_exactly_concurrency_in_flight() -> None:
    schedule = LoadSchedule(_lanes(4, ("a",), 3), concurrency=3, per_tenant_concurrency=1)
    started = [schedule.pick(0.0) for _ in range(5)]
    assert sum(p is not None for p in started) == 3
    assert len(schedule.running) == 3
    lane, _ = started[0]  # type: ignore[misc]
    schedule.finish(lane)
    assert schedule.pick(0.0) is not None  # a finished session starts its next at once
    assert len(schedule.running) == 3


def _order(schedule: LoadSchedule) -> list[tuple[str, int]]:
    order = []
    while not schedule.done():
        picked = schedule.pick(0.0)
        assert picked is not None
        assert schedule.pick(0.0) is None  # one statement of the tenant at a time
        order.append((picked[0].engine, picked[1]))
        schedule.finish(picked[0])
    return order


def test_per_tenant_limit_makes_a_tenants_engines_take_turns_in_step() -> None:
    lanes = _lanes(1, ("base", "cand"), 40)
    order = _order(LoadSchedule(lanes, concurrency=4, per_tenant_concurrency=1, seed=3))
    # The lane furthest behind goes first: both engines advance statement by statement.
    assert [index for _, index in order] == [i for i in range(40) for _ in range(2)]
    # Which engine goes first at a step is drawn from the seed, not fixed by name order.
    firsts = [engine for engine, _ in order[::2]]
    assert 10 <= firsts.count("base") <= 30
    # The same seed gives the same schedule; another seed another one.
    again = _order(LoadSchedule(lanes, concurrency=4, per_tenant_concurrency=1, seed=3))
    other = _order(LoadSchedule(lanes, concurrency=4, per_tenant_concurrency=1, seed=4))
    assert again == order and other != order


def test_schedule_digest_names_what_decides_the_schedule() -> None:
    lanes = _lanes(2, ("base", "cand"), 3)
    release = {"t01": [0.0, 1.0, 2.0], "t02": [0.5, 1.5, 2.5]}
    digest = LoadSchedule(lanes, mode="open", release=release, seed=1).digest
    assert LoadSchedule(lanes, mode="open", release=release, seed=1).digest == digest
    assert LoadSchedule(lanes, mode="open", release=release, seed=2).digest != digest
    shifted = {**release, "t02": [0.5, 1.5, 2.6]}
    assert LoadSchedule(lanes, mode="open", release=shifted, seed=1).digest != digest
    described = LoadSchedule(lanes, mode="open", release=release, seed=1).describe()
    assert described == {"mode": "open", "seed": 1, "digest": digest}


def test_lane_runs_its_statements_in_log_order_and_resumes_from_start_positions() -> None:
    lanes = _lanes(2, ("a",), 4)
    schedule = LoadSchedule(lanes, concurrency=2, start={Lane("t01", "a"): 4, Lane("t02", "a"): 1})
    seen = []
    while not schedule.done():
        lane, index = schedule.pick(0.0)  # type: ignore[misc]
        seen.append((lane.tenant, index))
        schedule.finish(lane)
    assert seen == [("t02", 1), ("t02", 2), ("t02", 3)]


def test_open_loop_releases_at_compressed_arrival_times() -> None:
    release = release_offsets({"t01": [1000.0, 1060.0], "t02": [1030.0]}, time_compression=60.0)
    assert release == {"t01": [0.0, 1.0], "t02": [0.5]}
    schedule = LoadSchedule(
        _lanes(2, ("a",), 1) | {Lane("t01", "a"): 2},
        mode="open",
        concurrency=8,
        per_tenant_concurrency=1,
        release=release,
    )
    first = schedule.pick(0.0)
    assert first == (Lane("t01", "a"), 0)
    assert schedule.pick(0.1) is None
    assert schedule.next_release(0.1) == 0.5
    assert schedule.pick(0.5) == (Lane("t02", "a"), 0)
    schedule.finish(Lane("t01", "a"))
    assert schedule.pick(0.9) is None  # t01's second statement arrives at 1.0
    assert schedule.pick(1.0) == (Lane("t01", "a"), 1)


def test_open_loop_global_limit_holds_arrivals_back() -> None:
    release = {"t01": [0.0], "t02": [0.0], "t03": [0.0]}
    schedule = LoadSchedule(_lanes(3, ("a",), 1), mode="open", concurrency=2, release=release)
    assert schedule.pick(5.0) is not None and schedule.pick(5.0) is not None
    assert schedule.pick(5.0) is None
