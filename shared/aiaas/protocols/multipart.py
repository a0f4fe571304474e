"""``multipart/form-data`` bodies (RFC 7578), read with the standard library's email parser.

OpenAI's transcription upload is the only form the API takes. python-multipart would do it
too, but Starlette imports it at start whenever it is installed: ~6 ms (more without
bytecode) of every FastAPI function's cold start, for one route. The email parser is
imported with the first form instead, and reads a 4 MB upload in ~0.1 s, against seconds of
transcription.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiaas.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class FilePart:
    """An uploaded file: its name as sent, its declared type and its bytes."""

    filename: str
    content_type: str
    data: bytes


def parse_form(
    body: bytes, content_type: str, *, max_fields: int, max_files: int, max_field_bytes: int
) -> dict[str, list[str | FilePart]]:
    """The form's values by field name, in order.

    Raises:
        InvalidInput: Not a multipart form, a part without a field name, too many fields or
            files, a text field over ``max_field_bytes`` or not UTF-8 (``param="file"``, or
            the field's name).
    """
    from email import policy  # noqa: PLC0415 - with the first form only
    from email.parser import BytesParser  # noqa: PLC0415

    if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
        raise InvalidInput("send multipart/form-data with the fields file and model", param="file")
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise InvalidInput("the multipart form cannot be read", param="file")
    fields: dict[str, list[str | FilePart]] = {}
    counts = {"fields": 0, "files": 0}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_content_disposition() != "form-data" or not isinstance(name, str) or not name:
            raise InvalidInput("every part of the form needs a form-data name", param="file")
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        kind = "files" if filename is not None else "fields"
        counts[kind] += 1
        if counts["files"] > max_files or counts["fields"] > max_fields:
            raise InvalidInput(
                f"the form has more than {max_files} file(s) or {max_fields} fields", param=name
            )
        value: str | FilePart
        if filename is not None:
            value = FilePart(filename, part.get_content_type(), data)
        else:
            value = _text(data, name, max_field_bytes)
        fields.setdefault(name, []).append(value)
    return fields


def _text(data: bytes, name: str, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise InvalidInput(f"{name} is over {max_bytes} bytes", param=name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name} is not UTF-8 text", param=name) from exc
