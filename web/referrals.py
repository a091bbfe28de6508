"""``GET /r/<code>``: Shop Registration referral links sellers follow to TikTok Shop onboarding."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from datastore.enums import ReferralLinkKind
from resolvers.identity import ANONYMOUS, caller_of
from resolvers.referrals import REFERRAL_PATH_PREFIX, follow_referral, record_click

__all__ = ["NOT_AVAILABLE_PAGE", "referral_routes"]

# Every answer may change (the partner turns the service off or on again) and every visit must
# reach the gateway to be counted, so nothing along the way may cache either response.
_NO_STORE = {"Cache-Control": "no-store"}

# Static on purpose: nothing from the request is echoed back into the page.
NOT_AVAILABLE_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <title>Referral link not available</title>
</head>
<body>
  <main>
    <h1>This referral link is not available</h1>
    <p>The link may be mistyped, or the partner who shared it has turned it off.
    Ask them for a current link.</p>
  </main>
</body>
</html>
"""


TOO_MANY_REQUESTS_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Too many requests</title></head>
<body><main><h1>Too many requests</h1><p>Wait a moment, then open the link again.</p></main>
</body>
</html>
"""


async def _throttled(request: Request) -> Response | None:
    """A 429 answer when the visitor's address has spent its budget (each visit costs 1, from
    the same bucket as that address's anonymous GraphQL calls: ``request.app.state.throttle``),
    else ``None``."""
    client = request.client.host if request.client else "unknown"
    caller = caller_of(ANONYMOUS, client)
    throttle = request.app.state.throttle
    cooling = throttle.cooling_down(caller)
    if cooling:
        headers = {**_NO_STORE, "Retry-After": str(cooling)}
        return HTMLResponse(TOO_MANY_REQUESTS_PAGE, status_code=429, headers=headers)
    decision = await throttle.spend(caller, 1)
    if decision.granted:
        return None
    headers = {**_NO_STORE, "Retry-After": str(decision.retry_after_seconds)}
    return HTMLResponse(TOO_MANY_REQUESTS_PAGE, status_code=429, headers=headers)


def referral_routes(
    onboarding_urls: Mapping[ReferralLinkKind, str], *, throttled: bool
) -> list[Route]:
    """Return the route that redirects a referral link to the onboarding page of its kind
    (``onboarding_urls``, 302) and counts the visit (``request.app.state.deferred_writes``),
    or answers 404 with a small HTML page when the link is unknown or its service or partner
    is not available; a visitor's address is ``throttled`` when the gateway throttles. The
    store is ``request.app.state.store``."""

    async def follow(request: Request) -> Response:
        refused = await _throttled(request) if throttled else None
        if refused is not None:
            return refused
        store = request.app.state.store
        followed = await follow_referral(store, request.path_params["code"], onboarding_urls)
        if followed is None:
            return HTMLResponse(NOT_AVAILABLE_PAGE, status_code=404, headers=_NO_STORE)
        # Link checkers and previews send HEAD; only a GET is a seller's visit. The seller is
        # sent on even while the store cannot take the click: it is counted later.
        if request.method == "GET":
            deferred = request.app.state.deferred_writes  # edge.deferred_writes.DeferredWrites
            await deferred.write("referral click", partial(record_click, store, followed.click))
        return RedirectResponse(followed.url, status_code=302, headers=_NO_STORE)

    return [Route(f"{REFERRAL_PATH_PREFIX}{{code}}", follow, methods=["GET"], name="referral")]
