"""Bulk export: its speed against plain SQL + orjson, its memory, and interactive latency.

Run ``python -m bench.export [--size 100000] [--requests 300]``. Seeds the demo data into a
fresh SQLite file, lets the demo seller accept the demo partner's offer through the API (one
real authorization with its history), then grows the partner's authorizations to ``--size``
copies, each with a history entry of its own. Then, against ``tsp-gateway serve`` on
127.0.0.1 (the export worker inside it, as served by default):

1. **speed**: the partner exports ``authorizations { id status startDate endDate service { id
   name } history(last: 1) { action createdAt } }`` (start to COMPLETED, polling the export
   every 50 ms, plus the download); the baseline, in the same run, reads the same documents
   from the same file with plain ``sqlite3`` (keyset pages of 1,000 authorizations, their
   services and history entries) and writes the same JSONL with orjson. Ratio: baseline time
   / export time (target >= 1/3).
2. **memory**: the server's RSS sampled every 100 ms during the export; the growth is the
   largest sample minus the RSS before the export (target <= 50 MiB).
3. **interactive latency**: the partner's ``authorizations(first: 20)`` at concurrency 1, 8 and
   32 (``--requests`` each), without an export, then while one runs; p50 and p99 and the p99
   ratio (target <= 1.5).

Settings raised: ``TSP_THROTTLE=0`` (one caller sending thousands of interactive requests
would be throttled by design, which is not what is measured; it also turns the export's own
bucket off, so the engine's speed is measured, not the documented rate) and
``TSP_EXPORT_POLL_SECONDS=0.05`` (the worker picks the export up at once rather than within
a second).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import orjson

from bench.support import DemoStore, demo_store, rss_mib, serve_gateway
from datastore import collections as c
from datastore.codec import Document, from_json
from datastore.ids import new_id
from edge.gateway_settings import Settings
from gateway import open_store

# Through viewer.partner, which planned execution runs (the root field's permission check is
# a field extension, which runs interpreted).
EXPORT = (
    "{ viewer { partner { authorizations { nodes { id status startDate endDate "
    "service { id name } history(last: 1) { nodes { action createdAt } } } } } } }"
)
INTERACTIVE = "{ authorizations(first: 20) { nodes { id status endDate } } }"
START = """mutation($q: String!) { startBulkExport(input: {query: $q}) {
  bulkExport { id } userErrors { code message } } }"""
READ = """query($id: ID!) { bulkExport(id: $id) { status objectCount fileSize url errorCode } }"""
ACCEPT = """mutation($token: String!) { authorizeServiceOffer(token: $token) {
  userErrors { code } } }"""
BATCH = 1000
MAX_POLLS = 100_000


async def grow(database: str, secret: str, size: int) -> None:
    """``size`` copies of the partner's authorization, each with a history entry of its own."""
    store = await open_store(Settings(jwt_secret=secret, database_url=database))
    try:
        original = (await store.find(c.AUTHORIZATIONS, limit=1))[0]
        entry = (await store.find(c.HISTORY, {"subjectId": original["_id"]}, limit=1))[0]
        for start in range(0, size - 1, BATCH):

            async def work(start: int = start) -> None:
                for n in range(start, min(size - 1, start + BATCH)):
                    age = timedelta(milliseconds=n + 1)
                    copy: Document = {k: v for k, v in original.items() if k != "version"}
                    copy.update(_id=new_id("aut"), createdAt=original["createdAt"] - age)
                    copy.pop("activeKey", None)
                    await store.insert(c.AUTHORIZATIONS, copy)
                    history = {k: v for k, v in entry.items() if k != "version"}
                    history.update(
                        _id=new_id("hst"), subjectId=copy["_id"], createdAt=copy["createdAt"]
                    )
                    await store.insert(c.HISTORY, history)

            await store.transaction(work)
    finally:
        await store.close()


def baseline(path: Path, out: Path, partner_id: str) -> tuple[float, int]:
    """Plain SQL and orjson: the same documents, the same lines. Returns (seconds, lines)."""
    started = time.perf_counter()
    lines = 0
    db = sqlite3.connect(path)
    with out.open("wb") as sink:
        after: tuple[str, str] | None = None
        while True:
            # The partner's authorizations, newest first, by keyset (as the index orders them).
            created = "json_extract(doc, '$.createdAt')"
            owner = "json_extract(doc, '$.partnerId') = ?"
            if after is None:
                rows = db.execute(
                    f"SELECT doc, {created}, id FROM authorizations WHERE {owner} "
                    f"ORDER BY {created} DESC, id DESC LIMIT ?",
                    [partner_id, BATCH],
                ).fetchall()
            else:
                rows = db.execute(
                    f"SELECT doc, {created}, id FROM authorizations WHERE {owner} AND "
                    f"({created}, id) < (?, ?) ORDER BY {created} DESC, id DESC LIMIT ?",
                    [partner_id, *after, BATCH],
                ).fetchall()
            if not rows:
                break
            docs = [from_json(row[0]) for row in rows]
            ids = [d["_id"] for d in docs]
            marks = ",".join("?" * len(ids))
            wanted = ",".join("?" * len({d["serviceId"] for d in docs}))
            services = {
                s["_id"]: s
                for s in (
                    from_json(row[0])
                    for row in db.execute(
                        f"SELECT doc FROM services WHERE id IN ({wanted})",
                        list({d["serviceId"] for d in docs}),
                    ).fetchall()
                )
            }
            latest: dict[str, Document] = {}
            for row in db.execute(
                f"SELECT doc FROM history WHERE json_extract(doc, '$.subjectId') IN ({marks})",
                ids,
            ).fetchall():
                entry = from_json(row[0])
                held = latest.get(entry["subjectId"])
                if held is None or entry["createdAt"] > held["createdAt"]:
                    latest[entry["subjectId"]] = entry
            buffer = bytearray()
            for d in docs:
                service = services[d["serviceId"]]
                line = {
                    "id": d["_id"],
                    "status": d["status"],
                    "startDate": d["startsAt"].date().isoformat(),
                    "endDate": (d["endsAt"] - timedelta(days=1)).date().isoformat(),
                    "service": {"id": service["_id"], "name": service["name"]},
                }
                buffer += orjson.dumps(line) + b"\n"
                newest = latest.get(d["_id"])
                if newest is not None:
                    nested = {
                        "action": newest["action"],
                        "createdAt": newest["createdAt"].isoformat(),
                        "__parentId": d["_id"],
                    }
                    buffer += orjson.dumps(nested) + b"\n"
                    lines += 1
                lines += 1
            sink.write(buffer)
            after = (rows[-1][1], rows[-1][2])
    db.close()
    return time.perf_counter() - started, lines


async def export(
    http: httpx.AsyncClient, token: str, pid: int
) -> tuple[float, int, float, float, int]:
    """Start an export, wait for it; (seconds, lines, RSS before, largest RSS, bytes)."""
    headers = {"Authorization": f"Bearer {token}"}
    before = rss_mib(pid)
    started = time.perf_counter()
    body = (
        await http.post(
            "/graphql", json={"query": START, "variables": {"q": EXPORT}}, headers=headers
        )
    ).json()
    created = body["data"]["startBulkExport"]
    assert created["userErrors"] == [], created
    export_id = created["bulkExport"]["id"]
    peak = before
    for _ in range(MAX_POLLS):
        peak = max(peak, rss_mib(pid))
        read = (
            await http.post(
                "/graphql", json={"query": READ, "variables": {"id": export_id}}, headers=headers
            )
        ).json()["data"]["bulkExport"]
        if read["status"] not in ("CREATED", "RUNNING"):
            break
        await asyncio.sleep(0.05)
    assert read["status"] == "COMPLETED", read
    size = 0
    async with http.stream("GET", read["url"]) as response:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
    assert size == read["fileSize"]
    return time.perf_counter() - started, read["objectCount"], before, peak, size


async def interactive(base: str, token: str, concurrency: int, requests: int) -> list[float]:
    """Latencies (ms) of ``requests`` interactive queries sent by ``concurrency`` clients."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    remaining = requests
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:

        async def client() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                sent = time.perf_counter()
                response = await http.post("/graphql", json={"query": INTERACTIVE}, headers=headers)
                assert response.status_code == 200 and "errors" not in response.json()
                latencies.append((time.perf_counter() - sent) * 1000)

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1]


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        demo = demo_store(folder, TSP_EXPORT_POLL_SECONDS="0.05")
        asyncio.run(measure(args, folder, demo))


async def measure(args: argparse.Namespace, folder: str, demo: DemoStore) -> None:
    if True:
        database = demo.env["TSP_DATABASE_URL"]
        path = Path(database.removeprefix("sqlite:///"))
        partner = demo.token("partner")
        with serve_gateway(demo.env) as served:
            async with httpx.AsyncClient(base_url=served.url, timeout=120) as http:
                offers = (
                    await http.post(
                        "/graphql",
                        json={
                            "query": "{ viewer { partner { serviceOffers(first: 1) { nodes { "
                            "linkToken } } } } }"
                        },
                        headers={"Authorization": f"Bearer {partner}"},
                    )
                ).json()
                link = offers["data"]["viewer"]["partner"]["serviceOffers"]["nodes"][0]
                accepted = (
                    await http.post(
                        "/graphql",
                        json={"query": ACCEPT, "variables": {"token": link["linkToken"]}},
                        headers={"Authorization": f"Bearer {demo.token('seller')}"},
                    )
                ).json()
                assert accepted["data"]["authorizeServiceOffer"]["userErrors"] == [], accepted
        print(f"seeding {args.size:,} authorizations with a history entry each ...", flush=True)
        seeded = time.perf_counter()
        await grow(database, demo.secret, args.size)
        print(f"  seeded in {time.perf_counter() - seeded:.0f} s")

        plain_seconds, plain_lines = baseline(
            path, Path(folder) / "baseline.jsonl", demo.subjects["partner"]
        )
        with serve_gateway(demo.env) as served:
            async with httpx.AsyncClient(base_url=served.url, timeout=120) as http:
                seconds, lines, before, peak, size = await export(http, partner, served.pid)
                alone = {
                    n: await interactive(served.url, partner, n, args.requests) for n in (1, 8, 32)
                }
                during: dict[int, list[float]] = {}
                for n in (1, 8, 32):
                    # A fresh export for each level, so every measurement overlaps one.
                    await _reset_start_guard(database, demo.secret)
                    task = asyncio.create_task(export(http, partner, served.pid))
                    await asyncio.sleep(0.5)
                    during[n] = await interactive(served.url, partner, n, args.requests)
                    overlapped = not task.done()
                    await task
                    if not overlapped:
                        print(f"  (concurrency {n}: the export ended before the requests did)")
        print(f"\nexport of {args.size:,} authorizations ({lines:,} lines, {size / 2**20:.1f} MiB)")
        print(f"  plain SQL + orjson  {plain_seconds:7.2f} s  ({plain_lines:,} lines)")
        print(f"  bulk export         {seconds:7.2f} s  (start to COMPLETED, then download)")
        ratio = plain_seconds / seconds
        print(f"  speed ratio export / baseline: {ratio:.2f}  (target >= 0.33)")
        print(
            f"  server RSS before {before:.0f} MiB, peak {peak:.0f} MiB: "
            f"growth {peak - before:.1f} MiB  (target <= 50)"
        )
        print("\ninteractive authorizations(first: 20), ms")
        for n in (1, 8, 32):
            a, d = alone[n], during[n]
            print(
                f"  c={n:<3} alone p50 {_p(a, 0.5):7.1f} p99 {_p(a, 0.99):7.1f} | during export "
                f"p50 {_p(d, 0.5):7.1f} p99 {_p(d, 0.99):7.1f} | p99 ratio "
                f"{_p(d, 0.99) / _p(a, 0.99):.2f}  (target <= 1.5)"
            )


async def _reset_start_guard(database: str, secret: str) -> None:
    """Let the partner start again at once (the one-a-minute rule is not what is measured)."""
    store = await open_store(Settings(jwt_secret=secret, database_url=database))
    try:
        await store.delete_all(c.BULK_EXPORT_OWNERS)
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    main(parser.parse_args())
