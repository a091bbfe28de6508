"""History through the API: typed for code generators, and readable whatever was stored."""

from __future__ import annotations

from datetime import timedelta

import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.ids import new_id
from datastore.store import DocumentStore
from resolvers import history
from resolvers.identity import Role, Viewer
from tests.conftest import GraphQLClient, Make, token_of

QUERY = """query($id: ID!) { node(id: $id) { ... on Service { history { edges { node {
  action fromStatus toStatus reasonCode } } } } } }"""


def test_history_fields_are_enums_in_the_schema() -> None:
    from schema.api import schema

    entry = schema._schema.type_map["HistoryEntry"]
    kinds = {name: str(entry.fields[name].type) for name in entry.fields}  # type: ignore[attr-defined]
    assert kinds["action"] == "HistoryAction!"
    assert kinds["fromStatus"] == kinds["toStatus"] == "HistoryStatus"
    assert kinds["reasonCode"] == "HistoryReasonCode"


async def test_entries_read_as_enums_and_legacy_verbs_as_past_tense(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    service = await make.service(partner)
    await history.record(
        store,
        subject_id=service["_id"],
        action="DEACTIVATED",
        actor=Viewer(Role.PARTNER, partner["_id"]),
        from_status="LIVE",
        to_status="DEACTIVATED",
        reason_code="DEACTIVATED_BY_PARTNER",
    )
    # An entry stored by an older release, when request moves were verbs.
    await store.insert(
        c.HISTORY,
        {
            "_id": new_id("hst"),
            "subjectId": service["_id"],
            "action": "CLOSE",
            "fromStatus": "DEACTIVATED",
            "toStatus": "DEACTIVATED",
            "reasonCode": "PARTNER_REMOVED",
            "createdAt": utc_now() + timedelta(seconds=1),  # newest, whatever the clock's grain
        },
    )
    result = await gql(QUERY, {"id": service["_id"]}, as_=token_of(partner))
    assert "errors" not in result, result
    nodes = [e["node"] for e in result["data"]["node"]["history"]["edges"]]
    assert nodes == [
        {
            "action": "CLOSED",
            "fromStatus": "DEACTIVATED",
            "toStatus": "DEACTIVATED",
            "reasonCode": "PARTNER_REMOVED",
        },
        {
            "action": "DEACTIVATED",
            "fromStatus": "LIVE",
            "toStatus": "DEACTIVATED",
            "reasonCode": "DEACTIVATED_BY_PARTNER",
        },
    ]


async def test_recording_an_unknown_action_is_refused(store: DocumentStore) -> None:
    import pytest

    with pytest.raises(ValueError):
        await history.record(
            store, subject_id=new_id("svc"), action="EXPLODED", actor=Viewer(Role.ADMIN, "admin")
        )
    assert await store.count(c.HISTORY) == 0


def test_changed_values_land_in_the_field_of_their_kind() -> None:
    from schema.changes import changed_value, field_changes

    service_id = new_id("svc")
    changes = field_changes(
        {
            "endsAt": {"from": "2026-01-01T00:00:00+00:00", "to": "2026-04-01T00:00:00+00:00"},
            "authorizationsClosed": {"from": 0, "to": 3},
            "highlights": {"from": ["Fast"], "to": []},
            "changesFromOffer": {
                "serviceIds": {"offered": [service_id, new_id("svc")], "consented": [service_id]},
                "settings.tspAccess": {"offered": True, "consented": False},
                "contact.name": {"offered": None, "consented": "Bo"},
            },
        }
    )
    by_field = {change.field: (change.before, change.after) for change in changes}
    assert by_field["endsAt"][1] == changed_value("2026-04-01T00:00:00+00:00")
    assert by_field["endsAt"][1].text == "2026-04-01T00:00:00+00:00"  # type: ignore[union-attr]
    assert by_field["authorizationsClosed"][1].number == 3  # type: ignore[union-attr]
    assert by_field["highlights"][0].texts == ["Fast"]  # type: ignore[union-attr]
    assert by_field["changesFromOffer.serviceIds"][1].ids == [service_id]  # type: ignore[union-attr]
    assert by_field["changesFromOffer.settings.tspAccess"][1].flag is False  # type: ignore[union-attr]
    assert by_field["changesFromOffer.contact.name"][0] is None


def test_a_status_change_without_a_reason_code_is_refused() -> None:
    actor = Viewer(Role.PARTNER, "ptn_x")
    with pytest.raises(ValueError, match="name a reason code"):
        history.entry(
            subject_id="svc_x",
            action="DEACTIVATED",
            actor=actor,
            from_status="LIVE",
            to_status="DEACTIVATED",
        )
    # A new subject's first status, and an edit that keeps the status, change none.
    assert history.entry(subject_id="svc_x", action="CREATED", actor=actor, to_status="DRAFT")
    assert history.entry(
        subject_id="svc_x", action="UPDATED", actor=actor, from_status="LIVE", to_status="LIVE"
    )
