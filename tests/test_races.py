"""Every invariant that two requests could break by racing, raced through the API.

Each test starts the competing operations together (a barrier releases them at once, so their
transactions overlap), many times, and then asserts the invariant. On SQLite the requests
interleave at every await until one of them takes the writer lock; on MongoDB their
transactions run side by side on snapshots, which is where a rule enforced by a read alone
breaks (see ``datastore.store``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import AuthorizationDocument
from datastore.enums import (
    AuthorizationStatus,
    LinkedStatus,
    Market,
    PartnerStatus,
    RequestStatus,
    ServiceStatus,
)
from datastore.ids import new_id
from datastore.store import DocumentStore
from edge.gateway_settings import Settings
from gateway import create_app
from resolvers.context import RequestLimits
from resolvers.identity import Role
from tests.conftest import (
    JWT_SECRET,
    GraphQLClient,
    Make,
    request_form,
    token,
    token_of,
)

T = TypeVar("T")
ROUNDS = 8

CREATE_REQUEST = """mutation($input: CreateRequestInput!) { createRequest(input: $input) {
  requests { id } userErrors { field code } } }"""
CLOSE_PARTNER = """mutation($id: ID!) {
  closePartner(input: {id: $id, reason: "Policy violation"}) { userErrors { code } } }"""
ACCEPT_OFFER = """mutation($token: String!) { authorizeServiceOffer(token: $token) {
  authorizations { id } userErrors { code } } }"""
WITHDRAW_OFFER = """mutation($id: ID!) { withdrawServiceOffer(id: $id) {
  serviceOffer { status } userErrors { code } } }"""
BY_LINK = """mutation($token: String!, $input: AuthorizeServiceInput!) {
  authorizeService(serviceLinkToken: $token, input: $input) {
    authorization { id } userErrors { code } } }"""
FROM_STORE = """mutation($id: ID!, $input: AuthorizeServiceInput!) {
  authorizeStoreService(serviceId: $id, input: $input) {
    authorization { id } userErrors { code } } }"""
PUBLISH = """mutation($id: ID!) { publishService(id: $id) {
  service { status } userErrors { code } } }"""
APPROVE = """mutation($id: ID!) { reviewService(input: {id: $id, decision: APPROVE}) {
  service { status } userErrors { code } } }"""
UNLINK = """mutation($id: ID!) { unlinkTikTokAccount(id: $id) {
  endedAuthorizations { id } userErrors { code } } }"""
ADMIN = token(Role.ADMIN)


async def race(*operations: Awaitable[T]) -> list[T]:
    """Run ``operations`` (not yet started) concurrently, released together by a barrier once
    all have been scheduled."""
    barrier = asyncio.Barrier(len(operations))

    async def run(operation: Awaitable[T]) -> T:
        await barrier.wait()
        return await operation

    return list(await asyncio.gather(*(run(operation) for operation in operations)))


def _payload(result: dict[str, Any]) -> Any:
    assert "errors" not in result, result
    return next(iter(result["data"].values()))


def _details(**fields: Any) -> dict[str, Any]:
    today = utc_now().date()
    return {
        "startDate": today.isoformat(),
        "endDate": (today + timedelta(days=60)).isoformat(),
        "settings": {
            "authorizeObject": "SHOP",
            "ticketAuthorization": True,
            "tspAccess": False,
            "dataCompassAccess": True,
        },
        **fields,
    }


async def _active_of_partner(store: DocumentStore, partner_id: str) -> list[AuthorizationDocument]:
    return await store.find(
        c.AUTHORIZATIONS, {"partnerId": partner_id, "status": AuthorizationStatus.ACTIVE}
    )


@pytest.fixture
async def limited(store: DocumentStore) -> AsyncIterator[GraphQLClient]:
    """A gateway that lets a seller have at most 3 open requests, one per partner."""
    settings = Settings(
        jwt_secret=JWT_SECRET,
        request_limits=RequestLimits(max_open_per_partner=1, max_open=3),
    )
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield GraphQLClient(client)


async def test_one_open_request_per_seller_and_partner(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    for _ in range(ROUNDS):
        seller, partner = await make.seller(), await make.partner()
        as_seller = token_of(seller)
        results = await race(
            *(gql(CREATE_REQUEST, request_form(partner["_id"]), as_=as_seller) for _ in range(3))
        )
        payloads = [_payload(r) for r in results]
        assert sum(1 for p in payloads if not p["userErrors"]) == 1
        assert {p["userErrors"][0]["code"] for p in payloads if p["userErrors"]} == {
            "OPEN_REQUEST_EXISTS"
        }
        assert await store.count(c.REQUESTS, {"sellerId": seller["_id"]}) == 1


async def test_at_most_n_open_requests_per_seller(
    limited: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    for _ in range(ROUNDS):
        seller = await make.seller()
        # One request is already open: 2 more fit under the limit of 3.
        await make.request(seller, await make.partner())
        partners = [await make.partner() for _ in range(5)]
        as_seller = token_of(seller)
        results = await race(
            *(
                limited(CREATE_REQUEST, request_form(partner["_id"]), as_=as_seller)
                for partner in partners
            )
        )
        payloads = [_payload(r) for r in results]
        assert sum(1 for p in payloads if not p["userErrors"]) == 2
        assert {p["userErrors"][0]["code"] for p in payloads if p["userErrors"]} == {
            "TOO_MANY_OPEN_REQUESTS"
        }
        assert await store.count(c.REQUESTS, {"sellerId": seller["_id"]}) == 3


async def test_no_open_request_to_a_closed_partner(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    for _ in range(ROUNDS):
        seller, partner = await make.seller(), await make.partner()
        await race(
            gql(
                CREATE_REQUEST,
                request_form(partner["_id"]),
                as_=token_of(seller),
            ),
            gql(CLOSE_PARTNER, {"id": partner["_id"]}, as_=ADMIN),
        )
        open_requests = await store.count(
            c.REQUESTS,
            {
                "partnerId": partner["_id"],
                "status": {
                    "$in": [RequestStatus.PARTNER_REVIEWING, RequestStatus.PARTNER_ACCEPTED]
                },
            },
        )
        assert open_requests == 0


async def test_closing_a_partner_and_accepting_its_offer(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    outcomes = set()
    for _ in range(ROUNDS):
        partner = await make.partner()
        offer = await make.offer(partner, [await make.service(partner)])
        seller = await make.seller(market=Market.ID)
        accepted, closed = await race(
            gql(ACCEPT_OFFER, {"token": offer["linkToken"]}, as_=token_of(seller)),
            gql(CLOSE_PARTNER, {"id": partner["_id"]}, as_=ADMIN),
        )
        assert _payload(closed)["userErrors"] == []
        outcomes.add(tuple(e["code"] for e in _payload(accepted)["userErrors"]))
        assert await _active_of_partner(store, partner["_id"]) == []
    assert outcomes <= {(), ("PARTNER_CLOSED",)}


async def test_closing_a_partner_and_authorizing_its_service(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    for round_number in range(ROUNDS):
        partner = await make.partner()
        service = await make.service(partner)
        seller = await make.seller(market=Market.ID)
        as_seller = token_of(seller)
        by_link = round_number % 2 == 0

        authorize = (
            gql(
                BY_LINK,
                {"token": service["authorizationLinkToken"], "input": _details()},
                as_=as_seller,
            )
            if by_link
            else gql(FROM_STORE, {"id": service["_id"], "input": _details()}, as_=as_seller)
        )
        authorized, _ = await race(authorize, gql(CLOSE_PARTNER, {"id": partner["_id"]}, as_=ADMIN))
        assert {e["code"] for e in _payload(authorized)["userErrors"]} <= {
            "PARTNER_CLOSED",
            "NOT_FOUND",  # the store no longer lists a closed partner's service
        }
        assert await _active_of_partner(store, partner["_id"]) == []


async def test_closing_a_partner_and_publishing_or_approving_its_service(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    for round_number in range(ROUNDS):
        partner = await make.partner()
        approving = round_number % 2 == 0
        if approving:
            service = await make.service(partner, status=ServiceStatus.IN_REVIEW)
            change = gql(APPROVE, {"id": service["_id"]}, as_=ADMIN)
        else:
            # Turned back "On" without changes: live (and listed) at once, no review.
            service = await make.service(
                partner, status=ServiceStatus.DEACTIVATED, needsReview=False
            )
            await store.insert(
                c.CATEGORY_APPLICATIONS,
                {
                    "_id": new_id("cap"),
                    "partnerId": partner["_id"],
                    "categoryId": service["categoryId"],
                    "market": service["market"],
                    "status": "APPROVED",
                    "createdAt": utc_now(),
                },
            )
            as_partner = token_of(partner)
            change = gql(PUBLISH, {"id": service["_id"]}, as_=as_partner)
        changed, closed = await race(change, gql(CLOSE_PARTNER, {"id": partner["_id"]}, as_=ADMIN))
        assert _payload(closed)["userErrors"] == []
        assert {e["code"] for e in _payload(changed)["userErrors"]} <= {"PARTNER_CLOSED"}
        listed = await store.find(c.SERVICES, {"partnerId": partner["_id"], "listed": True})
        assert listed == []
        stored_partner = (await store.get_many(c.PARTNERS, [partner["_id"]]))[partner["_id"]]
        assert stored_partner["status"] == PartnerStatus.CLOSED


async def test_unlinking_an_account_and_authorizing_with_only_that_account(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    for _ in range(ROUNDS):
        partner = await make.partner()
        service = await make.service(partner)
        seller = await make.seller(market=Market.ID)
        account = (await store.find(c.TIKTOK_ACCOUNTS, {"sellerId": seller["_id"]}))[0]
        as_seller = token_of(seller)
        details = _details(
            settings={**_details()["settings"], "authorizeObject": "TTUID"},
            tiktokAccountIds=[account["_id"]],
        )
        await race(
            gql(FROM_STORE, {"id": service["_id"], "input": details}, as_=as_seller),
            gql(UNLINK, {"id": account["_id"]}, as_=as_seller),
        )
        await _assert_no_active_authorization_covers_an_unlinked_account(store, seller)


async def test_unlinking_both_accounts_of_an_authorization_at_once(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    for _ in range(ROUNDS):
        partner = await make.partner()
        seller = await make.seller(market=Market.ID)
        first = (await store.find(c.TIKTOK_ACCOUNTS, {"sellerId": seller["_id"]}))[0]
        copied = {key: value for key, value in first.items() if key != "version"}
        second = await store.insert(
            c.TIKTOK_ACCOUNTS, {**copied, "_id": new_id("tta"), "handle": "@second"}
        )
        await make.authorization(
            seller,
            await make.service(partner),
            shopIds=[],
            tiktokAccountIds=[first["_id"], second["_id"]],
        )
        as_seller = token_of(seller)
        await race(
            gql(UNLINK, {"id": first["_id"]}, as_=as_seller),
            gql(UNLINK, {"id": second["_id"]}, as_=as_seller),
        )
        await _assert_no_active_authorization_covers_an_unlinked_account(store, seller)


async def _assert_no_active_authorization_covers_an_unlinked_account(
    store: DocumentStore, seller: Mapping[str, Any]
) -> None:
    linked = {
        account["_id"]
        for account in await store.find(
            c.TIKTOK_ACCOUNTS, {"sellerId": seller["_id"], "linkedStatus": LinkedStatus.LINKED}
        )
    }
    for authorization in await store.find(
        c.AUTHORIZATIONS, {"sellerId": seller["_id"], "status": AuthorizationStatus.ACTIVE}
    ):
        # Unlinking ends every authorization that covered the account (SPEC §5).
        assert set(authorization["tiktokAccountIds"]) <= linked, authorization
        assert authorization["shopIds"] or authorization["tiktokAccountIds"], authorization


async def test_withdrawing_and_accepting_an_offer(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    for _ in range(ROUNDS):
        partner = await make.partner()
        offer = await make.offer(partner, [await make.service(partner)])
        seller = await make.seller(market=Market.ID)
        accepted, withdrawn = await race(
            gql(ACCEPT_OFFER, {"token": offer["linkToken"]}, as_=token_of(seller)),
            gql(WITHDRAW_OFFER, {"id": offer["_id"]}, as_=token_of(partner)),
        )
        accept_ok = not _payload(accepted)["userErrors"]
        withdraw_ok = not _payload(withdrawn)["userErrors"]
        assert accept_ok != withdraw_ok, (accepted, withdrawn)
        stored = (await store.get_many(c.SERVICE_OFFERS, [offer["_id"]]))[offer["_id"]]
        authorizations = await store.count(c.AUTHORIZATIONS, {"offerId": offer["_id"]})
        if accept_ok:
            assert (stored["status"], authorizations) == ("ACCEPTED", 1)
        else:
            assert (stored["status"], authorizations) == ("WITHDRAWN", 0)


async def test_sellers_accepting_one_offer_at_once(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    for _ in range(ROUNDS):
        partner = await make.partner()
        offer = await make.offer(partner, [await make.service(partner)])
        sellers = [await make.seller(market=Market.ID) for _ in range(3)]
        results = await race(
            *(
                gql(
                    ACCEPT_OFFER,
                    {"token": offer["linkToken"]},
                    as_=token_of(seller),
                )
                for seller in sellers
            )
        )
        payloads = [_payload(r) for r in results]
        assert sum(1 for p in payloads if not p["userErrors"]) == 1
        assert {p["userErrors"][0]["code"] for p in payloads if p["userErrors"]} == {
            "OFFER_ALREADY_ACCEPTED"
        }
        assert await store.count(c.AUTHORIZATIONS, {"offerId": offer["_id"]}) == 1
        assert await store.count(c.OFFER_ACCEPTANCES, {"offerId": offer["_id"]}) == 1
