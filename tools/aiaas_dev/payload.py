"""The parts of an HTTP API event that come from the raw request: headers, cookies, query, body.

Headers are lower-cased and repeated ones comma-joined; ``Cookie`` headers become ``cookies``;
repeated query parameters are comma-joined; a body travels as text for textual content types
and base64 for anything else.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

# Request bodies of these types reach the function as text; every other type, and a body
# without a Content-Type, arrives base64-encoded.
TEXT_CONTENT_TYPES = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/xml",
        "application/yaml",
        "application/x-yaml",
        "application/graphql",
    }
)

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def is_text_content_type(content_type: str | None) -> bool:
    """Whether a body of this Content-Type travels as text (else base64).

    Args:
        content_type: The Content-Type header value, parameters allowed (``; charset=...``).

    Returns:
        True for ``text/*``, ``*+json``, ``*+xml`` and `TEXT_CONTENT_TYPES`.
    """
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return (
        mime.startswith("text/") or mime.endswith(("+json", "+xml")) or mime in TEXT_CONTENT_TYPES
    )


def encode_body(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """Encode a request body for the event.

    Args:
        body: The raw request body.
        content_type: The request's Content-Type, if any.

    Returns:
        ``(body, isBase64Encoded)``: ``(None, False)`` for an empty body; text for textual
        types that decode as UTF-8; base64 for everything else.
    """
    if not body:
        return None, False
    if is_text_content_type(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def normalize_headers(headers: Headers) -> tuple[dict[str, str], list[str]]:
    """Lower-case header names, comma-join repeats and split out the cookies.

    Args:
        headers: A mapping or ``(name, value)`` pairs, names in any case, repeats allowed.

    Returns:
        ``(headers, cookies)``: every ``Cookie`` header is split at ``;`` into ``cookies``.
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in pairs:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            merged[key] = f"{merged[key]},{value}" if key in merged else value
    return merged, cookies


def query_parameters(raw_query_string: str) -> dict[str, str]:
    """Decode a query string; repeated parameters are comma-joined (``a=1&a=2`` -> ``1,2``)."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query_string, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def new_request_id() -> str:
    """A request ID shaped like API Gateway's (``JKJaXmPLvHcESHA=``)."""
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")
