"""Who is calling: bearer JWTs (HS256) naming a role and the partner or seller id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from datastore.codec import utc_now
from datastore.store import DocumentStore

ISSUER = "tsp-gateway"
_ALGORITHM = "HS256"


class Role(StrEnum):
    PARTNER = "PARTNER"
    SELLER = "SELLER"
    ADMIN = "ADMIN"


class InvalidTokenError(Exception):
    """The bearer token is malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class Viewer:
    """The caller of one request; ``role`` is ``None`` for anonymous callers."""

    role: Role | None = None
    subject_id: str | None = None
    # Worked out once: every visibility rule asks, for every document a request reads.
    is_admin: bool = field(init=False, repr=False, compare=False)
    partner_id: str | None = field(init=False, repr=False, compare=False)
    seller_id: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        role, subject_id = self.role, self.subject_id
        object.__setattr__(self, "is_admin", role is Role.ADMIN)
        object.__setattr__(self, "partner_id", subject_id if role is Role.PARTNER else None)
        object.__setattr__(self, "seller_id", subject_id if role is Role.SELLER else None)


ANONYMOUS = Viewer()


def caller_of(viewer: Viewer, client: str) -> str:
    """The throttling key of a caller: its token's subject, or its address when anonymous."""
    if viewer.role is None or viewer.subject_id is None:
        return f"address:{client}"
    return f"{viewer.role.value}:{viewer.subject_id}"


def issue_token(secret: str, role: Role, subject_id: str, ttl: timedelta) -> str:
    """A signed token for ``role`` acting as ``subject_id`` that expires after ``ttl``."""
    import jwt  # PyJWT loads cryptography (0.1 s): serving starts without waiting for it

    now = utc_now()
    claims = {"iss": ISSUER, "sub": subject_id, "role": role.value, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def bearer_token(header: str | None) -> str | None:
    """The token of a ``Bearer`` header; ``None`` without a header.

    Raises :class:`InvalidTokenError` for a header that is not ``Bearer <token>``.
    """
    if header is None or not header.strip():
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidTokenError("Authorization header must be 'Bearer <token>'")
    return token.strip()


def viewer_from_authorization(secret: str, header: str | None) -> Viewer:
    """The viewer an ``Authorization`` header names; no header is anonymous.

    Raises :class:`InvalidTokenError` for anything else that is not a valid bearer token:
    a bad token never silently becomes anonymous access.
    """
    token = bearer_token(header)
    if token is None:
        return ANONYMOUS
    import jwt  # PyJWT loads cryptography (0.1 s): serving starts without waiting for it

    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise InvalidTokenError("token has expired") from error
    except jwt.InvalidSignatureError as error:
        raise InvalidTokenError("token signature is invalid") from error
    except jwt.PyJWTError as error:
        raise InvalidTokenError(f"token is invalid: {error}") from error
    try:
        role = Role(str(claims.get("role")))
    except ValueError as error:
        raise InvalidTokenError("token names no valid role") from error
    subject = claims["sub"]
    # An empty subject names nobody: read as "no owner", it would see every owner's lists.
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidTokenError("token names no account")
    return Viewer(role=role, subject_id=subject)


DEMO_TOKEN_TTL = timedelta(days=30)


async def demo_tokens(store: DocumentStore, secret: str) -> dict[str, str]:
    """Tokens signed with ``secret`` for the first demo partner and seller and an admin, for
    GraphiQL's banner (valid :data:`DEMO_TOKEN_TTL`)."""
    from datastore.demo import demo_subjects

    subjects = await demo_subjects(store)
    return {
        role: issue_token(secret, Role(role.upper()), subject, DEMO_TOKEN_TTL)
        for role, subject in subjects.items()
    }
