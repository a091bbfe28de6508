"""The validation cache: the rules' errors for documents already validated, least recently
used first out.

Unlike ``functools.lru_cache``, it answers whether it knows a document before anything is
computed: a document it does not know is validated afresh, which its caller pays for first
(:func:`edge.extension.validation_cost`), possibly in the validation lane
(:mod:`edge.validation_lane`). Only the event loop's thread touches it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from graphql import GraphQLError


class ValidationCache:
    """Up to ``maxsize`` documents' validation errors (an empty list: valid)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._errors: OrderedDict[Hashable, list[GraphQLError]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._errors)

    def lookup(self, key: Hashable) -> list[GraphQLError] | None:
        """The errors kept for ``key``, or ``None`` when it was not validated (or forgotten)."""
        errors = self._errors.get(key)
        if errors is None:
            self.misses += 1
            return None
        self.hits += 1
        self._errors.move_to_end(key)
        return errors

    def keep(self, key: Hashable, errors: list[GraphQLError]) -> None:
        self._errors[key] = errors
        self._errors.move_to_end(key)
        while len(self._errors) > self.maxsize:
            self._errors.popitem(last=False)
