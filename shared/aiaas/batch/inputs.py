"""Reading a job's input file into rows: JSONL (``{"id", "input"}`` per line) or CSV.

Every input line (every CSV record after the header) becomes exactly one row: a row to
score, or a row that already carries its error (not JSON, no ``id``, too long...). Rows are
numbered by their line in the file, from 1, so error rows point at the line to fix.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from aiaas.batch.records import InputFormat

ID_COLUMN = "id"


@dataclass(frozen=True, slots=True)
class Row:
    """One input row, normalized.

    Attributes:
        line: Its line in the input file (1-based).
        id: The caller's id for it (None when the line had none to read).
        input: What to run the model on (None when ``error`` is set).
        error: Why the row cannot run.
    """

    line: int
    id: Any
    input: Any = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The chunk file's form."""
        if self.error:
            return {"line": self.line, "id": self.id, "error": self.error}
        return {"line": self.line, "id": self.id, "input": self.input}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Row:
        """Back from the chunk file's form."""
        return cls(doc["line"], doc.get("id"), doc.get("input"), doc.get("error", ""))


def read_rows(lines: Iterable[bytes], input_format: InputFormat, max_line: int) -> Iterator[Row]:
    """Rows of an input file, given as raw lines (each may end with ``\\n``)."""
    if input_format == "csv":
        return csv_rows(lines, max_line)
    return jsonl_rows(lines, max_line)


def _numbered(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Lines numbered from 1, without their line ending."""
    for number, raw in enumerate(lines, start=1):
        yield number, raw.rstrip(b"\r\n")


def jsonl_rows(lines: Iterable[bytes], max_line: int) -> Iterator[Row]:
    """JSONL: each line an object with ``id`` (string or integer) and ``input``, or a line of
    OpenAI's Batch API (``custom_id`` and the request ``body``: a chat model's input).

    Blank lines are no rows (a file may end with an extra newline).
    """
    for number, raw in _numbered(lines):
        if raw.strip():
            yield _jsonl_row(number, raw, max_line)


def _jsonl_row(number: int, raw: bytes, max_line: int) -> Row:
    if len(raw) > max_line:
        return Row(number, None, error=f"line is {len(raw)} bytes; the limit is {max_line}")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return Row(number, None, error=f"not valid JSON: {exc}")
    if not isinstance(doc, dict):
        return Row(number, None, error='a line must be an object {"id": ..., "input": ...}')
    if "custom_id" in doc:  # OpenAI's Batch API line: {"custom_id", "method", "url", "body"}
        rest = {k: v for k, v in doc.items() if k not in ("custom_id", "method", "url", "body")}
        doc = {"id": doc["custom_id"], "input": doc.get("body"), **rest}
    row_id = doc.get("id")
    if isinstance(row_id, bool) or not isinstance(row_id, str | int):
        return Row(number, None, error="'id' is required: a string or an integer")
    extra = sorted(set(doc) - {"id", "input"})
    problem = (
        "'input' is required"
        if doc.get("input") is None
        else f"unknown fields: {', '.join(extra)}"
        if extra
        else ""
    )
    return Row(number, row_id, None if problem else doc["input"], problem)


def csv_rows(lines: Iterable[bytes], max_line: int) -> Iterator[Row]:
    """CSV with a header: an optional ``id`` column, every other column a number.

    A row without an ``id`` column is known by its record number (1 for the first record
    after the header). Quoted fields may span lines; the row keeps its first line's number.
    """
    numbered = _LineCounter(lines, max_line)
    reader = csv.reader(numbered)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield Row(1, None, error=f"the header is not valid CSV: {exc}")
        return
    names = [name.strip() for name in header]
    id_at = names.index(ID_COLUMN) if ID_COLUMN in names else None
    record = 0
    while True:
        start = numbered.line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            record += 1
            yield Row(start, None, error=f"not valid CSV: {exc}")
            continue
        if not cells:
            continue  # csv yields [] for a blank line: not a record
        record += 1
        row_id: Any = record if id_at is None else (cells[id_at] if id_at < len(cells) else None)
        problem = numbered.too_long(start)
        yield (
            Row(start, row_id, error=problem)
            if problem
            else _csv_row(start, row_id, names, id_at, cells)
        )


def _csv_row(line: int, row_id: Any, names: list[str], id_at: int | None, cells: list[str]) -> Row:
    if len(cells) != len(names):
        return Row(line, row_id, error=f"{len(cells)} columns; the header has {len(names)}")
    values: list[float] = []
    for index, (name, cell) in enumerate(zip(names, cells, strict=True)):
        if index == id_at:
            continue
        try:
            number = float(cell)
        except ValueError:
            return Row(line, row_id, error=f"column {name!r}: {cell[:40]!r} is not a number")
        if not math.isfinite(number):
            return Row(line, row_id, error=f"column {name!r}: {cell!r} is not a finite number")
        values.append(number)
    return Row(line, row_id, values)


class _LineCounter:
    """Decodes lines for `csv.reader` and counts them; notes lines over the length limit."""

    def __init__(self, lines: Iterable[bytes], max_line: int) -> None:
        self._lines = iter(lines)
        self.max_line = max_line
        self.line = 0
        self._long: dict[int, str] = {}

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        self.line += 1
        if len(raw) > self.max_line:
            self._long[self.line] = f"line is {len(raw)} bytes; the limit is {self.max_line}"
            return "\n"
        try:
            return raw.decode("utf-8-sig" if self.line == 1 else "utf-8")
        except UnicodeDecodeError:
            self._long[self.line] = "line is not UTF-8 text"
            return "\n"

    def too_long(self, line: int) -> str:
        """The problem noted for ``line`` (empty when none)."""
        return self._long.pop(line, "")


def stream_lines(body: io.RawIOBase | Any, block: int = 1 << 20) -> Iterator[bytes]:
    """Lines of a readable stream (an S3 body), split on ``\\n`` only, endings kept."""
    pending = b""
    while chunk := body.read(block):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line + b"\n"
    if pending:
        yield pending
