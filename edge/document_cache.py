"""The parser's and the validation's caches: least recently used first out, and keeping a
document only from the second time it is offered.

A client repeating its documents finds them kept from its third request on. A document sent
once, as by a caller varying its documents so that no cache answers, is never kept: kept, a
thousand such documents (~1250 objects each) would push out every client's and make each full
collection of the garbage collector walk them all, holding the event loop for hundreds of
milliseconds (``bench/abuse.py``, deep fragments). What the cache remembers of a document
offered once is its hash.

Unlike ``functools.lru_cache``, it answers whether it knows a key before anything is computed:
a document it does not know is validated afresh, which its caller pays for first
(:func:`edge.extension.validation_cost`). Only the event loop's thread touches it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

SEEN_PER_ENTRY = 4
"""Hashes of keys offered once, remembered per entry the cache holds."""


class DocumentCache(Generic[V]):
    """Up to ``maxsize`` values by key, each kept from the second time it is offered."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._seen: OrderedDict[int, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._values)

    def lookup(self, key: Hashable) -> V | None:
        """The value kept for ``key``, or ``None``."""
        value = self._values.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self._values.move_to_end(key)
        return value

    def offer(self, key: Hashable, value: V) -> bool:
        """Keep ``value`` if ``key`` was offered before (and not forgotten since); whether it
        was kept."""
        if key not in self._values:
            digest = hash(key)
            if digest not in self._seen:
                self._seen[digest] = None
                while len(self._seen) > self.maxsize * SEEN_PER_ENTRY:
                    self._seen.popitem(last=False)
                return False
            del self._seen[digest]
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self.maxsize:
            self._values.popitem(last=False)
        return True
