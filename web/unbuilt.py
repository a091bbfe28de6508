"""What the browser build's pages and files answer before ``make run`` has built them: 503 with
one message that says how to build them, never a server error.

Starlette's ``StaticFiles(check_dir=False)`` lets the app start without its directory but raises
on the first request (an HTTP 500 with a traceback); :class:`BuiltFiles` answers 503 instead.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

__all__ = ["BuiltFiles", "not_built"]

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>App not built</title></head>
<body><main><h1>The authorization pages are not built</h1>
<p>Run <code>make run</code>: it installs the app's packages from npm, builds it into
<code>web/app/dist/</code> and registers its operations as trusted documents.</p>
</main></body></html>
"""


def not_built() -> HTMLResponse:
    """The answer of a page or file whose build is missing (retry once ``make`` has run)."""
    return HTMLResponse(_NOT_BUILT, status_code=503, headers={"Retry-After": "30"})


class BuiltFiles(StaticFiles):
    """The files of a build output directory, or :func:`not_built` while it does not exist."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, check_dir=False)
        self._root = directory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._root.is_dir():
            await not_built()(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
