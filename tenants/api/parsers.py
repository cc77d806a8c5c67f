"""The API's one JSON parser: bodies are bounded in size and depth before Python parses them.

Python's `json` recurses once per nesting level, so `"[" * 5000` raises RecursionError (a 500)
and a few hundred levels inside a block's `data` fail later, in `copy.deepcopy`. Every API
route parses through `JSONParser` below (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES), so no route
sees a body deeper than `MAX_JSON_DEPTH` or larger than Django's DATA_UPLOAD_MAX_MEMORY_SIZE:
those are a 400 that says the limit.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers, renderers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 32
"""How deeply arrays and objects may nest. A flow document needs about 8 levels."""

# A JSON string (escapes included) or one bracket: brackets inside strings are not nesting.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text `raw` nests arrays and objects more than `limit` levels deep.

    A linear scan that never recurses, so it is safe on any input; on malformed JSON it may
    answer either way, and the parser refuses that input anyway.

    First a quick pass in C (a 500-event body has thousands of brackets, and a Python loop over
    them cost 3 ms): strings out, then only the brackets kept, then innermost pairs removed
    ``limit // 2`` times (each round removes one or two levels). Nothing left means at most
    ``limit`` levels; anything else (deeper, or malformed) gets the exact scan below.
    """
    brackets = _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS)
    for _ in range(limit // 2):
        if not brackets:
            return False
        brackets = brackets.replace(b"{}", b"").replace(b"[]", b"")
    if not brackets:
        return False
    depth = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token in {b"[", b"{"}:
            depth += 1
            if depth > limit:
                return True
        elif token in {b"]", b"}"}:
            depth -= 1
    return False


def too_deep_message(limit: int = MAX_JSON_DEPTH) -> str:
    return (
        f"The JSON body nests arrays and objects more than {limit} levels deep; "
        f"flatten it to at most {limit} levels."
    )


class JSONParser(parsers.BaseParser):
    """DRF's JSON parser, refusing bodies larger or deeper than the limits with a 400.

    Not a subclass of DRF's: DRF hands its own JSONParser `request.body`, which Django refuses
    past the size limit with an HTML 400 before any parser runs. This one reads the stream
    itself, at most one byte past the limit, so the limit's message is the API's.
    """

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw: bytes = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise ParseError(
                f"The JSON body is larger than {limit:,} bytes; send less "
                "(split a batch of events into several requests)."
            )
        if json_depth_exceeds(raw):
            raise ParseError(too_deep_message())
        return parsers.JSONParser().parse(io.BytesIO(raw), media_type, parser_context)
