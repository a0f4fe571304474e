"""Training jobs: what to train, how far it got, and the search space (no scikit-learn here).

The jobs API (JobsFunction) validates a request with this module alone; TrainingFunction
runs it with `aiaas.training.search`, which imports scikit-learn.

Statuses: ``PENDING_UPLOAD -> QUEUED -> PROFILING -> SEARCHING -> EVALUATING -> REGISTERING
-> SUCCEEDED``, or ``FAILED`` (with ``reason``) or ``CANCELLED`` from any unfinished one.

Bucket layout (``BatchBucket``): ``training/uploads/<job id>.csv``, the dataset.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from aiaas.errors import InvalidInput

TrainingStatus = Literal[
    "PENDING_UPLOAD",
    "QUEUED",
    "PROFILING",
    "SEARCHING",
    "EVALUATING",
    "REGISTERING",
    "SUCCEEDED",
    "FAILED",
    "CANCELLED",
]
TrainingTask = Literal["classification", "regression"]
FINISHED: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
ACTIVE: tuple[str, ...] = (
    "PENDING_UPLOAD",
    "QUEUED",
    "PROFILING",
    "SEARCHING",
    "EVALUATING",
    "REGISTERING",
)
UPLOADS = "training/uploads/"
CATALOG_TASK = {"classification": "tabular-classification", "regression": "tabular-regression"}
METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1_macro", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2"}


def upload_key(job_id: str) -> str:
    """Where a job's dataset is uploaded (its S3 event starts the job)."""
    return f"{UPLOADS}{job_id}.csv"


def job_of_key(key: str) -> str:
    """The job id of an upload key; "" for any other key."""
    if not key.startswith(UPLOADS) or not key.endswith(".csv"):
        return ""
    return key[len(UPLOADS) : -len(".csv")]


# --- the search space ------------------------------------------------------------------------

# A parameter: ("int" | "float", least, most, null allowed) or ("choice", values).
Param = tuple[Any, ...]
_TREES: dict[str, Param] = {
    "n_estimators": ("int", 1, 1000, False),
    "max_depth": ("int", 1, 100, True),
    "min_samples_split": ("int", 2, 1000, False),
    "min_samples_leaf": ("int", 1, 1000, False),
    "max_features": ("choice", ("sqrt", "log2", None, 0.25, 0.5, 0.75, 1.0)),
}


@dataclass(frozen=True, slots=True)
class Algorithm:
    """One estimator family: the tasks it serves, its tunable parameters, its default grid."""

    name: str
    tasks: tuple[str, ...]
    params: Mapping[str, Param]
    default_grid: Mapping[str, list[Any]]


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "random_forest",
            ("classification", "regression"),
            _TREES,
            {"n_estimators": [100], "max_depth": [None, 10], "min_samples_split": [2, 5]},
        ),
        Algorithm(
            "extra_trees",
            ("classification", "regression"),
            _TREES,
            {"n_estimators": [100], "max_depth": [None, 10]},
        ),
        Algorithm(
            "gradient_boosting",  # HistGradientBoosting
            ("classification", "regression"),
            {
                "learning_rate": ("float", 1e-4, 1.0, False),
                "max_iter": ("int", 1, 1000, False),
                "max_depth": ("int", 1, 100, True),
                "max_leaf_nodes": ("int", 2, 1000, True),
                "min_samples_leaf": ("int", 1, 1000, False),
                "l2_regularization": ("float", 0.0, 1e6, False),
            },
            {"learning_rate": [0.05, 0.1], "max_iter": [100]},
        ),
        Algorithm(
            "logistic_regression",
            ("classification",),
            {"C": ("float", 1e-6, 1e6, False), "max_iter": ("int", 10, 10_000, False)},
            {"C": [0.1, 1.0, 10.0]},
        ),
        Algorithm(
            "ridge",
            ("regression",),
            {"alpha": ("float", 0.0, 1e6, False)},
            {"alpha": [0.1, 1.0, 10.0]},
        ),
        Algorithm(
            "knn",
            ("classification", "regression"),
            {
                "n_neighbors": ("int", 1, 200, False),
                "weights": ("choice", ("uniform", "distance")),
                "p": ("choice", (1, 2)),
            },
            {"n_neighbors": [5, 15]},
        ),
    )
}
DEFAULT_ALGORITHMS = {
    "classification": ("random_forest", "gradient_boosting", "logistic_regression"),
    "regression": ("random_forest", "gradient_boosting", "ridge"),
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One point of the search: an algorithm and its parameters."""

    index: int
    algorithm: str
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"index": self.index, "algorithm": self.algorithm, "params": self.params}


@dataclass(frozen=True, slots=True)
class TrainingSpec:
    """A validated training request."""

    model: str
    task: TrainingTask
    target: str
    grids: dict[str, dict[str, list[Any]]]  # algorithm -> parameter -> values
    cv: int = 5
    metric: str = "accuracy"
    test_size: float = 0.2
    seed: int = 0
    max_runtime_s: int = 3600
    max_candidates: int | None = None

    def candidates(self) -> list[Candidate]:
        """Every grid point (scikit-learn's ParameterGrid order: sorted names, product), or
        ``max_candidates`` of them drawn with ``seed`` (a random search)."""
        points: list[tuple[str, dict[str, Any]]] = []
        for algorithm, grid in self.grids.items():
            names = sorted(grid)
            for values in itertools.product(*(grid[n] for n in names)):
                points.append((algorithm, dict(zip(names, values, strict=True))))
        if self.max_candidates is not None and len(points) > self.max_candidates:
            draw = random.Random(self.seed)  # noqa: S311 - a reproducible sample, not a secret
            chosen = sorted(draw.sample(range(len(points)), self.max_candidates))
            points = [points[i] for i in chosen]
        return [Candidate(i, a, p) for i, (a, p) in enumerate(points)]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (stored with the job)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> TrainingSpec:
        """Back from the stored form."""
        return cls(**doc)


def grid_size(grid: Mapping[str, Sequence[Any]]) -> int:
    """Points in one algorithm's grid."""
    return math.prod(len(values) for values in grid.values())


def build_spec(body: Mapping[str, Any], *, max_grid: int, max_runtime_s: int) -> TrainingSpec:
    """Check a request's algorithms, grids and options; InvalidInput naming the problem."""
    task = body["task"]
    algorithms = list(body.get("algorithms") or DEFAULT_ALGORITHMS[task])
    for name in algorithms:
        if name not in ALGORITHMS:
            raise InvalidInput(
                f"unknown algorithm {name!r}; choose from {sorted(ALGORITHMS)}",
                param="algorithms",
            )
        if task not in ALGORITHMS[name].tasks:
            raise InvalidInput(f"{name} is not a {task} algorithm", param="algorithms")
    if len(set(algorithms)) != len(algorithms):
        raise InvalidInput("an algorithm is listed twice", param="algorithms")
    grids = _grids(body.get("param_grid"), algorithms)
    total = sum(grid_size(g) for g in grids.values())
    limit = body.get("max_candidates")
    if total > max_grid and (limit is None or limit > max_grid):
        raise InvalidInput(
            f"the search has {total} candidates; the limit is {max_grid} (set max_candidates "
            f"to at most {max_grid} for a random search over them)",
            param="param_grid",
        )
    metric = body.get("metric") or DEFAULT_METRIC[task]
    if metric not in METRICS[task]:
        raise InvalidInput(
            f"metric {metric!r} is not a {task} metric; choose from {list(METRICS[task])}",
            param="metric",
        )
    runtime = body.get("max_runtime_s") or max_runtime_s
    if runtime > max_runtime_s:
        raise InvalidInput(f"max_runtime_s is at most {max_runtime_s}", param="max_runtime_s")
    return TrainingSpec(
        model=body["model"],
        task=task,
        target=body["target"],
        grids=grids,
        cv=body.get("cv") or 5,
        metric=metric,
        test_size=body.get("test_size") or 0.2,
        seed=body.get("seed") or 0,
        max_runtime_s=runtime,
        max_candidates=limit,
    )


def _grids(raw: Any, algorithms: list[str]) -> dict[str, dict[str, list[Any]]]:
    """Per-algorithm grids: ``{"random_forest": {...}}``, or one flat grid (scikit-learn's
    ``param_grid`` as written) for a request naming one algorithm."""
    if raw is None:
        return {name: dict(ALGORITHMS[name].default_grid) for name in algorithms}
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInput("param_grid must be a non-empty object", param="param_grid")
    if all(key in ALGORITHMS for key in raw):
        unknown = sorted(set(raw) - set(algorithms))
        if unknown:
            raise InvalidInput(
                f"param_grid names {unknown}, which 'algorithms' does not list",
                param="param_grid",
            )
        given = {name: _grid(name, raw[name]) for name in raw}
        return {name: given.get(name) or dict(ALGORITHMS[name].default_grid) for name in algorithms}
    if len(algorithms) != 1:
        raise InvalidInput(
            "a flat param_grid needs exactly one algorithm in 'algorithms'; otherwise key "
            'it by algorithm: {"random_forest": {...}}',
            param="param_grid",
        )
    return {algorithms[0]: _grid(algorithms[0], raw)}


def _grid(algorithm: str, raw: Any) -> dict[str, list[Any]]:
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInput(f"param_grid.{algorithm} must be a non-empty object", param="param_grid")
    spec = ALGORITHMS[algorithm].params
    grid: dict[str, list[Any]] = {}
    for name, values in raw.items():
        where = f"param_grid.{algorithm}.{name}"
        if name not in spec:
            raise InvalidInput(
                f"{where}: {algorithm} has no parameter {name!r}; tunable: {sorted(spec)}",
                param="param_grid",
            )
        if not isinstance(values, list) or not values or len(values) > 100:
            raise InvalidInput(f"{where} must be a list of 1 to 100 values", param="param_grid")
        grid[name] = [_value(spec[name], v, where) for v in values]
    return grid


def _value(param: Param, value: Any, where: str) -> Any:
    if param[0] == "choice":
        if value not in param[1] or isinstance(value, bool):
            raise InvalidInput(
                f"{where}: {value!r} is not one of {list(param[1])}", param="param_grid"
            )
        return value
    kind, least, most, nullable = param
    if value is None and nullable:
        return None
    ok = (
        isinstance(value, int) and not isinstance(value, bool)
        if kind == "int"
        else isinstance(value, int | float) and not isinstance(value, bool)
    )
    if not ok or not least <= value <= most:
        null = " or null" if nullable else ""
        raise InvalidInput(
            f"{where}: {value!r} must be {'an integer' if kind == 'int' else 'a number'} from "
            f"{least} to {most}{null}",
            param="param_grid",
        )
    return int(value) if kind == "int" else float(value)


# --- the job ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrainingJob:
    """One training job and what it found so far.

    ``profile``, ``best``, ``metrics`` and ``importance`` fill in as it runs; the
    leaderboard is stored per candidate (`CandidateResult`).
    """

    id: str
    tenant: str
    spec: TrainingSpec
    status: TrainingStatus
    created_at: int
    input_key: str
    meter_id: str = ""
    started_at: int | None = None
    search_started_at: int | None = None
    completed_at: int | None = None
    reason: str = ""
    candidates_total: int = 0
    candidates_done: int = 0
    profile: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    importance: list[dict[str, Any]] = field(default_factory=list)
    registered_version: int | None = None

    @property
    def finished(self) -> bool:
        """Whether it can change no more."""
        return self.status in FINISHED

    def with_changes(self, **changes: Any) -> TrainingJob:
        """A copy with fields changed."""
        return replace(self, **changes)

    def doc(self) -> dict[str, Any]:
        """The fields that do not change atomically (stored as one JSON document)."""
        values = asdict(self)
        for name in ("status", "candidates_done"):
            values.pop(name)
        return values

    @classmethod
    def from_doc(cls, doc: dict[str, Any], status: str, done: int) -> TrainingJob:
        """Back from the stored document and the two atomic attributes."""
        doc = dict(doc)
        doc["spec"] = TrainingSpec.from_dict(doc["spec"])
        fields = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in doc.items() if k in fields}, status=status,  # type: ignore[arg-type]
                   candidates_done=done)  # fmt: skip

    def public(self, leaderboard: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The API's view of the job."""
        spec = self.spec
        answer: dict[str, Any] = {
            "id": self.id,
            "object": "training_job",
            "model": spec.model,
            "task": spec.task,
            "target": spec.target,
            "metric": spec.metric,
            "cv": spec.cv,
            "test_size": spec.test_size,
            "seed": spec.seed,
            "max_runtime_s": spec.max_runtime_s,
            "max_candidates": spec.max_candidates,
            "algorithms": list(spec.grids),
            "param_grid": spec.grids,
            "status": self.status,
            "reason": self.reason or None,
            "progress": {
                "candidates_done": self.candidates_done,
                "candidates_total": self.candidates_total,
            },
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "profile": self.profile or None,
            "best": self.best or None,
        }  # fmt: skip
        if leaderboard is not None:
            answer["leaderboard"] = leaderboard
        if self.metrics:
            answer["metrics"] = self.metrics
            answer["feature_importance"] = self.importance
        if self.registered_version is not None:
            answer["registered"] = {"model": spec.model, "version": self.registered_version}
        return answer


LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


def rank(results: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Candidates' results best first (GridSearchCV's order: the best mean, then the lower
    index); the failed and skipped ones last, by index. Each gets its ``rank`` (from 1)."""
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    scored = sorted(
        (r for r in results if r.get("cv_mean") is not None),
        key=lambda r: (-sign * r["cv_mean"], r["index"]),
    )
    rest = sorted((r for r in results if r.get("cv_mean") is None), key=lambda r: r["index"])
    return [r | {"rank": at + 1} for at, r in enumerate(scored)] + [
        r | {"rank": None} for r in rest
    ]


def best_of(results: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    """The best scored candidate; None when none could be scored."""
    ranked = rank(results, metric)
    return ranked[0] if ranked and ranked[0]["rank"] == 1 else None


def dumps(value: Any) -> str:
    """Compact JSON (NaN is not JSON: callers pass finite numbers or None)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)
