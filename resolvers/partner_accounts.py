"""Partners onboard themselves: registering a company, admins creating one for someone, and
editing the profile afterwards (seed 004: register, then apply for categories)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.codec import utc_now
from datastore.documents import PartnerDocument
from datastore.enums import Market, PartnerStatus, PartnerType, Region
from datastore.ids import new_id, type_of
from datastore.search import search_fields
from datastore.store import DocumentStore, DuplicateKeyError
from resolvers import history, idempotency
from resolvers.account_lists import partner_terms
from resolvers.errors import PublicError, QueryErrorCode, unknown_account
from resolvers.identity import Viewer
from resolvers.validation import Checks, fail
from resolvers.visibility import sees_partner_privately
from resolvers.writes import atomically


class PartnerAccountErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_URL = "INVALID_URL"
    INVALID_ACCOUNT_ID = "INVALID_ACCOUNT_ID"
    MARKET_NOT_IN_REGION = "MARKET_NOT_IN_REGION"
    MARKET_REMOVED = "MARKET_REMOVED"
    DUPLICATE_MARKET = "DUPLICATE_MARKET"
    NAME_TAKEN = "NAME_TAKEN"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    PARTNER_CLOSED = "PARTNER_CLOSED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


Code = PartnerAccountErrorCode
MAX_NAME = 100
MAX_DESCRIPTION = 2000
MAX_URL = 500
MAX_EMAIL = 254
_NAME_INDEX = "ux_partners_name"


@dataclass(frozen=True)
class PartnerRegistration:
    """What a company states when it registers as a partner."""

    name: str
    type: PartnerType
    registration_region: Region
    target_markets: tuple[Market, ...]
    contact_email: str
    website: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ProfileChanges:
    """A profile edit: ``None`` leaves a field as it is; an empty text clears an optional one."""

    name: str | None = None
    description: str | None = None
    contact_email: str | None = None
    website: str | None = None
    logo_url: str | None = None
    target_markets: tuple[Market, ...] | None = None


def region_markets(partner_type: PartnerType, region: Region) -> list[Market]:
    """The markets the catalog offers a partner of this type registered in ``region``."""
    markets: list[Market] = []
    for row in get_catalog().find(partner_type, region):
        markets.extend(m for m in row.target_markets if m not in markets)
    return markets


def _check_markets(
    checks: Checks, markets: Sequence[Market], partner_type: PartnerType, region: Region
) -> None:
    if not markets:
        checks.add(["targetMarkets"], "name at least one target market", Code.REQUIRED)
        return
    if len(set(markets)) != len(markets):
        checks.add(["targetMarkets"], "a target market is named twice", Code.DUPLICATE_MARKET)
    allowed = region_markets(partner_type, region)
    for market in markets:
        if market not in allowed:
            offered = ", ".join(m.value for m in allowed) or "none"
            checks.add(
                ["targetMarkets"],
                f"{market.value} is not a target market for {partner_type.value} partners "
                f"registered in {region.value} (the catalog offers: {offered})",
                Code.MARKET_NOT_IN_REGION,
            )


def _check_profile_texts(
    checks: Checks,
    *,
    name: str | None,
    contact_email: str | None,
    description: str | None,
    website: str | None,
    logo_url: str | None,
    required: bool,
) -> None:
    missing = Code.REQUIRED if required else None
    checks.text(["name"], name, max_length=MAX_NAME, too_long=Code.TOO_LONG, missing=missing)
    if not required and name is not None and not name.strip():
        checks.add(["name"], "name cannot be blank", Code.REQUIRED)
    checks.text(
        ["contactEmail"], contact_email, max_length=MAX_EMAIL, too_long=Code.TOO_LONG,
        missing=missing,
    )  # fmt: skip
    if contact_email is not None and contact_email.strip():
        checks.email(["contactEmail"], contact_email, code=Code.INVALID_EMAIL)
    elif not required and contact_email is not None:
        checks.add(["contactEmail"], "contactEmail cannot be blank", Code.REQUIRED)
    checks.text(["description"], description, max_length=MAX_DESCRIPTION, too_long=Code.TOO_LONG)
    for field, value in (("website", website), ("logoUrl", logo_url)):
        checks.text([field], value, max_length=MAX_URL, too_long=Code.TOO_LONG)
        if value:
            checks.url([field], value.strip(), code=Code.INVALID_URL)


def _optional(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _fingerprint(registration: PartnerRegistration) -> str:
    canonical = json.dumps(asdict(registration), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_registration(registration: PartnerRegistration, checks: Checks) -> None:
    _check_profile_texts(
        checks,
        name=registration.name,
        contact_email=registration.contact_email,
        description=registration.description,
        website=registration.website,
        logo_url=None,
        required=True,
    )
    _check_markets(
        checks,
        registration.target_markets,
        registration.type,
        registration.registration_region,
    )


async def _insert_partner(
    store: DocumentStore, actor: Viewer, partner_id: str, registration: PartnerRegistration
) -> PartnerDocument:
    now = utc_now()
    name, email = registration.name.strip(), registration.contact_email.strip()
    try:
        partner = await store.insert(
            c.PARTNERS,
            {
                "_id": partner_id,
                "searchTerms": partner_terms({"name": name, "contactEmail": email}),
                "name": registration.name.strip(),
                "type": registration.type,
                "registrationRegion": registration.registration_region,
                "targetMarkets": list(registration.target_markets),
                "status": PartnerStatus.ACTIVE,
                "contactEmail": registration.contact_email.strip(),
                "website": _optional(registration.website),
                "description": _optional(registration.description),
                "registration": _fingerprint(registration),
                "createdAt": now,
                "updatedAt": now,
            },
        )
    except DuplicateKeyError as error:
        if error.index == _NAME_INDEX:
            raise fail(
                ["name"], "another partner is registered under this name", Code.NAME_TAKEN
            ) from error
        raise
    await history.record(
        store,
        subject_id=partner_id,
        action="CREATED",
        actor=actor,
        to_status=PartnerStatus.ACTIVE,
    )
    return partner


async def register(
    store: DocumentStore, actor: Viewer, registration: PartnerRegistration
) -> PartnerDocument:
    """Register the partner the caller's token names; it is ACTIVE at once.

    The partner's id is the token's account id, so a company registers once: registering
    again with the same input returns the partner, with another input is ALREADY_REGISTERED.
    Two racing registrations insert the same ``_id``; the primary key lets one commit.
    """
    partner_id = actor.partner_id
    if partner_id is None or type_of(partner_id) != "Partner":
        raise fail(
            [],
            "your token's account id is not a partner id (ptn_…): ask your identity provider "
            "for a partner account id",
            Code.INVALID_ACCOUNT_ID,
        )
    checks = Checks()
    _check_registration(registration, checks)
    checks.raise_if_any()

    async def existing() -> PartnerDocument | None:
        found = (await store.get_many(c.PARTNERS, [partner_id])).get(partner_id)
        if found is None:
            return None
        if found.get("registration") != _fingerprint(registration):
            raise fail(
                [],
                "your partner account is already registered (with other details): edit it "
                "with updatePartnerProfile",
                Code.ALREADY_REGISTERED,
            )
        return found

    async def work() -> PartnerDocument:
        return await existing() or await _insert_partner(store, actor, partner_id, registration)

    try:
        return await atomically(store, work)
    except DuplicateKeyError as error:
        if error.collection != c.PARTNERS:
            raise
    # A concurrent registration of the same account committed first.
    earlier = await existing()
    if earlier is None:  # pragma: no cover - the insert that won is committed
        raise AssertionError("the winning registration vanished")
    return earlier


async def create_for(
    store: DocumentStore,
    actor: Viewer,
    registration: PartnerRegistration,
    idempotency_key: str | None,
) -> PartnerDocument:
    """An admin registers a partner for someone: a new partner id, to be put in that
    partner's tokens."""
    checks = Checks()
    _check_registration(registration, checks)
    ticket = idempotency.claim(
        checks, actor.subject_id or "admin", "createPartner", idempotency_key, registration
    )
    checks.raise_if_any()

    async def work() -> PartnerDocument:
        return await _insert_partner(store, actor, new_id("ptn"), registration)

    async def replay(ids: list[str]) -> PartnerDocument:
        return (await store.get_many(c.PARTNERS, ids))[ids[0]]

    return await idempotency.once(
        store, ticket, work, ids_of=lambda partner: [partner["_id"]], replay=replay
    )


def profile_owner(actor: Viewer, partner_id: str | None) -> str:
    """Whose profile ``actor`` edits: an admin names the partner, a partner edits its own
    (another partner's id behaves as if it did not exist)."""
    if actor.is_admin:
        if not partner_id:
            raise fail(["id"], "name the partner to edit", Code.REQUIRED)
        return partner_id
    own = actor.partner_id
    if own is None:
        raise PublicError("Only a partner or an admin may do this.", QueryErrorCode.FORBIDDEN)
    if partner_id and not sees_partner_privately(actor, partner_id):
        raise fail(["id"], "no partner with this id", Code.NOT_FOUND)
    return own


async def update_profile(
    store: DocumentStore, actor: Viewer, partner_id: str, changes: ProfileChanges
) -> PartnerDocument:
    """Edit the profile of the partner ``actor`` acts as (admins: of ``partner_id``).

    Type and registration region are fixed; target markets may only grow, within those the
    catalog offers for the region.
    """
    checks = Checks()
    _check_profile_texts(
        checks,
        name=changes.name,
        contact_email=changes.contact_email,
        description=changes.description,
        website=changes.website,
        logo_url=changes.logo_url,
        required=False,
    )
    checks.raise_if_any()

    async def work() -> PartnerDocument:
        partner = (await store.get_many(c.PARTNERS, [partner_id])).get(partner_id)
        if partner is None:
            if actor.is_admin:
                raise fail(["id"], "no partner with this id", Code.NOT_FOUND)
            raise unknown_account("partner")
        if partner["status"] != PartnerStatus.ACTIVE:
            raise fail([], "the partner account is closed", Code.PARTNER_CLOSED)
        markets = _grown_markets(partner, changes.target_markets)
        updates: dict[str, object] = {}
        for field, value in (("name", changes.name), ("contactEmail", changes.contact_email)):
            if value is not None and value.strip() != partner.get(field):
                updates[field] = value.strip()
        for field, value in (
            ("description", changes.description),
            ("website", changes.website),
            ("logoUrl", changes.logo_url),
        ):
            if value is not None and _optional(value) != partner.get(field):
                updates[field] = _optional(value)
        if markets != partner["targetMarkets"]:
            updates["targetMarkets"] = markets
        if "name" in updates or "contactEmail" in updates:
            updates["searchTerms"] = partner_terms({**partner, **updates})
        if not updates:
            return partner  # nothing changes: no write, no history entry
        try:
            updated = await store.update(
                c.PARTNERS,
                partner_id,
                expected_version=partner["version"],
                changes={**updates, "updatedAt": utc_now()},
            )
        except DuplicateKeyError as error:
            if error.index == _NAME_INDEX:
                raise fail(
                    ["name"], "another partner is registered under this name", Code.NAME_TAKEN
                ) from error
            raise
        if "name" in updates:
            await _reindex_services(store, partner_id, str(updates["name"]))
        await history.record(
            store,
            subject_id=partner_id,
            action="UPDATED",
            actor=actor,
            changes={
                key: {"from": partner.get(key), "to": value}
                for key, value in updates.items()
                if key != "searchTerms"
            },
        )
        return updated

    return await atomically(store, work)


async def _reindex_services(store: DocumentStore, partner_id: str, partner_name: str) -> None:
    """The partner's services searched under its new name (their search words hold it), in
    the rename's transaction: the store never finds them by a name the partner no longer has.
    What sellers see of a service is unchanged, so its ``updatedAt`` stays."""
    reindexed = []
    for service in await store.find(c.SERVICES, {"partnerId": partner_id}):
        words = search_fields(service["name"], service.get("description"), partner_name)
        if words["searchTerms"] != service.get("searchTerms"):
            reindexed.append({**service, **words})
    await store.replace_many(c.SERVICES, reindexed)


def _grown_markets(partner: PartnerDocument, wanted: Sequence[Market] | None) -> list[Market]:
    current = [Market(m) for m in partner["targetMarkets"]]
    if wanted is None:
        return current
    checks = Checks()
    _check_markets(
        checks, wanted, PartnerType(partner["type"]), Region(partner["registrationRegion"])
    )
    removed = [m.value for m in current if m not in wanted]
    if removed:
        checks.add(
            ["targetMarkets"],
            f"target markets can only be added; keep {', '.join(removed)}",
            Code.MARKET_REMOVED,
        )
    checks.raise_if_any()
    return current + [m for m in wanted if m not in current]
