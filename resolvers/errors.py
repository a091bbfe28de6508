"""Errors a client is meant to read; anything else is masked (see ``schema.extensions``)."""

from __future__ import annotations

from enum import StrEnum

from graphql import GraphQLError


class QueryErrorCode(StrEnum):
    """Codes of errors that fail a query field (mutations report userErrors instead)."""

    NOT_FOUND = "NOT_FOUND"
    INVALID_ID = "INVALID_ID"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_PAGE_SIZE = "INVALID_PAGE_SIZE"
    INVALID_EXPIRING_WITHIN_DAYS = "INVALID_EXPIRING_WITHIN_DAYS"
    INVALID_DATETIME = "INVALID_DATETIME"
    TOO_MANY_IDS = "TOO_MANY_IDS"
    INVALID_SEARCH = "INVALID_SEARCH"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    EVENT_CURSOR_PRUNED = "EVENT_CURSOR_PRUNED"
    NO_EVENT_TYPES = "NO_EVENT_TYPES"
    SLOW_CONSUMER = "SLOW_CONSUMER"
    INVALID_TIME_ZONE = "INVALID_TIME_ZONE"
    INVALID_DATE_RANGE = "INVALID_DATE_RANGE"


class PublicError(GraphQLError):
    """An error whose message and ``extensions.code`` are shown to the client as they are."""

    def __init__(self, message: str, code: QueryErrorCode, **extensions: object) -> None:
        super().__init__(message, extensions={"code": code.value, **extensions})
        self.code = code


def unknown_account(kind: str) -> PublicError:
    """A well-signed token naming a partner or seller that does not exist: the caller is not
    who the token says, so they must sign in again (not a rule of the input they sent)."""
    return PublicError(
        f"the {kind} account your token names does not exist: sign in again",
        QueryErrorCode.UNAUTHENTICATED,
    )
