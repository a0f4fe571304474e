"""Text fields people name things with: no NUL, no control characters, no bidi overrides.

A bidi override (U+202A-U+202E, U+2066-U+2069) makes a name read differently than it is
stored (``evil\u202egnp.exe``); control characters break logs and terminals. Descriptions
may hold line breaks and tabs, names may not.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _check(value: str, allowed: str) -> str:
    for index, char in enumerate(value):
        if char in BIDI or (unicodedata.category(char) == "Cc" and char not in allowed):
            raise PydanticCustomError(
                "unsafe_text",
                "character {index} (U+{code:04X}) is a control or bidi-override character",
                {"index": index, "code": ord(char)},
            )
    return value


def _name(value: str) -> str:
    return _check(value, "")


def _prose(value: str) -> str:
    return _check(value, "\n\t")


SafeName = Annotated[str, AfterValidator(_name)]
SafeProse = Annotated[str, AfterValidator(_prose)]


def _email(value: str) -> str:
    """``local@domain.tld``: one ``@``, no spaces or control characters, a dot in the domain.

    The email is a login name here (the platform sends no mail), so a syntax check is enough;
    email-validator's full RFC and IDNA checks would cost every function ~40 ms of cold start,
    because FastAPI imports it at start whenever it is installed.
    """
    value = value.strip()
    local, at, domain = value.rpartition("@")
    labels = domain.split(".")
    if (
        not at
        or not local
        or "@" in local
        or len(local) > 64
        or len(labels) < 2
        or any(not label or label.startswith("-") or label.endswith("-") for label in labels)
        or any(char.isspace() or unicodedata.category(char) == "Cc" for char in value)
        or any(char in BIDI for char in value)
    ):
        raise PydanticCustomError("email", "value is not a valid email address", {})
    return value


Email = Annotated[str, AfterValidator(_email)]
