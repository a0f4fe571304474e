"""Drift monitoring of captured traffic: baselines made from rows, and the scheduled job that
compares each captured window with its version's baseline (`aiaas.domain.drift` tests).

What a window is: the capture files that started after the version's previous report ended
(the first: the last ``window_s``) and at least ``settle_s`` ago (a capture buffer writes a
batch up to ``capture_max_age_s`` after its first record). A window with fewer than
``min_rows`` rows is not reported: it grows until the next run has enough.

Features compared, by what the baseline holds:

- tabular models: every input column (numbers and strings);
- text models: ``input_length`` (characters), ``unknown_word_rate`` (the share of words the
  baseline never saw), and for embedding models ``output_centroid`` (cosine distance of the
  mean normalized output to the baseline's);
- the outputs (predicted classes or values) as ``prediction``, reported apart: a change in
  what a model answers is the consequence of input drift, not a feature's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from aiaas.domain import drift
from aiaas.domain.catalog_records import CatalogModel, ModelVersion
from aiaas.errors import InvalidInput

logger = logging.getLogger(__name__)

MAX_WINDOW_ROWS = 10_000


class CaptureSource(Protocol):
    """Captured records of a version, oldest first."""

    def records(
        self,
        tenant: str,
        model: str,
        version: int,
        *,
        start: float | None = None,
        end: float | None = None,
        limit: int = MAX_WINDOW_ROWS,
    ) -> Iterable[dict[str, Any]]:
        """Records of the files started in [start, end)."""
        ...


class DriftStore(Protocol):
    """Baselines and reports."""

    def write_baseline(self, tenant: str, model: str, version: int, baseline: Any) -> str:
        """Store a baseline; its URI."""
        ...

    def read_baseline(self, uri: str) -> Any:
        """A baseline by URI; None if gone."""
        ...

    def write_report(self, tenant: str, model: str, version: int, report: dict[str, Any]) -> str:
        """Store a run's report."""
        ...

    def latest(self, tenant: str, model: str, version: int) -> dict[str, Any] | None:
        """The newest report."""
        ...


class CapturedVersions(Protocol):
    """The catalog as the drift job reads it."""

    def captured_versions(self) -> list[ModelVersion]:
        """Versions with capture on."""
        ...

    def get_model(self, tenant: str, name: str) -> CatalogModel | None:
        """A model."""
        ...


def baseline_uri(version: ModelVersion) -> str:
    """Where a version's baseline is: its owner's (uploaded or from captures) over the one
    training wrote; "" without one."""
    return str(version.baseline.get("uri") or version.training.get("baseline") or "")


def rows_of(
    records: Iterable[Mapping[str, Any]], limit: int = MAX_WINDOW_ROWS
) -> tuple[list[Any], list[Any]]:
    """Input rows and their outputs, paired, from captured records (a native or OpenAI
    record holds lists; an Open Inference Protocol record, tensors by name, is left out)."""
    inputs: list[Any] = []
    outputs: list[Any] = []
    for record in records:
        given, answered = record.get("inputs"), record.get("outputs")
        if not isinstance(given, list) or not isinstance(answered, list):
            continue
        for row, output in zip(given, answered, strict=False):
            inputs.append(row)
            outputs.append(output)
            if len(inputs) >= limit:
                return inputs, outputs
    return inputs, outputs


def _schema(model: CatalogModel, version: ModelVersion, rows: Sequence[Any]) -> list[Any]:
    columns = version.training.get("columns")
    if columns:
        return list(columns)
    names: list[str] = list(model.features)
    if not names:
        for row in rows:
            if isinstance(row, Mapping):
                names += [k for k in row if k not in names]
            elif isinstance(row, list) and len(row) > len(names):
                names = [f"x{i}" for i in range(len(row))]
    if any(isinstance(r, Mapping) for r in rows) and not names:
        raise InvalidInput("rows: objects with no keys", param="rows")
    return drift.column_types(rows, names)


def _outputs_profile(outputs: Sequence[Any]) -> tuple[dict[str, Any] | None, list[float] | None]:
    """The prediction's profile (classes or values) and the output centroid (embeddings)."""
    dicts = [o for o in outputs if isinstance(o, Mapping)]
    if not dicts:
        return None, None
    if all("label" in o for o in dicts):
        return drift.string_profile("prediction", [o["label"] for o in dicts]), None
    if all("value" in o for o in dicts):
        return drift.number_profile("prediction", [o["value"] for o in dicts]), None
    if all(isinstance(o.get("embedding"), list) for o in dicts):
        return None, drift.centroid([o["embedding"] for o in dicts])
    return None, None


def build_baseline(
    model: CatalogModel,
    version: ModelVersion,
    rows: Sequence[Any],
    outputs: Sequence[Any] = (),
) -> dict[str, Any]:
    """A baseline from reference rows (as the predict route takes them) and, where known,
    the model's outputs for them."""
    if not rows:
        raise InvalidInput("rows: at least one reference row", param="rows")
    prediction, center = _outputs_profile(outputs)
    baseline: dict[str, Any] = {"rows": len(rows), "columns": [], "prediction": prediction}
    if all(isinstance(r, str) for r in rows):
        baseline["text"] = drift.text_profile([str(r) for r in rows])
        if center is not None:
            baseline["output_centroid"] = center
        return baseline
    if not all(isinstance(r, list | dict) for r in rows):
        raise InvalidInput("rows: all texts, or all arrays or objects", param="rows")
    baseline["columns"] = drift.profile_columns(rows, _schema(model, version, rows))
    return baseline


def _text_features(
    baseline: Mapping[str, Any], rows: Sequence[Any], outputs: Sequence[Any], limits: Any
) -> list[dict[str, Any]]:
    texts = [r for r in rows if isinstance(r, str)]
    text = baseline["text"]
    features = [drift.compare_number(text["length"], [len(t) for t in texts], limits)]
    rate = drift.unknown_rate(texts, set(text.get("vocabulary", [])))
    rise = rate - float(text.get("unknown_rate", 0.0))
    features.append({
        "name": "unknown_word_rate", "type": "rate", "rows": len(texts), "tested": True,
        "rate": rate, "baseline_rate": text.get("unknown_rate", 0.0),
        "drift": rise >= limits.unknown_rate,
        "description": f"unknown-word rate {rate:.3f} against the baseline's "
                       f"{float(text.get('unknown_rate', 0.0)):.3f}",
    })  # fmt: skip
    center = baseline.get("output_centroid")
    _, window_center = _outputs_profile(outputs)
    if center and window_center:
        distance = drift.cosine_distance(center, window_center)
        features.append({
            "name": "output_centroid", "type": "embedding", "rows": len(outputs),
            "tested": True, "distance": round(distance, 6),
            "drift": distance >= limits.centroid_distance,
            "description": f"mean output embedding at cosine distance {distance:.4f} from "
                           "the baseline's",
        })  # fmt: skip
    return features


def compare_window(
    baseline: Mapping[str, Any],
    rows: Sequence[Any],
    outputs: Sequence[Any],
    limits: drift.Thresholds,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every feature of the window against the baseline, and the prediction's comparison."""
    if baseline.get("text"):
        features = _text_features(baseline, rows, outputs, limits)
    else:
        schema = [{"name": c["name"], "type": c["type"]} for c in baseline.get("columns", [])]
        cells = drift.columns_of(rows, schema)
        features = [
            drift.compare_profile(profile, cells[profile["name"]], limits)
            for profile in baseline.get("columns", [])
        ]
    prediction = None
    reference = baseline.get("prediction")
    # a trained version's prediction profile from before percentiles were kept is not tested
    if isinstance(reference, Mapping) and {"percentiles", "frequencies"} & set(reference):
        answers = [o for o in outputs if isinstance(o, Mapping)]
        key = "label" if reference.get("type") == "string" else "value"
        prediction = drift.compare_profile(reference, [o.get(key) for o in answers], limits)
    return features, prediction


class DriftMonitor:
    """The scheduled drift job: every captured version with a baseline, one report each."""

    def __init__(
        self,
        versions: CapturedVersions,
        captures: CaptureSource,
        store: DriftStore,
        *,
        limits: drift.Thresholds | None = None,
        window_s: float = 3600.0,
        settle_s: float = 120.0,
        emit: Callable[[ModelVersion, dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.versions = versions
        self.captures = captures
        self.store = store
        self.limits = limits or drift.Thresholds()
        self.window_s = window_s
        self.settle_s = settle_s
        self.emit = emit
        self.clock = clock

    def run(self) -> dict[str, Any]:
        """Check every captured version; one failing is logged and the rest still run."""
        outcome: dict[str, Any] = {"checked": 0, "reported": 0, "drifted": [], "failed": 0}
        for version in self.versions.captured_versions():
            outcome["checked"] += 1
            try:
                report = self.check(version)
            except Exception:
                outcome["failed"] += 1
                logger.exception(
                    "drift check failed", extra={"model": version.name, "version": version.version}
                )
                continue
            if report is not None:
                outcome["reported"] += 1
                if report["drifted"]:
                    outcome["drifted"].append(f"{version.name}/{version.version}")
        return outcome

    def check(self, version: ModelVersion) -> dict[str, Any] | None:
        """Compare one version's new window with its baseline and store the report; None
        without a baseline or with too few rows yet."""
        uri = baseline_uri(version)
        baseline = self.store.read_baseline(uri) if uri else None
        if not isinstance(baseline, dict):
            logger.info("no baseline", extra={"model": version.name, "version": version.version})
            return None
        t, m, v = version.tenant, version.name, version.version
        latest = self.store.latest(t, m, v)
        end = self.clock() - self.settle_s
        start = float(latest["window"]["end"]) if latest else end - self.window_s
        if end <= start:
            return None
        records = self.captures.records(t, m, v, start=start, end=end, limit=MAX_WINDOW_ROWS)
        rows, outputs = rows_of(records)
        if len(rows) < self.limits.min_rows:
            return None
        features, prediction = compare_window(baseline, rows, outputs, self.limits)
        report = {
            "model": m,
            "version": v,
            "window": {"start": start, "end": end},
            "rows": len(rows),
            "baseline_rows": baseline.get("rows"),
            "features": features,
            "prediction": prediction,
            "drifted": [f["name"] for f in features if f.get("drift")],
            "violations": drift.violations(features),
            "created": int(self.clock()),
        }
        self.store.write_report(t, m, v, report)
        if self.emit is not None:
            self.emit(version, report)
        return report


MAX_BASELINE_ROWS = 10_000


class DriftService:
    """What a version's owner does with drift: set a baseline, read the latest reports."""

    def __init__(self, catalog: Any, captures: CaptureSource, store: DriftStore) -> None:
        """``catalog``: the `CatalogService` (ownership, versions, the version store)."""
        self.catalog = catalog
        self.captures = captures
        self.store = store

    def set_baseline(
        self,
        caller: Any,
        name: str,
        number: int,
        *,
        rows: Sequence[Any] | None = None,
        from_captures: int | None = None,
    ) -> ModelVersion:
        """A version's baseline from reference ``rows`` (as the predict route takes them), or
        from its first ``from_captures`` captured rows (with the model's answers)."""
        model = self.catalog.owned(caller, name)
        version: ModelVersion = self.catalog.version(model, number)
        if (rows is None) == (from_captures is None):
            raise InvalidInput("give rows or from_captures, not both", param="rows")
        outputs: list[Any] = []
        reference = list(rows or [])
        source = "upload"
        if from_captures is not None:
            if not 1 <= from_captures <= MAX_BASELINE_ROWS:
                raise InvalidInput(
                    f"from_captures: 1 to {MAX_BASELINE_ROWS}", param="from_captures"
                )
            found = self.captures.records(model.tenant, name, number, limit=from_captures)
            reference, outputs = rows_of(found, from_captures)
            if not reference:
                raise InvalidInput("the version has no captured rows yet", param="from_captures")
            source = "captures"
        if len(reference) > MAX_BASELINE_ROWS:
            raise InvalidInput(f"rows: at most {MAX_BASELINE_ROWS}", param="rows")
        baseline = build_baseline(model, version, reference, outputs)
        uri = self.store.write_baseline(model.tenant, name, number, baseline)
        updated = replace(version, baseline={"uri": uri, "rows": len(reference), "source": source})
        self.catalog.store.put_version(updated)
        return updated

    def reports(self, caller: Any, name: str) -> list[dict[str, Any]]:
        """The latest drift report of each of the caller's versions (None before the
        first), with whether it has a baseline and capture on."""
        model = self.catalog.owned(caller, name)
        return [
            {
                "version": v.version,
                "capture": v.capture or None,
                "baseline": v.public()["baseline"],
                "report": self.store.latest(model.tenant, name, v.version),
            }
            for v in self.catalog.versions(model)
        ]
