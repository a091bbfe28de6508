"""Idempotency keys, Stripe's rule: a retried create or extend returns the first result; the
same key with another input is refused with ``IDEMPOTENCY_KEY_REUSED``.

A key belongs to one caller (a partner or a seller) and is claimed by a document in the
``idempotency`` collection, written in the same transaction as the result it names. The claim's
unique index on (owner, key) is what makes the rule hold under snapshot isolation: of two
retries racing with the same key, both may read "no claim", but only one insert commits; the
other transaction fails (or is retried by the store) and then finds the first claim.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, TypeVar

from datastore import collections as c
from datastore.codec import utc_now
from datastore.ids import new_id
from datastore.store import DocumentStore, DuplicateKeyError
from resolvers.validation import Checks, fail
from resolvers.writes import atomically

T = TypeVar("T")

MAX_KEY = 100


class IdempotencyErrorCode(StrEnum):
    """The codes this module reports; every payload enum of a keyed mutation holds them."""

    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    TOO_LONG = "TOO_LONG"


Code = IdempotencyErrorCode


@dataclass(frozen=True)
class Claim:
    """A caller's key and the fingerprint of the input it was sent with."""

    owner_id: str
    key: str
    digest: str


def claim(
    checks: Checks, owner_id: str, operation: str, key: str | None, given: Any
) -> Claim | None:
    """The claim for ``key`` (``None`` without one); a key that is too long is reported in
    ``checks`` at ``["idempotencyKey"]``.

    ``given`` is everything the caller sent but the key; its canonical JSON, with the
    operation's name, is the fingerprint a retry must match.
    """
    checks.text(["idempotencyKey"], key, max_length=MAX_KEY, too_long=Code.TOO_LONG)
    key = key.strip() if key else None
    if not key or len(key) > MAX_KEY:
        return None
    canonical = json.dumps(
        {"operation": operation, "input": given},
        sort_keys=True,
        separators=(",", ":"),
        default=_plain,
    )
    return Claim(owner_id, key, hashlib.sha256(canonical.encode()).hexdigest())


async def earlier(store: DocumentStore, claim: Claim) -> list[str] | None:
    """The ids the first use of this key produced, or ``None`` when the key is new.

    Raises a ``ValidationError`` (``IDEMPOTENCY_KEY_REUSED``) when it was used with another
    input.
    """
    found = await store.find(c.IDEMPOTENCY, {"ownerId": claim.owner_id, "key": claim.key}, limit=1)
    if not found:
        return None
    if found[0]["inputHash"] != claim.digest:
        raise fail(
            ["idempotencyKey"],
            "this idempotency key was already used with a different input; use a new key for a "
            "new request",
            Code.IDEMPOTENCY_KEY_REUSED,
        )
    return [str(i) for i in found[0]["resultIds"]]


async def once(
    store: DocumentStore,
    claim: Claim | None,
    work: Callable[[], Awaitable[T]],
    *,
    ids_of: Callable[[T], list[str]],
    replay: Callable[[list[str]], Awaitable[T]],
) -> T:
    """Run ``work`` in a transaction that also claims the key, unless the key was used
    before: then ``replay`` rebuilds the first result from the ids it recorded."""

    async def claimed() -> T:
        if claim is not None:
            ids = await earlier(store, claim)
            if ids is not None:
                return await replay(ids)
        result = await work()
        if claim is not None:
            await store.insert(
                c.IDEMPOTENCY,
                {
                    "_id": new_id("idk"),
                    "ownerId": claim.owner_id,
                    "key": claim.key,
                    "inputHash": claim.digest,
                    "resultIds": ids_of(result),
                    "createdAt": utc_now(),
                },
            )
        return result

    try:
        return await atomically(store, claimed)
    except DuplicateKeyError as error:
        if claim is None or error.collection != c.IDEMPOTENCY:
            raise
    # A retry with the same key committed first: its result is the answer.
    ids = await earlier(store, claim)
    if ids is None:  # pragma: no cover - the claim that refused the insert is committed
        raise AssertionError("idempotency claim vanished")
    return await replay(ids)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)
