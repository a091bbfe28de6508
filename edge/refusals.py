"""The one shape of a refusal by the transport layer: a GraphQL error response with a code,
counted in the metrics."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from edge.metrics import count_refusal


def refusal(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    **details: Any,
) -> JSONResponse:
    """A ``{"errors": [...]}`` response carrying ``code`` and ``details`` in its extensions."""
    count_refusal(code)
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code, **details}}]},
        status_code=status,
        headers=headers,
    )
