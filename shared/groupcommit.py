"""Group commit: many threads' small writes become one bulk write, each caller still waiting
for its own result. The worker uses it so the prefetch window's concurrent deliveries share
their store round trips without changing what each delivery waits for."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Collects items for up to `linger_s` (or `max_items`), then runs `flush(items)` once."""

    def __init__(self, flush: Callable[[list[T]], list[R]], *, linger_s: float = 0.002, max_items: int = 200,
                 name: str = "batcher") -> None:
        self._flush = flush
        self.linger_s = linger_s
        self.max_items = max_items
        self._items: list[tuple[T, Future[R]]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def submit(self, item: T) -> R:
        """Add an item to the next flush and wait for its result (or its flush's error)."""
        future: Future[R] = Future()
        with self._cond:
            self._items.append((item, future))
            self._cond.notify()
        return future.result()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait()
                # Let more callers join this flush, briefly.
                self._cond.wait_for(lambda: len(self._items) >= self.max_items, timeout=self.linger_s)
                batch, self._items = self._items[: self.max_items], self._items[self.max_items:]
            try:
                results = self._flush([item for item, _ in batch])
                paired = list(zip(batch, results, strict=True))
            except BaseException as e:  # noqa: BLE001 - every caller of this flush gets the error
                for _, future in batch:
                    future.set_exception(e)
                continue
            for (_, future), result in paired:
                future.set_result(result)
