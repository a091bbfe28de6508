"""Full-text indexes for the SQLite adapter: an FTS5 table beside a collection.

A text index (``IndexSpec(..., text=True)``) names array fields of words (see
``datastore.search``). The FTS5 table holds, per document (under the collection row's rowid),
each field's words joined by spaces; triggers keep it in step with every write, inside the
writing transaction. The ``ascii`` tokenizer splits on ASCII spaces and punctuation only and
folds ASCII case, and the words are already case-folded runs of letters and digits, so one
stored word is one token: a match is exactly "the array holds this word", the semantics of
``$contains``, now answered from an inverted index instead of walking every document.

FTS5 keeps one posting list per token for all columns, so the words of the second and later
fields are stored with a column prefix (``c1live``): a query on one field then reads that
field's postings only, not every occurrence of the word in any field.

VACUUM may renumber the rowids of collection tables; drop the ``<collection>__text`` table
afterwards and :meth:`SQLiteStore.ensure_indexes` rebuilds it from the documents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from datastore.sqlite_query import where_sql
from datastore.store import Filter, IndexSpec, Score, check_path

Terms = list[tuple[str, str]]
"""``(field, word)`` pairs that must all hold."""


def table(collection: str) -> str:
    return f"{collection}__text"


def create_statements(spec: IndexSpec) -> list[str]:
    """The FTS5 table and the triggers that keep it in step with ``spec.collection``."""
    collection, text = spec.collection, table(spec.collection)
    names, values = _columns(spec)
    insert = f'INSERT INTO "{text}" (rowid, {names}) VALUES (new.rowid, {values});'
    delete = f'DELETE FROM "{text}" WHERE rowid = old.rowid;'
    return [
        f"CREATE VIRTUAL TABLE \"{text}\" USING fts5({names}, tokenize = 'ascii')",
        f'CREATE TRIGGER "{text}_insert" AFTER INSERT ON "{collection}" BEGIN {insert} END',
        f'CREATE TRIGGER "{text}_delete" AFTER DELETE ON "{collection}" BEGIN {delete} END',
        update_trigger(spec),
        f'INSERT INTO "{text}" (rowid, {names}) SELECT rowid, '
        + values.replace("new.doc", "doc")
        + f' FROM "{collection}"',
    ]


def update_trigger_name(spec: IndexSpec) -> str:
    return f"{table(spec.collection)}_update"


def update_trigger(spec: IndexSpec) -> str:
    """The trigger that re-indexes a document whose words changed, and only then: FTS5 writes
    several rows of its own for each document it indexes (more when it merges segments), so a
    write that leaves the words as they were (unlisting a service, moving a timestamp) would
    otherwise cost a batch of them about ten times its one row."""
    collection, text = spec.collection, table(spec.collection)
    names, values = _columns(spec)
    changed = " OR ".join(
        f"json_extract(old.doc, '$.{name}') IS NOT json_extract(new.doc, '$.{name}')"
        for name in spec.fields
    )
    return (
        f'CREATE TRIGGER "{update_trigger_name(spec)}" AFTER UPDATE ON "{collection}" '
        f"WHEN old.rowid IS NOT new.rowid OR {changed} "
        f'BEGIN DELETE FROM "{text}" WHERE rowid = old.rowid; '
        f'INSERT INTO "{text}" (rowid, {names}) VALUES (new.rowid, {values}); END'
    )


def _columns(spec: IndexSpec) -> tuple[str, str]:
    """The FTS5 table's columns, and the values of a new document's words for them."""
    columns = [check_path(name) for name in spec.fields]
    if any("." in name for name in columns):
        raise ValueError("text indexes cover top-level fields")
    values = ", ".join(
        f"(SELECT group_concat('{_prefix(index)}' || value, ' ') "
        f"FROM json_each(new.doc, '$.{name}'))"
        for index, name in enumerate(columns)
    )
    return ", ".join(columns), values


def split(filter: Filter | None, fields: Sequence[str]) -> tuple[Filter, Terms]:
    """``filter`` without its top-level ``$contains`` of a word in a text-indexed field, and
    those ``(field, word)`` pairs (which the text index answers instead)."""
    rest: list[Filter] = []
    terms: Terms = []
    for part in _conjuncts(filter or {}):
        [(key, condition)] = part.items()
        if (
            key in fields
            and isinstance(condition, Mapping)
            and list(condition) == ["$contains"]
            and isinstance(condition["$contains"], str)
        ):
            terms.append((key, condition["$contains"]))
        else:
            rest.append(part)
    return ({"$and": rest} if rest else {}), terms


def match(terms: Terms, fields: Sequence[str]) -> str:
    """The FTS5 query that every pair of ``terms`` holds (``fields``: the index's fields)."""
    return " AND ".join(_phrase(fields, field, word) for field, word in terms)


SORT, SEMI_JOIN, WALK = 0, 1, 2
"""The ways a search reads a level (see :func:`way`)."""

SAMPLE = 128
"""A search reads at most this many matches, newest rowids first, to choose its way: fewer
is their exact count; this many, an estimate from the rowids they span (see :func:`way`)."""

SORT_COST = 12
"""Rows a walk skips by their rowid alone for the cost of one match read and sorted."""

CHECK_COST = 40
"""Matches read into a set for the cost of one row whose own words a walk checks."""


def levels(
    score: Score, terms: Terms, fields: Sequence[str], direction: int, start: int | None
) -> list[tuple[int, str]]:
    """The score levels of a ranked search in listing order, from ``start`` on, each with the
    full-text query of its rows: every term, and exactly ``k`` of the score words in the
    score field (exact for the top and bottom levels; middle ones hold at least one word,
    and the read checks how many)."""
    field, words = score
    distinct = list(dict.fromkeys(words))
    top = len(distinct)
    held = [_phrase(fields, field, word) for word in distinct]
    wanted = match(terms, fields)
    order = range(top, -1, -1) if direction < 0 else range(top + 1)
    result = []
    for level in order:
        if start is not None and (level > start if direction < 0 else level < start):
            continue
        if level == top:
            query = " AND ".join([f"({wanted})", *held])
        elif level == 0:
            query = f"({wanted}) NOT ({' OR '.join(held)})"
        else:
            query = f"({wanted}) AND ({' OR '.join(held)})"
        result.append((level, query))
    return result


def way(collection: str, page: int | None, forced: int | None = None) -> str:
    """SQL choosing how to read the matches of the full-text query ``?`` (one parameter).

    With ``m`` matches among ``n`` rows, a page of ``p``: reading and sorting the matches
    costs ``m`` documents; walking the listing's index keeping rows whose rowid is among
    the matches costs ``m`` postings and about ``p * n / m`` index entries; walking it and
    checking each row's words costs ``p * n / m`` documents. So: sort when ``m`` is below
    about the square root of ``p * n / SORT_COST``, walk checking words when it is above
    about the square root of ``p * n * CHECK_COST``, keep by rowid between. ``n`` is the
    collection's largest rowid (deletions only shift the choice a little). The worst a level
    costs is then about ``sqrt(p * n)`` cheap steps. ``forced`` (for tests) reads every
    level one way.

    ``m`` is not counted: counting reads the posting lists of every word of the query (a
    common word's is a fixed share of the collection), as long as reading the matches
    themselves. The newest :data:`SAMPLE` matches are read instead (FTS5 reads its posting
    lists in rowid order and stops there): fewer is ``m`` exactly, so a level of few matches
    is still sorted; otherwise ``m`` is estimated as ``SAMPLE`` times ``n`` over the rowids
    they span, which costs the same at any size for words that hold a fixed share of the
    rows. A wrong estimate (matches bunched in rowid) only makes a level slower, never its
    rows different: every way reads exactly the matches.
    """
    if forced is not None:
        return f"(CASE WHEN ? IS NULL THEN {int(forced)} ELSE {int(forced)} END)"
    if page is None:
        return f"(CASE WHEN ? IS NULL THEN {SORT} ELSE {SORT} END)"
    text = table(collection)
    newest = (
        f"SELECT count(*) AS _k, min(rowid) AS _low, coalesce((SELECT max(rowid) FROM "
        f'"{collection}"), 0) AS _n FROM (SELECT rowid FROM "{text}" WHERE "{text}" MATCH ? '
        f"ORDER BY rowid DESC LIMIT {SAMPLE})"
    )
    estimate = (
        f"SELECT CASE WHEN _k < {SAMPLE} THEN _k ELSE _k * _n / max(_n - _low + 1, 1) END "
        f"AS _m, {int(page)} * _n AS _spread FROM ({newest})"
    )
    return (
        f"(SELECT CASE WHEN _m * _m >= _spread * {CHECK_COST} THEN {WALK} "
        f"WHEN _m * _m * {SORT_COST} > _spread THEN {SEMI_JOIN} ELSE {SORT} END "
        f"FROM ({estimate}))"
    )


def holds_sql(field: str, word: str, params: list[Any]) -> str:
    """SQL true when the row's array ``field`` holds ``word``, checked on the row itself.

    The array's text is searched for the word as an element, which costs a fraction of
    walking it with ``json_each``: in minified JSON an element opens with an unescaped quote
    right after ``[`` or ``,`` (a quote inside a string is escaped), and a word of letters
    and digits has nothing to escape, so ``,"word"`` is found in the array's text with its
    ``[`` read as ``,`` exactly when an element is ``word``. Other values go through
    ``json_each``.
    """
    if not word.isalnum():
        return where_sql({field: {"$contains": word}}, params)
    path = check_path(field)
    params.append("," + json.dumps(word, ensure_ascii=False))
    return (
        f"coalesce(json_type(doc, '$.{path}') = 'array' AND "
        f"instr(',' || substr(json_extract(doc, '$.{path}'), 2), ?) > 0, 0)"
    )


def held_count_sql(score: Score, params: list[Any]) -> str:
    """How many of the distinct score words the row's own array holds (see :func:`holds_sql`),
    the same count as the store's score, without reading the posting lists."""
    field, words = score
    parts = [holds_sql(field, word, params) for word in dict.fromkeys(words)]
    return "(" + " + ".join(parts) + ")" if parts else "0"


def scores_by_text(score: Score | None, fields: Sequence[str]) -> bool:
    """Whether the text index can compute ``score`` (words held in an indexed field)."""
    return (
        score is not None
        and score[0] in fields
        and all(isinstance(value, str) for value in score[1])
    )


def score_sql(collection: str, score: Score, fields: Sequence[str], params: list[Any]) -> str:
    """How many of the distinct score words the row's field holds, from the text index.

    Each word's rowids are read once from its posting list; no document is parsed.
    """
    field, words = score
    text = table(collection)
    parts = []
    for word in dict.fromkeys(words):
        params.append(_phrase(fields, field, word))
        parts.append(f'(rowid IN (SELECT rowid FROM "{text}" WHERE "{text}" MATCH ?))')
    return "(" + " + ".join(parts) + ")" if parts else "0"


def _phrase(fields: Sequence[str], field: str, word: str) -> str:
    """``word`` in ``field``, as an FTS5 column filter and string."""
    stored = _prefix(list(fields).index(field)) + word
    return f'{field} : "' + stored.replace('"', '""') + '"'


def _prefix(column: int) -> str:
    return f"c{column}" if column else ""


def _conjuncts(filter: Filter) -> list[Filter]:
    parts: list[Filter] = []
    for key, condition in filter.items():
        if key == "$and":
            for sub in condition:
                parts += _conjuncts(sub)
        else:
            parts.append({key: condition})
    return parts
