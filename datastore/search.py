"""The words the App & Service Store searches, computed once when a service is written.

Search is by whole words, case-insensitively: a service stores the words of its text and a
query matches when every query word is among them. Storing words (rather than matching
substrings at query time) lets both adapters answer with an exact array lookup, so a search
for "live" finds "LIVE Management" but not "deliver".
"""

from __future__ import annotations

import re
import unicodedata

# Runs of letters and digits in any script: ``\w`` without the underscore.
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The distinct words of ``text``, case-folded, in order of first appearance.

    Anything that is not a letter or a digit separates words. Text is NFKC-normalised around
    case folding so that equivalent spellings (full-width letters, composed accents) match.
    Scripts written without spaces (Thai, Japanese, Chinese) yield one word per unbroken run.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return list(dict.fromkeys(_WORD.findall(folded)))


def name_sort(name: str) -> str:
    """The key services sort by name on: case-insensitive, surrounding spaces ignored."""
    return unicodedata.normalize("NFKC", name.strip().casefold())


def search_fields(
    name: str, description: str | None, partner_name: str
) -> dict[str, list[str] | str]:
    """The denormalised search fields of a service, to store alongside it on every write.

    ``searchTerms``: the words of the name, description and partner name (what ``query``
    matches); ``nameTerms``: the words of the name alone (what relevance ranks on);
    ``nameSort``: the name as sorted by the NAME sort key.
    """
    return {
        "searchTerms": words(" ".join((name, description or "", partner_name))),
        "nameTerms": words(name),
        "nameSort": name_sort(name),
    }
