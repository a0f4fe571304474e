"""Drift statistics: a version's baseline (per-column profiles of its reference data) and
how a window of captured inputs compares with it. Pure numpy, no SDK.

A baseline is ``{"rows", "columns": [profile...], "prediction": profile | None, "text":
{...} | None}``. A profile of a number column keeps 101 percentiles (``inverted_cdf``: each
is a value the data holds, so a column of a few distinct numbers keeps its exact CDF), a
string column its 50 most frequent values with counts and the rest's count. Training writes
one for every trained version; an owner uploads reference rows for any other, or asks for
one made from the version's first captured rows.

Tests, per column of the window against the baseline (Evidently's default thresholds):

- numbers: Kolmogorov-Smirnov (two-sample asymptotic p-value, the baseline's row count as
  the reference size; the statistic is read on the baseline's percentile grid, at most 0.01
  below the exact one) and the population stability index over the baseline's deciles;
- strings: chi-squared of homogeneity (baseline counts against the window's) and the
  Jensen-Shannon distance (natural log, scipy's default).

A column drifts when its test is significant (p < 0.05) *and* the distance is large (PSI or
JS distance >= 0.1): with few rows only a large shift is flagged, with many rows only a
shift that matters, not every detectable one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PERCENTILES = np.linspace(0.0, 1.0, 101)
TOP_VALUES = 50
OTHER = "(other)"
VOCABULARY = 5000  # words a text baseline keeps (its unknown-word rate's reference)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a column counts as drifted (Evidently's defaults), and the smallest window tested.

    Attributes:
        p_value: KS and chi-squared tests' significance level.
        psi: Population stability index of a number column.
        js_distance: Jensen-Shannon distance of a string column.
        unknown_rate: Rise of the share of words the text baseline never saw (absolute).
        centroid_distance: Cosine distance between the window's and the baseline's mean
            output embedding.
        min_rows: Fewer captured rows than this: reported, not tested.
    """

    p_value: float = 0.05
    psi: float = 0.1
    js_distance: float = 0.1
    unknown_rate: float = 0.1
    centroid_distance: float = 0.1
    min_rows: int = 30


def _finite(value: Any) -> float | None:
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None


def _number(cell: Any) -> float:
    """A cell as a float; NaN when it is missing or not a number."""
    if isinstance(cell, bool) or cell is None:
        return math.nan
    if isinstance(cell, int | float):
        return float(cell)
    try:
        return float(str(cell))
    except ValueError:
        return math.nan


def _string(cell: Any) -> str:
    return "" if cell is None else str(cell)


def number_profile(name: str, cells: Iterable[Any]) -> dict[str, Any]:
    """A number column's profile: counts, moments, a 10-bin histogram and 101 percentiles."""
    values = np.asarray([_number(c) for c in cells], dtype=np.float64)
    present = values[np.isfinite(values)]
    entry: dict[str, Any] = {"name": name, "type": "number", "count": len(values),
                             "missing": int(len(values) - len(present))}  # fmt: skip
    if len(present):
        counts, edges = np.histogram(present, bins=10)
        entry |= {
            "mean": _finite(present.mean()),
            "std": _finite(present.std()),
            "min": _finite(present.min()),
            "max": _finite(present.max()),
            "quantiles": {
                str(q): _finite(np.quantile(present, q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9)
            },
            "histogram": {"edges": [_finite(e) for e in edges], "counts": counts.tolist()},
            "percentiles": [
                float(v) for v in np.quantile(present, PERCENTILES, method="inverted_cdf")
            ],
        }
    return entry


def string_profile(name: str, cells: Iterable[Any]) -> dict[str, Any]:
    """A string column's profile: its 50 most frequent values (missing is ``""``) and the
    count of the rest."""
    values = [_string(c) for c in cells]
    ranked = Counter(values).most_common()
    return {
        "name": name,
        "type": "string",
        "count": len(values),
        "missing": sum(1 for v in values if v == ""),
        "distinct": len(ranked),
        "frequencies": dict(ranked[:TOP_VALUES]),
        "other": sum(count for _, count in ranked[TOP_VALUES:]),
    }


def column_types(rows: Sequence[Any], names: Sequence[str]) -> list[dict[str, str]]:
    """Each column's type when no schema says it: ``number`` if every present cell is a
    number, else ``string``."""
    cells = columns_of(rows, [{"name": n, "type": "string"} for n in names])
    types = []
    for name in names:
        present = [c for c in cells[name] if c is not None]
        numeric = all(isinstance(c, int | float) and not isinstance(c, bool) for c in present)
        types.append({"name": name, "type": "number" if numeric else "string"})
    return types


def columns_of(rows: Sequence[Any], schema: Sequence[Mapping[str, str]]) -> dict[str, list[Any]]:
    """Cells per column of rows as the predict route takes them: arrays in column order or
    objects keyed by column name (an absent key is a missing cell)."""
    names = [c["name"] for c in schema]
    out: dict[str, list[Any]] = {n: [] for n in names}
    for row in rows:
        for i, name in enumerate(names):
            if isinstance(row, Mapping):
                cell = row.get(name)
            elif isinstance(row, list | tuple) and i < len(row):
                cell = row[i]
            else:
                cell = None
            out[name].append(cell)
    return out


def profile_columns(rows: Sequence[Any], schema: Sequence[Mapping[str, str]]) -> list[Any]:
    """Profiles of every column of ``schema`` over ``rows``."""
    cells = columns_of(rows, schema)
    return [
        number_profile(c["name"], cells[c["name"]])
        if c["type"] == "number"
        else string_profile(c["name"], cells[c["name"]])
        for c in schema
    ]


def text_profile(texts: Sequence[str]) -> dict[str, Any]:
    """A text input's profile: length in characters (a number profile) and the words the
    baseline holds (most frequent first), with its own unknown-word rate."""
    words = Counter(w for t in texts for w in _WORD.findall(t.lower()))
    vocabulary = [w for w, _ in words.most_common(VOCABULARY)]
    return {
        "length": number_profile("input_length", [len(t) for t in texts]),
        "vocabulary": vocabulary,
        "unknown_rate": unknown_rate(texts, set(vocabulary)),
    }


def unknown_rate(texts: Sequence[str], vocabulary: set[str]) -> float:
    """The share of words (``\\w+``, lowercased) not in ``vocabulary``; 0 without words."""
    words = [w for t in texts for w in _WORD.findall(t.lower())]
    return round(sum(1 for w in words if w not in vocabulary) / len(words), 6) if words else 0.0


def centroid(vectors: Sequence[Sequence[float]]) -> list[float]:
    """The mean of the L2-normalized vectors."""
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return [float(v) for v in (matrix / np.maximum(norms, 1e-12)).mean(axis=0)]


def cosine_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """1 - cos(a, b)."""
    u, v = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denominator = float(np.linalg.norm(u) * np.linalg.norm(v))
    return 1.0 - float(u @ v) / denominator if denominator else 1.0


# --- tests -------------------------------------------------------------------------------


def kolmogorov_p_value(statistic: float, n: int, m: int) -> float:
    """Two-sample KS p-value (asymptotic Kolmogorov distribution, Stephens' correction)."""
    effective = n * m / (n + m)
    root = math.sqrt(effective)
    lam = (root + 0.12 + 0.11 / root) * statistic
    if lam < 0.2:
        return 1.0
    total = 0.0
    for k in range(1, 101):
        total += (2.0 if k % 2 else -2.0) * math.exp(-2.0 * k * k * lam * lam)
    return min(1.0, max(0.0, total))


def _reference_cdf(percentiles: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The baseline's CDF at ``x``: the largest percentile level whose value is <= x."""
    count = np.searchsorted(percentiles, x, side="right")
    return np.where(count > 0, (count - 1) / (len(percentiles) - 1), 0.0)


def ks_statistic(percentiles: Sequence[float], values: np.ndarray) -> float:
    """The largest gap between the window's CDF and the baseline's, on the baseline's
    percentile grid."""
    grid = np.asarray(percentiles, dtype=np.float64)
    ordered = np.sort(values)
    window = np.searchsorted(ordered, grid, side="right") / len(ordered)
    return float(np.max(np.abs(window - _reference_cdf(grid, grid))))


def psi(percentiles: Sequence[float], values: np.ndarray, floor: float = 1e-4) -> float:
    """Population stability index over the baseline's deciles (ties merge bins)."""
    grid = np.asarray(percentiles, dtype=np.float64)
    edges = np.unique(grid[10:100:10])
    expected = np.diff(np.concatenate([[0.0], _reference_cdf(grid, edges), [1.0]]))
    ordered = np.sort(values)
    actual = np.diff(
        np.concatenate([[0], np.searchsorted(ordered, edges, side="right"), [len(ordered)]])
    ) / len(ordered)
    e, a = np.maximum(expected, floor), np.maximum(actual, floor)
    return float(np.sum((a - e) * np.log(a / e)))


def _upper_gamma(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x) (Numerical Recipes' gammq)."""
    if x <= 0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:  # series for P(a, x)
        term = total = 1.0 / a
        n = a
        for _ in range(500):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    b, c, d = x + 1 - a, 1e300, 1.0 / (x + 1 - a)  # Lentz's continued fraction for Q
    h = d
    for i in range(1, 500):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_prefix) * h)


def chi2_p_value(statistic: float, dof: int) -> float:
    """P(chi-squared with ``dof`` degrees of freedom > ``statistic``)."""
    return _upper_gamma(dof / 2, statistic / 2) if dof > 0 else 1.0


def _categories(profile: Mapping[str, Any], values: Sequence[str]) -> tuple[Any, Any]:
    """Baseline and window counts over the baseline's values (the rest is ``(other)``)."""
    known = dict(profile.get("frequencies", {}))
    seen = Counter(v if v in known else OTHER for v in values)
    names = [*known, OTHER]
    reference = np.asarray([*known.values(), profile.get("other", 0)], dtype=np.float64)
    window = np.asarray([seen.get(n, 0) for n in names], dtype=np.float64)
    return reference, window


def chi2_homogeneity(reference: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """Chi-squared test that two count vectors come from one distribution: (statistic,
    p-value); categories empty in both are left out."""
    keep = (reference + window) > 0
    table = np.stack([reference[keep], window[keep]])
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, chi2_p_value(statistic, table.shape[1] - 1)


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance of two count (or share) vectors, natural log."""
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


# --- comparing a window with a baseline --------------------------------------------------


def compare_number(
    profile: Mapping[str, Any], cells: Sequence[Any], limits: Thresholds
) -> dict[str, Any]:
    """A number column of the window against its profile."""
    values = np.asarray([_number(c) for c in cells], dtype=np.float64)
    present = values[np.isfinite(values)]
    missing = int(len(values) - len(present))
    result: dict[str, Any] = {"name": profile["name"], "type": "number", "rows": len(values),
                              "missing": missing, "drift": False}  # fmt: skip
    percentiles = profile.get("percentiles")
    if not percentiles or len(present) < limits.min_rows:
        return result | {"tested": False}
    reference = int(profile["count"]) - int(profile.get("missing", 0))
    statistic = ks_statistic(percentiles, present)
    p_value = kolmogorov_p_value(statistic, len(present), max(reference, 1))
    index = psi(percentiles, present)
    return result | {
        "tested": True,
        "mean": _finite(present.mean()),
        "baseline_mean": profile.get("mean"),
        "ks": {"statistic": round(statistic, 6), "p_value": round(p_value, 6)},
        "psi": round(index, 6),
        "drift": p_value < limits.p_value and index >= limits.psi,
    }


def compare_string(
    profile: Mapping[str, Any], cells: Sequence[Any], limits: Thresholds
) -> dict[str, Any]:
    """A string column of the window against its profile."""
    values = [_string(c) for c in cells]
    missing = sum(1 for v in values if v == "")
    result: dict[str, Any] = {"name": profile["name"], "type": "string", "rows": len(values),
                              "missing": missing, "drift": False}  # fmt: skip
    if len(values) < limits.min_rows or not profile.get("frequencies"):
        return result | {"tested": False}
    reference, window = _categories(profile, values)
    statistic, p_value = chi2_homogeneity(reference, window)
    distance = js_distance(reference, window)
    unseen = sorted({v for v in values if v not in profile["frequencies"]})[:10]
    return result | {
        "tested": True,
        "chi2": {"statistic": round(statistic, 6), "p_value": round(p_value, 6)},
        "js_distance": round(distance, 6),
        "unseen_values": unseen,
        "drift": p_value < limits.p_value and distance >= limits.js_distance,
    }


def compare_profile(
    profile: Mapping[str, Any], cells: Sequence[Any], limits: Thresholds
) -> dict[str, Any]:
    """One column against its profile, by the profile's type."""
    if profile.get("type") == "number":
        return compare_number(profile, cells, limits)
    return compare_string(profile, cells, limits)


def violations(features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """SageMaker Model Monitor's ``constraint_violations.json`` for the drifted features."""
    found = []
    for feature in features:
        if not feature.get("drift"):
            continue
        if feature["type"] == "number":
            detail = (
                f"KS statistic {feature['ks']['statistic']:.4f} (p={feature['ks']['p_value']:.4g})"
                f", PSI {feature['psi']:.4f} against the baseline"
            )
        elif feature["type"] == "string":
            detail = (
                f"chi-squared p={feature['chi2']['p_value']:.4g}, Jensen-Shannon distance "
                f"{feature['js_distance']:.4f} against the baseline"
            )
        else:
            detail = str(feature.get("description", "drifted from the baseline"))
        found.append({"feature_name": feature["name"], "constraint_check_type":
                      "baseline_drift_check", "description": detail})  # fmt: skip
    return {"violations": found}
