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
    extensions: dict[str, Any] | None = None,
    **details: Any,
) -> JSONResponse:
    """A ``{"errors": [...]}`` response carrying ``code`` and ``details`` in its error's
    extensions, and ``extensions`` (such as the cost report) beside the errors."""
    count_refusal(code)
    body: dict[str, Any] = {
        "errors": [{"message": message, "extensions": {"code": code, **details}}]
    }
    if extensions:
        body["extensions"] = extensions
    return JSONResponse(body, status_code=status, headers=headers)
