"""The abusive callers of ``bench.abuse``: one coroutine per attack, run by each abuser until
its deadline or the stop event, each counting what the gateway answered.

Every loop is bounded by the deadline and talks to 127.0.0.1 only. None honours
``Retry-After``: an abuser does not wait. Each abuser connects from a loopback address of its
own (``local``), as abusers on the internet come from their own addresses: the gateway's
per-address connection limit then applies to each, not to everyone at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

EXPENSIVE = (
    "{ store(first: 50) { nodes { name description partner { name "
    "services(first: 15) { nodes { name description pricing } } } } } }"
)
"""The most expensive store query under the single-query maximum (requested cost 952)."""

DUPLICATED = "{ viewer { " + "partner { id } " * 240 + "} }"
"""The issue's duplicated fields, as many as the default limits admit."""

FRAGMENT_LINKS = 24
FRAGMENTS = (
    "{ viewer { ...F0 } } "
    + " ".join(
        f"fragment F{i} on Viewer {{ role partner {{ id }} ...F{i + 1} }}"
        for i in range(FRAGMENT_LINKS)
    )
    + f" fragment F{FRAGMENT_LINKS} on Viewer {{ role }}"
)
"""A chain of fragments each spreading the next, as long as the default limits admit (the
selections validation walks grow with the square of its length)."""

EVENTS = "subscription { events { id type subjectId } }"

HALF_SENT_PER_ABUSER = 64
STREAMS_PER_ABUSER = 16
RETRY_LOOPS_PER_ABUSER = 8

Attack = Callable[[str, dict[str, str], str, float, Any], Awaitable[Counter[str]]]


def client_from(local: str, base: str, timeout: float | None) -> httpx.AsyncClient:
    """An HTTP client whose connections leave from the loopback address ``local``."""
    transport = httpx.AsyncHTTPTransport(local_address=local)
    return httpx.AsyncClient(base_url=base, timeout=timeout, transport=transport)


def _outcome(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return f"HTTP {response.status_code}"
    codes = sorted({(e.get("extensions") or {}).get("code", "?") for e in errors})
    return ",".join(codes) if codes else "answered"


def _running(stop_at: float, stop: Any) -> bool:
    return time.time() < stop_at and not stop.is_set()


async def _loop_queries(
    base: str,
    headers: dict[str, str],
    local: str,
    stop_at: float,
    stop: Any,
    texts: Callable[[int], str],
) -> Counter[str]:
    counts: Counter[str] = Counter()
    async with client_from(local, base, 30) as client:
        for number in itertools.count():
            if not _running(stop_at, stop):
                break
            try:
                response = await client.post(
                    "/graphql", json={"query": texts(number)}, headers=headers
                )
                counts[_outcome(response)] += 1
            except httpx.HTTPError as error:
                counts[type(error).__name__] += 1
    return counts


def _varied(text: str) -> Callable[[int], str]:
    # An aliased __typename of its own per request: the document differs, so neither the
    # parser's nor the validation's cache answers for the gateway (graphql-core compares
    # documents without their locations, so a new comment alone would not do).
    assert text.startswith("{")
    return lambda number: f"{{ t{number}_{time.time_ns()}: __typename {text[1:]}"


async def expensive(
    base: str, headers: dict[str, str], local: str, stop_at: float, stop: Any
) -> Counter[str]:
    return await _loop_queries(base, headers, local, stop_at, stop, lambda _: EXPENSIVE)


async def duplicated(
    base: str, headers: dict[str, str], local: str, stop_at: float, stop: Any
) -> Counter[str]:
    return await _loop_queries(base, headers, local, stop_at, stop, _varied(DUPLICATED))


async def fragments(
    base: str, headers: dict[str, str], local: str, stop_at: float, stop: Any
) -> Counter[str]:
    return await _loop_queries(base, headers, local, stop_at, stop, _varied(FRAGMENTS))


async def retries(
    base: str, headers: dict[str, str], local: str, stop_at: float, stop: Any
) -> Counter[str]:
    """Several connections sending the expensive query back to back: once the bucket is
    empty, every one is refused ``THROTTLED`` and sent again at once."""
    loops = [expensive(base, headers, local, stop_at, stop) for _ in range(RETRY_LOOPS_PER_ABUSER)]
    return sum(await asyncio.gather(*loops), Counter())


async def half_sent_headers(
    base: str, headers: dict[str, str], local: str, stop_at: float, stop: Any
) -> Counter[str]:
    """Connections that send part of a request's headers and never the rest, reopened when
    the gateway closes them."""
    address = urlsplit(base)
    counts: Counter[str] = Counter()

    async def hold() -> None:
        while _running(stop_at, stop):
            try:
                reader, writer = await asyncio.open_connection(
                    address.hostname, address.port, local_addr=(local, 0)
                )
            except OSError:
                counts["refused connection"] += 1
                await asyncio.sleep(0.1)
                continue
            counts["opened"] += 1
            writer.write(b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: app")
            with contextlib.suppress(OSError):
                await writer.drain()
                while _running(stop_at, stop):
                    try:
                        if not await asyncio.wait_for(reader.read(1024), 0.5):
                            counts["closed by the gateway"] += 1
                            break
                    except TimeoutError:
                        continue
            writer.close()

    await asyncio.gather(*(hold() for _ in range(HALF_SENT_PER_ABUSER)))
    return counts


async def streams(
    base: str, headers: dict[str, str], local: str, stop_at: float, stop: Any
) -> Counter[str]:
    """Subscriptions over SSE held open, reopened when they end or are refused."""
    counts: Counter[str] = Counter()
    stream_headers = {**headers, "Accept": "text/event-stream"}

    async def hold(client: httpx.AsyncClient) -> None:
        while _running(stop_at, stop):
            try:
                async with client.stream(
                    "POST", "/graphql", json={"query": EVENTS}, headers=stream_headers
                ) as response:
                    counts[f"HTTP {response.status_code}"] += 1
                    if response.status_code == 200:
                        await _hold_open(response, stop_at, stop)
            except httpx.HTTPError as error:
                counts[type(error).__name__] += 1
            await asyncio.sleep(0.2)

    async with client_from(local, base, None) as client:
        await asyncio.gather(*(hold(client) for _ in range(STREAMS_PER_ABUSER)))
    return counts


async def _hold_open(response: httpx.Response, stop_at: float, stop: Any) -> None:
    """Read what the stream sends until it ends or the abuser stops. One reader for the whole
    stream: cancelling a pending read of an httpx stream closes it, which would turn this
    attack into reopening streams instead of holding them."""

    async def read_all() -> None:
        async for _chunk in response.aiter_bytes():
            pass

    reader = asyncio.ensure_future(read_all())
    try:
        while _running(stop_at, stop) and not reader.done():
            await asyncio.wait({reader}, timeout=0.5)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await reader


ATTACKS: dict[str, Attack] = {
    "expensive queries": expensive,
    "duplicated fields": duplicated,
    "deep fragments": fragments,
    "half-sent headers": half_sent_headers,
    "many streams": streams,
    "throttled retries without waiting": retries,
}
