"""Authorizing, renewing and canceling: one authorization per seller and service, all or none.

Authorizing a service the seller already has an active authorization for extends that one
instead of adding a second: that is how a partner's renewal offer or link renews.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from datastore import collections as c
from datastore.documents import (
    AuthorizationDocument,
    SellerDocument,
    ServiceDocument,
    ServiceOfferDocument,
)
from datastore.enums import (
    AuthorizationChannel,
    AuthorizationReason,
    AuthorizationStatus,
    AuthorizeObject,
    HistoryReasonCode,
    OfferStatus,
    PartnerStatus,
)
from datastore.ids import new_id
from datastore.store import DuplicateKeyError, Read
from resolvers import history, idempotency, requests
from resolvers.authorization_rules import (
    Code,
    check_coverage,
    check_dates,
    default_coverage,
    effective_status,
    is_link_only,
    renewed_end,
    require_live,
)
from resolvers.contact import check_contact
from resolvers.context import Context, Info
from resolvers.errors import unknown_account
from resolvers.offer_dates import day_after, day_start, last_day
from resolvers.offers import effective_offer_status, is_for_another_seller
from resolvers.validation import Checks, fail
from resolvers.visibility import sees_seller_privately
from resolvers.writes import atomically


@dataclass(frozen=True)
class Consent:
    """What the seller agreed to; ``None`` fields mean "as offered" (one click)."""

    start_date: date | None = None
    end_date: date | None = None
    settings: Mapping[str, Any] | None = None
    contact: Mapping[str, str | None] | None = None
    shop_ids: Sequence[str] | None = None
    tiktok_account_ids: Sequence[str] | None = None
    service_ids: Sequence[str] | None = None


async def _caller_seller(info: Info) -> SellerDocument:
    seller_id = _caller_seller_id(info)
    return _known_seller(seller_id, await info.context.store.get_many(c.SELLERS, [seller_id]))


def _caller_seller_id(info: Info) -> str:
    seller_id = info.context.viewer.seller_id
    if not seller_id:
        raise unknown_account("seller")
    return seller_id


def _known_seller(seller_id: str, found: Mapping[str, SellerDocument]) -> SellerDocument:
    if seller_id not in found:
        raise unknown_account("seller")
    return found[seller_id]


async def _grant(
    info: Info,
    seller: SellerDocument,
    services: Sequence[ServiceDocument],
    *,
    channel: AuthorizationChannel,
    settings: Mapping[str, Any],
    contact: Mapping[str, object] | None,
    starts_at: datetime,
    ends_at: datetime,
    shop_ids: Sequence[str],
    account_ids: Sequence[str],
    journal: list[dict[str, Any]],
    offer: ServiceOfferDocument | None = None,
    offer_changes: Sequence[Mapping[str, Any]] = (),
) -> list[AuthorizationDocument]:
    """For each service, create the authorization, or extend the seller's active one; the
    history entries go to ``journal``, for the caller to record once its changes are written.
    One read of the active ones and one insert of the new ones, however many services."""
    store, now, viewer = info.context.store, info.context.now, info.context.viewer
    terms = {
        "settings": dict(settings),
        "contact": dict(contact) if contact else None,
        "shopIds": list(shop_ids),
        "tiktokAccountIds": list(account_ids),
        "offerId": offer["_id"] if offer else None,
        "offerChanges": [dict(change) for change in offer_changes] or None,
        "channel": channel,
    }
    keys = [f"{seller['_id']}|{service['_id']}" for service in services]
    # activeKey is unique: at most one each, so the read needs no limit (nor a paged plan).
    active = {
        found["activeKey"]: found
        for found in await store.find(c.AUTHORIZATIONS, {"activeKey": {"$in": keys}})
    }
    granted: list[AuthorizationDocument | None] = []
    created: list[dict[str, Any]] = []
    for key, service in zip(keys, services, strict=True):
        existing = active.get(key)
        if existing and effective_status(existing, now) is AuthorizationStatus.COMPLETED:
            await expire(info.context, existing, journal)
            existing = None
        if existing is None:
            authorization_id = new_id("aut")
            document: dict[str, Any] = {
                "_id": authorization_id,
                "sellerId": seller["_id"],
                "partnerId": service["partnerId"],
                "serviceId": service["_id"],
                **terms,
                "startsAt": starts_at,
                "endsAt": ends_at,
                "status": AuthorizationStatus.ACTIVE,
                "statusReason": AuthorizationReason.AUTHORIZED,
                "activeKey": key,
                "createdAt": now,
                "updatedAt": now,
            }
            created.append(document)
            granted.append(None)
            journal.append(
                history.entry(
                    subject_id=authorization_id,
                    action="AUTHORIZED",
                    actor=viewer,
                    to_status=AuthorizationStatus.ACTIVE,
                    reason_code=AuthorizationReason.AUTHORIZED,
                    changes={
                        "channel": {"from": None, "to": channel.value},
                        "endsAt": {"from": None, "to": ends_at.isoformat()},
                    },
                )
            )
            continue
        new_end = max(existing["endsAt"], ends_at)
        if new_end == existing["endsAt"] and all(existing.get(k) == v for k, v in terms.items()):
            # The same authorization sent again (a retry without a key): nothing changes, so
            # nothing is recorded.
            granted.append(existing)
            continue
        granted.append(
            await store.update(
                c.AUTHORIZATIONS,
                existing["_id"],
                expected_version=existing["version"],
                changes={
                    **terms,
                    "endsAt": new_end,
                    "statusReason": AuthorizationReason.RENEWED,
                    "updatedAt": now,
                },
            )
        )
        journal.append(
            history.entry(
                subject_id=existing["_id"],
                action="RENEWED",
                actor=viewer,
                from_status=AuthorizationStatus.ACTIVE,
                to_status=AuthorizationStatus.ACTIVE,
                reason_code=AuthorizationReason.RENEWED,
                changes={
                    "endsAt": {"from": existing["endsAt"].isoformat(), "to": new_end.isoformat()},
                    "channel": {"from": existing["channel"], "to": channel.value},
                },
            )
        )
    inserted = iter(await store.insert_many(c.AUTHORIZATIONS, created))
    return [found if found is not None else next(inserted) for found in granted]


async def expire(
    context: Context,
    authorization: AuthorizationDocument,
    journal: list[dict[str, Any]] | None = None,
) -> AuthorizationDocument:
    """Persist COMPLETED for an authorization past its end (reads already show it); its
    history entry goes to ``journal`` when given, else is recorded at once."""
    updated = await context.store.update(
        c.AUTHORIZATIONS,
        authorization["_id"],
        expected_version=authorization["version"],
        changes={
            "status": AuthorizationStatus.COMPLETED,
            "statusReason": AuthorizationReason.EXPIRED,
            "activeKey": None,
            "updatedAt": context.now,
        },
    )
    made = history.entry(
        subject_id=authorization["_id"],
        action="EXPIRED",
        actor=context.viewer,
        from_status=AuthorizationStatus.ACTIVE,
        to_status=AuthorizationStatus.COMPLETED,
        reason_code=AuthorizationReason.EXPIRED,
    )
    if journal is not None:
        journal.append(made)
    else:
        await history.record_many(context.store, [made])
    return updated


def _settings_of(offer_settings: Mapping[str, Any], consent: Consent) -> dict[str, Any]:
    return dict(consent.settings) if consent.settings is not None else dict(offer_settings)


def _offer_changes(
    offer: ServiceOfferDocument, consented: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """What the seller changed from the offer: ``[{path, offered, consented}]``, in the offer's
    field order. A list, not a map keyed by path: a path such as ``settings.tspAccess`` is no
    field name MongoDB can store."""
    offered = {
        "serviceIds": list(offer["serviceIds"]),
        "startDate": offer["startsAt"].date().isoformat(),
        "endDate": last_day(offer["endsAt"]).isoformat(),
        **{f"settings.{k}": v for k, v in offer["settings"].items()},
        **{f"contact.{k}": v for k, v in (offer.get("contact") or {}).items()},
    }
    paths = dict.fromkeys([*offered, *consented])
    # As stored: a side that has no value is left out.
    return [
        {"path": path, **_present(offered=offered.get(path), consented=consented.get(path))}
        for path in paths
        if offered.get(path) != consented.get(path)
    ]


def _present(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


async def _resolve_coverage(
    info: Info, seller: SellerDocument, authorize_object: AuthorizeObject, consent: Consent
) -> tuple[list[str], list[str]]:
    store = info.context.store
    shops, accounts = await default_coverage(store, seller["_id"], authorize_object)
    shop_ids = list(consent.shop_ids) if consent.shop_ids is not None else shops
    account_ids = (
        list(consent.tiktok_account_ids) if consent.tiktok_account_ids is not None else accounts
    )
    await check_coverage(store, seller["_id"], authorize_object, shop_ids, account_ids)
    # Held: unlinking an account writes it too, so an authorization never starts covering an
    # account that a concurrent unlink has just made unusable.
    for account_id in account_ids:
        await store.hold(c.TIKTOK_ACCOUNTS, account_id)
    return shop_ids, account_ids


async def authorize_offer(
    info: Info, token: str, consent: Consent, idempotency_key: str | None = None
) -> tuple[ServiceOfferDocument, list[AuthorizationDocument]]:
    """Accept an offer: one ACTIVE authorization per kept service, all or none; accepting again
    returns the first acceptance."""
    store, now = info.context.store, info.context.now
    seller_id = _caller_seller_id(info)
    ticket = _claim(
        seller_id, "authorizeServiceOffer", idempotency_key, {"token": token, "consent": consent}
    )

    async def replay(ids: list[str]) -> tuple[ServiceOfferDocument, list[AuthorizationDocument]]:
        offer = (await store.get_many(c.SERVICE_OFFERS, ids[:1]))[ids[0]]
        found = await store.get_many(c.AUTHORIZATIONS, ids[1:])
        return offer, [found[i] for i in ids[1:] if i in found]

    if ticket is not None and (ids := await idempotency.earlier(store, ticket)) is not None:
        return await replay(ids)

    async def work() -> tuple[ServiceOfferDocument, list[AuthorizationDocument]]:
        # The seller is read with the offer: one statement on SQLite, inside the transaction.
        found, sellers = await store.find_together(
            Read(c.SERVICE_OFFERS, {"linkToken": token}, limit=1 if token else 0),
            Read(c.SELLERS, {"_id": seller_id}, limit=1),
        )
        seller = _known_seller(seller_id, {s["_id"]: s for s in sellers})
        if not found:
            raise fail(["token"], "no service offer behind this link", Code.OFFER_NOT_FOUND)
        offer = found[0]
        if is_for_another_seller(offer, seller["_id"]):
            raise fail(
                ["token"], "this offer was made for another seller", Code.OFFER_FOR_ANOTHER_SELLER
            )
        status = effective_offer_status(offer, now)
        if status is OfferStatus.ACCEPTED:
            return await _earlier_acceptance(info, offer, seller["_id"])
        if status is OfferStatus.WITHDRAWN:
            raise fail(["token"], "the partner withdrew this offer", Code.OFFER_WITHDRAWN)
        if status is OfferStatus.EXPIRED:
            raise fail(["token"], "this offer has expired", Code.OFFER_EXPIRED)
        # Held: closing the partner writes it too, so a concurrent close and accept never both
        # commit (no ACTIVE authorization of a CLOSED partner).
        partner = await store.hold(c.PARTNERS, offer["partnerId"])
        if partner is None or partner["status"] != PartnerStatus.ACTIVE:
            raise fail(
                ["token"], "the partner has been removed from the platform", Code.PARTNER_CLOSED
            )
        service_ids = _kept_services(offer, consent)
        offered_start = offer["startsAt"].date()
        # One click works for any OPEN offer: once the offered start has passed, the
        # authorization starts today, and that is not a change the seller made.
        start = consent.start_date or max(offered_start, now.date())
        end = consent.end_date or last_day(offer["endsAt"])
        settings = _settings_of(offer["settings"], consent)
        checks = Checks()
        if consent.start_date is not None or consent.end_date is not None:
            # The offer's own dates were checked when it was made; only what the seller
            # chose can break a date rule.
            check_dates(checks, start, end, now.date(), within=(offer["startsAt"], offer["endsAt"]))
        contact = (
            check_contact(checks, consent.contact, ["contact"])
            if consent.contact is not None
            else offer.get("contact")
        )
        checks.raise_if_any()
        shop_ids, account_ids = await _resolve_coverage(
            info, seller, AuthorizeObject(settings["authorizeObject"]), consent
        )
        services = await store.get_many(c.SERVICES, service_ids)
        for service_id in service_ids:
            require_live(services.get(service_id), partner, _service_field(consent, service_id))
        changes = _offer_changes(
            offer,
            {
                "serviceIds": service_ids,
                "startDate": (consent.start_date or offered_start).isoformat(),
                "endDate": end.isoformat(),
                **{f"settings.{k}": v for k, v in settings.items()},
                **{f"contact.{k}": v for k, v in (contact or {}).items()},
            },
        )
        acceptance_id = new_id("acc")
        journal: list[dict[str, Any]] = []
        authorizations = await _grant(
            info,
            seller,
            [services[service_id] for service_id in service_ids],
            channel=AuthorizationChannel.SERVICE_OFFER,
            settings=settings,
            contact=contact,
            starts_at=day_start(start),
            ends_at=day_after(end),
            shop_ids=shop_ids,
            account_ids=account_ids,
            journal=journal,
            offer=offer,
            offer_changes=changes,
        )
        # Accepted requests to this partner become CONNECTED the moment the seller authorizes.
        await requests.connect(info.context, seller["_id"], partner["_id"])
        await store.insert(
            c.OFFER_ACCEPTANCES,
            {
                "_id": acceptance_id,
                "offerId": offer["_id"],
                "sellerId": seller["_id"],
                "authorizationIds": [a["_id"] for a in authorizations],
                "changes": changes,
                "createdAt": now,
            },
        )
        accepted = await store.update(
            c.SERVICE_OFFERS,
            offer["_id"],
            expected_version=offer["version"],
            changes={
                "status": OfferStatus.ACCEPTED,
                "acceptedAt": now,
                "acceptedBySellerId": seller["_id"],
                "acceptanceId": acceptance_id,
                "updatedAt": now,
            },
        )
        journal.append(
            history.entry(
                subject_id=offer["_id"],
                action="ACCEPTED",
                actor=info.context.viewer,
                from_status=OfferStatus.OPEN,
                to_status=OfferStatus.ACCEPTED,
                # Accepting an offer is authorizing what it offers, as its grants say.
                reason_code=HistoryReasonCode.AUTHORIZED,
                changes={"changesFromOffer": changes} if changes else None,
            )
        )
        await history.record_many(
            store, journal, held=[*authorizations, accepted, partner, *services.values()]
        )
        return accepted, authorizations

    try:
        return await idempotency.once(
            store,
            ticket,
            work,
            ids_of=lambda done: [done[0]["_id"], *(a["_id"] for a in done[1])],
            replay=replay,
        )
    except DuplicateKeyError as error:
        if error.collection != c.OFFER_ACCEPTANCES:
            raise
        # Another acceptance of this offer committed first: answer as for a repeated accept.
        offer = (await store.find(c.SERVICE_OFFERS, {"linkToken": token}, limit=1))[0]
        return await _earlier_acceptance(info, offer, seller_id)


def _service_argument(channel: AuthorizationChannel) -> str:
    """The argument naming the service of a default application: its link's token, or its
    id in the store."""
    return "serviceLinkToken" if channel is AuthorizationChannel.SERVICE_LINK else "serviceId"


def _service_field(consent: Consent, service_id: str) -> list[str]:
    """Where a problem with one of the offer's services is: in the seller's own list when
    they chose the services (kept in the offer's order, so the index is theirs), else in
    the offer behind the link (a one-click accept sends no ``input`` to point into)."""
    if consent.service_ids is None:
        return ["token"]
    return ["serviceIds", str(list(consent.service_ids).index(service_id))]


def _kept_services(offer: ServiceOfferDocument, consent: Consent) -> list[str]:
    if consent.service_ids is None:
        return list(offer["serviceIds"])
    kept = list(consent.service_ids)
    checks = Checks()
    if not kept:
        checks.add(["serviceIds"], "keep at least one service of the offer", Code.NO_SERVICES)
    for index, service_id in enumerate(kept):
        if service_id not in offer["serviceIds"]:
            checks.add(
                ["serviceIds", str(index)],
                "this service is not in the offer",
                Code.SERVICE_NOT_IN_OFFER,
            )
        elif kept.index(service_id) != index:
            checks.add(["serviceIds", str(index)], "listed twice", Code.DUPLICATE_SERVICE)
    checks.raise_if_any()
    # The offer's order, whatever order the seller listed them in.
    return [service_id for service_id in offer["serviceIds"] if service_id in kept]


async def _earlier_acceptance(
    info: Info, offer: ServiceOfferDocument, seller_id: str
) -> tuple[ServiceOfferDocument, list[AuthorizationDocument]]:
    store = info.context.store
    acceptance = await store.find(c.OFFER_ACCEPTANCES, {"offerId": offer["_id"]}, limit=1)
    if not acceptance or acceptance[0]["sellerId"] != seller_id:
        raise fail(
            ["token"], "another seller has already accepted this offer", Code.OFFER_ALREADY_ACCEPTED
        )
    found = await store.get_many(c.AUTHORIZATIONS, acceptance[0]["authorizationIds"])
    current = (await store.get_many(c.SERVICE_OFFERS, [offer["_id"]]))[offer["_id"]]
    return current, [found[i] for i in acceptance[0]["authorizationIds"] if i in found]


async def authorize_service(
    info: Info,
    service: ServiceDocument | None,
    consent: Consent,
    channel: AuthorizationChannel,
    idempotency_key: str | None = None,
) -> AuthorizationDocument:
    """The default authorization application: the seller fills in every detail for one live
    service reached through its link (or, where the region allows, the store)."""
    store, now = info.context.store, info.context.now
    seller = await _caller_seller(info)
    ticket = _claim(
        seller["_id"],
        f"authorizeService:{channel.value}",
        idempotency_key,
        {"serviceId": service["_id"] if service else None, "consent": consent},
    )
    if ticket is not None and (ids := await idempotency.earlier(store, ticket)) is not None:
        return await _replay_authorization(info, ids)
    if channel is AuthorizationChannel.STORE and is_link_only(seller):
        raise fail(
            ["serviceId"],
            "sellers in your region authorize partners only through a link the partner sends",
            Code.REGION_RESTRICTED,
        )
    # A service the store does not list (a draft, a custom one, one turned off) is answered
    # as one that does not exist: the store tells no one what a partner keeps unlisted.
    if service is None or (channel is AuthorizationChannel.STORE and not service.get("listed")):
        raise fail([_service_argument(channel)], "no service here", Code.NOT_FOUND)
    checks = Checks()
    assert consent.start_date and consent.end_date and consent.settings is not None
    check_dates(checks, consent.start_date, consent.end_date, now.date())
    contact = check_contact(checks, consent.contact, ["contact"])
    checks.raise_if_any()
    authorize_object = AuthorizeObject(consent.settings["authorizeObject"])

    async def work() -> AuthorizationDocument:
        shop_ids, account_ids = await _resolve_coverage(info, seller, authorize_object, consent)
        fresh = (await store.get_many(c.SERVICES, [service["_id"]])).get(service["_id"])
        # Held against a concurrent close of the partner (see authorize_offer).
        partner = await store.hold(c.PARTNERS, service["partnerId"])
        require_live(
            fresh,
            partner,
            [_service_argument(channel)],
        )
        assert fresh is not None and partner is not None and consent.start_date and consent.end_date
        await requests.connect(info.context, seller["_id"], partner["_id"])
        journal: list[dict[str, Any]] = []
        (granted,) = await _grant(
            info,
            seller,
            [fresh],
            channel=channel,
            settings=dict(consent.settings or {}),
            contact=contact,
            starts_at=day_start(consent.start_date),
            ends_at=day_after(consent.end_date),
            shop_ids=shop_ids,
            account_ids=account_ids,
            journal=journal,
        )
        await history.record_many(store, journal)
        return granted

    return await idempotency.once(
        store,
        ticket,
        work,
        ids_of=lambda authorization: [authorization["_id"]],
        replay=lambda ids: _replay_authorization(info, ids),
    )


def _claim(
    seller_id: str, operation: str, key: str | None, given: object
) -> idempotency.Claim | None:
    checks = Checks()
    ticket = idempotency.claim(checks, seller_id, operation, key, given)
    checks.raise_if_any()
    return ticket


async def _replay_authorization(info: Info, ids: list[str]) -> AuthorizationDocument:
    return (await info.context.store.get_many(c.AUTHORIZATIONS, ids))[ids[0]]


async def _own_authorization(info: Info, authorization_id: str) -> AuthorizationDocument:
    found = await info.context.store.get_many(c.AUTHORIZATIONS, [authorization_id])
    authorization = found.get(authorization_id)
    if authorization is None or not sees_seller_privately(
        info.context.viewer, authorization["sellerId"]
    ):
        raise fail(["id"], "no authorization with this id", Code.NOT_FOUND)
    return authorization


async def renew(
    info: Info, authorization_id: str, months: int, idempotency_key: str | None = None
) -> AuthorizationDocument:
    """Extend the end date by ``months`` (sellers outside the link-only regions); a repeated
    idempotency key returns the authorization without extending it again."""
    store, now = info.context.store, info.context.now
    seller = await _caller_seller(info)
    if is_link_only(seller):
        raise fail(
            ["id"],
            "sellers in your region renew through a renewal offer or link the partner sends",
            Code.REGION_RESTRICTED,
        )
    ticket = _claim(
        seller["_id"],
        "renewAuthorization",
        idempotency_key,
        {"id": authorization_id, "months": months},
    )
    if ticket is not None and (ids := await idempotency.earlier(store, ticket)) is not None:
        return await _replay_authorization(info, ids)

    async def work() -> AuthorizationDocument:
        authorization = await _own_authorization(info, authorization_id)
        if effective_status(authorization, now) is not AuthorizationStatus.ACTIVE:
            raise fail(["id"], "only an active authorization can be renewed", Code.NOT_ACTIVE)
        service = (await store.get_many(c.SERVICES, [authorization["serviceId"]])).get(
            authorization["serviceId"]
        )
        partner = (await store.get_many(c.PARTNERS, [authorization["partnerId"]])).get(
            authorization["partnerId"]
        )
        require_live(service, partner, ["id"])
        new_end = renewed_end(authorization["endsAt"], months, authorization["startsAt"], now)
        updated = await store.update(
            c.AUTHORIZATIONS,
            authorization_id,
            expected_version=authorization["version"],
            changes={
                "endsAt": new_end,
                "statusReason": AuthorizationReason.RENEWED,
                "updatedAt": now,
            },
        )
        await history.record(
            store,
            subject_id=authorization_id,
            action="RENEWED",
            actor=info.context.viewer,
            from_status=AuthorizationStatus.ACTIVE,
            to_status=AuthorizationStatus.ACTIVE,
            reason_code=AuthorizationReason.RENEWED,
            changes={
                "endsAt": {"from": authorization["endsAt"].isoformat(), "to": new_end.isoformat()},
                "period": {"from": None, "to": f"{months} months"},
            },
        )
        return updated

    return await idempotency.once(
        store,
        ticket,
        work,
        ids_of=lambda authorization: [authorization["_id"]],
        replay=lambda ids: _replay_authorization(info, ids),
    )


async def cancel(info: Info, authorization_id: str) -> AuthorizationDocument:
    """The seller cancels: the partner loses access at once."""
    store, now = info.context.store, info.context.now

    async def work() -> AuthorizationDocument:
        authorization = await _own_authorization(info, authorization_id)
        if effective_status(authorization, now) is not AuthorizationStatus.ACTIVE:
            raise fail(["id"], "only an active authorization can be canceled", Code.NOT_ACTIVE)
        return await end(
            info.context,
            authorization,
            AuthorizationStatus.CANCELED,
            AuthorizationReason.CANCELED_BY_SELLER,
        )

    return await atomically(store, work)


async def end(
    context: Context,
    authorization: AuthorizationDocument,
    status: AuthorizationStatus,
    reason: AuthorizationReason,
    journal: list[dict[str, Any]] | None = None,
) -> AuthorizationDocument:
    """End an active authorization now, with a reason code (inside the caller's transaction);
    its history entry goes to ``journal`` when given, else is recorded at once."""
    store, now = context.store, context.now
    updated = await store.update(
        c.AUTHORIZATIONS,
        authorization["_id"],
        expected_version=authorization["version"],
        changes={
            "status": status,
            "statusReason": reason,
            "activeKey": None,
            "endedAt": now,
            "updatedAt": now,
        },
    )
    made = history.entry(
        subject_id=authorization["_id"],
        action=status.value,
        actor=context.viewer,
        from_status=AuthorizationStatus.ACTIVE,
        to_status=status,
        reason_code=reason,
    )
    if journal is not None:
        journal.append(made)
    else:
        await history.record_many(store, [made])
    return updated
