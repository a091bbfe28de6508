"""Store trouble as a served gateway meets it: reads answer, writes are refused with a code,
and the gateway recovers by itself once the store can take writes again.

    python .ci/failover.py mongodb   # the MongoDB job: the replica set's primary steps down
    python .ci/failover.py sqlite    # anywhere: another process holds SQLite's write lock

It seeds the demo data into ``TSP_DATABASE_URL``, serves it with ``tsp-gateway serve`` on
127.0.0.1, checks a read and a write, makes the trouble, and then checks what a client gets:

- ``/readyz`` turns 503 (every answer printed with how long it took);
- a read answers its data, without errors;
- a write answers HTTP 503 with ``STORE_UNAVAILABLE``, ``extensions.retryable`` and
  ``Retry-After``, and changes nothing (read back after);
- a second gateway started during the trouble (a restart, a deploy) starts and answers reads:
  setting up a store set up before only reads it;
- once the trouble ends, with no restart: ``/readyz`` 200 and the same write commits;
- the server's log holds no traceback (an error of the store's that the gateway does not
  know as trouble would be masked for the client, and logged with one).

For MongoDB reads go to a secondary while there is no primary (``primaryPreferred``, the
gateway's default when the URL names no ``readPreference``), and ``MONGODB_NODE`` must reach
the replica set's member itself (``directConnection=true``), which is stepped down with
``replSetStepDown`` (``force``: a one-node set has no secondary to hand over to) and then
unfrozen with ``replSetFreeze: 0`` so that it stands for election again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_BIN = Path(sys.executable).parent
_PORT = int(os.environ.get("PORT", "8079"))
_BASE = f"http://127.0.0.1:{_PORT}"
_PATIENCE_SECONDS = 120.0  # for a server to start, a primary to be elected: generous on CI
_PARTNERS = "{ partners(first: 5) { edges { node { id name description } } } }"
_UPDATE = """mutation($id: ID!, $text: String!) {
  updatePartnerProfile(input: {id: $id, description: $text}) {
    partner { id description } userErrors { code message }
  } }"""


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: Any, seconds: float) -> None:
        self.status, self.headers, self.body, self.seconds = status, headers, body, seconds

    def __repr__(self) -> str:
        return f"HTTP {self.status} in {self.seconds:.2f} s: {json.dumps(self.body)[:400]}"


def _http(
    path: str, payload: dict[str, Any] | None = None, token: str = "", base: str = _BASE
) -> Answer:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(base + path, data=data)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
            headers = {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
        headers = {k.lower(): v for k, v in error.headers.items()}
    seconds = time.monotonic() - started
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    return Answer(status, headers, body, seconds)


def _graphql(
    query: str, token: str, variables: dict[str, Any] | None = None, base: str = _BASE
) -> Answer:
    return _http("/graphql", {"query": query, "variables": variables or {}}, token, base)


def _until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + _PATIENCE_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what} after {_PATIENCE_SECONDS:.0f} s")
        time.sleep(0.5)


def _ready(expected: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            answer = _http("/readyz")
        except OSError:
            return False
        print(f"  /readyz {answer}")
        return answer.status == expected

    return check


def _fail(reason: str, answer: Answer | None = None) -> None:
    raise SystemExit(f"FAILED: {reason}" + (f"\n  {answer}" if answer else ""))


def _partners(token: str, base: str = _BASE) -> list[dict[str, Any]]:
    answer = _graphql(_PARTNERS, token, base=base)
    print(f"  read: {answer}")
    if answer.status != 200 or not isinstance(answer.body, dict) or answer.body.get("errors"):
        _fail("a read did not answer its data", answer)
    edges = answer.body["data"]["partners"]["edges"]
    if not edges:
        _fail("the read found no partner in the demo data", answer)
    return [edge["node"] for edge in edges]


def _update(token: str, partner_id: str, text: str) -> Answer:
    answer = _graphql(_UPDATE, token, {"id": partner_id, "text": text})
    print(f"  write: {answer}")
    return answer


def _committed(answer: Answer, text: str) -> bool:
    if answer.status != 200 or not isinstance(answer.body, dict) or answer.body.get("errors"):
        return False
    payload = answer.body["data"]["updatePartnerProfile"]
    return not payload["userErrors"] and payload["partner"]["description"] == text


def _refused_as_unavailable(answer: Answer) -> None:
    body = answer.body if isinstance(answer.body, dict) else {}
    errors = body.get("errors") or [{}]
    extensions = errors[0].get("extensions") or {}
    if answer.status != 503 or extensions.get("code") != "STORE_UNAVAILABLE":
        _fail("a write during the trouble was not refused as STORE_UNAVAILABLE (503)", answer)
    if extensions.get("retryable") is not True or not answer.headers.get("retry-after"):
        _fail("the refusal does not say it can be retried (retryable, Retry-After)", answer)


@contextlib.contextmanager
def _sqlite_lock(url: str) -> Iterator[None]:
    """Another process's writer: SQLite's write lock held until the block ends."""
    path = url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({path!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        if holder.stdout.readline().strip() != "held":
            raise SystemExit("could not take SQLite's write lock")
        print("  another process holds SQLite's write lock")
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        print("  the lock is released")


@contextlib.contextmanager
def _mongodb_step_down() -> Iterator[None]:
    """No primary: the replica set's member steps down, and stands again after the block."""
    from pymongo import MongoClient
    from pymongo.errors import AutoReconnect, OperationFailure

    node: MongoClient[dict[str, Any]] = MongoClient(
        os.environ["MONGODB_NODE"], serverSelectionTimeoutMS=30_000
    )
    try:
        with contextlib.suppress(AutoReconnect):  # the step-down may drop the connection
            node.admin.command({"replSetStepDown": 60, "force": True})
        _until(
            "the member to step down",
            lambda: not node.admin.command("hello").get("isWritablePrimary"),
        )
        print("  the primary has stepped down: no member can take writes")
        yield
    finally:
        try:
            node.admin.command({"replSetFreeze": 0})  # a one-node set then elects itself
        except OperationFailure as error:
            print(f"  replSetFreeze 0: {error} (waiting for the step-down to end instead)")
        _until(
            "a primary again", lambda: bool(node.admin.command("hello").get("isWritablePrimary"))
        )
        print("  a primary is elected again")
        node.close()


def _started_during_the_trouble(env: dict[str, str], token: str) -> str:
    """A gateway started while the trouble lasts starts (its store was set up before, so it
    only reads it) and answers a read; returns its log."""
    port = _PORT + 1
    base = f"http://127.0.0.1:{port}"
    log = Path("failover-serve-restarted.log")
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(_BIN / "tsp-gateway"), "serve"],
            env=dict(env, PORT=str(port)),
            stdout=output,
            stderr=output,
        )

    def answering() -> bool:
        if server.poll() is not None:
            _fail(f"a gateway started during the trouble exited:\n{log.read_text()}")
        try:
            return _http("/healthz", base=base).status == 200
        except OSError:
            return False

    try:
        _until("a gateway started during the trouble to answer", answering)
        print("  a gateway started during the trouble is up")
        _partners(token, base)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return log.read_text()


def _token(role: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(_BIN / "tsp-gateway"), "token", "--role", role],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", choices=("mongodb", "sqlite"))
    args = parser.parse_args(argv)
    env = dict(os.environ, PORT=str(_PORT))
    url = env["TSP_DATABASE_URL"]
    trouble = _mongodb_step_down if args.store == "mongodb" else lambda: _sqlite_lock(url)
    subprocess.run([str(_BIN / "tsp-gateway"), "seed", "--demo"], env=env, check=True)
    log = Path("failover-serve.log")
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(_BIN / "tsp-gateway"), "serve"], env=env, stdout=output, stderr=output
        )
    try:
        _until("the gateway to be ready", _ready(200))
        admin = _token("admin", env)
        partner_id = _partners(admin)[0]["id"]
        if not _committed(_update(admin, partner_id, "before the trouble"), "before the trouble"):
            _fail("a write did not commit before the trouble")
        with trouble():
            _until("/readyz to say the store cannot take writes", _ready(503))
            _partners(admin)
            _refused_as_unavailable(_update(admin, partner_id, "during the trouble"))
            _partners(admin)
            restarted = _started_during_the_trouble(env, admin)
        _until("/readyz to say the store takes writes again", _ready(200))
        described = {p["id"]: p.get("description") for p in _partners(admin)}
        if described.get(partner_id) != "before the trouble":
            _fail(f"the refused write changed the partner: {described.get(partner_id)!r}")
        _until(
            "a write to commit again",
            lambda: _committed(
                _update(admin, partner_id, "after the trouble"), "after the trouble"
            ),
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    print(f"--- the server's log ({log}) ---\n{text}")
    print(f"--- the log of the gateway started during the trouble ---\n{restarted}")
    if "Traceback" in text + restarted:
        _fail("a server logged a traceback during the trouble")
    print("the gateway answered reads, refused writes as STORE_UNAVAILABLE, and recovered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
