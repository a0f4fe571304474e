"""Synthetic tabular datasets for the training tests and bench: numbers and categories with
missing values, a constant and an empty column, and a target the features explain."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

CITIES = ["lisbon", "porto", "braga", "faro"]
COLUMNS = ["age", "income", "city", "plan", "visits", "region_code", "constant", "empty", "churn"]


def churn_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Rows as objects: None is a missing value."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        age = float(np.round(rng.normal(45, 12), 1))
        income = float(np.round(rng.lognormal(10, 0.5), 2))
        city = CITIES[int(rng.integers(0, len(CITIES)))]
        plan = ["basic", "plus", "pro"][int(rng.integers(0, 3))]
        visits = int(rng.poisson(4))
        code = f"R{int(rng.integers(0, 40)):02d}"  # 40 distinct: ordinal-encoded
        score = 0.06 * (age - 45) - 0.4 * visits + (1.2 if plan == "basic" else 0.0)
        score += 0.8 if city == "faro" else 0.0
        churn = "yes" if score + rng.normal(0, 0.8) > -1.0 else "no"
        row: dict[str, Any] = {
            "age": age, "income": income, "city": city, "plan": plan, "visits": visits,
            "region_code": code, "constant": "same", "empty": None, "churn": churn,
        }  # fmt: skip
        if i % 7 == 3:
            row["age"] = None
        if i % 11 == 5:
            row["city"] = None
        if i % 13 == 2:
            row["income"] = None
        rows.append(row)
    return rows


def to_csv(rows: list[dict[str, Any]], columns: list[str] | None = None) -> bytes:
    """CSV with a header; None is an empty cell, NaN is ``NA``."""
    columns = columns or list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for name in columns:
            value = row.get(name)
            if value is None:
                cells.append("")
            elif isinstance(value, float) and math.isnan(value):
                cells.append("NA")
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return out.getvalue().encode()


def diabetes_csv() -> bytes:
    """scikit-learn's diabetes set (442 rows, 10 numbers, a numeric target) as CSV."""
    from sklearn.datasets import load_diabetes  # noqa: PLC0415

    data = load_diabetes()
    names = [str(n) for n in data.feature_names]
    rows = [
        dict(zip(names, map(float, x), strict=True)) | {"progression": float(y)}
        for x, y in zip(data.data, data.target, strict=True)
    ]
    return to_csv(rows, [*names, "progression"])
