"""What the browser tests of the authorization pages share: the system Chromium, a demo
gateway with the app's trusted documents, a GraphQL client for arranging data, screenshots
and the axe-core check."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from edge.documents import document_id
from tests.servers import SECRET, Gateway, running_gateway
from web.spa import APP_DIST, app_built

if TYPE_CHECKING:
    from playwright.async_api import ViewportSize

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = sorted((ROOT / "web" / "app" / "operations").glob("*.graphql"))
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("TSP_SCREENSHOTS", ROOT / "var" / "screenshots"))
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
HOW_TO_GET_CHROMIUM = (
    "no Chromium found: install Debian's with `apt-get install chromium` (.ci/run does), "
    "or point TSP_CHROMIUM at a system Chrome/Chromium binary"
)


def chromium_path() -> str | None:
    """The system Chromium (never a browser build Playwright would download)."""
    configured = os.environ.get("TSP_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    if chromium_path() is None:
        return HOW_TO_GET_CHROMIUM
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed: `make test` installs it (pyproject [test])"
    if not app_built() or not AXE.is_file():
        return f"the app is not built in {APP_DIST}: run `make test` (it builds it with npm)"
    return None


@dataclass
class Demo:
    """A served demo gateway and whom its demo data holds."""

    gateway: Gateway
    workdir: Path
    partner_id: str
    partner_token: str
    seller_id: str
    seller_token: str

    @property
    def url(self) -> str:
        return self.gateway.url

    def cli(self, *args: str) -> str:
        return _cli(self.workdir, *args)

    def api(self, query: str, variables: dict[str, Any] | None = None, *, token: str) -> Any:
        """Runs one of ``HELPERS`` (registered like the app's operations) by its id."""
        assert query in HELPERS, "register the test's query in HELPERS"
        response = httpx.post(
            f"{self.url}/graphql",
            json={"documentId": document_id(query), "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def token(self, role: str, subject: str, hours: float) -> str:
        return self.cli("token", "--role", role, "--id", subject, "--hours", str(hours)).strip()


def _environment(workdir: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TSP_")}
    environment.update(
        {"TSP_JWT_SECRET": SECRET, "TSP_DATABASE_URL": f"sqlite:///{workdir / 'gateway.sqlite3'}"}
    )
    return environment


def _cli(workdir: Path, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())", *args],
        env=_environment(workdir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr + completed.stdout
    return completed.stdout


@contextmanager
def demo_gateway(workdir: Path, env: dict[str, str] | None = None) -> Iterator[Demo]:
    """``tsp-gateway seed --demo``, the app's operations registered as trusted documents, and
    ``serve`` in demo mode accepting registered documents only (so the app proves it sends
    nothing else), with ``env`` added to its environment."""
    seeded = _cli(workdir, "seed", "--demo")
    found = re.findall(r"^\s+(partner|seller)\s+(\S+)\n\s+(\S+)$", seeded, re.M)
    subjects = {role: (subject, token) for role, subject, token in found}
    helpers = []
    for number, text in enumerate(HELPERS):
        path = workdir / f"helper-{number}.graphql"
        path.write_text(text, encoding="utf-8")
        helpers.append(str(path))
    _cli(workdir, "documents", "add", *map(str, OPERATIONS), *helpers)
    environment = {"TSP_DEMO": "1", "TSP_TRUSTED_DOCUMENTS_ONLY": "1", **(env or {})}
    with running_gateway(workdir, env=environment) as gateway:
        yield Demo(
            gateway,
            workdir,
            partner_id=subjects["partner"][0],
            partner_token=subjects["partner"][1],
            seller_id=subjects["seller"][0],
            seller_token=subjects["seller"][1],
        )


LIVE_SERVICES = """query { viewer { partner { services(status: [LIVE], first: 20) {
  nodes { id name authorizationLinkToken } } } } }"""
CREATE_OFFER = """mutation($input: CreateServiceOfferInput!) { createServiceOffer(input: $input) {
  serviceOffer { id linkToken } userErrors { field message code } } }"""
WITHDRAW = """mutation($id: ID!) { withdrawServiceOffer(id: $id) {
  serviceOffer { status } userErrors { code } } }"""
OFFER = """query($token: String!) { serviceOfferByLink(token: $token) { status
  authorizations(first: 20) { nodes { status contact { name email }
    service { name }
    changesFromOffer { field offered { text flag } consented { text flag } } } } } }"""
CREATE_REQUEST = """mutation($input: CreateRequestInput!) { createRequest(input: $input) {
  requests { id } userErrors { field message code } } }"""
AUTHORIZE = """mutation($token: String!) { authorizeServiceOffer(token: $token) {
  authorizations { id } userErrors { code } } }"""
INSIGHTS = """query($from: Date!, $to: Date!, $tz: String!) { viewer { partner {
  insights(from: $from, to: $to, timeZone: $tz) { buckets { startDate authorizationsGranted }
    summary { linkOpens offersAccepted expiringWithin15Days } } } } }"""
HELPERS = (LIVE_SERVICES, CREATE_OFFER, WITHDRAW, OFFER, CREATE_REQUEST, AUTHORIZE, INSIGHTS)


def live_service(demo: Demo, index: int) -> dict[str, str]:
    """The demo partner's live service at ``index`` (id, name, authorizationLinkToken)."""
    live = demo.api(LIVE_SERVICES, token=demo.partner_token)["viewer"]["partner"]["services"]
    service: dict[str, str] = live["nodes"][index]
    return service


def create_offer(
    demo: Demo,
    *,
    services: int = 2,
    first: int = 0,
    days: int = 180,
    seller_id: str | None = None,
    contact: dict[str, str] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """A fresh open offer of the demo partner's first live services (for ``seller_id`` only, if
    given; with ``contact`` instead of Dana's); returns ids, names, token."""
    live = demo.api(LIVE_SERVICES, token=demo.partner_token)["viewer"]["partner"]["services"]
    chosen = live["nodes"][first : first + services]
    assert len(chosen) == services, live
    start = date.today()
    end = start + timedelta(days=days)
    payload = demo.api(
        CREATE_OFFER,
        {
            "input": {
                "serviceIds": [service["id"] for service in chosen],
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
                "settings": {
                    "authorizeObject": "SHOP",
                    "ticketAuthorization": True,
                    "tspAccess": True,
                    "dataCompassAccess": False,
                    **settings,
                },
                "contact": contact or {"name": "Dana Seller", "email": "dana@seller.example"},
                "sellerId": seller_id,
            }
        },
        token=demo.partner_token,
    )["createServiceOffer"]
    assert payload["userErrors"] == []
    return {
        "id": payload["serviceOffer"]["id"],
        "token": payload["serviceOffer"]["linkToken"],
        "services": [service["name"] for service in chosen],
        "endDate": end.isoformat(),
    }
