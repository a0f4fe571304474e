"""The GPU container against the CPU runtime, on the same models, in one run.

Usage: AIAAS_MODELS_DIR=build/models python bench/gpu.py --out bench/results/gpu.json [--quick]

moto runs in this process with the model zoo's fp32 files in its S3; the container
(``python -m aiaas.gpu``) runs twice as a separate process: batching on (the settings'
defaults) and off (``AIAAS_GPU_MAX_BATCH=1``). Two measurements:

- **throughput**: sequential requests of 1, 32 and 256 rows through ``HttpGpuBackend.infer``,
  against onnxruntime on the CPU in this process on the same fp32 file, and the int8 model
  the Lambda serves (``ModelRegistry``). Engines take turns in blocks (``--rounds``), so
  drifting machine load hits all of them; rows/s is rows over the median call.
- **load**: ``--clients`` threads send batch-1 requests for ``--seconds``, batching on vs
  off: requests/s, latency percentiles, and rows per run from the container's ``/stats``.

Runs on any machine: the device is whatever the container found (``/stats`` names the
provider; ``nvidia-smi`` the GPU, where there is one). Prints JSON and writes ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
from moto.server import ThreadedMotoServer

from aiaas.serving.gpu import GpuTarget
from aiaas.serving.gpu_client import HttpGpuBackend
from aiaas.settings import Settings
from aiaas_runtime import ModelRegistry
from aiaas_runtime.session import open_session

sys.path.insert(0, str(Path(__file__).parent))
from common import write_json

MODELS = ("all-minilm-l6-v2", "digits-cnn")
BATCHES = (1, 32, 256)
SEQ = 32  # MiniLM tokens per row
BUCKET = "aiaas-bench-gpu"
LISTENING = "aiaas-gpu listening on "
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
DEFAULTS = {"rounds": 3, "block_seconds": 0.5, "seconds": 5.0, "warmup": 1.0}
QUICK = {"rounds": 1, "block_seconds": 0.3, "seconds": 2.0, "warmup": 0.5}
PAUSE_S = 0.1  # before each block: the previous engine's threads stop spinning
Feeds = dict[str, np.ndarray]
Engine = Callable[[Feeds], object]


def feeds_for(name: str, rows: int, seed: int = 0) -> Feeds:
    """Realistic inputs: MiniLM token ids in [1000, 30000) between [CLS] and [SEP]; digits."""
    rng = np.random.default_rng(seed)
    if name == "digits-cnn":
        return {"input": rng.uniform(0, 16, (rows, 1, 8, 8)).astype(np.float32)}
    ids = rng.integers(1000, 30000, (rows, SEQ)).astype(np.int64)
    ids[:, 0], ids[:, -1] = 101, 102
    mask = np.ones_like(ids)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


@contextmanager
def weights_in_moto(models_dir: Path) -> Iterator[tuple[dict[str, str], dict[str, GpuTarget]]]:
    """moto's S3 with each model's fp32 file; yields the container's AWS env and targets."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {**AWS, "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    try:
        s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], **_boto_args())
        s3.create_bucket(Bucket=BUCKET)
        targets = {}
        for name in MODELS:
            data = (models_dir / name / "model.fp32.onnx").read_bytes()
            key = f"models/public/{name}/1/model.fp32.onnx"
            s3.put_object(Bucket=BUCKET, Key=key, Body=data)
            session = open_session(models_dir / name / "model.fp32.onnx", prefer_gpu=False)
            outputs = tuple(o.name for o in session.get_outputs())
            digest = hashlib.sha256(data).hexdigest()
            targets[name] = GpuTarget(name, 1, f"s3://{BUCKET}/{key}", digest, outputs)
        yield env, targets
    finally:
        server.stop()


def _boto_args() -> dict[str, str]:
    return {
        "region_name": AWS["AWS_DEFAULT_REGION"],
        "aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
    }


@contextmanager
def container(aws_env: dict[str, str], **settings: str) -> Iterator[str]:
    """``python -m aiaas.gpu`` on a free loopback port; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="aiaas-bench-gpu-") as tmp:
        env = {
            **os.environ,
            **aws_env,
            "AIAAS_WEIGHTS_BUCKET": BUCKET,
            "AIAAS_WEIGHTS_CACHE_DIR": str(Path(tmp) / "weights"),
            "AIAAS_LOG_LEVEL": "WARNING",
            **settings,
        }
        log = Path(tmp) / "app.log"
        with log.open("w") as out:
            command = [sys.executable, "-m", "aiaas.gpu", "--host", "127.0.0.1", "--port", "0"]
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield _wait_listening(process, log)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_listening(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        for line in log.read_text().splitlines():
            if line.startswith(LISTENING):
                return line.split()[-1]
        time.sleep(0.05)
    raise SystemExit(f"the container did not start:\n{log.read_text()[-3000:]}")


def stats(url: str) -> dict[str, dict[str, Any]]:
    """``GET /stats``: each loaded model's description, by name."""
    response = httpx.get(f"{url}/stats", timeout=10, trust_env=False)
    return {m["model"]: m for m in response.raise_for_status().json()["models"]}


def device(url: str) -> dict[str, Any]:
    """What ran: the container's providers and variants, the GPU's and the CPU's names."""
    gpu = None
    if shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]
        done = subprocess.run(query, capture_output=True, text=True, check=False)
        gpu = done.stdout.strip() or None
    models = {
        name: {k: m[k] for k in ("provider", "variant", "fp16")} for name, m in stats(url).items()
    }
    return {
        "gpu": gpu,
        "cpu": _cpu_name(),
        "cpus": len(os.sched_getaffinity(0)),
        "container": models,
    }


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor()


def rows_per_s(engines: dict[str, Engine], feeds: Feeds, args: Any) -> dict[str, float]:
    """Engines take turns in blocks of ``block_seconds`` (one call at least), ``rounds``
    times, so drifting machine load hits all alike; rows over each one's median call.

    Each block starts after a pause: onnxruntime's threads spin for tens of ms after a run,
    and on a 2-vCPU machine the previous engine's spinning would slow the next one's calls.
    """
    rows = len(next(iter(feeds.values())))
    times: dict[str, list[float]] = {name: [] for name in engines}
    for engine in engines.values():
        engine(feeds)  # warm up this shape (CUDA picks kernels per shape)
    for _ in range(args.rounds):
        for name, engine in engines.items():
            time.sleep(PAUSE_S)
            started = time.perf_counter()
            while not times[name] or time.perf_counter() - started < args.block_seconds:
                t0 = time.perf_counter()
                engine(feeds)
                times[name].append(time.perf_counter() - t0)
    return {name: round(rows / statistics.median(t), 1) for name, t in times.items()}


def throughput(
    models_dir: Path, targets: dict[str, GpuTarget], urls: dict[str, str], args: Any
) -> dict[str, Any]:
    """Rows/s per model and batch size: both containers, CPU fp32 and the Lambda's int8."""
    registry = ModelRegistry(models_dir, prefer_gpu=False)
    results: dict[str, Any] = {}
    for name in MODELS:
        fp32 = open_session(models_dir / name / "model.fp32.onnx", prefer_gpu=False)
        int8 = registry.get(name)
        engines: dict[str, Engine] = {
            "cpu_fp32": lambda f, s=fp32: s.run(None, f),
            f"cpu_{int8.variant}": int8.run,
        }
        for config, url in urls.items():
            backend = HttpGpuBackend(url, timeout_s=300)
            engines[f"container_{config}"] = lambda f, b=backend, t=targets[name]: b.infer(t, f)
        cases = {}
        for batch in args.batches:
            rates = rows_per_s(engines, feeds_for(name, batch), args)
            cases[str(batch)] = {"rows_per_s": rates, "ratios": _ratios(rates)}
        results[name] = {"int8_variant": int8.variant, "batches": cases}
    return results


def _ratios(rates: dict[str, float]) -> dict[str, float]:
    """Each container's rows/s over each CPU engine's."""
    cpus = [k for k in rates if k.startswith("cpu_")]
    return {
        f"{box.removeprefix('container_')}/{cpu.removeprefix('cpu_')}": round(
            rates[box] / rates[cpu], 3
        )
        for box in rates
        if box.startswith("container_")
        for cpu in cpus
    }


def load(url: str, target: GpuTarget, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads sending batch-1 requests for ``seconds``; what the callers saw and
    what the batcher did meanwhile."""
    backend = HttpGpuBackend(url, timeout_s=60)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(index: int) -> None:
        feeds = feeds_for(target.model, 1, seed=index)
        start.wait()
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            try:
                backend.infer(target, feeds)
            except Exception as exc:  # count refusals (503 queue full) rather than stop
                errors.append(type(exc).__name__)
                continue
            latencies[index].append((time.perf_counter() - t0) * 1e3)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    before = stats(url)[target.model]["batcher"]
    deadline[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    after = stats(url)[target.model]["batcher"]
    done = sorted(ms for per_client in latencies for ms in per_client)
    runs = after["runs"] - before["runs"]
    return {
        "requests_per_s": round(len(done) / elapsed, 1),
        "p50_ms": round(float(np.percentile(done, 50)), 2) if done else None,
        "p95_ms": round(float(np.percentile(done, 95)), 2) if done else None,
        "p99_ms": round(float(np.percentile(done, 99)), 2) if done else None,
        "errors": len(errors),
        "runs": runs,
        "mean_rows_per_run": round((after["rows"] - before["rows"]) / runs, 2) if runs else 0,
        "merged_runs": after["merged_runs"] - before["merged_runs"],
    }


def concurrency(targets: dict[str, GpuTarget], urls: dict[str, str], args: Any) -> dict:
    """Batching on vs off under ``--clients`` concurrent batch-1 callers, per model."""
    results: dict[str, Any] = {}
    for name in MODELS:
        for url in urls.values():  # new batch sizes: CUDA picks kernels per shape
            load(url, targets[name], args.clients, args.warmup)
        runs = {
            cfg: load(url, targets[name], args.clients, args.seconds) for cfg, url in urls.items()
        }
        on, off = runs["batching_on"], runs["batching_off"]
        runs["on/off"] = {k: _ratio(on[k], off[k]) for k in ("requests_per_s", "p95_ms")}
        results[name] = runs
    return results


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None  # None: no request got through


def _batching() -> dict[str, Any]:
    """The containers' batcher settings (from this environment, as they read it)."""
    settings = Settings()
    on = {
        "max_batch": settings.gpu_max_batch,
        "max_delay_ms": settings.gpu_max_delay_ms,
        "max_queue": settings.gpu_max_queue,
        "fp16": settings.gpu_fp16,
    }
    return {"batching_on": on, "batching_off": {**on, "max_batch": 1}}


def parse_args() -> argparse.Namespace:
    """Command-line options; ``--quick`` shortens every measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--models", type=Path, default=Path(os.environ.get("AIAAS_MODELS_DIR", "build/models"))
    )
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--rounds", type=int, help="turns of each engine per case (3)")
    parser.add_argument("--block-seconds", type=float, help="length of one turn (0.5)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent callers")
    parser.add_argument("--seconds", type=float, help="length of each load run (5)")
    parser.add_argument("--warmup", type=float, help="unmeasured load before each run (1)")
    parser.add_argument("--quick", action="store_true", help="1 round, 0.3 s turns, 2 s loads")
    args = parser.parse_args()
    defaults = QUICK if args.quick else DEFAULTS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main() -> None:
    """Start moto and both containers, measure, print and write the results."""
    args = parse_args()
    started = time.perf_counter()
    with (
        weights_in_moto(args.models) as (aws_env, targets),
        container(aws_env) as on,
        container(aws_env, AIAAS_GPU_MAX_BATCH="1") as off,
    ):
        urls = {"batching_on": on, "batching_off": off}
        rates = throughput(args.models, targets, urls, args)
        loads = concurrency(targets, urls, args)
        machine = device(on)
    results = {
        "device": machine,
        "python": sys.version.split()[0],
        "batching": _batching(),
        "minilm_seq": SEQ,
        "throughput": rates,
        "load": {"clients": args.clients, "seconds": args.seconds, "batch": 1, **loads},
        "wall_s": round(time.perf_counter() - started, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],  # others on this machine?
    }
    write_json(args.out, results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
