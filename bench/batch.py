"""Batch throughput: rows per second through the whole pipeline vs the bare runtime.

The pipeline is the local stack in this process with moto in server mode: a job created over
HTTP, its input uploaded with the presigned POST, the S3 event -> BatchSplitFunction -> SQS
-> BatchFunction -> output in S3, until ``GET /v1/batch-jobs/{id}`` says SUCCEEDED. The peer
is the same model's runtime on the same texts, 32 at a time (``model.predict``), measured
right before and after each pipeline run; the ratio is pipeline rows/s over the mean of the
two. A second peer isolates the pipeline's own cost: the runtime driven as BatchFunction
drives it (chunks of 500 texts, each sorted by length into batches of 32), with no AWS in
between. Prints JSON and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from common import batch_of, local_stack, new_key, write_json

ROOT = Path(__file__).resolve().parents[1]
MODEL = "all-minilm-l6-v2"
PASSWORD = "correct horse battery staple"


def runtime_rows_per_s(model: Any, texts: list[str], batch: int = 32) -> float:
    """The bare runtime: ``model.predict`` on consecutive batches of ``batch`` texts."""
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        model.predict(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - started)


def chunked_rows_per_s(model: Any, texts: list[str], chunk: int = 500) -> float:
    """The runtime as BatchFunction drives it: ``predict_rows`` on chunks of ``chunk`` texts
    (each chunk sorted by length into batches of 32), without S3, SQS or DynamoDB."""
    started = time.perf_counter()
    for start in range(0, len(texts), chunk):
        model.predict_rows(texts[start : start + chunk])
    return len(texts) / (time.perf_counter() - started)


def batch_key(http: httpx.Client) -> dict[str, str]:
    """A new account's key with the ``batch`` scope."""
    return new_key(http, ["batch"], PASSWORD)


def pipeline_run(http: httpx.Client, headers: dict[str, str], data: bytes) -> dict[str, Any]:
    """One job from upload to SUCCEEDED; wall seconds and the job."""
    job = http.post("/v1/batch-jobs", json={"model": MODEL}, headers=headers).json()
    upload = job["upload"]
    started = time.perf_counter()
    httpx.post(
        upload["url"], data=upload["fields"], files={"file": ("in", data)}
    ).raise_for_status()
    while True:
        state = http.get(f"/v1/batch-jobs/{job['id']}", headers=headers).json()
        if state["status"] not in ("UPLOADING", "QUEUED", "RUNNING"):
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if state["status"] != "SUCCEEDED":
        raise SystemExit(f"the job ended {state['status']}: {state}")
    return {"seconds": seconds, "job": state}


def main() -> None:
    """Alternate runtime and pipeline runs; print and write the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from aiaas.services import Services  # noqa: PLC0415 - after the environment is set
    from aiaas.settings import Settings  # noqa: PLC0415

    sentences = json.loads((ROOT / "build" / "testdata" / "sentences.json").read_text())
    texts = batch_of(sentences, args.rows)
    data = b"".join(
        json.dumps({"id": i, "input": text}).encode() + b"\n" for i, text in enumerate(texts)
    )
    with local_stack() as stack:
        model = Services(Settings()).layer.get(MODEL)
        runtime_rows_per_s(model, texts[:512])  # warm up
        rounds = []
        with httpx.Client(base_url=stack.base_url, timeout=120) as http:
            headers = batch_key(http)
            for _ in range(args.rounds):
                before = runtime_rows_per_s(model, texts)
                chunked = chunked_rows_per_s(model, texts)
                run = pipeline_run(http, headers, data)
                after = runtime_rows_per_s(model, texts)
                pipeline = args.rows / run["seconds"]
                rounds.append(
                    {
                        "runtime_rows_per_s": round((before + after) / 2, 1),
                        "pipeline_rows_per_s": round(pipeline, 1),
                        "ratio": round(pipeline / ((before + after) / 2), 3),
                        "runtime_chunked_rows_per_s": round(chunked, 1),
                        "ratio_to_chunked": round(pipeline / chunked, 3),
                        "pipeline_seconds": round(run["seconds"], 2),
                        "chunks": run["job"]["counts"],
                    }
                )
    results = {
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": sys.version.split()[0]},
        "model": MODEL,
        "rows": args.rows,
        "chunk_rows": int(os.environ.get("AIAAS_BATCH_CHUNK_ROWS", "500")),
        "rounds": rounds,
        "ratio_median": statistics.median(r["ratio"] for r in rounds),
        "target_ratio": 0.8,
    }
    write_json(args.out, results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
