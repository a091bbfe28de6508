"""A serving process's heap: what start-up built is kept out of the collector's way, full
collections are rare (they walk every object alive, each request's reads included), and young
ones do not walk a request's reads while it runs."""

import gc

FULL_COLLECTION_EVERY = 100  # middle-generation collections (CPython's default: 10)
YOUNG_COLLECTION_EVERY = 20_000  # objects allocated and not yet freed (CPython's default: 700)


def freeze_startup_heap() -> None:
    """Keep what start-up built (modules, schema, caches: about 100k objects, alive as long
    as the process) out of the garbage collector's full collections. Each one otherwise walks
    all of it while holding the event loop: 55 ms in a run of 20 expensive queries, every
    other request waiting (``bench/abuse.py``'s p99).

    Only the young generations are collected first: a full collection walks all 100k objects
    (0.15 s of start-up) and finds nothing, what serving imports being frozen as it was
    imported (:mod:`schema.long_lived`)."""
    gc.collect(1)
    gc.freeze()
    # A full collection walks every object alive, the reads of every request in flight too,
    # yet finds almost nothing: an answered request frees its reads by reference counting
    # (see Loaders.release). One per 100 collections of the middle generation, not 10:
    # at 8 connections on the dashboard it was 46 ms of a request's 146 ms CPU, now 9.
    #
    # Young collections once per 20,000 objects allocated and not yet freed, not 700: a
    # request's reads and answer live until it is answered and are then freed by reference
    # counting, so the count falls back after each request. At 700, the dashboard at 5 offers
    # (about 4,000 objects at its peak) was collected 5-6 times a request, each collection
    # walking the request's live documents and moving them to the middle generation, to be
    # walked again there: 0.8 ms of its 9 ms CPU, none of it garbage. At 20,000 a request of
    # that size, even four at once, is never collected while it runs; a large one a few times.
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, FULL_COLLECTION_EVERY)
