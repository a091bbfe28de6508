"""Throttling: a leaky bucket per caller, shared by every process serving the same store.

The bucket lives in the store (``throttle_buckets``: what was available at a moment, refilling
at the restore rate since). Writing it on every request would put a store transaction in front
of every query, so a process leases budget in chunks (:attr:`ThrottlePolicy.lease_fraction` of
the capacity) and spends its lease locally. Budget is only ever spent from a lease already
taken out of the store, so processes together never spend more than the bucket holds; what a
lease holds unspent is given back when the lease goes stale (:attr:`ThrottlePolicy.lease_seconds`)
or runs short, so at most one chunk per process is out of reach of the others at a time.

No existing library keeps a leaky bucket in our own document store with leases (the usual ones
need Redis), hence this module.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

from datastore.collections import THROTTLE_BUCKETS
from datastore.store import DocumentStore, DuplicateKeyError, VersionConflictError

BUCKETS = THROTTLE_BUCKETS
_MAX_LOCAL_LEASES = 10_000
_WRITE_ATTEMPTS = 8


@dataclass(frozen=True)
class ThrottlePolicy:
    """How much a caller may spend: a bucket of ``capacity`` cost points refilling at
    ``restore_rate`` per second (admins get their own, larger, numbers)."""

    enabled: bool = True
    capacity: float = 2_000
    restore_rate: float = 100
    admin_capacity: float = 20_000
    admin_restore_rate: float = 1_000
    lease_fraction: float = 0.05
    lease_seconds: float = 1.0

    def for_caller(self, admin: bool) -> tuple[float, float]:
        """``(capacity, restore rate)`` of a caller's bucket."""
        if admin:
            return self.admin_capacity, self.admin_restore_rate
        return self.capacity, self.restore_rate


@dataclass(frozen=True)
class ThrottleStatus:
    """What ``extensions.cost.throttleStatus`` reports."""

    maximum_available: float
    currently_available: float
    restore_rate: float

    def as_json(self) -> dict[str, float]:
        return {
            "maximumAvailable": _plain(self.maximum_available),
            "currentlyAvailable": _plain(round(self.currently_available, 1)),
            "restoreRate": _plain(self.restore_rate),
        }


def _plain(number: float) -> float:
    """``2000`` rather than ``2000.0`` in JSON when the number is whole."""
    return int(number) if float(number).is_integer() else number


@dataclass(frozen=True)
class Decision:
    """The answer to a request for budget: granted or not, the bucket after it, and when
    to retry when refused."""

    granted: bool
    status: ThrottleStatus
    retry_after_seconds: int = 0


@dataclass
class _Lease:
    tokens: float
    taken_at: float
    # What the store held after the last sync, for reporting currentlyAvailable without I/O.
    store_available: float


@lru_cache(maxsize=4_096)
def bucket_id(caller: str) -> str:
    """The store id of a caller's bucket: a digest, so a huge or odd token subject or client
    address makes a key of the same small, safe shape."""
    return "tb_" + hashlib.sha256(caller.encode("utf-8", "surrogatepass")).hexdigest()[:40]


class Throttle:
    """Leaky buckets for every caller of one process, backed by ``store``."""

    def __init__(self, store: DocumentStore, policy: ThrottlePolicy) -> None:
        self.store = store
        self.policy = policy
        self._leases: OrderedDict[str, _Lease] = OrderedDict()
        self._cooling: OrderedDict[str, float] = OrderedDict()

    async def spend(self, caller: str, cost: float, *, admin: bool = False) -> Decision:
        """Take ``cost`` from ``caller``'s bucket, or refuse without taking anything."""
        capacity, rate = self.policy.for_caller(admin)
        key = bucket_id(caller)
        now = time.time()
        lease = self._leases.get(key)
        fresh = lease is not None and now - lease.taken_at < self.policy.lease_seconds
        if lease is not None and fresh and lease.tokens >= cost:
            lease.tokens -= cost
            self._leases.move_to_end(key)
            return Decision(True, self._status(lease, capacity, rate, now))
        # Detach what the lease holds before awaiting, so that a concurrent request of the same
        # caller cannot give the same tokens back twice.
        returned = 0.0
        if lease is not None:
            returned, lease.tokens = lease.tokens, 0.0
        chunk = max(cost, capacity * self.policy.lease_fraction)
        available, taken = await self._sync(key, capacity, rate, returned, cost, chunk)
        lease = self._leases.get(key)
        if lease is None:
            lease = self._remember(key, _Lease(0.0, now, available))
        lease.taken_at, lease.store_available = time.time(), available
        if taken < cost:
            status = self._status(lease, capacity, rate, lease.taken_at)
            missing = cost - status.currently_available
            retry = max(1, math.ceil(missing / rate)) if rate > 0 else 3600
            self._cool_down(key, lease.taken_at + retry)
            return Decision(False, status, retry)
        lease.tokens += taken - cost
        return Decision(True, self._status(lease, capacity, rate, lease.taken_at))

    def cooling_down(self, caller: str) -> int:
        """Seconds left before a caller throttled by this process may be served again (0
        when it may). A throttled caller waits out its ``Retry-After``: answering its retries
        early costs next to nothing, so a client that ignores the header cannot slow others
        down by the sheer number of refusals it makes the gateway write."""
        key = bucket_id(caller)
        until = self._cooling.get(key)
        if until is None:
            return 0
        left = until - time.time()
        if left <= 0:
            del self._cooling[key]
            return 0
        return max(1, math.ceil(left))

    def _cool_down(self, key: str, until: float) -> None:
        self._cooling[key] = until
        self._cooling.move_to_end(key)
        while len(self._cooling) > _MAX_LOCAL_LEASES:
            self._cooling.popitem(last=False)

    def refund(self, caller: str, amount: float) -> None:
        """Give back what a request reserved and did not use (requested minus actual cost)."""
        lease = self._leases.get(bucket_id(caller))
        if lease is not None and amount > 0:
            lease.tokens += amount

    def status(self, caller: str, *, admin: bool = False) -> ThrottleStatus:
        """The caller's bucket as this process last saw it (no store round trip)."""
        capacity, rate = self.policy.for_caller(admin)
        lease = self._leases.get(bucket_id(caller))
        if lease is None:
            return ThrottleStatus(capacity, capacity, rate)
        return self._status(lease, capacity, rate, time.time())

    # -- internals ---------------------------------------------------------------------------

    def _status(self, lease: _Lease, capacity: float, rate: float, now: float) -> ThrottleStatus:
        refilled = lease.store_available + rate * max(0.0, now - lease.taken_at)
        return ThrottleStatus(capacity, min(capacity, lease.tokens + refilled), rate)

    def _remember(self, key: str, lease: _Lease) -> _Lease:
        self._leases[key] = lease
        while len(self._leases) > _MAX_LOCAL_LEASES:
            # Forgetting a lease forfeits its unspent tokens: the caller is throttled a little
            # more, never less.
            self._leases.popitem(last=False)
        return lease

    async def _sync(
        self, key: str, capacity: float, rate: float, returned: float, need: float, chunk: float
    ) -> tuple[float, float]:
        """Give ``returned`` back and take up to ``chunk`` (at least ``need``, or nothing) in
        one transaction; returns ``(left in the store, taken)``."""

        async def work() -> tuple[float, float]:
            now = time.time()
            found = (await self.store.get_many(BUCKETS, [key])).get(key)
            if found is None:
                held = capacity
            else:
                elapsed = max(0.0, now - float(found["at"]))
                held = min(capacity, float(found["available"]) + rate * elapsed)
            held = min(capacity, held + returned)
            taken = min(held, chunk) if held >= need else 0.0
            changes = {"available": held - taken, "at": now}
            if found is None:
                await self.store.insert(BUCKETS, {"_id": key, **changes})
            elif taken or returned:
                await self.store.update(
                    BUCKETS, key, expected_version=found["version"], changes=changes
                )
            return held - taken, taken

        for attempt in range(_WRITE_ATTEMPTS):
            try:
                return await self.store.transaction(work)
            except (VersionConflictError, DuplicateKeyError):
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")
