"""Load on the local stack over loopback: 64 clients for 30 s on valid requests.

Usage (``make bench``): python bench/load.py --out bench/results/load.json [--clients 64]
[--seconds 30]. Each client keeps its own connection and sends iris-rf predictions; the
target (issue #19) is no connection error and no non-2xx answer. The key's quota is raised
so that quota is not what is measured. Prints and writes JSON: requests, errors by kind,
requests per second, latency p50/p99 (ms).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from common import local_stack, new_key

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long bench passphrase"
BODY = {"inputs": [[5.1, 3.5, 1.4, 0.2]]}


def predict_key(http: httpx.Client) -> dict[str, str]:
    """A new account's ``predict`` key with a quota the run cannot exhaust."""
    return new_key(http, ["predict"], PASSWORD, daily_quota=10_000_000)


def client_loop(
    base_url: str, headers: dict[str, str], until: float, out: list[tuple[str, float]]
) -> None:
    """Send requests until ``until``; record (outcome, seconds) of each."""
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                status = http.post("/v1/models/iris-rf/predict", json=BODY).status_code
                outcome = "ok" if 200 <= status < 300 else f"http_{status}"
            except httpx.HTTPError as exc:
                outcome = f"connection:{type(exc).__name__}"
            out.append((outcome, time.perf_counter() - started))


def main() -> None:
    """Start the stack, run the clients, report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    with local_stack() as stack:
        with httpx.Client(base_url=stack.base_url, timeout=30) as http:
            headers = predict_key(http)
            http.post("/v1/models/iris-rf/predict", json=BODY, headers=headers)  # warm
        records: list[tuple[str, float]] = []
        until = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=client_loop, args=(stack.base_url, headers, until, records))
            for _ in range(args.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    outcomes = Counter(outcome for outcome, _ in records)
    latencies = sorted(seconds * 1e3 for _, seconds in records)
    results: dict[str, Any] = {
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": sys.version.split()[0]},
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": len(records),
        "outcomes": dict(outcomes),
        "errors": len(records) - outcomes["ok"],
        "requests_per_s": round(len(records) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1) if latencies else None,
        "target": "0 connection errors and 0 non-2xx",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
