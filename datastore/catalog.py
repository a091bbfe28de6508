"""The service category catalog (seeds 003 and 004), shipped as read-only data.

The rows live in ``datastore/data/service_categories.json``, generated from the seeds by
``tests/catalog_seed.py``; the tests re-parse the seeds so the file cannot drift from them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from datastore.enums import Market, PartnerType, Region

DATA_PACKAGE = "datastore"
DATA_DIR = "data"
DATA_FILE = "service_categories.json"

SHOP_REGISTRATION = "Shop Registration"


@dataclass(frozen=True, slots=True)
class ServiceCategory:
    """One catalog row: a service category a partner of a type and region may offer."""

    id: str
    partner_type: PartnerType
    registration_region: Region
    target_markets: tuple[Market, ...]
    main_category: str
    name: str
    definition: str
    source: str

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ServiceCategory:
        """Build a row from its JSON object (camelCase keys), rejecting malformed values."""
        markets = raw["targetMarkets"]
        if not isinstance(markets, list) or not markets:
            raise ValueError(f"targetMarkets must be a non-empty list: {markets!r}")
        return cls(
            id=_text(raw, "id"),
            partner_type=PartnerType(raw["partnerType"]),
            registration_region=Region(raw["registrationRegion"]),
            target_markets=tuple(Market(market) for market in markets),
            main_category=_text(raw, "mainCategory"),
            name=_text(raw, "name"),
            definition=_text(raw, "definition"),
            source=_text(raw, "source"),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the row as its JSON object, the inverse of :meth:`from_json`."""
        return {
            "id": self.id,
            "partnerType": self.partner_type.value,
            "registrationRegion": self.registration_region.value,
            "targetMarkets": [market.value for market in self.target_markets],
            "mainCategory": self.main_category,
            "name": self.name,
            "definition": self.definition,
            "source": self.source,
        }


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string: {value!r}")
    return value


class Catalog:
    """An immutable, in-memory view of the catalog rows, in seed order."""

    def __init__(self, categories: Iterable[ServiceCategory]) -> None:
        """Index ``categories``; raises ``ValueError`` on a duplicate id."""
        self._categories = tuple(categories)
        self._by_id: dict[str, ServiceCategory] = {}
        for category in self._categories:
            if category.id in self._by_id:
                raise ValueError(f"duplicate service category id {category.id!r}")
            self._by_id[category.id] = category

    @classmethod
    def load(cls) -> Catalog:
        """Read the catalog shipped with the package."""
        text = (resources.files(DATA_PACKAGE) / DATA_DIR / DATA_FILE).read_text(encoding="utf-8")
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise ValueError("service_categories.json must hold a JSON array")
        return cls(ServiceCategory.from_json(row) for row in rows)

    def all(self) -> list[ServiceCategory]:
        """Return every row, in seed order."""
        return list(self._categories)

    def get(self, id: str) -> ServiceCategory | None:
        """Return the row with this id, or ``None`` if there is none."""
        return self._by_id.get(id)

    def get_many(self, ids: Iterable[str]) -> list[ServiceCategory | None]:
        """Return the row for each id, in the same order, ``None`` for unknown ids.

        The shape matches what a DataLoader batch function must return.
        """
        return [self._by_id.get(category_id) for category_id in ids]

    def find(
        self,
        partner_type: PartnerType | None = None,
        registration_region: Region | None = None,
        target_market: Market | None = None,
    ) -> list[ServiceCategory]:
        """Return rows matching every filter given; ``None`` leaves that field unfiltered.

        ``target_market`` keeps rows that list it among their target markets.
        """
        # Coerce so raw strings from callers compare by value rather than by enum identity.
        kind = None if partner_type is None else PartnerType(partner_type)
        region = None if registration_region is None else Region(registration_region)
        market = None if target_market is None else Market(target_market)
        return [
            category
            for category in self._categories
            if (kind is None or category.partner_type is kind)
            and (region is None or category.registration_region is region)
            and (market is None or market in category.target_markets)
        ]

    def eligible_for(
        self,
        partner_type: PartnerType,
        registration_region: Region,
        target_markets: Iterable[Market],
    ) -> list[ServiceCategory]:
        """Return the rows a partner may apply for (SPEC §2).

        That is the rows of its type and registration region that target at least one of
        ``target_markets``; an empty ``target_markets`` yields no rows.
        """
        kind = PartnerType(partner_type)
        region = Region(registration_region)
        markets = {Market(market) for market in target_markets}
        return [
            category
            for category in self._categories
            if category.partner_type is kind
            and category.registration_region is region
            and not markets.isdisjoint(category.target_markets)
        ]

    @staticmethod
    def is_shop_registration(category: ServiceCategory) -> bool:
        """Tell whether services of this category get seller referral links (seed 004)."""
        return category.name.casefold() == SHOP_REGISTRATION.casefold()


@functools.cache
def get_catalog() -> Catalog:
    """Return the shipped catalog, read from disk on first use only."""
    return Catalog.load()
