"""gzip for the clients that accept it: Starlette's middleware, deciding by the weights of
``Accept-Encoding`` rather than by finding the word ``gzip`` in it."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Receive, Scope, Send

from edge.accept import accepts_coding


class NegotiatedGZipMiddleware(GZipMiddleware):
    """Compresses a response only for a client whose ``Accept-Encoding`` gives ``gzip`` a weight
    above 0 (``gzip;q=0`` refuses it, RFC 9110 12.5.3; a coding's name is case-insensitive)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        responder: ASGIApp
        if accepts_coding(Headers(scope=scope).get("accept-encoding", ""), "gzip"):
            responder = GZipResponder(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=self.exclude_content_types,
            )
        else:
            responder = IdentityResponder(
                self.app, self.minimum_size, exclude_content_types=self.exclude_content_types
            )
        await responder(scope, receive, send)
