"""The shipped service category catalog against seeds 003 and 004, and its query API."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from datastore.catalog import Catalog, ServiceCategory, get_catalog
from datastore.enums import EU_MARKETS, REGION_MARKETS, SEA_MARKETS, Market, PartnerType, Region
from tests.catalog_seed import (
    JSON_PATH,
    SEED_003,
    SEED_004,
    CatalogRow,
    SeedError,
    build_rows,
    category_id,
    fix_mojibake,
    parse_seed_003,
    render_json,
    seeds_dir,
)

CN_HK_MARKETS = (*SEA_MARKETS, Market.GB, Market.US)
MOJIBAKE = ("â€", "Ã", "Â", "ðŸ")
RSQUO = "\u2019"  # spelled out: ruff flags the literal as ambiguous


@pytest.fixture(scope="module")
def seeds() -> Path:
    directory = seeds_dir()
    if not (directory / SEED_003).is_file() or not (directory / SEED_004).is_file():
        pytest.skip(f"seeds not found in {directory} (set TSP_SEEDS_DIR)")
    return directory


@pytest.fixture(scope="module")
def seed_tables(seeds: Path) -> dict[str, list[CatalogRow]]:
    return parse_seed_003((seeds / SEED_003).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def seed_rows(seeds: Path) -> list[CatalogRow]:
    return build_rows(seeds)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return get_catalog()


def by_key(catalog: Catalog, region: Region, main_category: str, name: str) -> ServiceCategory:
    found = [
        c
        for c in catalog.find(registration_region=region)
        if (c.main_category, c.name) == (main_category, name)
    ]
    assert len(found) == 1, found
    return found[0]


# --- the shipped JSON is exactly what the seeds say ------------------------------------------


def test_table_row_counts(seed_tables: dict[str, list[CatalogRow]]) -> None:
    assert {heading: len(rows) for heading, rows in seed_tables.items()} == {
        "TSP": 52,
        "MCN/CAP": 8,
        "Affiliate Partner": 8,
    }
    assert Counter(row["registrationRegion"] for row in seed_tables["TSP"]) == {
        "US": 4,
        "CN_HK": 7,
        "UK": 8,
        "EU": 6,
        "SEA": 6,
        "JP": 7,
        "MX": 7,
        "BR": 7,
    }
    for heading in ("MCN/CAP", "Affiliate Partner"):
        regions = [row["registrationRegion"] for row in seed_tables[heading]]
        assert regions == [region.value for region in Region]


def test_total_row_count(seed_rows: list[CatalogRow], catalog: Catalog) -> None:
    assert Counter(row["source"] for row in seed_rows) == {"003": 68, "004": 1}
    assert len(seed_rows) == len(catalog.all()) == 69


def test_shipped_rows_equal_seed(seed_rows: list[CatalogRow]) -> None:
    shipped = json.loads(JSON_PATH.read_text(encoding="utf-8"))
    assert len(shipped) == len(seed_rows)
    for shipped_row, seed_row in zip(shipped, seed_rows, strict=True):
        assert shipped_row == seed_row


def test_shipped_file_is_generator_output(seed_rows: list[CatalogRow]) -> None:
    assert JSON_PATH.read_text(encoding="utf-8") == render_json(seed_rows), (
        "regenerate with: python -m tests.catalog_seed"
    )


def test_loaded_catalog_round_trips_json(catalog: Catalog) -> None:
    shipped = json.loads(JSON_PATH.read_text(encoding="utf-8"))
    assert [category.to_json() for category in catalog.all()] == shipped


def test_seed_004_row_is_the_only_addition(seed_rows: list[CatalogRow]) -> None:
    added = [row for row in seed_rows if row["source"] == "004"]
    assert added == [
        {
            "id": "scat_cda85e6fe3",
            "partnerType": "TSP",
            "registrationRegion": "US",
            "targetMarkets": ["US"],
            "mainCategory": "Outsourced Operation",
            "name": "Shop Registration",
            "definition": (
                "The Shop Registration service category empowers TSPs to streamline the process "
                "of referring sellers to TikTok Shop through automated referral link generation "
                "and link management. The service category is open to both Local-to-Local "
                "(operating locally in the U.S.) and Cross-Border (operating outside the U.S.) "
                "partners."
            ),
            "source": "004",
        }
    ]
    assert seed_rows[-1] == added[0]


def test_target_markets_follow_region(catalog: Catalog) -> None:
    for category in catalog.all():
        assert category.target_markets == REGION_MARKETS[category.registration_region]


# --- hand-picked rows ------------------------------------------------------------------------


def test_sample_us_tsp_shop_management(catalog: Catalog) -> None:
    assert catalog.get("scat_4f5e1977a0") == ServiceCategory(
        id="scat_4f5e1977a0",
        partner_type=PartnerType.TSP,
        registration_region=Region.US,
        target_markets=(Market.US,),
        main_category="Outsourced Operation",
        name="Shop Management",
        definition=(
            "Store operation services for sellers include store setup and decoration, product "
            "management and listing, marketing promotion planning, and customer service, aiming "
            "to boost store traffic, sales, and brand influence."
        ),
        source="003",
    )


def test_sample_cn_hk_shop_onboarding(catalog: Catalog) -> None:
    row = by_key(catalog, Region.CN_HK, "Merchant On-boarding", "Shop On-boarding Service")
    assert row.id == "scat_969c38431f"
    assert row.partner_type is PartnerType.TSP
    assert row.target_markets == CN_HK_MARKETS
    assert Market.GB in row.target_markets
    assert row.definition == (
        "You will help potential TikTok cross-border sellers or brands know more about the "
        "platform and assist them on-board to be a seller successfully."
    )
    assert row.source == "003"


def test_sample_eu_shop_registration(catalog: Catalog) -> None:
    row = by_key(catalog, Region.EU, "Shop Management", "Shop Registration")
    assert row.id == "scat_bc8e7872e0"
    assert (
        row.target_markets
        == EU_MARKETS
        == (
            Market.DE,
            Market.IT,
            Market.FR,
            Market.ES,
            Market.IE,
        )
    )
    link = "https://bytedance.sg.larkoffice.com/docx/IFjqdwkvRo53erxOTQRlUVB4gwf"
    assert row.definition == f"Please refer to: [{link}]({link})"


def test_sample_uk_multiline_definition(catalog: Catalog) -> None:
    row = by_key(catalog, Region.UK, "Operation Tutoring", "Operation Tutoring")
    first, second = row.definition.split("\n")
    assert first.startswith("You will need to recruit and train hosts to provide TikTok Shop UK")
    assert second == (
        "You will also help potential TikTok Shop UK sellers or brands know more about the "
        "platform and assist them on-board to be a seller successfully."
    )


def test_sample_mcn_cap_brazil(catalog: Catalog) -> None:
    (row,) = catalog.find(partner_type=PartnerType.MCN_CAP, registration_region=Region.BR)
    assert row == ServiceCategory(
        id="scat_8d7a134d45",
        partner_type=PartnerType.MCN_CAP,
        registration_region=Region.BR,
        target_markets=(Market.BR,),
        main_category="Creator Management",
        name="Creator Management",
        definition=(
            "Provide professional training and more monetization opportunities for TikTok creators."
        ),
        source="003",
    )


def test_sample_affiliate_sea(catalog: Catalog) -> None:
    (row,) = catalog.find(
        partner_type=PartnerType.AFFILIATE_PARTNER, registration_region=Region.SEA
    )
    assert row == ServiceCategory(
        id="scat_6dccd8e91f",
        partner_type=PartnerType.AFFILIATE_PARTNER,
        registration_region=Region.SEA,
        target_markets=SEA_MARKETS,
        main_category="Creator matchmaking",
        name="Creator matchmaking",
        definition=(
            "- Source market products or collaborate with sellers to identify trending/suitable "
            "items and aim for higher commissions for creators, then drive creators to produce "
            "content.\n"
            "- Guide creators on conducting SV with higher CVR to boost GMV, while ensuring "
            "compliance with GNE rules."
        ),
        source="003",
    )


# --- ids and text hygiene --------------------------------------------------------------------


def test_ids_unique_and_derived_from_key(catalog: Catalog) -> None:
    categories = catalog.all()
    assert len({c.id for c in categories}) == len(categories)
    for c in categories:
        assert re.fullmatch(r"scat_[0-9a-f]{10}", c.id)
        assert c.id == category_id(c.partner_type, c.registration_region, c.main_category, c.name)


def test_text_is_clean(catalog: Catalog) -> None:
    for c in catalog.all():
        for text in (c.main_category, c.name, c.definition):
            assert not any(bad in text for bad in MOJIBAKE), text
            assert "<br" not in text and "<!--" not in text and "rowSpan" not in text, text
            for line in text.split("\n"):
                assert line and line == line.strip() and "  " not in line, text
        assert "\n" not in c.main_category and "\n" not in c.name
    live = by_key(catalog, Region.US, "Outsourced Operation", "LIVE Management")
    assert f"through sellers{RSQUO} self-live streams." in live.definition


def test_fix_mojibake() -> None:
    assert fix_mojibake("sellersâ€™ self") == f"sellers{RSQUO} self"
    assert fix_mojibake("ðŸ“Œ pin") == "📌 pin"
    # Text that is already right does not round-trip, so it must be left untouched.
    already_right = f"sellers{RSQUO} café 类目"
    assert fix_mojibake(already_right) == already_right
    assert fix_mojibake("plain") == "plain"


def test_parser_rejects_broken_rowspan() -> None:
    header = (
        "| Registration region | Target Market | Main Category | Service Category | Definition |"
    )
    table = [
        "# TSP",
        header,
        "| --- | --- | --- | --- | --- |",
        "| United States | United States | Outsourced Operation | Shop Management | Def |",
        "|  |  |  | LIVE Management | Def |",
    ]
    rest = ["# MCN/CAP", header, "| --- | --- | --- | --- | --- |", table[3]]
    rest += ["# Affiliate Partner", header, "| --- | --- | --- | --- | --- |", table[3]]
    with pytest.raises(SeedError, match="empty, no rowSpan"):
        parse_seed_003("\n".join(table + rest))


# --- queries ---------------------------------------------------------------------------------


def test_get_and_get_many(catalog: Catalog) -> None:
    first = catalog.all()[0]
    assert catalog.get(first.id) is first
    assert catalog.get("scat_missing") is None
    assert catalog.get_many(["scat_cda85e6fe3", "scat_missing", first.id]) == [
        catalog.get("scat_cda85e6fe3"),
        None,
        first,
    ]
    assert catalog.get_many([]) == []


def test_find_filters(catalog: Catalog) -> None:
    assert catalog.find() == catalog.all()
    assert len(catalog.find(partner_type=PartnerType.TSP)) == 53
    assert len(catalog.find(partner_type=PartnerType.MCN_CAP)) == 8
    assert len(catalog.find(registration_region=Region.US)) == 7
    us_tsp = catalog.find(partner_type=PartnerType.TSP, registration_region=Region.US)
    assert [c.name for c in us_tsp] == [
        "Shop Management",
        "LIVE Management",
        "Short Video Management",
        "Seller affiliate Management",
        "Shop Registration",
    ]
    gb = catalog.find(target_market=Market.GB)
    assert {c.registration_region for c in gb} == {Region.CN_HK, Region.UK}
    assert len(gb) == 7 + 8 + 2 + 2
    assert catalog.find(partner_type=PartnerType.TSP, target_market=Market.DE) == catalog.find(
        partner_type=PartnerType.TSP, registration_region=Region.EU
    )
    assert catalog.find(registration_region=Region.JP, target_market=Market.US) == []


def test_eligible_for(catalog: Catalog) -> None:
    us = catalog.eligible_for(PartnerType.TSP, Region.US, [Market.US])
    assert "Shop Registration" in [c.name for c in us]
    assert len(us) == 5
    cn_hk = catalog.eligible_for(PartnerType.TSP, Region.CN_HK, [Market.GB, Market.JP])
    assert len(cn_hk) == 7
    assert all(c.registration_region is Region.CN_HK for c in cn_hk)
    # A market the region cannot serve, or no market at all, opens nothing.
    assert catalog.eligible_for(PartnerType.TSP, Region.CN_HK, [Market.JP]) == []
    assert catalog.eligible_for(PartnerType.TSP, Region.US, []) == []
    # Eligibility is per registration region, not per market: a UK partner never sees CN_HK rows.
    uk = catalog.eligible_for(PartnerType.AFFILIATE_PARTNER, Region.UK, iter([Market.GB]))
    assert [(c.registration_region, c.name) for c in uk] == [
        (Region.UK, "Seller and Scalable Creator Match-up")
    ]


def test_is_shop_registration(catalog: Catalog) -> None:
    shop_registration = [c for c in catalog.all() if Catalog.is_shop_registration(c)]
    assert [(c.registration_region, c.source) for c in shop_registration] == [
        (Region.UK, "003"),
        (Region.EU, "003"),
        (Region.US, "004"),
    ]
    store = by_key(catalog, Region.UK, "Shop Management", "Store Management")
    assert not catalog.is_shop_registration(store)
    assert catalog.is_shop_registration(dataclasses.replace(store, name="shop REGISTRATION"))


def test_catalog_rejects_duplicate_ids(catalog: Catalog) -> None:
    first = catalog.all()[0]
    with pytest.raises(ValueError, match="duplicate"):
        Catalog([first, first])


def test_rows_are_immutable(catalog: Catalog) -> None:
    row = catalog.all()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.name = "changed"  # type: ignore[misc]
    catalog.all().clear()
    assert len(catalog.all()) == 69


def test_get_catalog_is_cached() -> None:
    assert get_catalog() is get_catalog()
