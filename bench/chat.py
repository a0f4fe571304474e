"""The chat model, side by side in one run: our runtime against transformers on PyTorch fp32
(same GGUF weights, same threads, interleaved), and the handler's time to first token.

Usage: python bench/chat.py --models build/models --out bench/results/chat.json

- prefill of a 50-token prompt and greedy decode steps at batch 1 (median ms), against the
  peer (``bench/chat_reference.py`` in the 3.11 build environment, run as a subprocess that
  answers timing requests on stdin, rounds alternating with ours);
- time to first token through the predictions app (API Gateway event -> Mangum's scope ->
  FastAPI -> the runtime), streaming, as the local stack serves it;
- peak RSS of a fresh process that opens the model and generates, and the Lambda cost of 1M
  output tokens at ChatFunction's memory.

llama.cpp (``llama-cpp-python``) is not a peer here: no wheel of it is on this host's
package index, and building it from source did not finish in 8 minutes on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import write_json

from aiaas.domain.pricing import cost_per_million_tokens
from aiaas_dev.events import build_event

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m-instruct"
MEMORY_MB = 3538  # template.yaml's ChatFunction
# Lambda, us-east-1, per GB-second and per request (aws.amazon.com/lambda/pricing, 2026-12)
PRICES = {
    "x86_64": (0.0000166667, 0.0000002),
    "arm64": (0.0000133334, 0.0000002),
}
ROUNDS, STEPS = 5, 32
CALLER = {"tenant": "tnt_bench", "principal": "usr_bench", "kind": "key",
          "key_id": "benchbenchbenchb", "scopes": "predict", "daily_quota": 0}  # fmt: skip


class NoMeter:
    """Metering left out: DynamoDB's round trip is not the model's time."""

    def consume(self, caller: Any, model: str) -> None:
        return None

    def add_units(self, caller: Any, model: str, units: dict[str, int]) -> None:
        return None


class NoMetrics:
    """The per-model metrics store left out likewise."""

    def add(self, observation: Any) -> None:
        return None


def predict_app() -> Any:
    """The predictions app module, as ChatFunction imports it."""
    sys.path.insert(0, str(ROOT / "functions" / "predict"))
    for name, value in {"AIAAS_USAGE_TABLE": "UsageTable", "AIAAS_MODELS_TABLE": "ModelsTable",
                        "AIAAS_WEIGHTS_BUCKET": "weights",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        os.environ.setdefault(name, value)
    import app  # type: ignore[import-not-found]  # noqa: PLC0415

    app.services.predictions.meter = NoMeter()
    app.services.model_metrics.store = NoMetrics()
    return app


def prompt(processor: Any) -> list[int]:
    words = "Please read this text and then answer a question about the fox and the dog. " * 4
    return list(processor.render([{"role": "user", "content": words}])[:50])


def ours(served: Any, ids: list[int]) -> tuple[float, list[float]]:
    processor, runner = served.processor, served.runner
    started = time.perf_counter()
    logits, past = processor._step(runner, ids, processor._empty(), 0)
    prefill = (time.perf_counter() - started) * 1e3
    position, steps = len(ids), []
    for _ in range(STEPS):
        token = int(logits.argmax())
        started = time.perf_counter()
        logits, past = processor._step(runner, [token], past, position)
        steps.append((time.perf_counter() - started) * 1e3)
        position += 1
    return prefill, steps


def first_token_ms(app: Any, question: str) -> tuple[float, float]:
    """Time to the first content chunk, and to the end, of a streamed chat completion."""
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": question}],
                       "max_tokens": 16, "temperature": 0, "stream": True}).encode()  # fmt: skip
    event = build_event("POST", "/v1/chat/completions", body=body,
                        headers={"content-type": "application/json"},
                        route_key="POST /v1/chat/completions")  # fmt: skip
    event["requestContext"]["authorizer"] = {"lambda": CALLER}
    adapter = app.handler.infer(event, None)
    sent = [{"type": "http.request", "body": adapter.body, "more_body": False}]
    marks: dict[str, float] = {}

    async def receive() -> dict[str, Any]:
        if sent:
            return sent.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        chunk = message.get("body", b"")
        if b'"content":"' in chunk and b'"content":""' not in chunk and "first" not in marks:
            marks["first"] = time.perf_counter()
        if message["type"] == "http.response.body" and not message.get("more_body"):
            marks["end"] = time.perf_counter()

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # its EMF line
        asyncio.run(app.app(adapter.scope, receive, send))
    return (marks["first"] - started) * 1e3, (marks["end"] - started) * 1e3


def peak_rss_mb(models: Path) -> float:
    """A fresh process: open the model, generate 8 tokens; its peak resident memory."""
    code = (
        "import resource, sys; from pathlib import Path; from aiaas_runtime import ModelRegistry; "
        f"m = ModelRegistry(Path(sys.argv[1])).get({MODEL!r}); "
        "m.predict([{'prompt': 'Hello', 'max_tokens': 8}]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(models)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


def main() -> None:
    """Run every case and write the JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=Path, default=ROOT / "build" / "models")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-build" / "bin" / "python"))
    args = parser.parse_args()
    app = predict_app()
    served = app.services.predictions.resolve(None, MODEL).model
    threads = app.services.settings.inference_threads or len(os.sched_getaffinity(0))
    ids = prompt(served.processor)
    peer = subprocess.Popen(
        [args.peer_python, str(ROOT / "bench" / "chat_reference.py"), "--threads", str(threads)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )  # fmt: skip
    assert peer.stdin is not None and peer.stdout is not None
    ready = json.loads(peer.stdout.readline())
    ours(served, ids)  # warm up both
    peer.stdin.write(json.dumps({"ids": ids, "steps": 4}) + "\n")
    peer.stdin.flush()
    peer.stdout.readline()
    mine: dict[str, list[float]] = {"prefill": [], "decode": []}
    theirs: dict[str, list[float]] = {"prefill": [], "decode": []}
    for _ in range(ROUNDS):  # alternating: a noisy moment hits both
        prefill, steps = ours(served, ids)
        mine["prefill"].append(prefill)
        mine["decode"] += steps
        peer.stdin.write(json.dumps({"ids": ids, "steps": STEPS}) + "\n")
        peer.stdin.flush()
        answer = json.loads(peer.stdout.readline())
        theirs["prefill"].append(answer["prefill_ms"])
        theirs["decode"] += answer["decode_ms"]
    peer.stdin.close()
    peer.wait(timeout=60)
    first_token_ms(app, "Hi")  # warm
    ttft = [first_token_ms(app, "What is the capital of France?") for _ in range(5)]
    decode_ms = statistics.median(mine["decode"])
    per_vcpu = 1000 / decode_ms / threads  # tokens a second per vCPU at batch 1 (an estimate)
    costs = {
        arch: round(cost_per_million_tokens(per_vcpu, 128, memory_mb=MEMORY_MB,
                                            per_gb_second=gb, per_request=req), 2)
        for arch, (gb, req) in PRICES.items()
    }  # fmt: skip
    results: dict[str, Any] = {
        "model": MODEL,
        "threads": threads,
        "prompt_tokens": len(ids),
        "runtime": {
            "prefill_ms": round(statistics.median(mine["prefill"]), 2),
            "decode_ms_per_token": round(decode_ms, 2),
            "decode_tokens_per_s": round(1000 / decode_ms, 2),
        },
        "pytorch": {
            "engine": f"transformers on PyTorch {ready['torch']} fp32, same weights",
            "prefill_ms": round(statistics.median(theirs["prefill"]), 2),
            "decode_ms_per_token": round(statistics.median(theirs["decode"]), 2),
        },
        "handler": {
            "time_to_first_token_ms": round(statistics.median(t[0] for t in ttft), 2),
            "sixteen_tokens_ms": round(statistics.median(t[1] for t in ttft), 2),
        },
        "llama_cpp": "not run: llama-cpp-python has no wheel here and did not build in 8 min",
        "peak_rss_mb": peak_rss_mb(args.models),
        "bench_process_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "lambda": {"memory_mb": MEMORY_MB, "cost_per_million_output_tokens_usd": costs,
                   "assumes": "decode speed per vCPU as measured here; 128 tokens a request"},
    }  # fmt: skip
    results["decode_vs_pytorch"] = round(
        results["pytorch"]["decode_ms_per_token"] / results["runtime"]["decode_ms_per_token"], 3
    )
    results["prefill_vs_pytorch"] = round(
        results["pytorch"]["prefill_ms"] / results["runtime"]["prefill_ms"], 3
    )
    write_json(args.out, results)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
