"""Throttling: a leaky bucket per caller, shared by every process serving the same store.

The bucket lives in the store (``throttle_buckets``: what was available at a moment, refilling
at the restore rate since). A request never waits for it to be written: each process leases
budget out of the bucket ahead of need (:mod:`edge.throttle_lease`) and spends the lease from
memory. One exchange per caller per process runs at a time, in the background, when the lease
runs below half its target or is older than :attr:`ThrottlePolicy.lease_seconds`; concurrent
requests share it. Only a request that finds nothing usable in the lease waits, on that one
exchange, for at most :attr:`ThrottlePolicy.sync_wait_seconds`.

When the store cannot be reached (the exchange fails, or the wait runs out), the process
decides alone from its fair share of the bucket (capacity and restore rate divided by
:attr:`ThrottlePolicy.processes`): a request is never failed, nor refused, for the store's
sake, and what was granted meanwhile is charged to the bucket once the store answers. While
the store works, budget is only spent from leases taken out of it, so processes together never
spend more than the bucket holds; a lease's unspent tokens go back at each exchange.

No existing library keeps a leaky bucket in our own document store with leases (the usual ones
need Redis), hence this module.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from datastore.collections import THROTTLE_BUCKETS
from datastore.store import DocumentStore
from edge.throttle_lease import Lease, exchange

logger = logging.getLogger("tsp.throttle")

BUCKETS = THROTTLE_BUCKETS
_MAX_LOCAL_LEASES = 10_000


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
    # Processes sharing the store's buckets (``serve --workers``, replicas): each one's fair
    # share while the store cannot be reached.
    processes: int = 1
    # The longest a request holding nothing usable waits for its caller's exchange.
    sync_wait_seconds: float = 0.25

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
    # Decided by this process alone, the store out of reach: ``status`` is then its share.
    alone: bool = False


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
        self._leases: OrderedDict[str, Lease] = OrderedDict()
        self._cooling: OrderedDict[str, float] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Set when an exchange failed or was waited out, cleared when one succeeds: meanwhile
        # no request waits, and exchanges are retried at most once a lease period.
        self._unreachable_since: float | None = None
        self._probe: asyncio.Task[bool] | None = None

    async def spend(self, caller: str, cost: float, *, admin: bool = False) -> Decision:
        """Take ``cost`` from ``caller``'s bucket, or refuse without taking anything."""
        key = bucket_id(caller)
        lease = self._lease(key, admin)
        if lease.take(cost):
            if cost > 0:
                self._refresh_ahead(key, lease)
            return self._granted(lease)
        return await self._spend_after_exchange(key, lease, cost)

    async def close(self) -> None:
        """Stop the exchanges in flight (a stopping process keeps its leases' tokens)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def store_reachable(self) -> bool:
        """Whether the last exchange with the store succeeded (else the process decides from
        its fair share)."""
        return self._unreachable_since is None

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

    def refund(self, caller: str, amount: float) -> None:
        """Give back what a request reserved and did not use (requested minus actual cost)."""
        lease = self._leases.get(bucket_id(caller))
        if lease is not None and amount > 0:
            lease.refund(amount, self.policy.processes)

    def status(self, caller: str, *, admin: bool = False) -> ThrottleStatus:
        """The caller's bucket as this process last saw it (no store round trip)."""
        capacity, rate = self.policy.for_caller(admin)
        lease = self._leases.get(bucket_id(caller))
        if lease is None:
            return ThrottleStatus(capacity, capacity, rate)
        return self._status(lease)

    # -- internals ---------------------------------------------------------------------------

    async def _spend_after_exchange(self, key: str, lease: Lease, cost: float) -> Decision:
        """Wait (bounded) on the caller's one exchange, then spend from the refreshed lease;
        refuse only when the store answered that the bucket does not hold ``cost``; decide
        from the fair share when the store cannot be reached."""
        deadline = time.monotonic() + self.policy.sync_wait_seconds
        while self._unreachable_since is None:
            task = self._exchange(key, lease)
            wait = min(deadline, lease.sync_started + self.policy.sync_wait_seconds)
            wait -= time.monotonic()
            if wait <= 0:
                self._unreachable("the store did not answer in time")
                break
            lease.waiting += cost
            try:
                reached = await asyncio.wait_for(asyncio.shield(task), wait)
            except TimeoutError:
                self._unreachable("the store did not answer in time")
                break
            finally:
                lease.waiting -= cost
            if not reached:
                break
            if lease.take(cost):
                return self._granted(lease)
            if lease.available(time.time()) < cost:
                return self._refused(key, lease, cost, lease.rate)
            # Other requests took what this exchange brought, and the bucket holds more.
        return self._from_fair_share(key, lease, cost)

    def _from_fair_share(self, key: str, lease: Lease, cost: float) -> Decision:
        processes = self.policy.processes
        self._refresh_ahead(key, lease)
        if lease.from_fair_share(cost, processes, time.time()):
            return self._granted(lease)
        return self._refused(key, lease, cost, lease.rate / processes)

    def _refresh_ahead(self, key: str, lease: Lease) -> None:
        """Start an exchange in the background when the lease runs low or is old; while the
        store cannot be reached, one exchange at a time tries it again, once a lease period."""
        if lease.syncing():
            return
        if self._unreachable_since is None:
            if lease.running_low(time.time(), self.policy.lease_seconds):
                self._exchange(key, lease)
            return
        probing = self._probe is not None and not self._probe.done()
        if not probing and time.monotonic() - self._unreachable_since >= self.policy.lease_seconds:
            self._probe = self._exchange(key, lease)

    def _exchange(self, key: str, lease: Lease) -> asyncio.Task[bool]:
        """The caller's exchange in flight, started if there is none (single flight)."""
        if lease.sync is None or lease.sync.done():
            lease.sync = self._background(self._run_exchange(key, lease))
            lease.sync_started = time.monotonic()
        return lease.sync

    async def _run_exchange(self, key: str, lease: Lease) -> bool:
        """Whether the store answered; a failure is logged, never raised to a request."""
        try:
            await exchange(self.store, key, lease)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # Whatever the store or its driver raised, the process decides alone rather than
            # fail a request.
            self._unreachable(str(error) or type(error).__name__)
            return False
        if self._unreachable_since is not None:
            self._unreachable_since = None
            logger.info("throttle: the store answers again; settling what was granted meanwhile")
            # Settle every fair-share grant now, not at each caller's next request.
            for other_key, other in list(self._leases.items()):
                if other.owed > 0 and not other.syncing():
                    self._exchange(other_key, other)
        return True

    def _unreachable(self, reason: str) -> None:
        if self._unreachable_since is None:
            logger.warning(
                "throttle: cannot reach the store (%s); deciding from this process's fair "
                "share (1/%d of each bucket) until it answers",
                reason,
                self.policy.processes,
            )
        self._unreachable_since = time.monotonic()

    def _background(self, work: Coroutine[Any, Any, bool]) -> asyncio.Task[bool]:
        # A context of its own: the exchange is not the request's (its round trips are not
        # counted in the request's, and no transaction of the request is joined).
        task = asyncio.get_running_loop().create_task(work, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _granted(self, lease: Lease) -> Decision:
        return Decision(True, self._status(lease), alone=lease.fair is not None)

    def _refused(self, key: str, lease: Lease, cost: float, rate: float) -> Decision:
        status = self._status(lease)
        if lease.fair is not None:
            seconds = lease.fair_retry_seconds(cost, self.policy.processes)
        else:
            seconds = (cost - status.currently_available) / rate if rate > 0 else 3600.0
        retry = max(1, math.ceil(seconds))
        self._cool_down(key, time.time() + retry)
        return Decision(False, status, retry, alone=lease.fair is not None)

    def _status(self, lease: Lease) -> ThrottleStatus:
        if lease.fair is not None:
            # Deciding alone: what this process may still grant, out of its share. The whole
            # bucket's figure beside a refusal read "costs 44 and 1032 is available".
            processes = self.policy.processes
            return ThrottleStatus(lease.capacity / processes, lease.fair, lease.rate / processes)
        return ThrottleStatus(lease.capacity, lease.available(time.time()), lease.rate)

    def _lease(self, key: str, admin: bool) -> Lease:
        lease = self._leases.get(key)
        if lease is not None:
            self._leases.move_to_end(key)
            return lease
        capacity, rate = self.policy.for_caller(admin)
        lease = self._leases[key] = Lease(capacity, rate, capacity * self.policy.lease_fraction)
        while len(self._leases) > _MAX_LOCAL_LEASES:
            # Forgetting a lease forfeits its unspent tokens (and, rarely, a debt of budget
            # granted while the store was unreachable).
            self._leases.popitem(last=False)
        return lease

    def _cool_down(self, key: str, until: float) -> None:
        self._cooling[key] = until
        self._cooling.move_to_end(key)
        while len(self._cooling) > _MAX_LOCAL_LEASES:
            self._cooling.popitem(last=False)
