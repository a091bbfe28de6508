"""Documents are typed: mypy --strict reports a misspelt field of a document read through the
store, a loader or a page, and accepts the correctly spelt one (the point of issue 10, item 6)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[1]

# Each line marked `# wrong: <code>` must be reported with that error code, and nothing else
# may be reported: the same reads, correctly spelt, pass.
CHECKED = """\
from datastore import collections as c
from datastore.loaders import ListSpec, Loaders
from datastore.paging import Page
from datastore.store import DocumentStore


async def found(store: DocumentStore, partner_id: str) -> str:
    partners = await store.find(c.PARTNERS, {"_id": partner_id})
    misspelt = partners[0]["nmae"]  # wrong: typeddict-item
    return partners[0]["name"]


async def by_id(store: DocumentStore, partner_id: str) -> str:
    partner = (await store.get_many(c.PARTNERS, [partner_id]))[partner_id]
    misspelt = partner["contactMail"]  # wrong: typeddict-item
    return partner["registrationRegion"]


async def loaded(loaders: Loaders, partner_id: str) -> str:
    partner = await loaders.partner_by_id.load(partner_id)
    assert partner is not None
    misspelt = partner["nmae"]  # wrong: typeddict-item
    return partner["name"]


async def paged(loaders: Loaders, partner_id: str) -> str:
    page = await loaders.services_by_partner.load((partner_id, ListSpec(page=Page(size=5))))
    service = page.documents[0]
    misspelt = service["partnerid"]  # wrong: typeddict-item
    return service["partnerId"]


async def untyped(store: DocumentStore) -> int:
    return len(await store.find("partners"))  # wrong: arg-type
"""

_REPORTED = re.compile(r"^[^:]+:(\d+): error: .*\[([a-z-]+)\]$")


def test_mypy_reports_misspelt_fields_of_stored_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "reads.py"
    module.write_text(CHECKED)
    expected = {
        (number, line.rpartition("# wrong: ")[2])
        for number, line in enumerate(CHECKED.splitlines(), start=1)
        if "# wrong: " in line
    }
    # The project's mypy settings (pyproject.toml), its packages found from the repository.
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MYPYPATH", str(ROOT))
    report, errors, status = api.run(
        [
            "--strict",
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / "mypy_cache"),
            "--no-error-summary",
            str(module),
        ]
    )
    assert errors == "", errors
    reported = {
        (int(match[1]), match[2])
        for line in report.splitlines()
        if (match := _REPORTED.match(line))
    }
    assert status == 1, report
    assert reported == expected, report
    assert 'TypedDict "PartnerDocument" has no key "nmae"' in report
    assert 'TypedDict "ServiceDocument" has no key "partnerid"' in report
