"""PyMongo's errors as the store's, checked without a server: real PyMongo exception objects,
as the driver builds them from a server's reply, go through the adapter's mapping.

Server-side trouble (a node electing, stepping down, shutting down, timing out) is
STORE_UNAVAILABLE, retryable, whether it arrives as a "not primary" error, a plain
``OperationFailure`` or inside a batch's ``BulkWriteError``; a refusal of the work itself (a
duplicate key, a bad query) stays what it was; a write that a majority did not confirm is
COMMIT_UNKNOWN (it may have been written), whatever its code."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DuplicateKeyError,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    WriteConcernError,
)
from pymongo.helpers_shared import _RETRYABLE_ERROR_CODES

from datastore.mongodb import UNAVAILABLE_CODES, MongoStore, is_store_trouble
from datastore.store import (
    STORE_TROUBLE,
    CommitUnknownError,
    StoreUnavailableError,
)
from datastore.store import (
    DuplicateKeyError as StoreDuplicateKeyError,
)

# Never connected: the mapping needs no server.
STORE = MongoStore("mongodb://db.example/tsp")


def _mapped(error: PyMongoError) -> BaseException:
    """What the adapter raises in place of ``error`` (outside a transaction)."""
    try:
        with STORE._errors("partners"):
            raise error
    except BaseException as raised:
        return raised
    raise AssertionError("unreachable")


def _batch(code: int, *, concern: bool = False) -> BulkWriteError:
    details: dict[str, Any] = {
        "writeErrors": [{"index": 0, "code": code, "errmsg": f"error {code}", "op": {}}],
        "writeConcernErrors": [],
        "nInserted": 0,
        "nUpserted": 0,
        "nMatched": 0,
        "nModified": 0,
        "nRemoved": 0,
        "upserted": [],
    }
    if concern:
        details["writeConcernErrors"] = [{"code": 64, "errmsg": "waiting for replication"}]
    return BulkWriteError(details)


def test_every_code_pymongo_retries_is_store_trouble() -> None:
    # PyMongo's own list (the not-primary and node-is-recovering codes included): a release
    # that adds one shows up here.
    assert _RETRYABLE_ERROR_CODES <= UNAVAILABLE_CODES


@pytest.mark.parametrize("code", sorted(UNAVAILABLE_CODES))
def test_a_server_that_cannot_take_the_work_now_is_unavailable(code: int) -> None:
    error = OperationFailure(f"server said {code}", code=code)
    assert is_store_trouble(error)
    mapped = _mapped(error)
    assert isinstance(mapped, StoreUnavailableError), mapped
    assert f"server said {code}" in str(mapped)
    assert mapped.__cause__ is error


@pytest.mark.parametrize("code", sorted(UNAVAILABLE_CODES))
def test_the_same_codes_inside_a_batch_are_unavailable(code: int) -> None:
    mapped = _mapped(_batch(code))
    assert isinstance(mapped, StoreUnavailableError), mapped


@pytest.mark.parametrize(
    "error",
    [
        NotPrimaryError("not primary", {"code": 10107, "errmsg": "not primary"}),
        AutoReconnect("connection reset"),
        OperationFailure("operation exceeded time limit", code=50),
        OperationFailure(
            "pool overloaded", code=1, details={"errorLabels": ["SystemOverloadedError"]}
        ),
        # What with_transaction raises when its budget ran out while conflicts went on.
        OperationFailure(
            "write conflict", code=112, details={"errorLabels": ["TransientTransactionError"]}
        ),
    ],
    ids=["not-primary", "reconnect", "max-time-expired", "overloaded", "conflicts-past-budget"],
)
def test_what_pymongo_raises_for_an_unreachable_or_slow_server_is_unavailable(
    error: PyMongoError,
) -> None:
    assert isinstance(_mapped(error), StoreUnavailableError)


@pytest.mark.parametrize(
    "error",
    [
        OperationFailure("unknown operator: $bogus", code=2),  # BadValue: a bad query
        OperationFailure("not authorized on tsp", code=13),  # Unauthorized
        OperationFailure("index options conflict", code=85),
        _batch(121),  # DocumentValidationFailure, inside a batch
    ],
    ids=["bad-query", "unauthorized", "index-conflict", "batch-validation"],
)
def test_a_refusal_of_the_work_itself_stays_as_it_was(error: PyMongoError) -> None:
    assert not is_store_trouble(error)
    assert _mapped(error) is error


def test_a_duplicate_key_is_the_stores_duplicate_key_alone_or_in_a_batch() -> None:
    alone = DuplicateKeyError(
        "E11000 duplicate key", 11000, {"keyPattern": {"code": 1}, "errmsg": "E11000"}
    )
    assert isinstance(_mapped(alone), StoreDuplicateKeyError)
    assert isinstance(_mapped(_batch(11000)), StoreDuplicateKeyError)


@pytest.mark.parametrize("code", [64, 91, 189, 11602])
def test_a_write_a_majority_did_not_confirm_may_have_been_written(code: int) -> None:
    # Written on the primary, not confirmed (a step-down during the wait, whatever the code):
    # not "unavailable", which says nothing was written.
    error = WriteConcernError("waiting for replication interrupted", code=code)
    mapped = _mapped(error)
    assert isinstance(mapped, CommitUnknownError), mapped
    assert isinstance(mapped, STORE_TROUBLE)
    concern_only = BulkWriteError(
        {"writeErrors": [], "writeConcernErrors": [{"code": code, "errmsg": "interrupted"}]}
    )
    assert isinstance(_mapped(concern_only), CommitUnknownError)
