"""Tokens from an OpenID Connect provider: RS256/ES256 JWTs verified with the provider's JWKS.

PyJWT parses keys and verifies signatures and claims; this module owns what PyJWT's own
``PyJWKClient`` does not give an async gateway: keys are fetched with httpx off the event
loop's critical path (no blocking ``urllib`` call inside a request), an unknown ``kid`` triggers
at most one refresh per ``refresh_interval`` (so forged kids cannot make the gateway hammer the
provider), and a provider that is down leaves the cached keys working. Only when no cached key
can decide (a kid never seen while the endpoint is down) is the caller told to retry (503).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt import PyJWK

logger = logging.getLogger("tsp.oidc")

ALGORITHMS = ("RS256", "ES256")
MAX_LEEWAY_SECONDS = 300


class OidcSettingsError(ValueError):
    """The environment describes no usable OpenID Connect provider."""


class KeysUnavailableError(Exception):
    """No cached key can verify the token and the provider's JWKS cannot be fetched now."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("the identity provider's signing keys cannot be fetched; retry later")
        self.retry_after = retry_after


@dataclass(frozen=True)
class OidcSettings:
    """Where the provider's keys are and what its tokens must say.

    ``role_claim`` and ``account_claim`` name the claims carrying the caller's role (PARTNER,
    SELLER or ADMIN) and its partner or seller id; providers often put them in namespaced
    custom claims (``https://tsp.example/role``), so a claim name is taken literally.
    """

    jwks_url: str
    issuer: str
    audience: str
    role_claim: str = "role"
    account_claim: str = "sub"
    leeway_seconds: int = 60
    # The least time between two fetches of the JWKS caused by unknown kids or stale keys.
    refresh_interval_seconds: float = 60.0
    # Keys older than this are refetched when next used (the old ones stay if that fails).
    max_age_seconds: float = 3600.0
    fetch_timeout_seconds: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OidcSettings | None:
        """The provider ``env`` names (``TSP_JWT_JWKS_URL``, ``TSP_JWT_ISSUER`` and
        ``TSP_JWT_AUDIENCE``, all three or none), or ``None``."""
        names = ("TSP_JWT_JWKS_URL", "TSP_JWT_ISSUER", "TSP_JWT_AUDIENCE")
        given = {name: (env.get(name) or "").strip() for name in names}
        if not any(given.values()):
            return None
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise OidcSettingsError(
                f"{', '.join(missing)} must be set too: TSP_JWT_JWKS_URL, TSP_JWT_ISSUER and "
                "TSP_JWT_AUDIENCE are required together"
            )
        url = given["TSP_JWT_JWKS_URL"]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OidcSettingsError(f"TSP_JWT_JWKS_URL must be an http(s) URL, got {url!r}")
        leeway = _whole(env, "TSP_JWT_LEEWAY_SECONDS", 60)
        if leeway > MAX_LEEWAY_SECONDS:
            raise OidcSettingsError(
                f"TSP_JWT_LEEWAY_SECONDS must be at most {MAX_LEEWAY_SECONDS}, got {leeway}"
            )
        return cls(
            jwks_url=url,
            issuer=given["TSP_JWT_ISSUER"],
            audience=given["TSP_JWT_AUDIENCE"],
            role_claim=(env.get("TSP_JWT_ROLE_CLAIM") or "role").strip(),
            account_claim=(env.get("TSP_JWT_ACCOUNT_CLAIM") or "sub").strip(),
            leeway_seconds=leeway,
            refresh_interval_seconds=_whole(env, "TSP_JWT_JWKS_REFRESH_SECONDS", 60, minimum=0),
            max_age_seconds=_whole(env, "TSP_JWT_JWKS_MAX_AGE_SECONDS", 3600),
        )


def _whole(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    text = (env.get(name) or str(default)).strip()
    if not text.isdigit() or int(text) < minimum:
        raise OidcSettingsError(
            f"{name} must be a whole number of at least {minimum}, got {text!r}"
        )
    return int(text)


class JwksCache:
    """The provider's signing keys by ``kid``, fetched lazily and refreshed when needed."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None  # the last successful fetch
        self._attempted_at: float | None = None  # the last attempt, failed or not
        self._last_failed = False
        self._lock = asyncio.Lock()
        self.fetches = 0  # attempts, for tests and metrics

    async def key(self, kid: str) -> PyJWK | None:
        """The key named ``kid``; ``None`` when the provider does not publish it.

        Raises :class:`KeysUnavailableError` when the kid is not cached and the provider
        could not be asked (down now, or down at the last attempt within the interval).
        """
        if kid in self._keys and not self._stale():
            return self._keys[kid]
        async with self._lock:
            # Another request may have refreshed while this one waited for the lock.
            if kid in self._keys and not self._stale():
                return self._keys[kid]
            if self._may_fetch():
                await self._fetch()
        if kid in self._keys:
            return self._keys[kid]
        if self._last_failed:
            raise KeysUnavailableError(retry_after=self._retry_after())
        return None

    def _stale(self) -> bool:
        return (
            self._fetched_at is None
            or time.monotonic() - self._fetched_at > self.settings.max_age_seconds
        )

    def _may_fetch(self) -> bool:
        if self._attempted_at is None:
            return True
        return time.monotonic() - self._attempted_at >= self.settings.refresh_interval_seconds

    def _retry_after(self) -> int:
        if self._attempted_at is None:
            return 1
        waited = time.monotonic() - self._attempted_at
        return max(1, int(self.settings.refresh_interval_seconds - waited + 0.999))

    async def _fetch(self) -> None:
        self._attempted_at = time.monotonic()
        self.fetches += 1
        # Only a gateway that trusts an identity provider fetches keys: one that does not
        # starts without loading httpx.
        import httpx

        try:
            async with httpx.AsyncClient(timeout=self.settings.fetch_timeout_seconds) as client:
                response = await client.get(
                    self.settings.jwks_url, headers={"Accept": "application/json"}
                )
            response.raise_for_status()
            keys = _signing_keys(response.json())
        except (httpx.HTTPError, ValueError) as error:
            # The cached keys stay: a provider outage must not log every caller out.
            self._last_failed = True
            logger.warning("JWKS fetch from %s failed: %s", self.settings.jwks_url, error)
            return
        self._keys = keys
        self._fetched_at = time.monotonic()
        self._last_failed = False


def _signing_keys(document: Any) -> dict[str, PyJWK]:
    """The usable signing keys of a JWKS document, by kid; keys without a kid, for encryption,
    or for an algorithm the gateway does not accept are left out."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the JWKS document has no 'keys' list")
    keys: dict[str, PyJWK] = {}
    for data in document["keys"]:
        if not isinstance(data, dict) or not isinstance(data.get("kid"), str):
            continue
        if data.get("use", "sig") != "sig":
            continue
        try:
            key = PyJWK(data)
        except jwt.PyJWTError:
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[data["kid"]] = key
    return keys
