"""Parse the service category catalog out of seeds 003 and 004.

This is the generator of ``datastore/data/service_categories.json`` and lives with the tests
on purpose: the shipped JSON is the product, and the tests re-run this parser to prove the JSON
still says exactly what the seeds say. Regenerate the JSON with::

    python -m tests.catalog_seed

Seeds are read from ``$TSP_SEEDS_DIR`` or, by default, ``<repo>/../shared/seeds``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TypedDict

from datastore.enums import EU_MARKETS, REGION_MARKETS, SEA_MARKETS, Market, PartnerType, Region

SEED_003 = "003_9980061086ee94c0.txt"
SEED_004 = "004_7ea11ef86dbbbde9.txt"
SEEDS_DIR_ENV = "TSP_SEEDS_DIR"

REPO_ROOT = Path(__file__).resolve().parents[1]
JSON_PATH = REPO_ROOT / "datastore" / "data" / "service_categories.json"

# Seed 003 has one table per partner programme, each under its own heading.
TABLES: dict[str, PartnerType] = {
    "TSP": PartnerType.TSP,
    "MCN/CAP": PartnerType.MCN_CAP,
    "Affiliate Partner": PartnerType.AFFILIATE_PARTNER,
}

REGION_NAMES: dict[str, Region] = {
    "United States": Region.US,
    "China & Hong Kong": Region.CN_HK,
    "United Kingdom": Region.UK,
    "EU": Region.EU,
    "SEA": Region.SEA,
    "Japan": Region.JP,
    "Mexico": Region.MX,
    "Brazil": Region.BR,
}

# The names the seed uses for a market or a group of markets in the target market column.
MARKET_GROUPS: dict[str, tuple[Market, ...]] = {
    "United States": (Market.US,),
    "US": (Market.US,),
    "United Kingdom": (Market.GB,),
    "UK": (Market.GB,),
    "EU": EU_MARKETS,
    "SEA": SEA_MARKETS,
    "Japan": (Market.JP,),
    "Mexico": (Market.MX,),
    "Brazil": (Market.BR,),
}

COUNTRY_NAMES: dict[str, Market] = {
    "Germany": Market.DE,
    "Italy": Market.IT,
    "France": Market.FR,
    "Spain": Market.ES,
    "Ireland": Market.IE,
    "Indonesia": Market.ID,
    "Malaysia": Market.MY,
    "Vietnam": Market.VN,
    "Thailand": Market.TH,
    "Philippines": Market.PH,
    "Singapore": Market.SG,
}

EXPECTED_HEADER = ("registration region", None, "main category", "service category", "definition")

_ROWSPAN = re.compile(r"<!--\s*rowSpan:(\d+)\s*-->")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_HEADING = re.compile(r"^#\s+(.*?)\s*$")
_GROUP_WITH_COUNTRIES = re.compile(r"(.+?) \((.+)\)")


class SeedError(ValueError):
    """The seed does not have the shape the parser relies on."""


class CatalogRow(TypedDict):
    """One catalog row exactly as it is stored in the shipped JSON."""

    id: str
    partnerType: str
    registrationRegion: str
    targetMarkets: list[str]
    mainCategory: str
    name: str
    definition: str
    source: str


def seeds_dir() -> Path:
    """Return the directory holding the seed documents."""
    override = os.environ.get(SEEDS_DIR_ENV)
    if override:
        return Path(override)
    return REPO_ROOT.parent / "shared" / "seeds"


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as cp1252, e.g. a right single quote shown as ``â€™``.

    Each run of non-ASCII characters is re-encoded to the bytes it was misread from and
    decoded as UTF-8; a run that does not round-trip is genuine text and is left alone.
    """

    def repair(match: re.Match[str]) -> str:
        run = match.group()
        raw = bytearray()
        for char in run:
            try:
                raw += char.encode("cp1252")
            except UnicodeEncodeError:
                # cp1252 leaves five bytes undefined; decoders pass them through as C1 controls.
                if ord(char) > 0xFF:
                    return run
                raw.append(ord(char))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return run

    return _NON_ASCII_RUN.sub(repair, text)


def category_id(partner_type: PartnerType, region: Region, main_category: str, name: str) -> str:
    """Derive the stable id of a catalog row from the fields that identify it."""
    key = "|".join((partner_type.value, region.value, main_category, name))
    return "scat_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def _cell(raw: str) -> tuple[list[str], int]:
    """Split a raw cell into its cleaned lines and its rowSpan (1 when it has none)."""
    spans = _ROWSPAN.findall(raw)
    if len(spans) > 1:
        raise SeedError(f"cell has several rowSpan markers: {raw!r}")
    span = int(spans[0]) if spans else 1
    lines = (" ".join(part.split()) for part in _BR.split(_ROWSPAN.sub("", raw)))
    return [fix_mojibake(line) for line in lines if line], span


def _split_row(line: str) -> list[str]:
    body = line.strip()
    if not (body.startswith("|") and body.endswith("|")):
        raise SeedError(f"not a table row: {line!r}")
    return body[1:-1].split("|")


def _region(lines: list[str]) -> Region:
    label = " ".join(lines)
    grouped = _GROUP_WITH_COUNTRIES.fullmatch(label)
    head = grouped.group(1) if grouped else label
    if head not in REGION_NAMES:
        raise SeedError(f"unknown registration region: {label!r}")
    region = REGION_NAMES[head]
    if grouped and _countries(grouped.group(2)) != REGION_MARKETS[region]:
        raise SeedError(f"region {label!r} lists other countries than {region.value}")
    return region


def _countries(names: str) -> tuple[Market, ...]:
    try:
        return tuple(COUNTRY_NAMES[name] for name in names.split())
    except KeyError as exc:
        raise SeedError(f"unknown country {exc.args[0]!r}") from None


def _markets(lines: list[str]) -> tuple[Market, ...]:
    label = " ".join(lines)
    grouped = _GROUP_WITH_COUNTRIES.fullmatch(label)
    if grouped:
        group = MARKET_GROUPS.get(grouped.group(1))
        if group is None or _countries(grouped.group(2)) != group:
            raise SeedError(f"target market {label!r} does not match its country list")
        return group
    if label in MARKET_GROUPS:
        return MARKET_GROUPS[label]
    # Otherwise one market group per line, e.g. "SEA <br> UK <br> US".
    markets: list[Market] = []
    for line in lines:
        if line not in MARKET_GROUPS:
            raise SeedError(f"unknown target market {line!r} in {label!r}")
        markets.extend(MARKET_GROUPS[line])
    return tuple(markets)


def _check_header(heading: str, header: list[str], separator: list[str]) -> None:
    names = [" ".join(_cell(cell)[0]).replace("**", "").strip().lower() for cell in header]
    if len(names) != len(EXPECTED_HEADER) or any(
        want is not None and got != want for got, want in zip(names, EXPECTED_HEADER, strict=True)
    ):
        raise SeedError(f"table {heading!r} has unexpected columns: {names}")
    if len(separator) != len(header) or any(set(c.strip()) - {"-", ":"} for c in separator):
        raise SeedError(f"table {heading!r} lacks a header separator row")


def _table_rows(heading: str, lines: list[str]) -> list[CatalogRow]:
    if len(lines) < 3:
        raise SeedError(f"table {heading!r} has no rows")
    header = _split_row(lines[0])
    _check_header(heading, header, _split_row(lines[1]))
    partner_type = TABLES[heading]
    width = len(header)
    # Per column: the value an empty cell inherits, and how many more rows may inherit it.
    carried: list[tuple[list[str], int]] = [([], 0)] * width
    rows: list[CatalogRow] = []
    for number, line in enumerate(lines[2:], start=1):
        raw_cells = _split_row(line)
        if len(raw_cells) != width:
            raise SeedError(f"{heading} row {number}: {len(raw_cells)} cells, want {width}")
        values: list[list[str]] = []
        for column, raw in enumerate(raw_cells):
            lines_in_cell, span = _cell(raw)
            value, remaining = carried[column]
            if lines_in_cell:
                if remaining:
                    raise SeedError(f"{heading} row {number} col {column}: cuts a rowSpan short")
                carried[column] = (lines_in_cell, span - 1)
                values.append(lines_in_cell)
            else:
                if not remaining or span != 1:
                    raise SeedError(f"{heading} row {number} col {column}: empty, no rowSpan")
                carried[column] = (value, remaining - 1)
                values.append(value)
        region_cell, market_cell, main_cell, name_cell, definition_cell = values
        region = _region(region_cell)
        main_category = " ".join(main_cell)
        name = " ".join(name_cell)
        rows.append(
            CatalogRow(
                id=category_id(partner_type, region, main_category, name),
                partnerType=partner_type.value,
                registrationRegion=region.value,
                targetMarkets=[market.value for market in _markets(market_cell)],
                mainCategory=main_category,
                name=name,
                definition="\n".join(definition_cell),
                source="003",
            )
        )
    if any(remaining for _, remaining in carried):
        raise SeedError(f"table {heading!r} ends inside a rowSpan")
    return rows


def parse_seed_003(text: str) -> dict[str, list[CatalogRow]]:
    """Parse seed 003 into its tables, keyed by heading ("TSP", "MCN/CAP", ...), in seed order."""
    table_lines: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            current = heading.group(1)
            if current not in TABLES:
                raise SeedError(f"unexpected heading {current!r}")
            if current in table_lines:
                raise SeedError(f"heading {current!r} appears twice")
            table_lines[current] = []
        elif line.lstrip().startswith("|"):
            if current is None:
                raise SeedError("table row before any heading")
            table_lines[current].append(line)
    if set(table_lines) != set(TABLES):
        raise SeedError(f"tables found: {sorted(table_lines)}, want {sorted(TABLES)}")
    return {heading: _table_rows(heading, lines) for heading, lines in table_lines.items()}


def parse_seed_004(text: str) -> CatalogRow:
    """Build the Shop Registration row for US TSPs that seed 004 describes and 003 lacks."""
    # Seed 004 walks a US-registered partner through applying for this exact combination;
    # fail loudly if the guide stops saying so rather than ship a row it no longer supports.
    required = (
        r"Registration region & Company registration region: Confirm as “United States”",
        r"Target market: Select “United States”",
        r"choose \"Outsourced Operations?\", then check \"Shop registration\"",
        r"choose Outsourced Operation, then select \"Shop registration\"",
    )
    for pattern in required:
        if not re.search(pattern, text, re.IGNORECASE):
            raise SeedError(f"seed 004 no longer says: {pattern}")
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "# **Introduction**")
    except StopIteration:
        raise SeedError("seed 004 has no Introduction") from None
    definition = next((line.strip() for line in lines[start + 1 :] if line.strip()), "")
    if not definition or definition.startswith("#"):
        raise SeedError("seed 004 Introduction is empty")
    # Seed 003 names the US main category "Outsourced Operation" (seed 004 uses both forms).
    partner_type, region, main_category, name = (
        PartnerType.TSP,
        Region.US,
        "Outsourced Operation",
        "Shop Registration",
    )
    return CatalogRow(
        id=category_id(partner_type, region, main_category, name),
        partnerType=partner_type.value,
        registrationRegion=region.value,
        targetMarkets=[Market.US.value],
        mainCategory=main_category,
        name=name,
        definition=fix_mojibake(definition),
        source="004",
    )


def build_rows(directory: Path | None = None) -> list[CatalogRow]:
    """Return every catalog row: seed 003 in seed order, then the row from seed 004."""
    directory = directory or seeds_dir()
    tables = parse_seed_003((directory / SEED_003).read_text(encoding="utf-8"))
    rows = [row for table in tables.values() for row in table]
    rows.append(parse_seed_004((directory / SEED_004).read_text(encoding="utf-8")))
    return rows


def render_json(rows: list[CatalogRow]) -> str:
    """Serialise rows exactly as the shipped file is written."""
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Regenerate ``datastore/data/service_categories.json`` from the seeds."""
    rows = build_rows()
    JSON_PATH.parent.mkdir(parents=True, exist_ok=True)
    JSON_PATH.write_text(render_json(rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {JSON_PATH.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
