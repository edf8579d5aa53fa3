"""Clocks for the meters: the real one (time + a sampling thread) and a fake one that tests step by hand.

A clock gives monotonic and wall time, sleeps, and runs a function periodically. The real clock runs periodic
work on a daemon thread; :class:`FakeClock` runs it synchronously while fake time advances in
:meth:`FakeClock.sleep_s`, so tests of the sampler are deterministic and take no real time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """What the meters need from a clock."""

    def monotonic_s(self) -> float:
        """Monotonic time. Units: s."""
        ...

    def unix_s(self) -> float:
        """Wall-clock time. Units: s since the epoch."""
        ...

    def sleep_s(self, duration_s: float) -> None:
        """Sleep. Units: s."""
        ...

    def run_periodic(self, interval_s: float, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn`` every ``interval_s`` until the returned stop function is called. Units: s."""
        ...


class RealClock:
    """``time.perf_counter`` / ``time.time``; periodic work on a daemon thread.

    An exception raised by the periodic function stops the thread and is re-raised by the stop function, so a
    failing sampler is never silently ignored.
    """

    def monotonic_s(self) -> float:
        """Monotonic time. Units: s."""
        return time.perf_counter()

    def unix_s(self) -> float:
        """Wall-clock time. Units: s since the epoch."""
        return time.time()

    def sleep_s(self, duration_s: float) -> None:
        """Sleep. Units: s."""
        time.sleep(duration_s)

    def run_periodic(self, interval_s: float, fn: Callable[[], None]) -> Callable[[], None]:
        """Run ``fn`` every ``interval_s`` on a daemon thread; returns the stop function. Units: s."""
        stop = threading.Event()
        errors: list[BaseException] = []

        def loop() -> None:
            while not stop.wait(interval_s):
                try:
                    fn()
                except BaseException as exc:  # re-raised by stopper() in the caller's thread
                    errors.append(exc)
                    return

        thread = threading.Thread(target=loop, name="t2v-energy-power-sampler", daemon=True)
        thread.start()

        def stopper() -> None:
            stop.set()
            thread.join()
            if errors:
                raise errors[0]

        return stopper


class FakeClock:
    """A clock whose time moves only in :meth:`sleep_s` (or :meth:`advance_s`); periodic work runs inline.

    Args:
        start_s: Initial monotonic time. Units: s.
        unix_offset_s: ``unix_s() = monotonic_s() + unix_offset_s``. Units: s.
    """

    def __init__(self, start_s: float = 0.0, unix_offset_s: float = 1_700_000_000.0) -> None:
        self.now_s = start_s
        self.unix_offset_s = unix_offset_s
        self._tasks: list[tuple[float, int, float, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()

    def monotonic_s(self) -> float:
        """Fake monotonic time. Units: s."""
        return self.now_s

    def unix_s(self) -> float:
        """Fake wall time. Units: s since the epoch."""
        return self.now_s + self.unix_offset_s

    def sleep_s(self, duration_s: float) -> None:
        """Advance fake time, running due periodic tasks at their scheduled instants. Units: s."""
        self.advance_s(duration_s)

    def advance_s(self, duration_s: float) -> None:
        """Advance fake time by ``duration_s``, running due periodic tasks in order. Units: s."""
        if duration_s < 0:
            raise ValueError(f"FakeClock cannot go backwards (asked {duration_s} s)")
        target = self.now_s + duration_s
        while self._tasks and self._tasks[0][0] <= target:
            due, task_id, interval, fn = heapq.heappop(self._tasks)
            if task_id in self._cancelled:
                continue
            self.now_s = max(self.now_s, due)
            heapq.heappush(self._tasks, (due + interval, task_id, interval, fn))
            fn()
        self.now_s = target

    def run_periodic(self, interval_s: float, fn: Callable[[], None]) -> Callable[[], None]:
        """Schedule ``fn`` every ``interval_s`` of fake time; returns the stop function. Units: s."""
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        task_id = next(self._ids)
        heapq.heappush(self._tasks, (self.now_s + interval_s, task_id, interval_s, fn))

        def stopper() -> None:
            self._cancelled.add(task_id)
            self._tasks = [t for t in self._tasks if t[1] != task_id]
            heapq.heapify(self._tasks)

        return stopper
