"""The tsp-gateway command line: token, seed and export-schema."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from cli import main
from datastore import collections as c
from datastore.enums import PartnerType, Region
from datastore.sqlite import SQLiteStore
from resolvers.identity import Role, viewer_from_authorization

SECRET = "cli-secret-" + "z" * 40


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    database = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("TSP_JWT_SECRET", SECRET)
    monkeypatch.setenv("TSP_DATABASE_URL", f"sqlite:///{database}")
    return database


def test_token_prints_a_token_the_gateway_accepts(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--role", "partner", "--id", "ptn_01abcdefabcdefabcdefabcdef"]) == 0
    printed = capsys.readouterr().out.strip()
    viewer = viewer_from_authorization(SECRET, f"Bearer {printed}")
    assert viewer.role is Role.PARTNER
    assert viewer.partner_id == "ptn_01abcdefabcdefabcdefabcdef"
    assert main(["token", "--role", "seller"]) == 2


def test_commands_refuse_bad_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Away from a checkout's var/jwt-secret, which would stand in for the missing secret.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSP_JWT_SECRET", SECRET)
    monkeypatch.setenv("TSP_DATABASE_URL", "mysql://nope")
    assert main(["token", "--role", "admin"]) == 2
    assert "unsupported database URL" in capsys.readouterr().err
    monkeypatch.delenv("TSP_JWT_SECRET")
    assert main(["token", "--role", "admin"]) == 2
    assert "TSP_JWT_SECRET" in capsys.readouterr().err


def test_without_a_secret_the_cli_uses_the_development_one_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TSP_JWT_SECRET", raising=False)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "jwt-secret").write_text(SECRET + "\n")
    assert main(["token", "--role", "admin"]) == 0
    printed = capsys.readouterr()
    assert "using the development secret in var/jwt-secret" in printed.err
    viewer = viewer_from_authorization(SECRET, f"Bearer {printed.out.strip()}")
    assert viewer.role is Role.ADMIN


def test_export_schema_writes_sdl(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    assert main(["export-schema", "--output", str(target)]) == 0
    sdl = target.read_text()
    assert "interface Node" in sdl
    assert "serviceCategories(" in sdl


def test_seed_demo_once_then_only_if_empty(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed", "--demo", "--if-empty"]) == 0
    first = capsys.readouterr().out
    assert "Demo data seeded" in first
    # The page a newcomer opens, not a mutation's argument.
    assert re.search(r"http://127\.0\.0\.1:8000/authorize/[\w-]{20,}\s", first), first
    assert all(role in first for role in ("partner", "seller", "admin"))
    assert main(["seed", "--demo", "--if-empty"]) == 0
    assert "nothing seeded" in capsys.readouterr().out
    kinds = asyncio.run(_referral_kinds(env))
    assert kinds and set(kinds.values()) == {("CROSS_BORDER", "LOCAL")}


async def _referral_kinds(database: Path) -> dict[str, tuple[str, ...]]:
    store = SQLiteStore(database)
    await store.connect()
    try:
        links = await store.find(c.REFERRAL_LINKS)
    finally:
        await store.close()
    kinds: dict[str, list[str]] = {}
    for link in links:
        kinds.setdefault(link["serviceId"], []).append(link["kind"])
    return {service: tuple(sorted(found)) for service, found in kinds.items()}


async def test_demo_data_covers_every_type_region_and_state(env: Path) -> None:
    from datastore.collections import INDEXES
    from resolvers.demo_seed import seed_demo

    store = SQLiteStore(env)
    await store.connect()
    await store.ensure_indexes(INDEXES)
    try:
        subjects = await seed_demo(store, only_if_empty=True)
        assert subjects is not None
        partners = await store.find(c.PARTNERS)
        assert {p["type"] for p in partners} == {t.value for t in PartnerType}
        assert {p["registrationRegion"] for p in partners} == {r.value for r in Region}
        services = await store.find(c.SERVICES)
        assert {(s["type"], s["status"]) for s in services} >= {
            ("PUBLIC", "LIVE"),
            ("CUSTOM", "LIVE"),
            ("PUBLIC", "DRAFT"),
        }
        listed = {s["_id"] for s in services if s["type"] == "PUBLIC" and s["status"] == "LIVE"}
        assert {s["_id"] for s in await store.find(c.SERVICES, {"listed": True})} == listed
        approved = await store.find(c.CATEGORY_APPLICATIONS, {"status": "APPROVED"})
        assert {s["categoryId"] for s in services} <= {a["categoryId"] for a in approved}
        sellers = await store.find(c.SELLERS)
        assert any(not s["hasShopAccount"] for s in sellers)
        assert any(s["kind"] == "CROSS_BORDER" for s in sellers)
        assert await store.count(c.TIKTOK_ACCOUNTS) == len(sellers)
        assert await seed_demo(store, only_if_empty=True) is None
        # `seed --demo` (the CLI) passes the publish hook: live Shop Registration services of
        # the demo get their two referral links.
    finally:
        await store.close()


def test_sweep_command_completes_expired_authorizations(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_insert_expired_authorization(env))
    assert main(["sweep"]) == 0
    assert "Completed 1 expired authorizations." in capsys.readouterr().out
    assert main(["sweep"]) == 0
    assert "Completed 0 expired authorizations." in capsys.readouterr().out


async def _insert_expired_authorization(database: Path) -> None:
    from datetime import timedelta

    from datastore.codec import utc_now
    from datastore.collections import INDEXES

    store = SQLiteStore(database)
    await store.connect()
    await store.ensure_indexes(INDEXES)
    now = utc_now()
    try:
        await store.insert(
            c.AUTHORIZATIONS,
            {
                "_id": "aut_01expiredexpiredexpired0",
                "sellerId": "slr_x",
                "partnerId": "ptn_x",
                "serviceId": "svc_x",
                "status": "ACTIVE",
                "statusReason": "AUTHORIZED",
                "activeKey": "slr_x|svc_x",
                "startsAt": now - timedelta(days=30),
                "endsAt": now - timedelta(seconds=1),
                "createdAt": now,
                "updatedAt": now,
            },
        )
    finally:
        await store.close()
