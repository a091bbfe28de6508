"""The shape of every collection's documents, as stored by both adapters (see ``codec``).

One ``TypedDict`` per collection: code that declares which document it holds gets a mypy error
for a misspelt field, and :func:`problems_of` checks stored documents against the same
declaration at run time (the test suite checks every document its flows write, on every
adapter). Values are as stored: enums are their string values, datetimes are UTC, and a field
whose value would be ``None`` is absent (hence ``NotRequired``).
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NotRequired, TypedDict, cast

from datastore.store import Collection


class _Stored(TypedDict):
    _id: str
    version: int


class ContactFields(TypedDict):
    """A seller's contact, on offers and authorizations."""

    name: NotRequired[str]
    email: NotRequired[str]
    phone: NotRequired[str]


class AuthorizationSettingsFields(TypedDict):
    """What a seller lets a partner do (offers propose them, authorizations hold them)."""

    authorizeObject: str
    ticketAuthorization: bool
    tspAccess: bool
    dataCompassAccess: bool


class OfferChangeFields(TypedDict):
    """One field a seller changed from an offer: its path (``settings.tspAccess``) and both
    values, each absent when that side has none."""

    path: str
    offered: NotRequired[Any]
    consented: NotRequired[Any]


class PartnerDocument(_Stored):
    name: str
    type: str
    registrationRegion: str
    targetMarkets: list[str]
    status: str
    contactEmail: NotRequired[str]
    createdAt: datetime
    updatedAt: NotRequired[datetime]
    closedAt: NotRequired[datetime]
    closedReason: NotRequired[str]
    # True from the close's first transaction until its last batch ended what the partner had
    # active (resolvers.partner_closing): a close interrupted midway is found and finished.
    closing: NotRequired[bool]
    reopenedAt: NotRequired[datetime]
    description: NotRequired[str]
    website: NotRequired[str]
    logoUrl: NotRequired[str]
    # A digest of what registerPartner was given, to tell a retry from a different input.
    registration: NotRequired[str]
    # The words admins find the partner by (name and contact email).
    searchTerms: NotRequired[list[str]]


class SellerDocument(_Stored):
    # The words admins find the seller by (its business name).
    searchTerms: NotRequired[list[str]]
    name: str
    kind: str
    market: str
    hasShopAccount: bool
    createdAt: datetime
    updatedAt: NotRequired[datetime]


class ShopDocument(_Stored):
    sellerId: str
    name: str
    market: str
    createdAt: datetime


class TikTokAccountDocument(_Stored):
    sellerId: str
    handle: str
    linkedStatus: str
    # The normalised handle while linked (unique: one seller at a time); removed on unlink.
    linkedHandle: NotRequired[str]
    linkedAt: NotRequired[datetime]
    unlinkedAt: NotRequired[datetime]
    createdAt: datetime


class ServiceDocument(_Stored):
    partnerId: str
    name: str
    type: str
    status: str
    statusReason: NotRequired[str]
    categoryId: str
    market: str
    description: NotRequired[str]
    highlights: NotRequired[list[str]]
    pricing: NotRequired[str]
    contactEmail: NotRequired[str]
    idempotencyKey: NotRequired[str]
    needsReview: NotRequired[bool]
    # Denormalised: LIVE, PUBLIC and its partner ACTIVE (what the store lists).
    listed: NotRequired[bool]
    publishedAt: NotRequired[datetime]
    authorizationLinkToken: NotRequired[str]
    searchTerms: NotRequired[list[str]]
    nameTerms: NotRequired[list[str]]
    nameSort: NotRequired[str]
    createdAt: datetime
    updatedAt: NotRequired[datetime]


class CategoryApplicationDocument(_Stored):
    partnerId: str
    categoryId: str
    market: str
    status: str
    reason: NotRequired[str]
    # Set while REVIEWING: one open application per partner, category and market.
    openKey: NotRequired[str]
    reviewedAt: NotRequired[datetime]
    createdAt: datetime
    updatedAt: NotRequired[datetime]


class HistoryDocument(_Stored):
    subjectId: str
    action: str
    actorRole: NotRequired[str]
    actorId: NotRequired[str]
    fromStatus: NotRequired[str]
    toStatus: NotRequired[str]
    reasonCode: NotRequired[str]
    reason: NotRequired[str]
    changes: NotRequired[dict[str, Any]]
    createdAt: datetime


class ServiceOfferDocument(_Stored):
    partnerId: str
    # The one seller the offer is for, when the partner named one.
    sellerId: NotRequired[str]
    archivedAt: NotRequired[datetime]
    serviceIds: list[str]
    startsAt: datetime
    endsAt: datetime
    contact: NotRequired[ContactFields]
    settings: AuthorizationSettingsFields
    linkToken: str
    status: str
    idempotencyKey: NotRequired[str]
    withdrawnAt: NotRequired[datetime]
    acceptedAt: NotRequired[datetime]
    acceptedBySellerId: NotRequired[str]
    acceptanceId: NotRequired[str]
    createdAt: datetime
    updatedAt: NotRequired[datetime]


class OfferAcceptanceDocument(_Stored):
    offerId: str
    sellerId: str
    authorizationIds: list[str]
    changes: dict[str, Any]
    createdAt: datetime


class AuthorizationDocument(_Stored):
    sellerId: str
    partnerId: str
    serviceId: str
    settings: AuthorizationSettingsFields
    contact: NotRequired[ContactFields]
    shopIds: list[str]
    tiktokAccountIds: list[str]
    offerId: NotRequired[str]
    # What the seller changed from the offer (see offer_changes_of; older documents hold a map
    # keyed by the dotted path, which MongoDB cannot store).
    offerChanges: NotRequired[list[OfferChangeFields] | dict[str, Any]]
    channel: str
    startsAt: datetime
    endsAt: datetime
    endedAt: NotRequired[datetime]
    status: str
    statusReason: str
    # Set while ACTIVE: one active authorization per seller and service ("seller|service").
    activeKey: NotRequired[str]
    createdAt: datetime
    updatedAt: NotRequired[datetime]


class RequestDocument(_Stored):
    sellerId: str
    partnerId: str
    partnerIndex: int
    contact: dict[str, Any]
    business: dict[str, Any]
    status: str
    statusReason: NotRequired[str]
    closedBy: NotRequired[str]
    idempotencyKey: NotRequired[str]
    createdAt: datetime
    updatedAt: NotRequired[datetime]


class ReferralLinkDocument(_Stored):
    serviceId: str
    partnerId: str
    kind: str
    code: str
    createdAt: datetime


class ReferralClickDocument(_Stored):
    linkId: str
    serviceId: str
    partnerId: str
    kind: str
    at: datetime


class IdempotencyDocument(_Stored):
    """A claimed idempotency key: who used it, a digest of the input, what it created."""

    ownerId: str
    key: str
    inputHash: str
    resultIds: list[str]
    createdAt: datetime


class ThrottleBucketDocument(_Stored):
    """A caller's leaky bucket: what was available at ``at`` (epoch seconds), refilling since;
    below zero while it repays budget granted when the store could not be reached."""

    available: float
    at: float


class TrustedDocumentDocument(_Stored):
    """A registered GraphQL document, stored under ``sha256:<hex of text>``."""

    text: str
    addedAt: datetime


class InsightCounterDocument(_Stored):
    """A partner's, a service's or the platform's insight counters for one UTC day
    (``resolvers.insight_figures``): ``counts[figure]["q<slot>"]`` what a figure moved in each
    quarter hour it moved in, ``acceptance[bin]["q<slot>"]`` a histogram of offer-to-acceptance
    times (each map absent until something is counted in it), and ``base`` the active
    authorizations at the day's start; ``rebuild`` marks the documents the last ``tsp-gateway
    insights rebuild`` wrote (``resolvers.insight_rebuild``)."""

    scope: str
    day: str
    base: int
    counts: NotRequired[dict[str, dict[str, int]]]
    acceptance: NotRequired[dict[str, dict[str, int]]]
    rebuild: NotRequired[str]


class OfferLinkOpenDocument(_Stored):
    """One visitor (a hash of who) opening an offer's link page, once per UTC day; the _id
    is ``offer|visitor|day``, so a second open that day is a duplicate key."""

    offerId: str
    partnerId: str
    at: datetime


class EventDocument(_Stored):
    """One entry of the event log: what happened to which subject, for whom, at a position."""

    position: int
    type: str
    subjectId: str
    partnerId: NotRequired[str]
    sellerId: NotRequired[str]
    changes: dict[str, Any]
    createdAt: datetime


class EventSequenceDocument(_Stored):
    """The log's position counter (``position``, ``prunedThrough``) or an expiring notice
    already written (``createdAt``), keyed by what it counts or notes."""

    position: NotRequired[int]
    prunedThrough: NotRequired[int]
    createdAt: NotRequired[datetime]


class StoreUpgradeDocument(_Stored):
    """A conversion of documents an earlier release stored, done for the whole store (keyed by
    its name, e.g. ``resolvers.insight_counter_upgrade``'s): later starts skip it."""

    doneAt: datetime


class WebhookDocument(_Stored):
    """A partner's webhook endpoint and where its delivery stands."""

    partnerId: str
    slot: int
    url: str
    types: list[str]
    secret: str
    status: str
    cursor: int
    attempts: int
    createdAt: datetime
    updatedAt: datetime
    failingSince: NotRequired[datetime]
    nextAttemptAt: NotRequired[datetime]
    lastDeliveredAt: NotRequired[datetime]
    leaseUntil: NotRequired[datetime]
    leaseOwner: NotRequired[str]
    disabledReason: NotRequired[str]


class WebhookDeliveryDocument(_Stored):
    """One attempt to deliver one event to one endpoint."""

    webhookId: str
    eventId: str
    eventType: str
    position: int
    attempt: int
    statusCode: NotRequired[int]
    error: NotRequired[str]
    succeeded: bool
    durationMs: int
    createdAt: datetime


def offer_changes_of(authorization: Mapping[str, Any]) -> list[OfferChangeFields]:
    """An authorization's ``offerChanges`` as a list, whichever shape it was stored in."""
    stored = authorization.get("offerChanges") or []
    if isinstance(stored, Mapping):
        return [
            cast(OfferChangeFields, {"path": path, **change}) for path, change in stored.items()
        ]
    return list(stored)


class BulkExportDocument(_Stored):
    """A bulk export: the caller's query, where its run stands, and its file once complete.

    ``runningKey`` (the owner) is present while the export is CREATED or RUNNING: a unique
    index on it keeps one running export per caller. ``leaseOwner``/``leaseUntil`` say which
    worker runs it and until when, unless it renews the lease."""

    ownerId: str
    role: str
    partnerId: NotRequired[str]
    sellerId: NotRequired[str]
    query: str
    status: str
    runningKey: NotRequired[str]
    objectCount: int
    rootObjectCount: int
    fileSize: int
    fileId: NotRequired[str]
    sha256: NotRequired[str]
    attempts: int
    leaseOwner: NotRequired[str]
    leaseUntil: NotRequired[datetime]
    errorCode: NotRequired[str]
    errorMessage: NotRequired[str]
    downloadSecret: str
    createdAt: datetime
    updatedAt: datetime
    startedAt: NotRequired[datetime]
    completedAt: NotRequired[datetime]
    expiresAt: NotRequired[datetime]


class BulkExportOwnerDocument(_Stored):
    """When a caller last started a bulk export (the guard of "one start per minute")."""

    lastStartedAt: datetime


def problems_of(
    collection: Collection[Mapping[str, Any]], document: Mapping[str, Any]
) -> list[str]:
    """What is wrong with a stored ``document`` of ``collection``: fields it lacks or that its
    shape does not declare (a misspelt name shows up as both). Empty when it conforms."""
    shape: Any = collection.shape
    required: frozenset[str] = shape.__required_keys__
    declared: frozenset[str] = required | shape.__optional_keys__
    missing = sorted(required - document.keys())
    unknown = sorted(document.keys() - declared)
    return (
        [f"missing {name}" for name in missing]
        + [f"undeclared {name}" for name in unknown]
        + [f"unstorable key {path}" for path in _unstorable_keys(document)]
    )


def _unstorable_keys(value: Any, where: str = "") -> list[str]:
    """Keys MongoDB cannot ``$set`` (a dot is a path, a leading ``$`` an operator), at any
    depth: both adapters must store the same documents."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, inner in value.items():
            path = f"{where}[{key!r}]"
            if "." in key or key.startswith("$"):
                found.append(path)
            found += _unstorable_keys(inner, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _unstorable_keys(item, f"{where}[{index}]")
    return found
