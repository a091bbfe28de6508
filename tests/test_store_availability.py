"""Store trouble is visible and retryable: locked, full, unreachable or uncreatable stores are
reported as such (``STORE_UNAVAILABLE``, ``/readyz`` 503, a one-line start-up error), never as
an INTERNAL error or a process that hangs; and nothing is half-written."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from graphql import GraphQLError
from pymongo.errors import OperationFailure

from datastore import collections as c
from datastore.codec import utc_now
from datastore.collections import INDEXES
from datastore.connect import DatabaseURLError, store_for_url
from datastore.mongodb import MongoStore
from datastore.sqlite import SQLiteStore
from datastore.store import CommitUnknownError, StoreUnavailableError
from edge.gateway_settings import Settings, SettingsError
from gateway import create_app, store_of
from resolvers.identity import Role
from resolvers.referrals import new_code
from resolvers.store_setup import set_up_store
from schema.extensions import failed_only_for_the_store, store_unavailable
from tests.conftest import SETTINGS, GraphQLClient, token
from tests.polling import until
from tests.stores import (
    MONGODB_URI,
    SentCommands,
    drop_store,
    mongodb_url_for_test_database,
    requires_mongodb,
    write_locked,
)
from tests.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent
CLOSE_PARTNER = """mutation($id: ID!) {
  closePartner(input: {id: $id, reason: "Policy violation"}) {
    partner { status } userErrors { code } } }"""
PARTNER = {
    "_id": "ptn_01availabilityavailabilityav",
    "name": "Availability Partner",
    "type": "TSP",
    "registrationRegion": "US",
    "targetMarkets": ["US"],
    "status": "ACTIVE",
    "contactEmail": "a@b.example",
}


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def locked_app(tmp_path: Path) -> AsyncIterator[tuple[SQLiteStore, httpx.AsyncClient]]:
    store = SQLiteStore(tmp_path / "locked.sqlite3", busy_timeout_ms=100)
    await store.connect()
    await store.ensure_indexes(INDEXES)
    app = create_app(SETTINGS, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield store, client
    await store.close()


async def test_a_write_locked_sqlite_file_is_unavailable_not_internal(
    locked_app: tuple[SQLiteStore, httpx.AsyncClient],
) -> None:
    store, client = locked_app
    partner = await store.insert(c.PARTNERS, {**PARTNER, "createdAt": utc_now()})
    assert (await client.get("/readyz")).status_code == 200
    with write_locked(store.path):
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["retry-after"].isdigit()
        # The driver's "database is locked" is the log's.
        assert ready.json()["code"] == "STORE_UNAVAILABLE"
        assert "locked" not in ready.json()["reason"]
        response = await client.post(
            "/graphql",
            json={"query": CLOSE_PARTNER, "variables": {"id": partner["_id"]}},
            headers={"Authorization": f"Bearer {token(Role.ADMIN)}"},
        )
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"].isdigit()
        body = response.json()
        assert not any((body["data"] or {}).values())  # nothing succeeded
        [error] = body["errors"]
        assert error["extensions"]["code"] == "STORE_UNAVAILABLE"
        assert error["extensions"]["retryable"] is True
        assert error["path"] == ["closePartner"]
    # Nothing was half-written, and the store works again once the lock is gone.
    assert (await store.get_many(c.PARTNERS, [partner["_id"]]))[partner["_id"]] == partner
    assert await store.count(c.HISTORY) == 0
    assert (await client.get("/readyz")).status_code == 200
    gql = GraphQLClient(client)
    closed = await gql(CLOSE_PARTNER, {"id": partner["_id"]}, as_=token(Role.ADMIN))
    assert closed["data"]["closePartner"] == {"partner": {"status": "CLOSED"}, "userErrors": []}


def test_503_only_when_nothing_else_in_the_response_succeeded() -> None:
    unavailable = {"message": "m", "extensions": {"code": "STORE_UNAVAILABLE"}}
    forbidden = {"message": "m", "extensions": {"code": "FORBIDDEN"}}
    assert failed_only_for_the_store({"data": None, "errors": [unavailable]})
    assert failed_only_for_the_store({"data": {"a": None, "b": None}, "errors": [unavailable]})
    assert failed_only_for_the_store({"data": None, "errors": [forbidden, unavailable]})
    assert not failed_only_for_the_store({"data": {"a": 1, "b": None}, "errors": [unavailable]})
    assert not failed_only_for_the_store({"data": None, "errors": [forbidden]})
    assert not failed_only_for_the_store({"data": {"a": 1}})
    # A commit the store did not confirm: retry too (an idempotency key tells the outcome).
    unknown = {"message": "m", "extensions": {"code": "COMMIT_UNKNOWN"}}
    assert failed_only_for_the_store({"data": None, "errors": [unknown]})


def test_a_commit_the_store_did_not_confirm_is_commit_unknown_and_retryable() -> None:
    # MongoDB raises it (a commit cut off or out of time); no SQLite commit can end so.
    for cause, code in [
        (CommitUnknownError("commit cut off"), "COMMIT_UNKNOWN"),
        (StoreUnavailableError("unreachable"), "STORE_UNAVAILABLE"),
    ]:
        answered = store_unavailable(GraphQLError("driver", original_error=cause), "req-1")
        assert answered.extensions == {"code": code, "retryable": True, "requestId": "req-1"}
        assert "driver" not in answered.message and "cut off" not in answered.message
        response = {"data": None, "errors": [answered.formatted]}
        assert failed_only_for_the_store(response)  # so HTTP 503 with Retry-After


_FULL_DISK = textwrap.dedent(
    """
    import asyncio, json, resource, signal, sys
    import httpx
    from datastore import collections as c
    from datastore.collections import INDEXES
    from datastore.sqlite import SQLiteStore
    from gateway import create_app
    from resolvers.identity import Role
    from tests.conftest import SETTINGS, token

    async def main() -> None:
        store = SQLiteStore(sys.argv[1])
        await store.connect()
        await store.ensure_indexes(INDEXES)
        await store.ping()
        partner = await store.insert(c.PARTNERS, json.loads(sys.argv[3]))
        app = create_app(SETTINGS, store=store)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
                # From here on no file may grow: the disk is full.
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
                ready = await client.get("/readyz")
                created = await client.post(
                    "/graphql",
                    json={"query": sys.argv[2], "variables": {"id": partner["_id"]}},
                    headers={"Authorization": "Bearer " + token(Role.ADMIN)},
                )
                resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
                print(json.dumps({
                    "ready": ready.status_code,
                    "status": created.status_code,
                    "body": created.json(),
                    "unchanged": await store.get_many(c.PARTNERS, [partner["_id"]])
                    == {partner["_id"]: partner},
                    "history": await store.count(c.HISTORY),
                }))
        await store.close()

    asyncio.run(main())
    """
)


def test_a_full_disk_is_unavailable_and_writes_nothing(tmp_path: Path) -> None:
    """A file size limit of 0 makes every write that grows a file fail, as a full disk does
    (in a child process, so the limit touches nothing else)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _FULL_DISK,
            str(tmp_path / "full.sqlite3"),
            CLOSE_PARTNER,
            json.dumps(PARTNER),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["ready"] == 503
    assert outcome["status"] == 503
    assert outcome["body"]["errors"][0]["extensions"]["code"] == "STORE_UNAVAILABLE"
    assert outcome["unchanged"] is True
    assert outcome["history"] == 0


async def test_sqlite_directory_is_created_inside_the_working_directory_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    inside = SQLiteStore(Path("var") / "nested" / "db.sqlite3")
    await inside.connect()
    await inside.close()
    assert (tmp_path / "var" / "nested" / "db.sqlite3").exists()
    elsewhere = tmp_path.parent / f"{tmp_path.name}-outside" / "db.sqlite3"
    monkeypatch.chdir(tmp_path / "var")
    refused = SQLiteStore(elsewhere)
    with pytest.raises(StoreUnavailableError, match=r"does not exist.*create_dirs=1"):
        await refused.connect()
    assert not elsewhere.parent.exists()
    asked = store_for_url(f"sqlite:///{elsewhere}?create_dirs=1")
    await asked.connect()
    await asked.close()
    assert elsewhere.exists()
    for url in (f"sqlite:///{elsewhere}?create_dirs=maybe", f"sqlite:///{elsewhere}?mode=ro"):
        with pytest.raises(DatabaseURLError):
            store_for_url(url)


async def test_a_failed_sqlite_connect_leaves_no_thread(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    not_a_database = tmp_path / "text.sqlite3"
    not_a_database.write_text("this is not a database file " * 100)
    store = SQLiteStore(not_a_database)
    with pytest.raises(StoreUnavailableError):
        await store.connect()
    # Closed connections end their threads (aiosqlite does not join them): wait, bounded.
    await until(
        lambda: not [t for t in set(threading.enumerate()) - before if t.is_alive()],
        "the closed connections' threads ending",
    )


async def test_mongodb_url_options_win_over_the_adapter_defaults() -> None:
    # Reads go to a secondary while no primary is elected, unless the URL says otherwise.
    assert MongoStore("mongodb://db.example/tsp").client_options == {
        "serverSelectionTimeoutMS": 5000,
        "readPreference": "primaryPreferred",
    }
    given = MongoStore(
        "mongodb://db.example/tsp?serverSelectionTimeoutMS=250&timeoutMS=900&readPreference=primary"
    )
    assert given.client_options == {}
    lower = MongoStore(
        "mongodb://db.example/tsp?serverselectiontimeoutms=250&readpreference=nearest"
    )
    assert lower.client_options == {}


async def test_a_mongodb_that_never_answers_is_given_up_within_the_set_up_bound() -> None:
    """A server that takes connections and never answers (a frozen host): connecting gives up
    after the set-up bound (1 s here, below the 5 s server selection default), saying where."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # open, and never a byte back

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = MongoStore(f"mongodb://127.0.0.1:{port}/tsp?directConnection=true", setup_seconds=1)
    started = time.monotonic()
    try:
        with pytest.raises(
            StoreUnavailableError, match=f"cannot reach MongoDB at 127.0.0.1:{port}"
        ):
            await store.connect()
        assert time.monotonic() - started < 4
        assert held, "the driver never connected"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def test_a_mongodb_set_up_that_fails_says_where_why_and_what_bounds_it() -> None:
    store = MongoStore("mongodb://db.example:27017/tsp", setup_seconds=12)
    refused = OperationFailure("An existing index has the same name", code=86)
    with pytest.raises(StoreUnavailableError) as raised, store.setting_up():
        raise refused
    assert raised.value.__cause__ is refused
    message = str(raised.value)
    assert "setting up MongoDB at db.example:27017" in message
    assert "TSP_STORE_SETUP_SECONDS, 12 s" in message
    assert "An existing index has the same name" in message


def test_the_store_bounds_are_settings_handed_to_the_mongodb_adapter() -> None:
    env = {"TSP_JWT_SECRET": "s" * 40, "TSP_DATABASE_URL": "mongodb://db.example/tsp"}
    defaults = Settings.from_env(env)
    assert (defaults.store_read_seconds, defaults.store_setup_seconds) == (5, 30)
    settings = Settings.from_env(
        {**env, "TSP_STORE_READ_SECONDS": "2", "TSP_STORE_SETUP_SECONDS": "45"}
    )
    store = store_of(settings)
    assert isinstance(store, MongoStore)
    assert (store.read_seconds, store.setup_seconds) == (2, 45)
    for name in ("TSP_STORE_READ_SECONDS", "TSP_STORE_SETUP_SECONDS"):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**env, name: "0"})


async def test_an_unreachable_mongodb_is_unavailable_and_says_where() -> None:
    port = _closed_port()
    # The URL's own short server selection timeout applies (the adapter's default is 5 s).
    store = MongoStore(f"mongodb://127.0.0.1:{port}/tsp?serverSelectionTimeoutMS=200")
    with pytest.raises(StoreUnavailableError, match=f"cannot reach MongoDB at 127.0.0.1:{port}"):
        await store.connect()
    with pytest.raises(StoreUnavailableError, match="not connected"):
        await store.ping()


def _serve(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TSP_JWT_SECRET": "s" * 40,
        "TSP_DATABASE_URL": url,
        "PORT": str(_closed_port()),
    }
    return subprocess.run(
        [sys.executable, "-c", "import cli; raise SystemExit(cli.main(['serve']))"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////proc/tsp-gateway-test/db.sqlite3?create_dirs=1",
        "sqlite:////nonexistent-tsp-gateway-dir/db.sqlite3",
        "mongodb://127.0.0.1:{port}/tsp?serverSelectionTimeoutMS=200",
    ],
    ids=["uncreatable-directory", "directory-outside-working-tree", "unreachable-mongodb"],
)
def test_a_gateway_that_cannot_open_its_store_exits_at_once_with_one_clear_line(
    url: str, tmp_path: Path
) -> None:
    done = _serve(url.format(port=_closed_port()), tmp_path)
    assert done.returncode == 1, done.stderr  # the README's "exits with status 1"
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "cannot use the store" in line]
    assert len(lines) == 1, done.stderr
    assert not Path("/nonexistent-tsp-gateway-dir").exists()


MONGODB_STANDALONE_URI = os.environ.get("MONGODB_STANDALONE_URI", "")


@pytest.mark.skipif(
    not MONGODB_STANDALONE_URI,
    reason="MONGODB_STANDALONE_URI is not set: no standalone mongod here (CI starts one)",
)
def test_a_standalone_mongodb_is_refused_at_start_up(tmp_path: Path) -> None:
    done = _serve(MONGODB_STANDALONE_URI, tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "standalone server: transactions need a replica set" in done.stderr


async def test_writers_queued_behind_a_locked_file_give_up_together(tmp_path: Path) -> None:
    """A writer's busy timeout runs from when it asked, its wait behind this process's other
    writers included: 40 concurrent inserts while another process holds the lock all fail
    STORE_UNAVAILABLE after about one busy timeout (0.2 s), not one after another (8 s for
    the last: the bound below is half that, twenty times what they take)."""
    store = SQLiteStore(tmp_path / "queued.sqlite3", busy_timeout_ms=200)
    await store.connect()
    try:
        await store.insert(c.PARTNERS, {"_id": "ptn_seed", "name": "seed"})
        with write_locked(store.path, "IMMEDIATE"):
            inserts = (
                store.insert(c.PARTNERS, {"_id": f"ptn_{n:02d}", "name": "queued"})
                for n in range(40)
            )
            outcomes = await asyncio.wait_for(
                asyncio.gather(*inserts, return_exceptions=True), timeout=4
            )
        assert all(isinstance(outcome, StoreUnavailableError) for outcome in outcomes)
        assert await store.count(c.PARTNERS) == 1
        await store.insert(c.PARTNERS, {"_id": "ptn_after", "name": "after"})
    finally:
        await store.close()


async def test_a_referral_visit_while_the_store_is_locked_is_sent_on_and_counted_later(
    locked_app: tuple[SQLiteStore, httpx.AsyncClient],
) -> None:
    """The seller reaches onboarding at once; the click waits in the background until the
    store takes writes again, and counts once."""
    store, client = locked_app
    now = utc_now()
    partner = await store.insert(c.PARTNERS, {**PARTNER, "createdAt": now})
    service = await store.insert(
        c.SERVICES,
        {"_id": "svc_01availability", "partnerId": partner["_id"], "status": "LIVE"},
    )
    code = new_code()
    await store.insert(
        c.REFERRAL_LINKS,
        {
            "_id": "ref_01availability",
            "serviceId": service["_id"],
            "partnerId": partner["_id"],
            "kind": "LOCAL",
            "code": code,
            "createdAt": now,
        },
    )
    assert (await client.head(f"/r/{code}")).status_code == 302
    with write_locked(store.path):
        visit = await client.get(f"/r/{code}")
        assert visit.status_code == 302
        assert visit.headers["location"].endswith(f"ref={code}")
        assert await store.count(c.REFERRAL_CLICKS) == 0
    await until(lambda: _clicks(store, 1), "the deferred click counted")
    assert (await client.get(f"/r/{code}")).status_code == 302
    assert await store.count(c.REFERRAL_CLICKS) == 2


async def _clicks(store: SQLiteStore, expected: int) -> bool:
    return await store.count(c.REFERRAL_CLICKS) == expected


def test_a_gateway_whose_port_is_taken_exits_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-c", "import cli; raise SystemExit(cli.main(['serve']))"],
            cwd=tmp_path,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "TSP_JWT_SECRET": "s" * 40,
                "PORT": str(port),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert "address already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_answers_readyz_over_http_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import urllib.request

    port = _closed_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "import cli; raise SystemExit(cli.main(['serve']))"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TSP_JWT_SECRET": "s" * 40, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = None
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    body = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.05)
        assert body == {"status": "ready"}
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert "gateway stopped" in stderr
    assert (tmp_path / "var" / "tsp.sqlite3").exists()


@requires_mongodb
async def test_a_mongodb_url_that_lets_reads_go_to_a_secondary_still_runs_transactions() -> None:
    """``readPreference=primaryPreferred`` keeps reads answering while no primary is elected;
    transactions read the primary all the same (PyMongo refuses one that inherits the URL's
    preference: every mutation failed)."""
    parts = urlsplit(mongodb_url_for_test_database())
    query = "&".join(part for part in (parts.query, "readPreference=primaryPreferred") if part)
    store = MongoStore(urlunsplit(parts._replace(query=query)))
    partner_id = str(PARTNER["_id"])
    await store.connect()
    try:

        async def work() -> dict[str, Any]:
            await store.insert(c.PARTNERS, {**PARTNER, "createdAt": utc_now()})
            return await store.get_many(c.PARTNERS, [partner_id])

        assert list(await store.transaction(work)) == [partner_id]
        assert [found["_id"] for found in await store.find(c.PARTNERS)] == [partner_id]
    finally:
        await drop_store(store)


@requires_mongodb
async def test_a_mongodb_cut_off_mid_request_is_unavailable_and_writes_nothing() -> None:
    """The gateway reaches MongoDB through a proxy that is then cut: the next mutation and
    /readyz answer 503 STORE_UNAVAILABLE, and a direct connection shows nothing was written."""
    upstream = urlsplit(MONGODB_URI)
    proxy = TcpProxy(upstream.hostname or "localhost", upstream.port or 27017)
    await proxy.start()
    direct_url = mongodb_url_for_test_database()
    parts = urlsplit(direct_url)
    query = "&".join(part for part in (parts.query, "serverSelectionTimeoutMS=1500") if part)
    store = MongoStore(urlunsplit(parts._replace(netloc=proxy.address, query=query)))
    checker = MongoStore(direct_url)
    await checker.connect()
    try:
        await store.connect()
        await store.ensure_indexes(INDEXES)
        partner = await store.insert(c.PARTNERS, {**PARTNER, "createdAt": utc_now()})
        app = create_app(SETTINGS, store=store)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
                assert (await client.get("/readyz")).status_code == 200
                await proxy.cut()
                response = await client.post(
                    "/graphql",
                    json={"query": CLOSE_PARTNER, "variables": {"id": partner["_id"]}},
                    headers={"Authorization": f"Bearer {token(Role.ADMIN)}"},
                )
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"].isdigit()
                [error] = response.json()["errors"]
                assert error["extensions"]["code"] == "STORE_UNAVAILABLE"
                assert (await client.get("/readyz")).status_code == 503
        found = await checker.get_many(c.PARTNERS, [partner["_id"]])
        assert found[partner["_id"]]["status"] == "ACTIVE"
        assert found[partner["_id"]]["version"] == partner["version"]
        assert await checker.count(c.HISTORY) == 0
    finally:
        await proxy.cut()
        await store.close()
        await drop_store(checker)


@requires_mongodb
async def test_a_mongodb_read_that_gets_no_answer_is_unavailable_within_the_read_bound() -> None:
    """The server stops answering with its connections open (a partitioned or frozen primary,
    not yet known to be gone): a read answers STORE_UNAVAILABLE after the read bound (1 s
    here), well before the request's own timeout, instead of waiting on the socket."""
    upstream = urlsplit(MONGODB_URI)
    proxy = TcpProxy(upstream.hostname or "localhost", upstream.port or 27017)
    await proxy.start()
    parts = urlsplit(mongodb_url_for_test_database())
    store = MongoStore(urlunsplit(parts._replace(netloc=proxy.address)), read_seconds=1)
    try:
        await store.connect()
        partner = await store.insert(c.PARTNERS, {**PARTNER, "createdAt": utc_now()})
        assert [p["_id"] for p in await store.find(c.PARTNERS)] == [partner["_id"]]
        proxy.stall()
        for read in (
            lambda: store.find(c.PARTNERS),
            lambda: store.get_many(c.PARTNERS, [partner["_id"]]),
            lambda: store.count(c.PARTNERS),
        ):
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match="MongoDB is unavailable"):
                await read()
            assert time.monotonic() - started < 4
    finally:
        await proxy.cut()
        await store.close()
        checker = MongoStore(mongodb_url_for_test_database())
        await checker.connect()
        await checker._require_client().drop_database(parts.path.strip("/"))
        await checker.close()


@requires_mongodb
async def test_setting_up_a_mongodb_set_up_before_only_reads_it() -> None:
    """The first set-up creates the indexes (each build committed once a majority of members
    has it); the next, a restart, only lists them and reads the counters: it starts while no
    primary takes writes (CI's failover starts a gateway during a step-down)."""
    commands = SentCommands()
    store = MongoStore(mongodb_url_for_test_database(), event_listeners=[commands])
    await store.connect()
    try:
        await set_up_store(store)
        created = commands.named("createIndexes")
        assert created, commands.sent
        assert all(command["commitQuorum"] == "majority" for command in created)
        assert {index["name"] for c in created for index in c["indexes"]} == {
            spec.name for spec in INDEXES
        }
        commands.sent.clear()
        await set_up_store(store)
        assert {name for name, _ in commands.sent} == {"listIndexes", "find"}, commands.sent
    finally:
        await drop_store(store)


@requires_mongodb
def test_a_gateway_whose_mongodb_set_up_fails_exits_with_one_clear_line(tmp_path: Path) -> None:
    """An index in place under a declared name but with other keys (left by hand, or by an
    old release): the gateway does not start on it, and says why in one line."""
    url = mongodb_url_for_test_database()
    spec = next(spec for spec in INDEXES if not spec.unique and not spec.text)

    async def conflicting() -> None:
        store = MongoStore(url)
        await store.connect()
        await store._database()[spec.collection].create_index([("other", 1)], name=spec.name)
        await store.close()

    asyncio.run(conflicting())
    try:
        done = _serve(url, tmp_path)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if "cannot use the store" in line]
        assert len(lines) == 1, done.stderr
        assert "setting up MongoDB" in lines[0] and "TSP_STORE_SETUP_SECONDS" in lines[0]
    finally:

        async def drop() -> None:
            store = MongoStore(url)
            await store.connect()
            await drop_store(store)

        asyncio.run(drop())
