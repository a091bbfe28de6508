"""One caller's lease in one process: budget taken out of the caller's bucket in the store
ahead of need and spent from memory, and the exchange that refreshes it.

An exchange gives the lease's unspent tokens back to the bucket (capped at its capacity),
charges what the process granted on its own while the store could not be reached, and takes
the lease back up to its target, all in one store transaction. It never detaches tokens from
the lease while it runs: it reads what the lease holds at the moment it writes and applies the
difference once committed, so requests keep spending from the lease meanwhile and nothing is
given back twice.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from datastore.collections import THROTTLE_BUCKETS
from datastore.store import DocumentStore, DuplicateKeyError, VersionConflictError

_WRITE_ATTEMPTS = 8


@dataclass
class Lease:
    """What one process holds of one caller's bucket."""

    capacity: float
    rate: float
    # The least the lease tries to hold (a chunk of the capacity).
    chunk: float
    # Taken out of the store: spendable here without asking anyone.
    tokens: float = 0.0
    # Granted here beyond what was taken (from the fair share while the store could not be
    # reached): charged to the bucket at the next exchange.
    owed: float = 0.0
    # What the bucket held after the last exchange, and when (wall-clock time, shared by
    # every process), for reporting ``currentlyAvailable`` without a round trip.
    store_available: float = 0.0
    synced_at: float | None = None
    # Demand since the last exchange, which sizes the next one.
    spent: float = 0.0
    largest_cost: float = 0.0
    # Costs of requests waiting for the exchange in flight.
    waiting: float = 0.0
    sync: asyncio.Task[bool] | None = None
    sync_started: float = 0.0
    # The process's fair share of the bucket while the store cannot be reached.
    fair: float | None = None
    fair_at: float = 0.0

    def take(self, cost: float) -> bool:
        """Spend ``cost`` from the lease if it holds that much."""
        if self.tokens < cost:
            return False
        self.tokens -= cost
        self.spent += cost
        self.largest_cost = max(self.largest_cost, cost)
        return True

    def target(self) -> float:
        """How much the next exchange tries to leave in the lease: a chunk, or more when the
        caller spends faster (twice its largest request, what it spent since the last
        exchange), plus what waiting requests need."""
        wanted = max(self.chunk, 2 * self.largest_cost, self.spent)
        return min(self.capacity, wanted) + self.waiting

    def running_low(self, now: float, lease_seconds: float) -> bool:
        """Whether to refresh ahead of need: below half the target, or older than a lease."""
        if self.synced_at is None or now - self.synced_at >= lease_seconds:
            return True
        return self.tokens < max(self.chunk, 2 * self.largest_cost) / 2

    def syncing(self) -> bool:
        return self.sync is not None and not self.sync.done()

    def available(self, now: float) -> float:
        """The caller's budget as this process sees it."""
        if self.synced_at is None:
            bucket = self.capacity
        else:
            refill = self.rate * max(0.0, now - self.synced_at)
            bucket = min(self.capacity, self.store_available + refill)
        return max(0.0, min(self.capacity, self.tokens + bucket) - self.owed)

    def from_fair_share(self, cost: float, processes: int, now: float) -> bool:
        """Grant ``cost`` from this process's share of the bucket (capacity and restore rate
        divided among the processes), starting from what the bucket held when last seen; what
        is granted is owed to the bucket."""
        ceiling, rate = self.capacity / processes, self.rate / processes
        if self.fair is None:
            self.fair = min(ceiling, self.available(now) / processes)
        else:
            self.fair = min(ceiling, self.fair + rate * max(0.0, now - self.fair_at))
        self.fair_at = now
        if self.fair < cost:
            return False
        self.fair -= cost
        self.owed += cost
        return True

    def fair_retry_seconds(self, cost: float, processes: int) -> float:
        """When the fair share will hold ``cost`` again."""
        rate = self.rate / processes
        return (cost - (self.fair or 0.0)) / rate if rate > 0 else 3600.0

    def refund(self, amount: float, processes: int) -> None:
        """Give back what a request reserved and did not use: a debt first, then the lease."""
        repaid = min(amount, self.owed)
        self.owed -= repaid
        if self.fair is not None:
            self.fair = min(self.capacity / processes, self.fair + repaid)
        self.tokens += amount - repaid


async def exchange(store: DocumentStore, key: str, lease: Lease) -> None:
    """Settle ``lease`` with its bucket in one transaction (see the module's docstring);
    raises what the store raises when it cannot be reached."""
    capacity, rate = lease.capacity, lease.rate
    given_back = settled = level = left = written_at = 0.0

    async def work() -> None:
        nonlocal given_back, settled, level, left, written_at
        written_at = time.time()
        found = (await store.get_many(THROTTLE_BUCKETS, [key])).get(key)
        if found is None:
            held = capacity
        else:
            elapsed = max(0.0, written_at - float(found["at"]))
            held = min(capacity, float(found["available"]) + rate * elapsed)
        # Read the lease now, after the awaits above: what it holds at the write.
        given_back, settled = lease.tokens, lease.owed
        pool = min(capacity, held + given_back) - settled
        level = min(max(pool, 0.0), lease.target())
        # A debt larger than the bucket is forgiven beyond one bucket's worth.
        left = max(pool - level, -capacity)
        changes = {"available": left, "at": written_at}
        if found is None:
            await store.insert(THROTTLE_BUCKETS, {"_id": key, **changes})
        else:
            await store.update(
                THROTTLE_BUCKETS, key, expected_version=found["version"], changes=changes
            )

    for attempt in range(_WRITE_ATTEMPTS):
        try:
            await store.transaction(work)
            break
        except (VersionConflictError, DuplicateKeyError):
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
    # Requests spent from the lease while the exchange ran: keep their spending, and move
    # any shortfall (only when the bucket was in debt) into what is owed.
    lease.tokens += level - given_back
    lease.owed -= settled
    if lease.tokens < 0:
        lease.owed -= lease.tokens
        lease.tokens = 0.0
    lease.store_available, lease.synced_at = left, written_at
    lease.spent = lease.largest_cost = 0.0
    lease.fair = None
