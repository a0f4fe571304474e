"""One pool of open models per process, capped by count and by estimated memory.

Every model a function serves (the layer's built-ins, catalog versions from S3, the GPU
container's versions) is opened through a pool: the first request for a key opens it once,
however many arrive together; the least recently used entry closes first when the pool is
over either cap. The entry being opened is never evicted by its own arrival.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

# TypeVar, not PEP 695's class Opened[V]: the model build (Python 3.11) imports the runtime
# to measure it (modelzoo/ocr.py)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Opened(Generic[V]):  # noqa: UP046
    """What an opener returns: the value and its estimated resident bytes."""

    value: V
    size: int


class ModelPool(Generic[V]):  # noqa: UP046
    """Least-recently-used entries, opened once each (thread-safe).

    Args:
        max_items: Entries kept open at once.
        max_bytes: Their estimated memory, at most.
        on_evict: Called (outside the lock) with each entry that leaves the pool.
    """

    def __init__(
        self,
        *,
        max_items: int = 8,
        max_bytes: int = 1 << 30,
        on_evict: Callable[[V], None] | None = None,
    ) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.on_evict = on_evict
        self._entries: OrderedDict[Hashable, Opened[V]] = OrderedDict()
        self._lock = threading.Lock()
        self._opening: dict[Hashable, threading.Lock] = {}

    def cached(self, key: Hashable) -> V | None:
        """The open entry for ``key``, if there is one (no I/O; marks it recently used)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry.value

    def get(self, key: Hashable, opener: Callable[[], Opened[V]]) -> V:
        """The entry for ``key``, opening it with ``opener`` on first use.

        Concurrent first requests for one key wait for a single ``opener`` call; an opener
        that raises leaves nothing behind, and the next request tries again.
        """
        found = self.cached(key)
        if found is not None:
            return found
        with self._lock:
            opening = self._opening.setdefault(key, threading.Lock())
        with opening:
            found = self.cached(key)
            if found is not None:
                return found
            opened = opener()
            with self._lock:
                self._entries[key] = opened
                evicted = self._evict(keep=key)
        for value in evicted:
            if self.on_evict is not None:
                self.on_evict(value)
        return opened.value

    def values(self) -> list[V]:
        """Every open entry, least recently used first."""
        with self._lock:
            return [entry.value for entry in self._entries.values()]

    def clear(self) -> list[V]:
        """Forget every entry; returns them (the caller closes what needs closing)."""
        with self._lock:
            values = [entry.value for entry in self._entries.values()]
            self._entries.clear()
        return values

    @property
    def used_bytes(self) -> int:
        """Estimated memory of the open entries."""
        with self._lock:
            return sum(entry.size for entry in self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def _evict(self, keep: Hashable) -> list[V]:
        evicted: list[V] = []
        used = sum(entry.size for entry in self._entries.values())
        for key in list(self._entries):
            if len(self._entries) <= self.max_items and used <= self.max_bytes:
                break
            if key != keep:
                entry = self._entries.pop(key)
                used -= entry.size
                evicted.append(entry.value)
        return evicted
