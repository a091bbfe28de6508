"""Collections (each name with its documents' shape, see ``store.Collection``) and the indexes
declared once for every adapter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datastore import documents as d
from datastore.store import Collection, IndexSpec

PARTNERS = Collection("partners", d.PartnerDocument)
SELLERS = Collection("sellers", d.SellerDocument)
SHOPS = Collection("shops", d.ShopDocument)
TIKTOK_ACCOUNTS = Collection("tiktok_accounts", d.TikTokAccountDocument)
SERVICES = Collection("services", d.ServiceDocument)
CATEGORY_APPLICATIONS = Collection("category_applications", d.CategoryApplicationDocument)
HISTORY = Collection("history", d.HistoryDocument)
SERVICE_OFFERS = Collection("service_offers", d.ServiceOfferDocument)
OFFER_ACCEPTANCES = Collection("offer_acceptances", d.OfferAcceptanceDocument)
AUTHORIZATIONS = Collection("authorizations", d.AuthorizationDocument)
REQUESTS = Collection("requests", d.RequestDocument)
REFERRAL_LINKS = Collection("referral_links", d.ReferralLinkDocument)
REFERRAL_CLICKS = Collection("referral_clicks", d.ReferralClickDocument)
# The gateway layer's own: callers' throttling buckets and registered (trusted) documents.
THROTTLE_BUCKETS = Collection("throttle_buckets", d.ThrottleBucketDocument)
TRUSTED_DOCUMENTS = Collection("trusted_documents", d.TrustedDocumentDocument)
IDEMPOTENCY = Collection("idempotency", d.IdempotencyDocument)
# The durable event log (a transactional outbox), its position counter, and webhooks.
EVENTS = Collection("events", d.EventDocument)
EVENT_SEQUENCE = Collection("event_sequence", d.EventSequenceDocument)
WEBHOOKS = Collection("webhooks", d.WebhookDocument)
WEBHOOK_DELIVERIES = Collection("webhook_deliveries", d.WebhookDeliveryDocument)
# Bulk exports and, per caller, when it last started one.
BULK_EXPORTS = Collection("bulk_exports", d.BulkExportDocument)
BULK_EXPORT_OWNERS = Collection("bulk_export_owners", d.BulkExportOwnerDocument)
# Partner insights: counters kept in the transaction of what they count, and link-page opens.
INSIGHT_COUNTERS = Collection("insight_counters", d.InsightCounterDocument)
OFFER_LINK_OPENS = Collection("offer_link_opens", d.OfferLinkOpenDocument)
# Conversions of what an earlier release stored, each done once (by name).
STORE_UPGRADES = Collection("store_upgrades", d.StoreUpgradeDocument)

ALL_COLLECTIONS: tuple[Collection[Mapping[str, Any]], ...] = (
    PARTNERS,
    SELLERS,
    SHOPS,
    TIKTOK_ACCOUNTS,
    SERVICES,
    CATEGORY_APPLICATIONS,
    HISTORY,
    SERVICE_OFFERS,
    OFFER_ACCEPTANCES,
    AUTHORIZATIONS,
    REQUESTS,
    REFERRAL_LINKS,
    REFERRAL_CLICKS,
    THROTTLE_BUCKETS,
    TRUSTED_DOCUMENTS,
    IDEMPOTENCY,
    EVENTS,
    EVENT_SEQUENCE,
    WEBHOOKS,
    WEBHOOK_DELIVERIES,
    BULK_EXPORTS,
    BULK_EXPORT_OWNERS,
    INSIGHT_COUNTERS,
    OFFER_LINK_OPENS,
    STORE_UPGRADES,
)

INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(PARTNERS, ("createdAt",)),
    IndexSpec(PARTNERS, ("name",), unique=True),
    # Closed partners whose close still has items to end (the sweep finishes them).
    IndexSpec(PARTNERS, ("closing",)),
    IndexSpec(SELLERS, ("createdAt",)),
    IndexSpec(SHOPS, ("sellerId", "createdAt")),
    IndexSpec(TIKTOK_ACCOUNTS, ("sellerId", "createdAt")),
    # Rule checks read a seller's shops, accounts and open requests in id order.
    IndexSpec(SHOPS, ("sellerId",)),
    IndexSpec(TIKTOK_ACCOUNTS, ("sellerId",)),
    IndexSpec(REQUESTS, ("sellerId",)),
    # A TikTok account is linked to one seller at a time (the field is removed on unlink).
    IndexSpec(TIKTOK_ACCOUNTS, ("linkedHandle",), unique=True),
    IndexSpec(SERVICES, ("partnerId", "createdAt")),
    IndexSpec(SERVICES, ("status", "type", "createdAt")),
    IndexSpec(SERVICES, ("authorizationLinkToken",), unique=True),
    # The App & Service Store lists by the denormalised ``listed`` flag, newest or by name.
    IndexSpec(SERVICES, ("listed", "publishedAt")),
    IndexSpec(SERVICES, ("listed", "nameSort")),
    # Store search: which services hold every query word, and how many of them in the name.
    IndexSpec(SERVICES, ("searchTerms", "nameTerms"), text=True),
    IndexSpec(CATEGORY_APPLICATIONS, ("partnerId", "createdAt")),
    IndexSpec(CATEGORY_APPLICATIONS, ("openKey",), unique=True),
    IndexSpec(HISTORY, ("subjectId", "createdAt")),
    IndexSpec(SERVICE_OFFERS, ("partnerId", "createdAt")),
    IndexSpec(SERVICE_OFFERS, ("linkToken",), unique=True),
    IndexSpec(SERVICE_OFFERS, ("sellerId", "createdAt")),
    # One acceptance per offer: of two sellers racing to accept, exactly one insert succeeds.
    IndexSpec(OFFER_ACCEPTANCES, ("offerId",), unique=True),
    IndexSpec(AUTHORIZATIONS, ("sellerId", "createdAt")),
    IndexSpec(AUTHORIZATIONS, ("partnerId", "createdAt")),
    # The other sort keys of the lists a dashboard syncs from, per owner and for admins.
    IndexSpec(AUTHORIZATIONS, ("sellerId", "endsAt")),
    IndexSpec(AUTHORIZATIONS, ("sellerId", "updatedAt")),
    IndexSpec(AUTHORIZATIONS, ("partnerId", "endsAt")),
    IndexSpec(AUTHORIZATIONS, ("partnerId", "updatedAt")),
    IndexSpec(AUTHORIZATIONS, ("createdAt",)),
    IndexSpec(AUTHORIZATIONS, ("updatedAt",)),
    IndexSpec(AUTHORIZATIONS, ("endsAt",)),
    IndexSpec(AUTHORIZATIONS, ("offerId", "createdAt")),
    IndexSpec(AUTHORIZATIONS, ("status", "endsAt")),
    # At most one active authorization per seller and service.
    IndexSpec(AUTHORIZATIONS, ("activeKey",), unique=True),
    IndexSpec(REQUESTS, ("sellerId", "createdAt")),
    IndexSpec(REQUESTS, ("partnerId", "createdAt")),
    IndexSpec(REQUESTS, ("partnerId", "sellerId", "createdAt")),
    IndexSpec(REQUESTS, ("sellerId", "partnerId", "status")),
    IndexSpec(REQUESTS, ("partnerId", "status")),
    IndexSpec(REFERRAL_LINKS, ("code",), unique=True),
    # One link per kind and service: racing publishes cannot create a second one.
    IndexSpec(REFERRAL_LINKS, ("serviceId", "kind"), unique=True),
    IndexSpec(REFERRAL_CLICKS, ("linkId", "at")),
    # One claim per caller and idempotency key: of two racing retries, one insert commits.
    IndexSpec(IDEMPOTENCY, ("ownerId", "key"), unique=True),
    # Followers read the log by position, all of it or one partner's or seller's part.
    IndexSpec(EVENTS, ("position",), unique=True),
    # MongoDB's unique indexes are partial (``exists``), which it never uses for an unfiltered
    # sort such as the newest event's: this one serves every sort by position.
    IndexSpec(EVENTS, ("position",)),
    IndexSpec(EVENTS, ("partnerId", "position")),
    IndexSpec(EVENTS, ("sellerId", "position")),
    IndexSpec(EVENTS, ("createdAt",)),
    IndexSpec(WEBHOOKS, ("partnerId", "createdAt")),
    # At most ten endpoints per partner: each holds one of ten slots.
    IndexSpec(WEBHOOKS, ("partnerId", "slot"), unique=True),
    IndexSpec(WEBHOOKS, ("status",)),
    IndexSpec(WEBHOOK_DELIVERIES, ("createdAt",)),
    # Pruning removes expired notices (beside the counter) oldest first, a batch at a time.
    IndexSpec(EVENT_SEQUENCE, ("createdAt",)),
    IndexSpec(WEBHOOK_DELIVERIES, ("webhookId", "createdAt")),
    # One running export per caller; a caller's exports newest first; workers find work.
    IndexSpec(BULK_EXPORTS, ("runningKey",), unique=True),
    IndexSpec(BULK_EXPORTS, ("ownerId", "createdAt")),
    IndexSpec(BULK_EXPORTS, ("status", "createdAt")),
    IndexSpec(BULK_EXPORTS, ("status", "expiresAt")),
    # A series reads one scope's days in order: O(days) documents, however much data they count.
    IndexSpec(INSIGHT_COUNTERS, ("scope", "day")),
    # "Expiring within 15 days" counts through the index, reading only what expires; closing a
    # partner ends its active ones a batch at a time, soonest ending first (ended ones leave).
    IndexSpec(AUTHORIZATIONS, ("partnerId", "status", "endsAt")),
    # Rebuilding the counters replays history and link opens in time order.
    IndexSpec(HISTORY, ("createdAt",)),
    IndexSpec(OFFER_LINK_OPENS, ("at",)),
)

RETIRED_INDEXES: tuple[IndexSpec, ...] = (
    # An account's unlink reads its seller's authorizations (SQLite has no index on the
    # members of an array: this one indexed the list's text, which no read asked for).
    IndexSpec(AUTHORIZATIONS, ("tiktokAccountIds",)),
    # The partner's close reads through (partnerId, status, endsAt) above.
    IndexSpec(AUTHORIZATIONS, ("partnerId", "status")),
)
"""Indexes an earlier release declared, dropped at start-up: each cost every write of an
authorization (an accept writes three) a B-tree entry that no read used."""
