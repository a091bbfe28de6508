"""Where the pages an authorization link opens live, so the API can give links as URLs."""

from __future__ import annotations

OFFER_AUTHORIZATION_PATH = "/authorize/"
"""``/authorize/<offer link token>``: the seller's authorization page of a service offer."""

SERVICE_AUTHORIZATION_PATH = "/authorize/service/"
"""``/authorize/service/<service link token>``: the default authorization application."""


def offer_authorization_url(base_url: str, token: str) -> str:
    """The absolute URL of an offer's authorization page on the gateway at ``base_url``."""
    return f"{base_url}{OFFER_AUTHORIZATION_PATH}{token}"


def service_authorization_url(base_url: str, token: str) -> str:
    """The absolute URL of a service's default authorization page."""
    return f"{base_url}{SERVICE_AUTHORIZATION_PATH}{token}"
