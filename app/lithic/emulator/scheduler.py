"""A background thread that runs callables at given times (webhook retries, fulfilment)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Scheduler:
    """Runs submitted callables one at a time, in due-time order, on a daemon thread."""

    def __init__(self, name: str):
        self._name = name
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run `fn` on the scheduler thread after `delay` seconds."""
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._counter), fn))
            self._cond.notify_all()

    def clear(self) -> None:
        """Drop everything not yet started."""
        with self._cond:
            self._heap.clear()
            self._cond.notify_all()

    def idle(self) -> bool:
        """Tell whether nothing is queued or running."""
        with self._cond:
            return not self._heap and not self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running; return False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    def stop(self) -> None:
        """Stop the thread; queued work is dropped."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        break
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, fn = heapq.heappop(self._heap)
                self._busy = True
            try:
                fn()
            except Exception:
                # One failing job must not stop the thread that runs all the others.
                logger.exception("scheduled job failed", extra={"scheduler": self._name})
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
