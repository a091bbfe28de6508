"""Shop Registration referral links (SPEC §3, seed 004).

A service in the Shop Registration category gets two links when it is first published, one per
:class:`ReferralLinkKind`. They never change afterwards, so links a partner has already shared
keep working after the service is deactivated and published again. Following a link while the
service is live and its partner active redirects to the seller onboarding page of its kind and
records one click document (the redirect does not wait for it: see ``web.referrals``).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.codec import utc_now
from datastore.documents import ReferralLinkDocument, ServiceDocument
from datastore.enums import PartnerStatus, ReferralLinkKind, ServiceStatus
from datastore.ids import new_id
from datastore.store import DocumentStore, DuplicateKeyError
from resolvers.context import Info
from resolvers.visibility import sees_partner_privately

REFERRAL_PATH_PREFIX = "/r/"
"""Where the gateway serves referral links: ``/r/<code>``."""

KINDS: tuple[ReferralLinkKind, ...] = tuple(ReferralLinkKind)
"""Every kind, in the order links are listed: LOCAL, then CROSS_BORDER."""

CODE_BYTES = 12
"""96 random bits: unguessable, yet only 16 URL-safe characters in a shared link."""

# Codes are checked before any lookup, so arbitrary paths never reach the store.
_CODE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A fresh random code collides with an existing one essentially never; this bounds the loop.
_CREATE_ATTEMPTS = 3


def new_code() -> str:
    """A fresh link code (see :data:`CODE_BYTES`)."""
    return secrets.token_urlsafe(CODE_BYTES)


def is_shop_registration_category(category_id: str) -> bool:
    """Tell whether services of this catalog category get referral links."""
    catalog = get_catalog()
    category = catalog.get(category_id)
    return category is not None and catalog.is_shop_registration(category)


def in_kind_order(links: Iterable[ReferralLinkDocument]) -> list[ReferralLinkDocument]:
    """``links`` sorted as they are listed: LOCAL, then CROSS_BORDER."""
    position = {kind.value: index for index, kind in enumerate(KINDS)}
    return sorted(links, key=lambda link: position[link["kind"]])


def referral_path(code: str) -> str:
    """The gateway path of the link with this code."""
    return f"{REFERRAL_PATH_PREFIX}{code}"


def redirect_url(onboarding_url: str, code: str) -> str:
    """``onboarding_url`` carrying the code as ``ref=<code>``, after any query it already has."""
    parts = urlsplit(onboarding_url)
    ref = "ref=" + quote(code, safe="")
    query = f"{parts.query}&{ref}" if parts.query else ref
    return urlunsplit(parts._replace(query=query))


async def ensure_referral_links(
    store: DocumentStore, service: ServiceDocument
) -> list[ReferralLinkDocument]:
    """The service's referral links, created on its first publish; ``[]`` unless it is in the
    Shop Registration category.

    The service life-cycle calls this inside its publish transaction every time a service goes
    LIVE. Later calls return the links created first, so a link never changes. Racing calls
    agree on one link per kind through the unique (serviceId, kind) index.
    """
    if not is_shop_registration_category(service["categoryId"]):
        return []
    found = await store.find(c.REFERRAL_LINKS, {"serviceId": service["_id"]})
    links = {link["kind"]: link for link in found}
    for kind in KINDS:
        if kind.value not in links:
            links[kind.value] = await _create_link(store, service, kind)
    return in_kind_order(links.values())


async def _create_link(
    store: DocumentStore, service: ServiceDocument, kind: ReferralLinkKind
) -> ReferralLinkDocument:
    attempts = 0
    while True:
        try:
            return await store.insert(
                c.REFERRAL_LINKS,
                {
                    "_id": new_id("ref"),
                    "serviceId": service["_id"],
                    "partnerId": service["partnerId"],
                    "kind": kind,
                    "code": new_code(),
                    "createdAt": utc_now(),
                },
            )
        except DuplicateKeyError:
            # A racing publish created this kind first: its link is the one that stays. (Inside
            # a MongoDB transaction the race surfaces as a transient write conflict instead, and
            # the whole transaction is retried, finding the link on its first read.)
            existing = await store.find(
                c.REFERRAL_LINKS, {"serviceId": service["_id"], "kind": kind}, limit=1
            )
            if existing:
                return existing[0]
            # Otherwise the random code was taken: draw another.
            attempts += 1
            if attempts >= _CREATE_ATTEMPTS:
                raise


@dataclass(frozen=True)
class Followed:
    """A referral link a visit may follow: where it redirects, and the click a visit counts."""

    url: str
    click: dict[str, Any]
    """The :data:`~datastore.collections.REFERRAL_CLICKS` document to insert."""


async def follow_referral(
    store: DocumentStore, code: str, onboarding_urls: Mapping[ReferralLinkKind, str]
) -> Followed | None:
    """Where the link with ``code`` redirects (the onboarding URL of its kind, from
    ``onboarding_urls``) and the click a visit records (:func:`record_click`); ``None`` unless
    the code is known, its service LIVE and its partner ACTIVE. Reads only: a link checker's
    HEAD follows a link without counting a visit."""
    if not _CODE.match(code):
        return None
    found = await store.find(c.REFERRAL_LINKS, {"code": code}, limit=1)
    if not found:
        return None
    link = found[0]
    service = (await store.get_many(c.SERVICES, [link["serviceId"]])).get(link["serviceId"])
    if service is None or service.get("status") != ServiceStatus.LIVE:
        return None
    partner_id = service["partnerId"]
    partner = (await store.get_many(c.PARTNERS, [partner_id])).get(partner_id)
    if partner is None or partner.get("status") != PartnerStatus.ACTIVE:
        return None
    click = {
        "_id": new_id("rcl"),
        "linkId": link["_id"],
        "serviceId": link["serviceId"],
        "partnerId": partner_id,
        "kind": link["kind"],
        "at": utc_now(),
    }
    url = redirect_url(onboarding_urls[ReferralLinkKind(link["kind"])], code)
    return Followed(url, click)


async def record_click(store: DocumentStore, click: Mapping[str, Any]) -> None:
    """Count a visit. Clicks are append-only documents, so concurrent visits never contend on
    one counter; the same click stored again (a retry of one whose commit was cut off) is not
    counted twice."""
    with contextlib.suppress(DuplicateKeyError):
        await store.insert(c.REFERRAL_CLICKS, click)


async def click_counts(store: DocumentStore, link_ids: Sequence[str]) -> dict[str, int]:
    """How many clicks each link has (0 for none), in one round trip."""
    counts = await store.count_grouped(c.REFERRAL_CLICKS, "linkId", link_ids)
    return {str(link_id): total for link_id, total in counts.items()}


async def referral_links_for(
    info: Info, service_id: str, partner_id: str, category_id: str
) -> list[ReferralLinkDocument]:
    """A service's referral links as the caller may see them: its partner and admins see them,
    everyone else gets an empty list."""
    if not sees_partner_privately(info.context.viewer, partner_id):
        return []
    if not is_shop_registration_category(category_id):
        return []  # no links to look for, so no round trip
    return in_kind_order(await info.context.loaders.referral_links_by_service.load(service_id))
