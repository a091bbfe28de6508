"""Example operations GraphiQL opens with, one tab per task of each role: what a partner's
dashboard, a store search, an offer link and a renewal look like over the API.

Each is checked against the schema by ``tests/test_graphiql.py``, so they cannot rot."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Example:
    """One GraphiQL tab: an operation, its variables, and the demo role it runs as (``None``:
    anonymous)."""

    role: str | None
    query: str
    variables: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The first operation's name (GraphiQL titles the tab with it)."""
        found = re.search(r"^(?:query|mutation|subscription) (\w+)", self.query, re.MULTILINE)
        assert found is not None, self.query
        return found.group(1)


EXAMPLES: tuple[Example, ...] = (
    Example(
        "partner",
        """# Partner dashboard: your services, open offers (with the
# link to share), what ends soon and your inbox.
query PartnerDashboard {
  viewer {
    partner {
      name
      services(first: 5) {
        totalCount
        nodes { id name type status }
      }
      serviceOffers(first: 5, status: [OPEN]) {
        nodes { id canBeAccepted endDate linkToken }
      }
      authorizations(expiringWithinDays: 30, first: 5) {
        totalCount
        nodes { id daysRemaining seller { name } }
      }
      requests(first: 5, status: [PARTNER_REVIEWING]) {
        totalCount
        nodes { id contact { subject } }
      }
    }
  }
}
""",
    ),
    Example(
        None,
        """# The App & Service Store: anyone may search it.
query StoreSearch($query: String) {
  store(query: $query, first: 5) {
    totalCount
    nodes { id name market pricing partner { name } }
    pageInfo { hasNextPage endCursor }
  }
}
""",
        {"query": "shop management"},
    ),
    Example(
        "seller",
        """# Open an offer link: paste a linkToken from the
# PartnerDashboard tab. Anyone holding the link reads it.
query OpenOfferLink($token: String!) {
  serviceOfferByLink(token: $token) {
    status
    canBeAccepted
    startDate
    endDate
    partner { name }
    services { name }
    settings {
      authorizeObject
      ticketAuthorization
      tspAccess
      dataCompassAccess
    }
  }
}
""",
        {"token": "paste-a-linkToken"},
    ),
    Example(
        "seller",
        """# Accept the offer in one click, as the demo seller.
# Sent again with the same idempotencyKey, it returns
# the first result; another input with it is refused.
mutation AcceptOffer($token: String!) {
  authorizeServiceOffer(
    token: $token
    input: { idempotencyKey: "demo-accept-1" }
  ) {
    authorizations { id status endDate service { name } }
    userErrors { field message code }
  }
}
""",
        {"token": "paste-a-linkToken"},
    ),
    Example(
        "seller",
        """# Renew an authorization (an id from MyAuthorizations).
# UK/US local and cross-border sellers, like the demo
# seller, get REGION_RESTRICTED: they renew by accepting
# the partner's renewal offer (the AcceptOffer tab).
query MyAuthorizations {
  viewer {
    seller {
      authorizations(first: 5, sortKey: ENDS_AT) {
        nodes { id endDate daysRemaining }
      }
    }
  }
}

mutation Renew($id: ID!) {
  renewAuthorization(
    id: $id
    period: THREE_MONTHS
    idempotencyKey: "demo-renew-1"
  ) {
    authorization { id endDate daysRemaining }
    userErrors { field message code }
  }
}
""",
        {"id": "paste-an-Authorization-id"},
    ),
    Example(
        "partner",
        """# Live events (runs over a WebSocket): your authorizations and requests as they change.
# Run it, then in another tab accept the offer as the seller, and watch the event arrive.
# Pass the last cursor as "after" to resume where you stopped.
subscription PartnerEvents {
  events {
    type cursor occurredAt changes
    ... on AuthorizationEvent { authorization { id status endDate } }
    ... on ServiceOfferEvent { offer { id status } }
    ... on SellerRequestEvent { request { id status } }
  }
}
""",
    ),
    Example(
        "admin",
        """# Admins: every partner.
query AdminPartners {
  partners(first: 10) {
    totalCount
    nodes { id name type registrationRegion status }
  }
}
""",
    ),
)


def default_tabs(demo_tokens: Mapping[str, str] | None) -> list[dict[str, str]]:
    """GraphiQL's ``defaultTabs``: each example, with its role's demo token in the headers
    when the demo runs."""
    tabs = []
    for example in EXAMPLES:
        tab = {"query": example.query}
        if example.variables:
            tab["variables"] = json.dumps(example.variables, indent=2)
        token = (demo_tokens or {}).get(example.role or "")
        if token:
            tab["headers"] = json.dumps({"Authorization": f"Bearer {token}"}, indent=2)
        tabs.append(tab)
    return tabs
