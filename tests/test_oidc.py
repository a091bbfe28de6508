"""Tokens from an OpenID Connect provider: a real JWKS served over HTTP on 127.0.0.1, keys
made here with ``cryptography``; rotation, audience, issuer, algorithm, kid and outages."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from datastore.codec import utc_now
from datastore.store import DocumentStore
from edge.extension import GatewayPolicy
from edge.gateway_settings import Settings, SettingsError
from edge.oidc import OidcSettings, OidcSettingsError
from edge.throttle import ThrottlePolicy
from resolvers.identity import Role
from tests.conftest import JWT_SECRET, Make, serving, token

ISSUER = "https://idp.example/"
AUDIENCE = "tsp-gateway"
VIEWER = "{ viewer { role partner { id } } }"


class Provider:
    """A JWKS endpoint: the keys it publishes, whether it is up, and how often it was asked."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.up = True
        self.requests = 0
        self.lock = threading.Lock()

    def add_rsa(self, kid: str) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys[kid] = key
        return key

    def add_ec(self, kid: str) -> ec.EllipticCurvePrivateKey:
        key = ec.generate_private_key(ec.SECP256R1())
        self.keys[kid] = key
        return key

    def jwks(self) -> dict[str, Any]:
        published = []
        for kid, key in self.keys.items():
            data = json.loads(
                jwt.algorithms.get_default_algorithms()[_alg(key)].to_jwk(key.public_key())
            )
            published.append({**data, "kid": kid, "use": "sig"})
        return {"keys": published}


def _alg(key: Any) -> str:
    return "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"


@contextlib.contextmanager
def serving_jwks(provider: Provider) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with provider.lock:
                provider.requests += 1
            if not provider.up:
                self.send_response(503)
                self.end_headers()
                return
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def sign(key: Any, kid: str | None, **claims: Any) -> str:
    now = utc_now()
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "auth0|someone",
        "tsp_role": "partner",
        "tsp_account": "ptn_01hzzzzzzzzzzzzzzzzzzzzzzz",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **claims,
    }
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(body, key, algorithm=_alg(key), headers=headers)


def settings_for(url: str, **oidc: Any) -> Settings:
    return Settings(
        jwt_secret=JWT_SECRET,
        policy=GatewayPolicy(throttle=ThrottlePolicy(enabled=False)),
        oidc=OidcSettings(
            jwks_url=url,
            issuer=ISSUER,
            audience=AUDIENCE,
            role_claim="tsp_role",
            account_claim="tsp_account",
            **{"refresh_interval_seconds": 0, **oidc},
        ),
    )


async def ask(http: httpx.AsyncClient, bearer: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return await http.post("/graphql", json={"query": VIEWER}, headers=headers)


@pytest.fixture
def provider() -> Provider:
    return Provider()


async def test_rs256_and_es256_tokens_name_role_and_account_from_configured_claims(
    store: DocumentStore, provider: Provider, make: Make
) -> None:
    partner = await make.partner()
    rsa_key = provider.add_rsa("rsa-1")
    ec_key = provider.add_ec("ec-1")
    with serving_jwks(provider) as url:
        async with serving(store, settings_for(url)) as http:
            for key, kid in ((rsa_key, "rsa-1"), (ec_key, "ec-1")):
                response = await ask(http, sign(key, kid, tsp_account=partner["_id"]))
                assert response.status_code == 200, response.text
                assert response.json()["data"]["viewer"] == {
                    "role": "PARTNER",
                    "partner": {"id": partner["_id"]},
                }
            # The development secret still works beside the provider.
            admin = await ask(http, token(Role.ADMIN))
            assert admin.json()["data"]["viewer"]["role"] == "ADMIN"
    assert provider.requests == 1  # both keys came in one fetch and stayed cached


async def test_rotation_fetches_the_new_key_once(store: DocumentStore, provider: Provider) -> None:
    old = provider.add_rsa("2026-01")
    with serving_jwks(provider) as url:
        async with serving(store, settings_for(url)) as http:
            assert (await ask(http, sign(old, "2026-01", tsp_role="ADMIN"))).status_code == 200
            new = provider.add_rsa("2026-02")
            del provider.keys["2026-01"]
            tokens = [sign(new, "2026-02", tsp_role="ADMIN") for _ in range(10)]
            answers = await asyncio.gather(*(ask(http, t) for t in tokens))
            assert [a.status_code for a in answers] == [200] * 10
            # Concurrent callers with the new kid waited for one refresh, not ten.
            assert provider.requests == 2


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"aud": "another-api"}, "audience"),
        ({"iss": "https://evil.example/"}, "issuer"),
        ({"exp": utc_now() - timedelta(minutes=5)}, "expired"),
        ({"tsp_role": "ROOT"}, "role"),
        ({"tsp_role": ["PARTNER", "ADMIN"]}, "role"),
        ({"tsp_account": ""}, "account"),
    ],
)
async def test_tokens_with_wrong_claims_are_refused(
    store: DocumentStore, provider: Provider, claims: dict[str, Any], message: str
) -> None:
    key = provider.add_rsa("k1")
    with serving_jwks(provider) as url:
        async with serving(store, settings_for(url)) as http:
            response = await ask(http, sign(key, "k1", **claims))
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert message in error["message"]


async def test_clock_skew_within_the_leeway_is_accepted_beyond_it_refused(
    store: DocumentStore, provider: Provider
) -> None:
    key = provider.add_rsa("k1")
    with serving_jwks(provider) as url:
        async with serving(store, settings_for(url, leeway_seconds=60)) as http:
            recent = utc_now() - timedelta(seconds=20)
            assert (await ask(http, sign(key, "k1", exp=recent))).status_code == 200
            future = utc_now() + timedelta(seconds=30)
            assert (await ask(http, sign(key, "k1", nbf=future))).status_code == 200
            stale = utc_now() - timedelta(seconds=120)
            assert (await ask(http, sign(key, "k1", exp=stale))).status_code == 401


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_wrong_algorithms_are_refused(store: DocumentStore, provider: Provider) -> None:
    key = provider.add_rsa("k1")
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "tsp_role": "ADMIN",
        "tsp_account": "admin",
    }
    claims["exp"] = int((utc_now() + timedelta(minutes=5)).timestamp())
    # The classic confusion: HMAC "signed" with the provider's public key.
    header = _b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{payload}.{_b64(mac)}"
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'kid': 'k1'}).encode())}.{payload}."
    rs512 = jwt.encode(claims, key, algorithm="RS512", headers={"kid": "k1"})
    # An EC key's kid named in an RS256 header.
    ec_key = provider.add_ec("e1")
    mismatched = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "e1"})
    with serving_jwks(provider) as url:
        async with serving(store, settings_for(url)) as http:
            for bad in (confused, unsigned, rs512, mismatched):
                response = await ask(http, bad)
                assert response.status_code == 401, bad
                assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert (await ask(http, sign(ec_key, "e1", **claims))).status_code == 200


async def test_forged_and_foreign_kids_are_refused_and_refreshes_rate_limited(
    store: DocumentStore, provider: Provider
) -> None:
    provider.add_rsa("k1")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with serving_jwks(provider) as url:
        async with serving(store, settings_for(url, refresh_interval_seconds=3600)) as http:
            # A key the provider never published, under a kid it never used.
            for attempt in range(20):
                response = await ask(http, sign(stranger, f"forged-{attempt}", tsp_role="ADMIN"))
                assert response.status_code == 401
                assert "unknown" in response.json()["errors"][0]["message"]
            # A foreign key under the provider's own kid fails the signature.
            response = await ask(http, sign(stranger, "k1", tsp_role="ADMIN"))
            assert response.status_code == 401
            assert "signature" in response.json()["errors"][0]["message"]
            no_kid = await ask(http, sign(stranger, None, tsp_role="ADMIN"))
            assert no_kid.status_code == 401
    # One fetch in all: unknown kids cannot make the gateway hammer the provider.
    assert provider.requests == 1


async def test_provider_down_keeps_cached_keys_and_answers_503_otherwise(
    store: DocumentStore, provider: Provider
) -> None:
    cached = provider.add_rsa("k1")
    with serving_jwks(provider) as url:
        async with serving(store, settings_for(url, max_age_seconds=0)) as http:
            assert (await ask(http, sign(cached, "k1", tsp_role="ADMIN"))).status_code == 200
            provider.up = False
            # Cached keys are stale (max age 0) and the refresh fails: they keep working.
            response = await ask(http, sign(cached, "k1", tsp_role="ADMIN"))
            assert response.status_code == 200
            rotated = provider.add_rsa("k2")
            response = await ask(http, sign(rotated, "k2", tsp_role="ADMIN"))
            assert response.status_code == 503
            assert response.json()["errors"][0]["extensions"]["code"] == (
                "IDENTITY_PROVIDER_UNAVAILABLE"
            )
            assert int(response.headers["Retry-After"]) >= 1
            provider.up = True
            assert (await ask(http, sign(rotated, "k2", tsp_role="ADMIN"))).status_code == 200


async def test_provider_never_reached_answers_503(store: DocumentStore, provider: Provider) -> None:
    key = provider.add_rsa("k1")
    with serving_jwks(provider) as url:
        pass  # the server is gone: nothing listens on the URL any more
    async with serving(store, settings_for(url)) as http:
        response = await ask(http, sign(key, "k1", tsp_role="ADMIN"))
        assert response.status_code == 503
        assert (await ask(http, None)).status_code == 200  # anonymous callers are unaffected


def test_settings_require_the_three_together() -> None:
    base = {"TSP_JWT_SECRET": JWT_SECRET}
    assert Settings.from_env(base).oidc is None
    with pytest.raises(SettingsError, match="TSP_JWT_AUDIENCE"):
        Settings.from_env(
            {**base, "TSP_JWT_JWKS_URL": "https://idp.example/jwks", "TSP_JWT_ISSUER": ISSUER}
        )
    full = {
        **base,
        "TSP_JWT_JWKS_URL": "https://idp.example/jwks",
        "TSP_JWT_ISSUER": ISSUER,
        "TSP_JWT_AUDIENCE": AUDIENCE,
        "TSP_JWT_ROLE_CLAIM": "https://tsp.example/role",
        "TSP_JWT_LEEWAY_SECONDS": "30",
    }
    oidc = Settings.from_env(full).oidc
    assert oidc is not None and oidc.role_claim == "https://tsp.example/role"
    assert oidc.leeway_seconds == 30
    for name, value in (
        ("TSP_JWT_JWKS_URL", "ftp://idp.example/jwks"),
        ("TSP_JWT_LEEWAY_SECONDS", "3600"),
        ("TSP_JWT_LEEWAY_SECONDS", "-1"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**full, name: value})
    with pytest.raises(OidcSettingsError):
        OidcSettings.from_env({"TSP_JWT_ISSUER": ISSUER})
