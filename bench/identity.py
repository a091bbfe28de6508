"""What verifying a provider's RS256/ES256 token costs per request, against the HS256 secret,
as ratios in one run.

Run ``python -m bench.identity [--runs 500] [--rounds 5]``. One app (httpx over ASGI, SQLite
store, throttling off) answers ``{ viewer { role } }`` for an anonymous caller, an HS256 token,
an RS256 token and an ES256 token; the provider's JWKS is served on 127.0.0.1 and fetched once
(keys cached), so the figures are signature and claim checks, not fetches. Rounds alternate the
callers; ratios use the median of each caller's per-round medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from datastore.codec import utc_now
from datastore.collections import INDEXES
from datastore.sqlite import SQLiteStore
from edge.extension import GatewayPolicy
from edge.gateway_settings import Settings
from edge.oidc import OidcSettings
from edge.throttle import ThrottlePolicy
from gateway import create_app
from resolvers.identity import Role, issue_token

SECRET = "bench-secret-" + "x" * 40
QUERY = {"query": "{ viewer { role } }"}


def _jwks(keys: dict[str, Any]) -> bytes:
    published = []
    for kid, (algorithm, key) in keys.items():
        data = json.loads(jwt.get_algorithm_by_name(algorithm).to_jwk(key.public_key()))
        published.append({**data, "kid": kid, "use": "sig"})
    return json.dumps({"keys": published}).encode()


async def _median_ms(client: httpx.AsyncClient, bearer: str | None, runs: int) -> float:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.post("/graphql", json=QUERY, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or "errors" in response.json():
            raise RuntimeError(response.text)
    return statistics.median(times)


async def main(runs: int, rounds: int) -> None:
    keys: dict[str, tuple[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]] = {
        "rsa": ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "ec": ("ES256", ec.generate_private_key(ec.SECP256R1())),
    }
    body = _jwks(keys)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    oidc = OidcSettings(
        jwks_url=f"http://127.0.0.1:{server.server_address[1]}/jwks",
        issuer="https://idp.example/",
        audience="tsp-gateway",
    )
    claims: dict[str, Any] = {"iss": oidc.issuer, "aud": oidc.audience, "sub": "admin"}
    claims.update(role="ADMIN", exp=utc_now() + timedelta(hours=1))
    callers: dict[str, str | None] = {
        "anonymous": None,
        "HS256": issue_token(SECRET, Role.ADMIN, "admin", timedelta(hours=1)),
        **{
            algorithm: jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})
            for kid, (algorithm, key) in keys.items()
        },
    }
    settings = Settings(
        jwt_secret=SECRET, policy=GatewayPolicy(throttle=ThrottlePolicy(enabled=False)), oidc=oidc
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            store = SQLiteStore(Path(folder) / "bench.sqlite3")
            await store.connect()
            await store.ensure_indexes(INDEXES)
            app = create_app(settings, store=store)
            medians: dict[str, list[float]] = {name: [] for name in callers}
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                    for bearer in callers.values():  # warm up, and fetch the JWKS once
                        await _median_ms(client, bearer, 20)
                    for _ in range(rounds):
                        for name, bearer in callers.items():
                            medians[name].append(await _median_ms(client, bearer, runs))
            await store.close()
    finally:
        server.shutdown()
        server.server_close()
    base = statistics.median(medians["HS256"])
    print(f"median ms per request ({rounds} rounds x {runs} runs), ratio to HS256:")
    for name, values in medians.items():
        value = statistics.median(values)
        print(f"  {name:9} {value:7.3f} ms  x{value / base:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.rounds))
