"""Who is calling: a bearer token signed with the development secret (HS256) or by the
configured OpenID Connect provider (RS256/ES256, verified with its JWKS)."""

from __future__ import annotations

from typing import Any

from edge.oidc import ALGORITHMS, JwksCache, OidcSettings
from resolvers.identity import (
    ANONYMOUS,
    InvalidTokenError,
    Role,
    Viewer,
    bearer_token,
    viewer_from_authorization,
)


class Authenticator:
    """Turns an ``Authorization`` header into a :class:`Viewer`.

    The token's header picks the verifier, but never the key: an HS256 token is checked only
    against the development secret and an RS256/ES256 one only against the provider's key of
    that kid and algorithm, so a token "signed" with a public key as an HMAC secret, or with
    ``alg: none``, is refused.
    """

    def __init__(self, secret: str, oidc: OidcSettings | None = None) -> None:
        self.secret = secret
        self.oidc = oidc
        self.keys = JwksCache(oidc) if oidc is not None else None

    async def viewer(self, header: str | None) -> Viewer:
        """The caller ``header`` names; raises :class:`InvalidTokenError` for a bad token and
        :class:`edge.oidc.KeysUnavailableError` when the provider's keys cannot be had."""
        token = bearer_token(header)
        if token is None:
            return ANONYMOUS
        import jwt  # PyJWT loads cryptography (0.1 s): serving starts without waiting for it

        try:
            unverified = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidTokenError(f"token is invalid: {error}") from error
        algorithm = unverified.get("alg")
        if algorithm == "HS256":
            return viewer_from_authorization(self.secret, header)
        if algorithm in ALGORITHMS and self.keys is not None:
            return await self._provider_viewer(token, unverified)
        accepted = ["HS256", *(ALGORITHMS if self.keys is not None else ())]
        raise InvalidTokenError(
            f"token algorithm {algorithm!r} is not accepted (accepted: {', '.join(accepted)})"
        )

    async def _provider_viewer(self, token: str, header: dict[str, Any]) -> Viewer:
        assert self.keys is not None and self.oidc is not None
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("token names no signing key ('kid' header)")
        key = await self.keys.key(kid)
        if key is None:
            raise InvalidTokenError("token signing key is unknown to the identity provider")
        if header.get("alg") != key.algorithm_name:
            raise InvalidTokenError("token algorithm does not match its signing key")
        import jwt

        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[key.algorithm_name],
                audience=self.oidc.audience,
                issuer=self.oidc.issuer,
                leeway=self.oidc.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidTokenError("token has expired") from error
        except jwt.InvalidAudienceError as error:
            raise InvalidTokenError("token is not meant for this gateway (audience)") from error
        except jwt.InvalidIssuerError as error:
            raise InvalidTokenError("token comes from another issuer") from error
        except jwt.InvalidSignatureError as error:
            raise InvalidTokenError("token signature is invalid") from error
        except jwt.PyJWTError as error:
            raise InvalidTokenError(f"token is invalid: {error}") from error
        return Viewer(
            role=_role(claims.get(self.oidc.role_claim), self.oidc.role_claim),
            subject_id=_account(claims.get(self.oidc.account_claim), self.oidc.account_claim),
        )


def _role(value: object, claim: str) -> Role:
    """The one gateway role a claim names: a string, or a list holding exactly one role
    (providers list every role of a user; extra roles of other applications are ignored)."""
    values = value if isinstance(value, list) else [value]
    names = {role.value for role in Role}
    roles = {Role(v.upper()) for v in values if isinstance(v, str) and v.upper() in names}
    if len(roles) != 1:
        raise InvalidTokenError(f"token claim {claim!r} names no single valid role")
    return roles.pop()


def _account(value: object, claim: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidTokenError(f"token claim {claim!r} names no account")
    return value.strip()
