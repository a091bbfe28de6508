"""A served gateway prepared for the client tests: an admin, partners each with one event in
their feed (a category application approved), and fresh partner ids for registration
mutations. The Node suite (tests/clients/) and the Python ``gql`` tests read the same shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from datastore.catalog import get_catalog
from datastore.enums import PartnerType, Region
from datastore.ids import new_id
from resolvers.identity import Role, issue_token
from tests.servers import SECRET, Gateway

SUBSCRIBERS = (
    "urql-sse",
    "urql-sse-query-accept",
    "urql-graphql-sse",
    "apollo-ws",
    "graphql-ws",
    "graphql-sse",
    "gql-ws",
    "gql-ws-header",
)
"""One partner per subscribing client, so each feed holds exactly that partner's event."""
REGISTRANTS = ("urql", "apollo", "gql-httpx")
"""Partner ids not registered yet, one per client that registers itself by a mutation."""

REGISTER = """mutation Register($input: RegisterPartnerInput!) {
  registerPartner(input: $input) { partner { id name status } userErrors { code } } }"""
APPLY = """mutation Apply($input: ApplyForServiceCategoryInput!) {
  applyForServiceCategory(input: $input) { categoryApplication { id } userErrors { code } } }"""
REVIEW = """mutation Review($input: ReviewCategoryApplicationInput!) {
  reviewCategoryApplication(input: $input) { categoryApplication { status } userErrors { code } }
}"""


@dataclass
class Prepared:
    """What a client test needs to know of the gateway it calls."""

    url: str
    admin: str
    subscribers: dict[str, dict[str, str]] = field(default_factory=dict)
    registrants: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "admin": self.admin,
            "subscribers": self.subscribers,
            "registrants": self.registrants,
        }


def registration(name: str) -> dict[str, Any]:
    """A partner registration form (the UK, selling in GB)."""
    return {
        "name": name,
        "type": "TSP",
        "registrationRegion": "UK",
        "targetMarkets": ["GB"],
        "contactEmail": "clients@example.com",
    }


def prepare(gateway: Gateway) -> Prepared:
    admin = _token(Role.ADMIN, "admin")
    prepared = Prepared(gateway.url, admin)
    category = next(
        r.id
        for r in get_catalog().find(PartnerType.TSP, Region.UK)
        if r.name == "Shop Registration"
    )
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        for name in SUBSCRIBERS:
            partner_id = new_id("ptn")
            bearer = _token(Role.PARTNER, partner_id)
            _run(http, bearer, REGISTER, {"input": registration(f"Subscriber {name}")})
            applied = _run(http, bearer, APPLY, {"input": {"categoryId": category, "market": "GB"}})
            application = applied["applyForServiceCategory"]["categoryApplication"]["id"]
            _run(http, admin, REVIEW, {"input": {"id": application, "decision": "APPROVE"}})
            prepared.subscribers[name] = {
                "id": partner_id,
                "token": bearer,
                "applicationId": application,
            }
    for name in REGISTRANTS:
        partner_id = new_id("ptn")
        prepared.registrants[name] = {"id": partner_id, "token": _token(Role.PARTNER, partner_id)}
    return prepared


def _token(role: Role, subject: str) -> str:
    return issue_token(SECRET, role, subject, timedelta(hours=1))


def _run(http: httpx.Client, bearer: str, query: str, variables: dict[str, Any]) -> Any:
    response = http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    body = response.json()
    assert "errors" not in body, body
    payload = next(iter(body["data"].values()))
    assert payload["userErrors"] == [], body
    return body["data"]
