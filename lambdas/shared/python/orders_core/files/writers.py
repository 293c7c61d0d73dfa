"""Writer threads: DynamoDB calls run in parallel while the main thread reads the file.

Work is routed by a key to one worker (crc32 of the key): everything about one
transaction_id or one customer runs on one thread, in submission order, so the later
line of a file wins deterministically and a customer's upserts never race each other.
Each worker's queue is bounded, so a slow table slows the reader instead of growing the
heap. The first error stops the pool: queued work is dropped, and ``submit``/``close``
raise it in the main thread.
"""

import queue
import threading
import zlib
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

QUEUE_DEPTH: Final = 4
_POLL_S: Final = 0.05

Job = Callable[[], None]


class WriterPool:
    def __init__(self, threads: int, *, queue_depth: int = QUEUE_DEPTH) -> None:
        if threads < 1:
            raise ValueError("a writer pool needs at least one thread")
        self.threads = threads
        self._queues: list[queue.Queue[Job | None]] = [
            queue.Queue(maxsize=queue_depth) for _ in range(threads)
        ]
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._workers = [
            threading.Thread(target=self._run, args=(jobs,), name=f"writer-{index}", daemon=True)
            for index, jobs in enumerate(self._queues)
        ]
        for worker in self._workers:
            worker.start()
        self._closed = False

    def partition(self, key: str) -> int:
        return zlib.crc32(key.encode("utf-8", "surrogatepass")) % self.threads

    def submit(self, partition: int, job: Job) -> None:
        """Queue ``job`` on one worker; blocks while that worker is busy. Raises the
        first error any job raised."""
        jobs = self._queues[partition]
        while True:
            self._raise_if_failed()
            try:
                jobs.put(job, timeout=_POLL_S)
            except queue.Full:
                continue
            return

    def close(self) -> None:
        """Wait for every queued job; raises the first error any job raised."""
        self._stop()
        self._raise_if_failed()

    def _stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        for jobs in self._queues:
            jobs.put(None)  # workers drain their queue, so this never blocks for long
        for worker in self._workers:
            worker.join()

    def _raise_if_failed(self) -> None:
        with self._lock:
            error = self._error
        if error is not None:
            raise error

    def _run(self, jobs: "queue.Queue[Job | None]") -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            with self._lock:
                failed = self._error is not None
            if failed:
                continue  # drop the rest: the file fails and is retried as a whole
            try:
                job()
            except BaseException as exc:  # handed to the main thread, raised there
                with self._lock:
                    if self._error is None:
                        self._error = exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is not None:
            with self._lock:
                if self._error is None:
                    self._error = exc  # stop the workers early: nothing more is needed
        self._stop()
