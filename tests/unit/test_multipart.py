"""multipart/form-data with the standard library's parser: the bytes of a file exactly as sent
(binary data that looks like line ends and boundaries included), text fields, and every
malformed or oversized form refused by name."""

from __future__ import annotations

import os

import httpx
import pytest

from aiaas.errors import InvalidInput
from aiaas.protocols.multipart import FilePart, parse_form

LIMITS = {"max_fields": 4, "max_files": 1, "max_field_bytes": 64}


def form(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]] | None = None
) -> tuple[bytes, str]:
    files = files if files is not None else {"file": ("a.wav", b"RIFF", "audio/wav")}
    request = httpx.Request("POST", "http://test/", data=fields, files=files)
    return request.read(), request.headers["content-type"]


def test_a_file_arrives_byte_for_byte_beside_its_fields() -> None:
    data = os.urandom(20_000) + b"\r\n--boundary\r\n\r\n" + bytes(range(256)) + b"\r"
    body, content_type = form({"model": "whisper-tiny-en", "prompt": "café"},
                              {"file": ("a.wav", data, "audio/wav")})  # fmt: skip
    parsed = parse_form(body, content_type, **LIMITS)
    assert parsed["model"] == ["whisper-tiny-en"] and parsed["prompt"] == ["café"]
    assert parsed["file"] == [FilePart("a.wav", "audio/wav", data)]


def test_repeated_fields_keep_their_order() -> None:
    body, content_type = form({"timestamp_granularities[]": ["segment", "word"]})  # type: ignore[dict-item]
    parsed = parse_form(body, content_type, **LIMITS)
    assert parsed["timestamp_granularities[]"] == ["segment", "word"]


@pytest.mark.parametrize(
    ("fields", "files", "param"),
    [
        ({"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}, None, "e"),
        ({"model": "x" * 65}, None, "model"),
        ({}, {"file": ("a", b"1", "audio/wav"), "other": ("b", b"2", "audio/wav")}, "other"),
    ],
)  # fmt: skip
def test_too_much_is_refused_naming_the_field(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]] | None, param: str
) -> None:
    body, content_type = form(fields, files)
    with pytest.raises(InvalidInput) as refused:
        parse_form(body, content_type, **LIMITS)
    assert refused.value.param == param


def test_text_that_is_not_utf8_is_refused() -> None:
    boundary = "b0"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n'.encode()
            + b"\xff\xfe\r\n" + f"--{boundary}--\r\n".encode())  # fmt: skip
    with pytest.raises(InvalidInput, match="not UTF-8"):
        parse_form(body, f"multipart/form-data; boundary={boundary}", **LIMITS)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"model=x", "application/x-www-form-urlencoded"),
        (b"--b0\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b0--\r\n",
         "multipart/form-data; boundary=b0"),
        (b"no parts at all", "multipart/form-data; boundary=b0"),
        (b"", "multipart/form-data"),
    ],
)  # fmt: skip
def test_what_is_not_a_readable_form_is_refused(body: bytes, content_type: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_form(body, content_type, **LIMITS)
    assert refused.value.param == "file"
