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
    """Actor-side view: the global in-flight count each running thread was dispatched with."""

    def __init__(self) -> None:
        self._local = threading.local()

    def set(self, value: int) -> None:
        """Record the global count for the execution about to run on this thread."""
        self._local.value = value

    def __call__(self) -> int:
        """The global in-flight count for the execution on this thread (1 if unknown)."""
        return getattr(self._local, "value", 1)
