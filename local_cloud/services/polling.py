"""The threads of an event source mapping: started, paused, resumed and stopped together.

The SQS pollers and the DynamoDB stream pollers share this lifecycle; each subclass
says what one thread does in its ``_run`` loop, which calls ``_parked_while_paused``
at the top of every round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

PAUSE_TIMEOUT_S = 120  # a poller finishes its batch before it parks


class PollerThreads:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._parked = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _parked_while_paused(self) -> bool:
        """Park this thread while paused; True if it did (the loop then starts over)."""
        if self._running.is_set():
            return False
        self._parked.release()
        self._running.wait()
        return True

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        """Return once no thread will receive or invoke again until resume() (tests use this)."""
        self._running.clear()
        for _ in self._threads:
            self._parked.acquire(timeout=PAUSE_TIMEOUT_S)

    def resume(self) -> None:
        self._running.set()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
