"""One item of read-ahead: the next item of an iterable produced in a background thread.

Used by the scoring paths (torch and onnxruntime) so that reading the next chunk of a recording overlaps
staging the current one. Kept here, apart from both, so that neither imports the other.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def read_ahead(items: Iterable[T]) -> Iterator[T]:
    """Iterate ``items`` with the next one produced in a background thread (one item of read-ahead).

    An exception raised while producing is re-raised in the consumer, at the item where it happened.
    """
    q: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=1)
    done = object()

    def produce() -> None:
        try:
            for item in items:
                q.put((item, None))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            q.put((None, exc))
        q.put((done, None))

    threading.Thread(target=produce, daemon=True).start()
    while True:
        item, exc = q.get()
        if exc is not None:
            raise exc
        if item is done:
            return
        yield item
