"""Webhook subscriptions: a partner's endpoints that receive its events as signed POSTs."""

from datetime import datetime
from typing import Annotated, Any

import strawberry

from datastore.documents import WebhookDeliveryDocument, WebhookDocument
from resolvers import webhooks as resolve
from resolvers.context import Info
from resolvers.events import EventType
from schema.mutations import UserError, run_mutation
from schema.permissions import IsPartner
from schema.roots import mutation_fields, query_fields

strawberry.enum(resolve.WebhookErrorCode, description="Why a webhook change was refused.")
strawberry.enum(resolve.WebhookStatus, description="Whether an endpoint receives events.")


@strawberry.type(description="One attempt to deliver an event to an endpoint.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="The attempt's id.")
    event_id: strawberry.ID = strawberry.field(description="The event sent (its id).")
    event_type: EventType = strawberry.field(description="The event's type.")
    attempt: int = strawberry.field(description="1 for the first try of an event, then 2, ...")
    status_code: int | None = strawberry.field(description="The endpoint's HTTP status, if any.")
    error: str | None = strawberry.field(description="Why it failed; null when it succeeded.")
    succeeded: bool = strawberry.field(description="Whether the endpoint answered 2xx in time.")
    duration_ms: int = strawberry.field(description="How long the attempt took.")
    at: datetime = strawberry.field(description="When it was made.")

    @classmethod
    def from_document(cls, document: WebhookDeliveryDocument) -> "WebhookDelivery":
        return cls(
            id=strawberry.ID(document["_id"]),
            event_id=strawberry.ID(document["eventId"]),
            event_type=EventType(document["eventType"]),
            attempt=document["attempt"],
            status_code=document.get("statusCode"),
            error=document.get("error"),
            succeeded=document["succeeded"],
            duration_ms=document.get("durationMs", 0),
            at=document["createdAt"],
        )


@strawberry.type(description="An endpoint of yours that receives events as signed POSTs.")
class WebhookSubscription:
    id: strawberry.ID = strawberry.field(description="The subscription's id.")
    url: str = strawberry.field(description="Where events are POSTed.")
    types: list[EventType] = strawberry.field(description="The event types it receives.")
    status: resolve.WebhookStatus = strawberry.field(description="ACTIVE or DISABLED.")
    disabled_reason: str | None = strawberry.field(
        description="Why it was disabled (it failed for the whole retry period)."
    )
    created_at: datetime = strawberry.field(description="When it was registered.")
    deliveries: list[WebhookDelivery] = strawberry.field(
        description=f"The latest {resolve.DELIVERIES_SHOWN} delivery attempts, newest first."
    )

    @classmethod
    def from_document(
        cls, document: WebhookDocument, deliveries: list[WebhookDeliveryDocument] | None = None
    ) -> "WebhookSubscription":
        return cls(
            id=strawberry.ID(document["_id"]),
            url=document["url"],
            types=[EventType(t) for t in document["types"]],
            status=resolve.WebhookStatus(document["status"]),
            disabled_reason=document.get("disabledReason"),
            created_at=document["createdAt"],
            deliveries=[WebhookDelivery.from_document(d) for d in deliveries or ()],
        )


@strawberry.type(description="A broken rule in a webhook change.")
class WebhookUserError(UserError):
    code: resolve.WebhookErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = resolve.WebhookErrorCode


@strawberry.type(description="Result of createWebhookSubscription.")
class CreateWebhookSubscriptionPayload:
    webhook_subscription: WebhookSubscription | None = strawberry.field(
        default=None, description="The new endpoint."
    )
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret, shown this once: verify X-TSP-Signature "
        "(t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>'>) with it.",
    )
    user_errors: list[WebhookUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of deleteWebhookSubscription.")
class DeleteWebhookSubscriptionPayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the endpoint removed."
    )
    user_errors: list[WebhookUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@query_fields
@strawberry.type
class WebhookQuery:
    @strawberry.field(
        description="Your webhook endpoints, oldest first, with their latest deliveries "
        "(partners).",
        permission_classes=[IsPartner],
    )
    async def webhook_subscriptions(self, info: Info) -> list[WebhookSubscription] | None:
        hooks, deliveries = await resolve.of_partner(info)
        return [WebhookSubscription.from_document(h, deliveries.get(h["_id"])) for h in hooks]


@mutation_fields
@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Register an endpoint that receives your events of the given types as "
        f"signed JSON POSTs (partners; https, at most {resolve.MAX_PER_PARTNER}). Failed "
        "deliveries are retried with exponential backoff for 24 hours, in order.",
        permission_classes=[IsPartner],
    )
    async def create_webhook_subscription(
        self,
        info: Info,
        url: Annotated[
            str,
            strawberry.argument(
                description="An https URL on the public internet to POST events to (stored "
                "with its host in canonical form)."
            ),
        ],
        types: Annotated[
            list[EventType], strawberry.argument(description="The event types to receive.")
        ],
    ) -> CreateWebhookSubscriptionPayload | None:
        async def work() -> dict[str, Any]:
            document, secret = await resolve.create(info, url, types)
            return {
                "webhook_subscription": WebhookSubscription.from_document(document),
                "secret": secret,
            }

        return await run_mutation(info, CreateWebhookSubscriptionPayload, WebhookUserError, work)

    @strawberry.mutation(
        description="Remove one of your webhook endpoints (partners).",
        permission_classes=[IsPartner],
    )
    async def delete_webhook_subscription(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The subscription id.")],
    ) -> DeleteWebhookSubscriptionPayload | None:
        async def work() -> dict[str, Any]:
            return {"deleted_id": strawberry.ID(await resolve.delete(info, str(id)))}

        return await run_mutation(info, DeleteWebhookSubscriptionPayload, WebhookUserError, work)
