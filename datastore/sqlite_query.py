"""Translation of the store's filter and sort language into SQLite over JSON documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datastore.codec import to_json_scalar
from datastore.store import ASCENDING, SCORE, Filter, Score, Sort, check_path, full_sort

SCORE_COLUMN = "_score"
"""The column a scored read computes its score into (see ``SQLiteStore.find``)."""

_COMPARISONS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<=", "$ne": "IS NOT"}


def field_sql(path: str) -> str:
    """The SQL expression of a field; indexes are created on exactly this expression."""
    if path == "_id":
        return "id"
    if path == SCORE:
        return SCORE_COLUMN
    return f"json_extract(doc, '$.{check_path(path)}')"


def where_sql(filter: Filter | None, params: list[Any]) -> str:
    """A WHERE condition for ``filter``; its parameters are appended to ``params``."""
    if not filter:
        return "1"
    clauses: list[str] = []
    for key, condition in filter.items():
        if key in ("$or", "$and"):
            parts = [where_sql(sub, params) for sub in condition]
            joiner = " OR " if key == "$or" else " AND "
            default = "0" if key == "$or" else "1"
            clauses.append(f"({joiner.join(parts) or default})")
        elif isinstance(condition, Mapping) and any(op.startswith("$") for op in condition):
            for operator, operand in condition.items():
                clauses.append(_operator_sql(key, operator, operand, params))
        else:
            clauses.append(_operator_sql(key, "$eq", condition, params))
    return " AND ".join(clauses)


def _operator_sql(path: str, operator: str, operand: Any, params: list[Any]) -> str:
    column = field_sql(path)
    if operator == "$eq":
        if operand is None:
            return f"{column} IS NULL"
        params.append(to_json_scalar(operand))
        return f"{column} = ?"
    if operator in ("$in", "$nin"):
        values = list(operand)
        present = [to_json_scalar(v) for v in values if v is not None]
        params.extend(present)
        marks = ", ".join("?" for _ in present)
        if operator == "$in":
            inside = f"{column} IN ({marks})" if present else "0"
            return f"({inside} OR {column} IS NULL)" if None in values else inside
        outside = f"{column} NOT IN ({marks})" if present else "1"
        # A missing field is in no list (as in MongoDB), unless the list holds None.
        if None in values:
            return f"({outside} AND {column} IS NOT NULL)"
        return f"({column} IS NULL OR {outside})"
    if operator == "$contains":
        params.append(to_json_scalar(operand))
        # Only an array contains: json_each would also walk a scalar or an object's members.
        array = check_path(path)
        return (
            f"(json_type(doc, '$.{array}') = 'array' AND "
            f"EXISTS (SELECT 1 FROM json_each(doc, '$.{array}') WHERE value = ?))"
        )
    if operator in _COMPARISONS:
        if operator == "$ne" and operand is not None:
            params.append(to_json_scalar(operand))
            return f"({column} IS NULL OR {column} != ?)"
        if operand is None:
            return f"{column} IS NOT NULL" if operator == "$ne" else "0"
        params.append(to_json_scalar(operand))
        return f"{column} {_COMPARISONS[operator]} ?"
    raise ValueError(f"unsupported filter operator {operator!r}")


def score_sql(score: Score, params: list[Any]) -> str:
    """The SQL expression of a read's score; its parameters are appended to ``params``."""
    path = check_path(score[0])
    values = list(dict.fromkeys(to_json_scalar(value) for value in score[1]))
    if not values:
        return "0"
    params.extend(values)
    marks = ", ".join("?" for _ in values)
    # Only arrays score: json_each would otherwise walk a scalar or an object's members.
    return (
        f"(CASE WHEN json_type(doc, '$.{path}') = 'array' THEN "
        f"(SELECT COUNT(DISTINCT value) FROM json_each(doc, '$.{path}') "
        f"WHERE value IN ({marks})) ELSE 0 END)"
    )


def order_sql(sort: Sort) -> str:
    return ", ".join(
        f"{field_sql(name)} {'ASC' if direction == ASCENDING else 'DESC'}"
        for name, direction in full_sort(sort)
    )
