"""The in-flight count: what records keep and what fault injection sees."""

from __future__ import annotations

import threading

from simulator.runner.inflight import InFlightCounter, InFlightView


def test_counter_counts_dispatched_executions_and_keeps_the_peak() -> None:
    counter = InFlightCounter()
    assert counter.started() == 1
    assert counter.started() == 2
    counter.finished()
    assert counter() == 1 and counter.peak == 2


def test_view_tells_fault_injection_how_many_run_elsewhere_per_thread() -> None:
    view = InFlightView()
    assert view() == 0  # unknown: nothing else assumed in flight
    view.set(1)  # alone (concurrency 1, or the quiet perf phase): nothing elsewhere
    assert view() == 0
    seen: list[int] = []

    def other() -> None:
        view.set(4)  # dispatched while 3 others were running
        seen.append(view())

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [3]
    assert view() == 0  # each execution thread keeps its own count
