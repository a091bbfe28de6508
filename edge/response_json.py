"""How the GraphQL endpoint writes its JSON: orjson, for every answer and stream message.

A large answer (the partner dashboard at 50 offers is about 900 KB) cost the standard
library's encoder several milliseconds; orjson writes the same JSON (UTF-8 as is rather than
``\\u`` escapes) in a fraction of that. What orjson refuses (an integer beyond 64 bits, a key
that is not a string) is written by ``json`` as before.
"""

from __future__ import annotations

import json

import orjson


def encode_json(data: object) -> str:
    """``data`` as compact JSON text (text, not bytes: WebSocket messages must be text)."""
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data, separators=(",", ":"))
