"""Objects made once that live as long as the process, out of the cyclic collector's way.

Importing the schema's domain modules makes about 60k objects (classes, fields, resolvers,
their annotations) that are never freed, and about 1k objects of garbage. While they were
made, the collector ran every 700 allocations and walked the young ones again and again,
finding next to nothing: about 70 ms, a tenth of a serving process's start-up. Paused while
they are made, and frozen after (``gc.freeze``: later collections skip them), they cost
nothing, and the garbage stays, once. The command line and a worker's app import everything
serving needs the same way (``cli``, ``gateway``: the libraries too, about 50 ms of a start-up
of 0.6-0.8 s), and a serving process freezes what the rest of its start-up made
(``edge.startup_heap.freeze_startup_heap``).
"""

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """No collection while the block runs; what exists when it ends is frozen, unless it
    raised. Does nothing when the caller has already turned the collector off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        gc.enable()
