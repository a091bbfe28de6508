"""Ending what a closed partner left active, in transactions of a constant size.

A partner may hold thousands of active authorizations and requests, each ended with a history
entry and an event: one transaction for all of them would outgrow MongoDB's transaction budget
and hold SQLite's only write lock for its whole length. So a close happens in steps:

1. The partner turns CLOSED in a transaction of its own, marked ``closing``
   (:func:`resolvers.partner_admin.close`). From that commit nothing new starts: authorizing,
   accepting an offer, publishing, approving and requesting check the partner and write it;
   and readers already treat a closed partner's authorizations as granting nothing
   (``authorization_rules.grants_access``).
2. :func:`finish` then runs batches, each one atomic transaction writing at most
   ``store.transaction_batch`` documents: the partner's listed services leave the store, then
   its active authorizations end (CLOSED, PARTNER_REMOVED), then its open and connected
   requests close, each with its history entry and its event. Between two batches other
   writers get their turn, so none waits longer than one batch.
3. The transaction that finds nothing left removes the ``closing`` mark.

A close interrupted between two steps (a request timeout, a crash, store trouble) keeps its
mark and is finished by whichever comes first: ``closePartner`` called again (it completes the
close and answers the closed partner), ``reopenPartner`` (which completes it before reopening,
so what closing ended stays ended), or the periodic sweep and ``tsp-gateway sweep``
(:func:`finish_pending`). So no item of a CLOSED partner stays ACTIVE past the next sweep.
Finishers may run side by side: each batch re-reads what is still active, and two batches that
end the same item conflict on it (one runs again on fresh data).
"""

from __future__ import annotations

from typing import Any

from datastore import collections as c
from datastore.enums import AuthorizationReason, AuthorizationStatus, PartnerStatus
from datastore.store import ASCENDING, DocumentStore
from resolvers import history, requests
from resolvers.authorizations import end
from resolvers.context import Context
from resolvers.identity import Viewer
from resolvers.writes import atomically, items_per_transaction

_PENDING_PAGE = 100


async def finish(context: Context, partner_id: str) -> int:
    """End, batch by batch, what the closed partner ``partner_id`` still has active, then
    remove its ``closing`` mark; returns how many services, authorizations and requests this
    call changed (0 when the partner is not marked)."""
    changed = 0
    while done := await atomically(context.store, lambda: _step(context, partner_id)):
        changed += done
    return changed


async def finish_pending(store: DocumentStore) -> int:
    """Finish every close that was interrupted (the sweep's part); returns how many
    partners."""
    context = Context(store=store, viewer=Viewer(), request_id="sweep")
    finished = 0
    after: list[str] | None = None
    while pending := await store.find(
        c.PARTNERS, {"closing": True}, limit=_PENDING_PAGE, after=after
    ):
        for partner in pending:
            await finish(context, partner["_id"])
        finished += len(pending)
        after = [pending[-1]["_id"]]
    return finished


async def _step(context: Context, partner_id: str) -> int:
    """One batch: the first kind of item the partner still has active (services, then
    authorizations, then requests), as many as one transaction may write; with none left, the
    mark is removed. Returns how many items changed (0: the close is complete)."""
    store = context.store
    partner = (await store.get_many(c.PARTNERS, [partner_id])).get(partner_id)
    if partner is None or partner["status"] != PartnerStatus.CLOSED or not partner.get("closing"):
        return 0
    for batch in (_unlist_services, _end_authorizations, _close_requests):
        if done := await batch(context, partner_id):
            return done
    await store.update(
        c.PARTNERS, partner_id, expected_version=partner["version"], changes={"closing": None}
    )
    return 0


async def _unlist_services(context: Context, partner_id: str) -> int:
    store = context.store
    listed = await store.find(
        c.SERVICES,
        {"partnerId": partner_id, "listed": True},
        sort=[("createdAt", 1)],
        # A service writes nothing but itself: its words stay, so no text index entry moves.
        limit=store.transaction_batch,
    )
    for service in listed:
        await store.update(
            c.SERVICES,
            service["_id"],
            expected_version=service["version"],
            changes={"listed": False, "updatedAt": context.now},
        )
    return len(listed)


async def _end_authorizations(context: Context, partner_id: str) -> int:
    store = context.store
    active = await store.find(
        c.AUTHORIZATIONS,
        {"partnerId": partner_id, "status": AuthorizationStatus.ACTIVE},
        sort=[("endsAt", ASCENDING)],
        limit=items_per_transaction(store),
    )
    journal: list[dict[str, Any]] = []
    for authorization in active:
        await end(
            context,
            authorization,
            AuthorizationStatus.CLOSED,
            AuthorizationReason.PARTNER_REMOVED,
            journal,
        )
    if journal:
        await history.record_many(store, journal)
    return len(active)


async def _close_requests(context: Context, partner_id: str) -> int:
    return await requests.close_some_for_partner(
        context, partner_id, items_per_transaction(context.store)
    )
