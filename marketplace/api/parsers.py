"""The API's only body parser: JSON whose strings PostgreSQL can store.

PostgreSQL text cannot hold NUL characters, and UTF-8 cannot encode an unpaired surrogate (which JSON's
``\\ud800`` escapes allow). Either would fail deep in a write as a server error; here it is a 400 that names
where in the document it is. Bodies without such escapes (nearly all) skip the walk.
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

SUSPICIOUS = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _find_unstorable(value, path: str = "$") -> str | None:
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if UNSTORABLE.search(key):
                    return f"{where} (a key)"
                stack.append((child, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return None


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            data = json.loads(raw.decode(settings.DEFAULT_CHARSET))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from None
        if SUSPICIOUS.search(raw):
            where = _find_unstorable(data)
            if where:
                raise ParseError(
                    f"The string at {where} holds a NUL character or an unpaired surrogate, which cannot be stored."
                )
        return data
