"""Training: the seed's RandomForest grid through the training service vs GridSearchCV.

The service's path is TrainingFunction's real steps (`aiaas.training.worker.Trainer`) on moto
(DynamoDB, S3), from the S3 upload event to the ONNX upload: profile, one SQS message per
candidate, finish (refit, held-out metrics, permutation importance, skl2onnx export). SQS is a
thread-safe queue drained by as many consumers as this machine has CPUs (Lambda's concurrent
invocations, each fitting with ``n_jobs=1``). The peer, in the same run and at the same CPU
count, is ``GridSearchCV(param_grid=<seed's>, cv=5, n_jobs=<CPUs>)`` on the same training
split, followed by the same refit-free ``best_estimator_.score`` on the held-out split.

Also reported: a projection for Lambda, where every candidate gets its own invocation
(profile + the slowest candidate + finish, at ``MaximumConcurrency`` 20 in waves), and the
dataset limits' costs (reading, typing and splitting ``max_rows`` rows: seconds and peak
memory). Prints JSON and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

SEED_GRID = {
    "n_estimators": [100, 200, 300],
    "max_depth": [None, 10, 20, 30],
    "min_samples_split": [2, 5, 10],
}
REQUEST = {
    "model": "bench-rf", "task": "classification", "target": "churn",
    "algorithms": ["random_forest"], "param_grid": SEED_GRID, "cv": 5, "seed": 1,
}  # fmt: skip
LAMBDA_CONCURRENCY = 20  # the template's MaximumConcurrency on the training queue


class ProcessQueue:
    """SQS played by a multiprocessing queue (its consumers are processes, as Lambda's
    concurrent invocations are: no GIL shared between two fits)."""

    def __init__(self, messages: Any) -> None:
        self.messages = messages

    def send(self, bodies: list[str]) -> None:
        for body in bodies:
            self.messages.put(body)


def _trainer(env: dict[str, str], messages: Any) -> Any:
    """A Trainer on moto whose queue is ``messages`` (in this process)."""
    os.environ.update(env)
    from aiaas.repositories.weights import S3Weights  # noqa: PLC0415
    from aiaas.services import Services  # noqa: PLC0415
    from aiaas.settings import Settings  # noqa: PLC0415
    from aiaas.training.table import Limits  # noqa: PLC0415
    from aiaas.training.worker import Trainer, WorkerConfig  # noqa: PLC0415

    services = Services(Settings())
    trainer = Trainer(
        services.training_store,
        services.batch_files,
        ProcessQueue(messages),
        services.catalog,
        weights=S3Weights(services.client("s3"), env["AIAAS_WEIGHTS_BUCKET"]),
        config=WorkerConfig(Limits()),
    )
    return services, trainer


def _consume(env: dict[str, str], messages: Any, timings: Any, done: Any) -> None:
    """One consumer: take a step, run it, report (step, seconds) until the finish ran."""
    _, trainer = _trainer(env, messages)
    while not done.is_set():
        try:
            message = messages.get(timeout=0.2)
        except queue.Empty:
            continue
        step = json.loads(message)["step"]
        began = time.perf_counter()
        outcome = trainer.handle(message)
        timings.put((step, time.perf_counter() - began))
        if step == "finish" or "FAILED" in outcome:
            done.set()


def service_run(rows: int, workers: int) -> dict[str, Any]:
    """The seed's grid through the Trainer's steps, ``workers`` consumer processes."""
    import multiprocessing  # noqa: PLC0415

    from local_aws import local_aws  # noqa: PLC0415

    from aiaas.auth.principal import Principal  # noqa: PLC0415
    from aiaas.auth.scopes import ALL_SCOPES  # noqa: PLC0415
    from tests.training_data import churn_rows, to_csv  # noqa: PLC0415

    data = to_csv(churn_rows(rows, seed=5))
    caller = Principal("t-bench", "u-bench", "key", "k-bench", ALL_SCOPES)
    context = multiprocessing.get_context("fork")
    messages, timings, done = context.Queue(), context.Queue(), context.Event()
    with local_aws() as env:
        services, trainer = _trainer(env, messages)
        job, _ = services.training.create(caller, REQUEST)
        s3 = services.client("s3")
        s3.put_object(Bucket=env["AIAAS_BATCH_BUCKET"], Key=job.input_key, Body=data)
        consumers = [
            context.Process(target=_consume, args=(env, messages, timings, done))
            for _ in range(workers)
        ]
        for consumer in consumers:
            consumer.start()
        started = time.perf_counter()
        trainer.uploaded(job.input_key, len(data))
        done.wait()
        wall = time.perf_counter() - started
        for consumer in consumers:
            consumer.join()
        final = services.training.get(caller, job.id)
    steps: dict[str, list[float]] = {"profile": [], "candidates": [], "finish": []}
    while not timings.empty():
        step, seconds = timings.get()
        steps[step].append(seconds)
    waves = math.ceil(len(steps["candidates"]) / LAMBDA_CONCURRENCY)
    slowest = sorted(steps["candidates"], reverse=True)
    projected = sum(steps["profile"]) + sum(slowest[:waves]) + sum(steps["finish"])
    return {
        "status": final.status,
        "reason": final.reason or None,
        "wall_s": round(wall, 2),
        "accuracy": final.metrics.get("accuracy"),
        "best": final.best.get("params"),
        "profile_s": round(sum(steps["profile"]), 2),
        "finish_s": round(sum(steps["finish"]), 2),
        "candidate_s": {
            "count": len(steps["candidates"]),
            "sum": round(sum(steps["candidates"]), 2),
            "max": round(max(steps["candidates"], default=0), 2),
        },
        "lambda_projected_wall_s": round(projected, 2),
        "lambda_projection": f"profile + the slowest candidate of each of {waves} wave(s) of "
        f"{LAMBDA_CONCURRENCY} concurrent invocations + finish (cold starts not counted)",
    }


def gridsearch_run(rows: int, workers: int) -> dict[str, Any]:
    """scikit-learn's own GridSearchCV on the same split and pipeline, ``n_jobs=workers``."""
    from sklearn.model_selection import GridSearchCV  # noqa: PLC0415

    from aiaas.training.records import Candidate, build_spec  # noqa: PLC0415
    from aiaas.training.search import build_pipeline, split  # noqa: PLC0415
    from aiaas.training.table import Limits, load_dataset  # noqa: PLC0415
    from tests.training_data import churn_rows, to_csv  # noqa: PLC0415

    data = to_csv(churn_rows(rows, seed=5))
    spec = build_spec(REQUEST, max_grid=500, max_runtime_s=3600)
    started = time.perf_counter()
    dataset = load_dataset(data, "churn", "classification", 5, Limits())
    held = split(dataset, spec)
    base = build_pipeline(dataset, Candidate(0, "random_forest", {}), spec)
    grid = {f"model__{k}": v for k, v in SEED_GRID.items()}
    search = GridSearchCV(base, grid, cv=5, n_jobs=workers).fit(held.x_train, held.y_train)
    accuracy = search.score(held.x_test, held.y_test)
    return {
        "wall_s": round(time.perf_counter() - started, 2),
        "accuracy": round(float(accuracy), 6),
        "best": {k.removeprefix("model__"): v for k, v in search.best_params_.items()},
    }


def limits_cost(rows: int, columns: int) -> dict[str, Any]:
    """Reading, typing and splitting the largest dataset the limits allow (in a child)."""
    import subprocess  # noqa: PLC0415

    code = f"""
import resource, sys, time
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "shared")!r}]
from aiaas.training.records import build_spec
from aiaas.training.search import split
from aiaas.training.table import Limits, load_dataset
import numpy as np
rng = np.random.default_rng(0)
names = [f"c{{i}}" for i in range({columns} - 1)] + ["y"]
lines = [",".join(names)]
for r in range({rows}):
    cells = [f"{{v:.4f}}" for v in rng.normal(size={columns} - 4)]
    cells += ["abc"[r % 3], "x" + str(r % 50), ""]
    lines.append(",".join(cells + ["yes" if r % 2 else "no"]))
data = "\\n".join(lines).encode()
began = time.perf_counter()
limits = Limits(max_bytes=10**9, max_rows={rows}, max_columns={columns})
dataset = load_dataset(data, "y", "classification", 5, limits)
body = {{"model": "m", "task": "classification", "target": "y"}}
spec = build_spec(body, max_grid=9, max_runtime_s=60)
split(dataset, spec)
print(len(data), time.perf_counter() - began, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=1800
    ).stdout.split()
    return {
        "rows": rows,
        "columns": columns,
        "csv_bytes": int(out[0]),
        "read_profile_split_s": round(float(out[1]), 2),
        "peak_rss_mb": round(int(out[2]) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit-rows", type=int, default=100_000)
    parser.add_argument("--limit-columns", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "training.json")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    peer = gridsearch_run(args.rows, args.workers)
    ours = service_run(args.rows, args.workers)
    result = {
        "benchmark": "training: the seed's RandomForest grid (36 candidates x 5 folds)",
        "rows": args.rows,
        "cpus": args.workers,
        "service": ours,
        "gridsearchcv": peer,
        "wall_ratio_service_over_gridsearchcv": round(ours["wall_s"] / peer["wall_s"], 3),
        "accuracy_difference": (
            None if ours["accuracy"] is None else round(ours["accuracy"] - peer["accuracy"], 6)
        ),
        "lambda_projected_over_gridsearchcv": round(
            ours["lambda_projected_wall_s"] / peer["wall_s"], 3
        ),
        "limits": limits_cost(args.limit_rows, args.limit_columns),
        "peak_rss_mb_this_process": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
    }
    text = json.dumps(result, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
