"""Partner insights: ``Partner.insights``, the admins' ``Query.insights`` and the mutation a
link page calls when it opens (see ``resolvers.insights`` for how series are read)."""

from datetime import date
from enum import Enum
from typing import Annotated, Any, Protocol

import strawberry

from datastore import collections as c
from datastore.enums import Market, PartnerType
from resolvers import insight_figures as f
from resolvers import insight_periods as periods_of
from resolvers import insights, link_opens
from resolvers.context import Info
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.insight_periods import Granularity, Period
from resolvers.visibility import sees_partner_privately
from schema.mutations import UserError, run_mutation
from schema.permissions import IsAdmin
from schema.roots import mutation_fields, query_fields

strawberry.enum(Granularity, name="InsightsGranularity", description="How long one bucket is.")
strawberry.enum(link_opens.LinkOpenErrorCode, description="Why a link open was not recorded.")
_VALUES: dict[type[Enum], dict[str, str]] = {
    Granularity: {
        "DAY": "One bucket per day.",
        "WEEK": "One bucket per ISO week (Monday to Sunday), clipped to the range.",
        "MONTH": "One bucket per calendar month, clipped to the range.",
    },
    link_opens.LinkOpenErrorCode: {
        "NOT_FOUND": "No offer behind this link token.",
        "INVALID_VISITOR": "An anonymous visitor must send the page's random visitor id.",
    },
}
for _enum, _table in _VALUES.items():
    for _value in _enum.__strawberry_definition__.values:  # type: ignore[attr-defined]
        _value.description = _table[_value.name]

From = Annotated[
    date, strawberry.argument(name="from", description="First day of the range (local).")
]
To = Annotated[
    date,
    strawberry.argument(description="Last day of the range (local, inclusive; at most 731 days)."),
]
GranularityArgument = Annotated[
    Granularity, strawberry.argument(description="Days, ISO weeks (Monday first) or months.")
]
TimeZone = Annotated[
    str,
    strawberry.argument(description="IANA time zone whose midnights bound the buckets."),
]


@strawberry.type(description="One bucket of an insights series: what happened in it.")
class InsightsBucket:
    start_date: date = strawberry.field(description="First day of the bucket (local).")
    end_date: date = strawberry.field(description="Last day of the bucket (local, inclusive).")
    offers_created: int = strawberry.field(description="Service offers created.")
    link_opens: int = strawberry.field(
        description="Offer link pages opened (each visitor once a day per offer)."
    )
    offers_accepted: int = strawberry.field(description="Offers a seller authorized.")
    authorizations_granted: int = strawberry.field(description="Authorizations granted, all.")
    granted_from_offer: int = strawberry.field(description="Granted through a service offer.")
    granted_from_service_link: int = strawberry.field(
        description="Granted through a service's own authorization link."
    )
    granted_from_store: int = strawberry.field(description="Granted from the store.")
    renewed: int = strawberry.field(description="Authorizations renewed.")
    canceled: int = strawberry.field(description="Authorizations the seller canceled.")
    expired: int = strawberry.field(description="Authorizations that ran to their end.")
    closed: int = strawberry.field(description="Authorizations closed with their partner.")
    requests_received: int | None = strawberry.field(
        description="Seller requests received (null per service, market or category: requests "
        "name a partner only)."
    )
    requests_accepted: int | None = strawberry.field(description="Requests accepted (idem).")
    requests_rejected: int | None = strawberry.field(description="Requests rejected (idem).")
    active_at_end: int = strawberry.field(
        description="Active authorizations at the bucket's end (an authorization past its end "
        "counts until the sweep completes it, within minutes); for a bucket not yet ended, "
        "active now: no projection of what will end or be granted."
    )


@strawberry.type(description="What a whole range adds up to.")
class InsightsSummary:
    link_opens: int = strawberry.field(description="Link pages opened in the range.")
    offers_accepted: int = strawberry.field(description="Offers accepted in the range.")
    link_to_authorization_conversion: float | None = strawberry.field(
        description="Offers accepted per link page opened (null without opens)."
    )
    median_time_to_acceptance_seconds: float | None = strawberry.field(
        description="Median time from an offer's creation to its acceptance, of the offers "
        "accepted in the range, to within 5% (null without acceptances)."
    )
    renewals_due: int = strawberry.field(
        description="Authorizations that came up for renewal: renewed, or ran to their end."
    )
    renewal_rate: float | None = strawberry.field(
        description="Of those, the share renewed (null when none came up)."
    )
    expiring_within_15_days: int = strawberry.field(
        description="Active authorizations ending within 15 days as of now."
    )


@strawberry.type(description="One service's series.")
class ServiceInsights:
    service_id: strawberry.ID = strawberry.field(description="The Service id.")
    buckets: list[InsightsBucket] = strawberry.field(description="The series.")
    summary: InsightsSummary = strawberry.field(description="The range's summary.")


@strawberry.type(description="Insight figures over a range, bucketed in a time zone.")
class Insights:
    from_: date = strawberry.field(name="from", description="First day of the range.")
    to: date = strawberry.field(description="Last day of the range.")
    granularity: Granularity = strawberry.field(description="The buckets' length.")
    time_zone: str = strawberry.field(description="The time zone of the buckets.")
    buckets: list[InsightsBucket] = strawberry.field(description="The series.")
    summary: InsightsSummary = strawberry.field(description="The range's summary.")
    services: list[ServiceInsights] = strawberry.field(
        description="Per service, in the order of serviceIds (empty without it)."
    )


def _bucket(bucket: insights.Bucket, requests_known: bool) -> InsightsBucket:
    n = bucket.figures
    requests = {
        k: (n[v] if requests_known else None)
        for k, v in (
            ("requests_received", f.REQUESTS_RECEIVED),
            ("requests_accepted", f.REQUESTS_ACCEPTED),
            ("requests_rejected", f.REQUESTS_REJECTED),
        )
    }
    granted = n[f.GRANTED_FROM_OFFER] + n[f.GRANTED_FROM_SERVICE_LINK] + n[f.GRANTED_FROM_STORE]
    return InsightsBucket(
        start_date=bucket.period.first,
        end_date=bucket.period.last,
        offers_created=n[f.OFFERS_CREATED],
        link_opens=n[f.LINK_OPENS],
        offers_accepted=n[f.OFFERS_ACCEPTED],
        authorizations_granted=granted,
        granted_from_offer=n[f.GRANTED_FROM_OFFER],
        granted_from_service_link=n[f.GRANTED_FROM_SERVICE_LINK],
        granted_from_store=n[f.GRANTED_FROM_STORE],
        renewed=n[f.RENEWED],
        canceled=n[f.CANCELED],
        expired=n[f.EXPIRED],
        closed=n[f.CLOSED],
        active_at_end=bucket.active_at_end,
        **requests,
    )


def _summary(series: insights.Series, expiring: int) -> InsightsSummary:
    t = series.totals
    return InsightsSummary(
        link_opens=t[f.LINK_OPENS],
        offers_accepted=t[f.OFFERS_ACCEPTED],
        link_to_authorization_conversion=series.conversion,
        median_time_to_acceptance_seconds=series.median_acceptance_seconds,
        renewals_due=t[f.RENEWED] + t[f.EXPIRED],
        renewal_rate=series.renewal_rate,
        expiring_within_15_days=expiring,
    )


def _periods(first: date, last: date, granularity: Granularity, time_zone: str) -> list[Period]:
    return periods_of.periods(first, last, granularity, periods_of.zone_of(time_zone))


def _refuse_others(info: Info, partner_id: str) -> None:
    viewer = info.context.viewer
    if viewer.role is None:
        raise PublicError("sign in to see a partner's insights", QueryErrorCode.UNAUTHENTICATED)
    if not sees_partner_privately(viewer, partner_id):
        raise PublicError(
            "only the partner itself and admins see its insights", QueryErrorCode.FORBIDDEN
        )


async def _check_services(info: Info, partner_id: str, service_ids: list[str]) -> None:
    if len(service_ids) > periods_of.MAX_SERVICE_IDS:
        raise PublicError(
            f"serviceIds: at most {periods_of.MAX_SERVICE_IDS} services",
            QueryErrorCode.TOO_MANY_IDS,
            field="serviceIds",
        )
    found = await info.context.store.get_many(c.SERVICES, service_ids)
    for index, service_id in enumerate(service_ids):
        service = found.get(service_id)
        if service is None or service["partnerId"] != partner_id:
            raise PublicError(
                f"serviceIds[{index}]: no service of this partner with this id",
                QueryErrorCode.NOT_FOUND,
                field="serviceIds",
            )


class _PartnerRoot(Protocol):
    @property
    def id(self) -> strawberry.ID: ...


async def partner_insights(
    root: _PartnerRoot,
    info: Info,
    from_: From,
    to: To,
    granularity: GranularityArgument = Granularity.DAY,
    time_zone: TimeZone = "UTC",
    service_ids: Annotated[
        list[strawberry.ID] | None,
        strawberry.argument(description="Also a series per service (at most 20 of its own)."),
    ] = None,
) -> Insights | None:
    """``Partner.insights`` (the partner and admins; refused with FORBIDDEN for others)."""
    partner_id = str(root.id)
    _refuse_others(info, partner_id)
    periods = _periods(from_, to, granularity, time_zone)
    wanted = list(dict.fromkeys(str(s) for s in service_ids or []))
    await _check_services(info, partner_id, wanted)
    store = info.context.store
    scopes = [f.partner_scope(partner_id), *(f.service_scope(s) for s in wanted)]
    series = await insights.read_series(store, scopes, periods)
    expiring = await insights.expiring_of_partner(store, partner_id, wanted)
    services = [
        ServiceInsights(
            service_id=strawberry.ID(s),
            buckets=[_bucket(b, False) for b in series[f.service_scope(s)].buckets],
            summary=_summary(series[f.service_scope(s)], expiring.get(s, 0)),
        )
        for s in wanted
    ]
    partner_series = series[scopes[0]]
    return Insights(
        from_=from_,
        to=to,
        granularity=granularity,
        time_zone=time_zone,
        buckets=[_bucket(b, True) for b in partner_series.buckets],
        summary=_summary(partner_series, expiring[None]),
        services=services,
    )


@query_fields
@strawberry.type
class InsightsQuery:
    @strawberry.field(
        description="Insight figures platform-wide, filtered by the service's market and "
        "category and the partner's type (admins only).",
        permission_classes=[IsAdmin],
    )
    async def insights(
        self,
        info: Info,
        from_: From,
        to: To,
        granularity: GranularityArgument = Granularity.DAY,
        time_zone: TimeZone = "UTC",
        market: Annotated[
            Market | None, strawberry.argument(description="Only services in this market.")
        ] = None,
        partner_type: Annotated[
            PartnerType | None, strawberry.argument(description="Only partners of this type.")
        ] = None,
        service_category_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this service category.")
        ] = None,
    ) -> Insights | None:
        periods = _periods(from_, to, granularity, time_zone)
        category = insights.platform_category(
            None if service_category_id is None else str(service_category_id)
        )
        scope = f.platform_scope(market, partner_type, category)
        series = (await insights.read_series(info.context.store, [scope], periods))[scope]
        expiring = await insights.expiring_on_platform(
            info.context.store, market, partner_type, category
        )
        requests_known = market is None and category is None
        return Insights(
            from_=from_,
            to=to,
            granularity=granularity,
            time_zone=time_zone,
            buckets=[_bucket(b, requests_known) for b in series.buckets],
            summary=_summary(series, expiring),
            services=[],
        )


@strawberry.type(description="A broken rule in recording a link open.")
class LinkOpenUserError(UserError):
    code: link_opens.LinkOpenErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = link_opens.LinkOpenErrorCode


@strawberry.type(description="Result of recordOfferLinkOpen.")
class RecordOfferLinkOpenPayload:
    counted: bool = strawberry.field(
        default=False,
        description="Whether this open counted (false when this visitor was counted for this "
        "offer today already, or is the offer's partner or an admin).",
    )
    user_errors: list[LinkOpenUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@mutation_fields
@strawberry.type
class InsightsMutation:
    @strawberry.mutation(
        description="Count an offer's link page as opened by the caller (a signed-in seller) "
        "or by the browser's random visitorId: once per visitor, offer and UTC day. The "
        "authorization page calls it when it opens."
    )
    async def record_offer_link_open(
        self,
        info: Info,
        token: Annotated[str, strawberry.argument(description="The offer's link token.")],
        visitor_id: Annotated[
            str | None,
            strawberry.argument(description="The page's random id for this browser (8-100)."),
        ] = None,
    ) -> RecordOfferLinkOpenPayload:
        async def work() -> dict[str, Any]:
            return {"counted": await link_opens.record(info, token, visitor_id)}

        return await run_mutation(info, RecordOfferLinkOpenPayload, LinkOpenUserError, work)
