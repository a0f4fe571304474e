"""A training dataset: CSV with a header row, read into typed columns and profiled.

Pure Python (the jobs API may import it). A cell is missing when it is empty or one of
`MISSING` (``NA``, ``NaN``, ``null``...). A column is ``number`` when every present cell
is a finite number, ``string`` otherwise. Constant and all-missing columns are dropped, and
the profile says so.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiaas.errors import InvalidInput

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
ONE_HOT_MAX = 20  # distinct values up to which a string column is one-hot encoded
MAX_CELL = 1000


class DatasetError(InvalidInput):
    """The dataset cannot be trained on; the message names why."""

    code = "invalid_dataset"


@dataclass(frozen=True, slots=True)
class Limits:
    """What the Lambda path trains on (see the README's training limits)."""

    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 100_000
    max_columns: int = 200


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its name, type, and what the profile found."""

    name: str
    kind: str  # number | string
    missing: int
    distinct: int
    encoding: str = ""  # one_hot | ordinal for strings; scaled | passthrough for numbers
    dropped: str = ""  # why the column is not a feature ("" when it is one)

    def to_dict(self) -> dict[str, Any]:
        """The profile's entry."""
        entry: dict[str, Any] = {
            "name": self.name,
            "type": self.kind,
            "missing": self.missing,
            "distinct": self.distinct,
        }
        if self.encoding:
            entry["encoding"] = self.encoding
        if self.dropped:
            entry["dropped"] = self.dropped
        return entry


@dataclass(frozen=True, slots=True)
class Dataset:
    """Typed feature columns, the target, and the profile."""

    features: list[Column]
    cells: list[list[Any]]  # rows of feature cells: float (NaN missing) or str ("" missing)
    target: list[str]  # classification: the cell text; regression: parsed later
    profile: dict[str, Any]

    def schema(self) -> list[dict[str, str]]:
        """The served model's input columns, in order."""
        return [{"name": c.name, "type": c.kind} for c in self.features]


def is_missing(cell: str) -> bool:
    """Whether a CSV cell holds no value."""
    return cell.strip().lower() in MISSING


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_table(data: bytes, limits: Limits) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file; DatasetError for anything that is not one."""
    if len(data) > limits.max_bytes:
        raise DatasetError(
            f"the dataset is {len(data)} bytes; the Lambda training path takes at most "
            f"{limits.max_bytes} bytes"
        )
    if b"\x00" in data[:65536]:
        raise DatasetError("not CSV: the file is binary (it holds NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"not CSV: the file is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise DatasetError("the dataset is empty: it needs a header row and data rows")
        names = [h.strip() for h in header]
        _check_header(names, limits)
        rows = _rows(reader, len(names), limits)
    except csv.Error as exc:
        raise DatasetError(f"not CSV: {exc} (line {reader.line_num})") from exc
    if not rows:
        raise DatasetError("the dataset has a header but no data rows")
    return names, rows


def _rows(reader: Any, width: int, limits: Limits) -> list[list[str]]:
    rows: list[list[str]] = []
    for cells in reader:
        if not cells:
            continue
        if len(cells) != width:
            raise DatasetError(
                f"not CSV with a header: line {reader.line_num} has {len(cells)} cells; "
                f"the header has {width}"
            )
        if len(rows) >= limits.max_rows:
            raise DatasetError(
                f"the dataset has more than {limits.max_rows} rows, the Lambda training "
                "path's limit"
            )
        rows.append(cells)
    return rows


def _check_header(names: list[str], limits: Limits) -> None:
    if len(names) < 2:
        raise DatasetError(
            "not CSV with a header: the first row has one cell; a dataset needs a target and "
            "at least one feature column, separated by commas"
        )
    if len(names) > limits.max_columns:
        raise DatasetError(
            f"the dataset has {len(names)} columns; the limit is {limits.max_columns}"
        )
    if all(_number(n) is not None for n in names):
        raise DatasetError(
            "no header: the first row is all numbers; the first row must name the columns"
        )
    empty = [i + 1 for i, n in enumerate(names) if not n]
    if empty:
        raise DatasetError(f"the header has unnamed columns (column {empty[0]})")
    twice = sorted(n for n, count in Counter(names).items() if count > 1)
    if twice:
        raise DatasetError(f"the header names {twice[0]!r} twice")
    long = [n for n in names if len(n) > 128]
    if long:
        raise DatasetError(f"column name {long[0][:40]!r}... is over 128 characters")


def load_dataset(data: bytes, target: str, task: str, cv: int, limits: Limits) -> Dataset:
    """Read, type and profile a dataset for ``task``; DatasetError naming what is wrong."""
    names, rows = read_table(data, limits)
    if target not in names:
        raise DatasetError(f"target column {target!r} is not in the header ({names[:20]})")
    at = names.index(target)
    labelled = [r for r in rows if not is_missing(r[at])]
    if not labelled:
        raise DatasetError(f"target column {target!r} is missing in every row")
    target_cells = [r[at].strip() for r in labelled]
    balance: dict[str, int] = {}
    if task == "regression":
        bad = next((c for c in target_cells if _number(c) is None), None)
        if bad is not None:
            raise DatasetError(
                f"target column {target!r} is not numeric ({bad[:40]!r}); a regression "
                "target must be a number in every labelled row"
            )
        if len(labelled) < 2 * cv:
            raise DatasetError(f"{len(labelled)} labelled rows are fewer than 2 x cv ({2 * cv})")
    else:
        balance = _classes(target, target_cells, cv)
    columns, cells = _features(names, labelled, at)
    if not any(not c.dropped for c in columns):
        raise DatasetError("no feature column is left (every other column is constant or empty)")
    profile = {
        "rows": len(rows),
        "labelled_rows": len(labelled),
        "target_missing_rows": len(rows) - len(labelled),
        "columns": [c.to_dict() for c in columns],
        "dropped": [c.name for c in columns if c.dropped],
        "target": target,
    }
    if balance:
        profile["class_balance"] = balance
    kept = [i for i, c in enumerate(columns) if not c.dropped]
    features = [columns[i] for i in kept]
    return Dataset(features, [[row[i] for i in kept] for row in cells], target_cells, profile)


def _classes(target: str, cells: list[str], cv: int) -> dict[str, int]:
    """Rows per class, most first; DatasetError when they cannot be cross-validated."""
    balance = dict(Counter(cells).most_common())
    if len(balance) < 2:
        raise DatasetError(
            f"target column {target!r} has one class only ({next(iter(balance))!r}); "
            "classification needs at least two"
        )
    if len(cells) < cv * len(balance):
        raise DatasetError(
            f"{len(cells)} labelled rows are fewer than cv ({cv}) x classes "
            f"({len(balance)}) = {cv * len(balance)}"
        )
    rare = [label for label, count in balance.items() if count < 2]
    if rare:
        raise DatasetError(
            f"class {rare[0]!r} of {target!r} has one row; every class needs at least two"
        )
    if len(balance) > 1000:
        raise DatasetError(f"target column {target!r} has {len(balance)} classes; at most 1000")
    return balance


def _features(
    names: list[str], rows: list[list[str]], target_at: int
) -> tuple[list[Column], list[list[Any]]]:
    columns: list[Column] = []
    typed: list[list[Any]] = [[] for _ in rows]
    for at, name in enumerate(names):
        if at == target_at:
            continue
        raw = [r[at].strip() for r in rows]
        present = [c for c in raw if not is_missing(c)]
        numbers = [_number(c) for c in present]
        numeric = bool(present) and all(n is not None for n in numbers)
        distinct = len(set(numbers if numeric else present))
        missing = len(raw) - len(present)
        dropped = "all missing" if not present else "constant" if distinct == 1 else ""
        if numeric:
            values: list[Any] = [math.nan if is_missing(c) else float(c) for c in raw]
            column = Column(name, "number", missing, distinct, "", dropped)
        else:
            if any(len(c) > MAX_CELL for c in present):
                raise DatasetError(f"column {name!r} has a cell over {MAX_CELL} characters")
            values = ["" if is_missing(c) else c for c in raw]
            encoding = "one_hot" if distinct <= ONE_HOT_MAX else "ordinal"
            column = Column(name, "string", missing, distinct, encoding, dropped)
        columns.append(column)
        for row, value in zip(typed, values, strict=True):
            row.append(value)
    return columns, typed
