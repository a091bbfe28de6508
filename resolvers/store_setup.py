"""A connected store made ready for this release, by every process before it serves or runs a
job: its indexes (those an earlier release no longer needed dropped), the event log's counter,
and what an earlier release stored in another shape converted (once per store)."""

from datastore.collections import INDEXES, RETIRED_INDEXES
from datastore.store import DocumentStore
from resolvers.events import ensure_sequence
from resolvers.insight_counter_upgrade import make_counters_sparse


async def set_up_store(store: DocumentStore) -> None:
    """Make a connected ``store`` ready: safe to run by several processes at once, and only
    reading a store an earlier start set up; bounded as the store's adapter bounds it."""
    with store.setting_up():
        await store.ensure_indexes(INDEXES)
        await store.drop_indexes(RETIRED_INDEXES)
        await ensure_sequence(store)
        await make_counters_sparse(store)
