"""Events: the live feed of what happens to a partner's or a seller's objects.

``subscription { events(types: [...], after: "42") { ... } }`` over graphql-transport-ws
(WebSocket) or GraphQL over SSE, on ``/graphql``. Each event names its subject as a typed
object, read when the event is delivered (so it shows the subject as it is now).
"""

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from aiodataloader import DataLoader
from strawberry.scalars import JSON

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import EventDocument
from datastore.enums import HistoryReasonCode
from datastore.loaders import Loaders
from datastore.store import Collection, D
from resolvers.context import Info
from resolvers.event_feed import cursor_of, open_feed
from resolvers.events import EventType
from schema.authorization import Authorization
from schema.bulk_export import BulkExport
from schema.category_application import CategoryApplication
from schema.history import REASON_CODES
from schema.seller_request import SellerRequest
from schema.service import Service
from schema.service_offer import ServiceOffer

strawberry.enum(EventType, description="What happened, as partners and sellers follow it.")


@strawberry.interface(description="Something that happened to one of your objects.")
class Event:
    id: strawberry.ID = strawberry.field(description="The event's id (deduplicate on it).")
    type: EventType = strawberry.field(description="What happened.")
    cursor: str = strawberry.field(
        description="Its position in the event log: pass it as `after` to resume just after it."
    )
    occurred_at: datetime = strawberry.field(description="When the change was committed.")
    subject_id: strawberry.ID = strawberry.field(description="The id of the object it is about.")
    partner_id: strawberry.ID | None = strawberry.field(description="The partner concerned.")
    seller_id: strawberry.ID | None = strawberry.field(description="The seller concerned.")
    changes: JSON | None = strawberry.field(
        description="The changed fields: {field: {from, to}} (status among them for a status "
        "change), with reasonCode for a status change, and reason when one was given in words."
    )
    reason_code: HistoryReasonCode | None = strawberry.field(
        description="Why, as a code: every event that changes a status names one (as its "
        "history entry does), other events none. Events logged by releases before status "
        "changes all named one may have none."
    )
    reason: str | None = strawberry.field(
        description="Why, in words, when the change was given a reason (a rejection's)."
    )
    document: strawberry.Private[EventDocument]


async def _subject(root: Event, info: Info, collection: Collection[D]) -> D | None:
    subject_id = root.document["subjectId"]
    # Read fresh: a feed lives long, and its subject may have changed since the last event.
    return (await info.context.store.get_many(collection, [subject_id])).get(subject_id)


@strawberry.type(description="An authorization was granted, renewed, ended or is expiring.")
class AuthorizationEvent(Event):
    @strawberry.field(description="The authorization, as it is now.")
    async def authorization(self, info: Info) -> Authorization | None:
        found = await _subject(self, info, c.AUTHORIZATIONS)
        return Authorization.from_document(found) if found else None


@strawberry.type(description="A service offer was accepted or withdrawn.")
class ServiceOfferEvent(Event):
    @strawberry.field(description="The offer, as it is now.")
    async def offer(self, info: Info) -> ServiceOffer | None:
        found = await _subject(self, info, c.SERVICE_OFFERS)
        return ServiceOffer.from_document(found) if found else None


@strawberry.type(description="A seller's request was received, answered, closed or connected.")
class SellerRequestEvent(Event):
    @strawberry.field(description="The request, as it is now.")
    async def request(self, info: Info) -> SellerRequest | None:
        found = await _subject(self, info, c.REQUESTS)
        return SellerRequest.from_document(found) if found else None


@strawberry.type(description="A service in review was approved or rejected.")
class ServiceEvent(Event):
    @strawberry.field(description="The service, as it is now.")
    async def service(self, info: Info) -> Service | None:
        found = await _subject(self, info, c.SERVICES)
        return Service.from_document(found) if found else None


@strawberry.type(description="A category application was approved or rejected.")
class CategoryApplicationEvent(Event):
    @strawberry.field(description="The application, as it is now.")
    async def application(self, info: Info) -> CategoryApplication | None:
        found = await _subject(self, info, c.CATEGORY_APPLICATIONS)
        return CategoryApplication.from_document(found) if found else None


@strawberry.type(description="One of your bulk exports ended: COMPLETED, FAILED or CANCELED.")
class BulkExportEvent(Event):
    @strawberry.field(description="The export, as it is now (its url when COMPLETED).")
    async def bulk_export(self, info: Info) -> BulkExport | None:
        found = await _subject(self, info, c.BULK_EXPORTS)
        return BulkExport.from_document(found) if found else None


_TYPES: dict[str, type[Event]] = {
    "aut": AuthorizationEvent,
    "ofr": ServiceOfferEvent,
    "req": SellerRequestEvent,
    "svc": ServiceEvent,
    "cap": CategoryApplicationEvent,
    "bex": BulkExportEvent,
}
EVENT_TYPES = list(_TYPES.values())


def event_from_document(document: EventDocument) -> Event:
    """The typed event for a log document."""
    kind = _TYPES[document["subjectId"].partition("_")[0]]
    changes = document.get("changes") or {}
    return kind(
        id=strawberry.ID(document["_id"]),
        type=EventType(document["type"]),
        cursor=cursor_of(document),
        occurred_at=document["createdAt"],
        subject_id=strawberry.ID(document["subjectId"]),
        partner_id=strawberry.ID(document["partnerId"]) if document.get("partnerId") else None,
        seller_id=strawberry.ID(document["sellerId"]) if document.get("sellerId") else None,
        changes=JSON(document.get("changes")),
        reason_code=REASON_CODES[changes.get("reasonCode")],
        reason=changes.get("reason"),
        document=document,
    )


@strawberry.type(description="Live feeds: over graphql-transport-ws or GraphQL over SSE.")
class Subscription:
    @strawberry.subscription(
        description="Your events as they happen: a partner's or a seller's own (an admin's: "
        "all), of the given types (all when omitted). With `after` (an event's cursor), first "
        "every event since that one, then live: a client that reconnects with its last cursor "
        "misses nothing and receives nothing twice."
    )
    async def events(
        self,
        info: Info,
        types: Annotated[
            list[EventType] | None,
            strawberry.argument(
                description="Only these types (all when omitted); an empty list is refused "
                "with NO_EVENT_TYPES."
            ),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="Resume after this event's cursor (from now on when omitted). "
                "Refused with INVALID_CURSOR when malformed or beyond the log's end, and with "
                "EVENT_CURSOR_PRUNED when older than the log keeps."
            ),
        ] = None,
    ) -> AsyncGenerator[Event, None]:
        context = info.context
        until = getattr(context, "expires_at", None)
        feed = await open_feed(context.store, context.viewer, types, after, until=until)
        async for document in feed:
            # Each event is its own read: a fresh clock and empty loader caches, as for a new
            # request (clearing is much cheaper than building the loaders again).
            context.now = utc_now()
            _forget(context.loaders)
            yield event_from_document(document)


def _forget(loaders: Loaders) -> None:
    for loader in vars(loaders).values():
        if isinstance(loader, DataLoader):
            loader.clear_all()
