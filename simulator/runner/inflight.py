"""How many executions are in flight across the whole run, as fault injection sees it.

The driver dispatches every execution, so it holds the exact global count
(:class:`InFlightCounter`). It passes the count at dispatch time with each call; inside a
session actor :class:`InFlightView` hands that number to the fault-injection wrapper's
``in_flight()`` callable on the thread that runs the execution. No extra round trip per
execution is needed, and the number is the same on every node of a cluster.
"""

from __future__ import annotations

import threading


class InFlightCounter:
    """The driver's count of executions dispatched and not yet finished (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0
        self.peak = 0

    def started(self, n: int = 1) -> int:
        """Count ``n`` new executions; returns the count including them."""
        with self._lock:
            self._value += n
            self.peak = max(self.peak, self._value)
            return self._value

    def finished(self, n: int = 1) -> None:
        """Count ``n`` executions as finished."""
        with self._lock:
            self._value -= n

    def __call__(self) -> int:
        return self._value


class InFlightView:
    """Actor-side view of the global count each running thread was dispatched with.

    The count the driver sends includes the execution itself (it is what the record keeps
    as ``in_flight_at_start``); fault injection asks how many run *elsewhere*, so calling
    the view returns the count minus this one.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def set(self, value: int) -> None:
        """Record the global count (this execution included) for the one about to run."""
        self._local.value = value

    def __call__(self) -> int:
        """How many other executions are in flight (0 if unknown): the fault wrapper's
        ``in_flight()``."""
        return max(0, getattr(self._local, "value", 1) - 1)
