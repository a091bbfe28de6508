"""The partner dashboard's answer written by hand from documents already read: the floor both
``bench.execution`` (in process) and ``bench.dashboard_floor`` (over HTTP) compare the gateway
with. The same bytes the gateway answers, built with plain dict and list displays."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from resolvers.authorization_rules import effective_status, grants_access
from resolvers.offer_dates import last_day
from resolvers.offers import effective_offer_status

Rows = Mapping[str, Sequence[Any]]


def dashboard(
    partner: Any,
    offers: Sequence[Any],
    granted: Rows,
    history: Rows,
    documents: Mapping[str, Mapping[str, Any]],
    category_name: Callable[[str], str],
    now: datetime,
) -> dict[str, Any]:
    """The answer for ``partner`` and its ``offers``; ``granted`` and ``history`` are an offer's
    authorizations and an authorization's entries, ``documents`` the sellers, shops, TikTok
    accounts and services by id (keyed ``"sellers"``, ``"shops"``, ``"accounts"``,
    ``"services"``)."""
    sellers, shops = documents["sellers"], documents["shops"]
    accounts, services = documents["accounts"], documents["services"]

    def authorization(row: Any) -> dict[str, Any]:
        return {
            "id": row["_id"],
            "status": effective_status(row, now).value,
            "grantsAccess": grants_access(row, partner, now),
            "endDate": last_day(row["endsAt"]).isoformat(),
            "seller": {"name": sellers[row["sellerId"]]["name"]},
            "shops": [{"name": shops[i]["name"]} for i in row["shopIds"]],
            "tiktokAccounts": [
                {"handle": account["handle"], "linkedStatus": account["linkedStatus"]}
                for account in (accounts[i] for i in row["tiktokAccountIds"])
            ],
            "service": {"name": services[row["serviceId"]]["name"]},
            "history": {"edges": [
                {"node": {
                    "action": entry["action"],
                    "reasonCode": entry.get("reasonCode"),
                    "createdAt": entry["createdAt"].isoformat(),
                }}
                for entry in history.get(row["_id"], ())
            ]},
        }  # fmt: skip

    return {"viewer": {"partner": {
        "name": partner["name"],
        "serviceOffers": {"edges": [
            {"node": {
                "id": offer["_id"],
                "status": effective_offer_status(offer, now).value,
                "services": [
                    {"name": services[i]["name"],
                     "category": {"name": category_name(services[i]["categoryId"])}}
                    for i in offer["serviceIds"]
                ],
                "authorizations": {"edges": [
                    {"node": authorization(row)} for row in granted.get(offer["_id"], ())
                ]},
            }}
            for offer in offers
        ]},
    }}}  # fmt: skip
