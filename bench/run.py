"""Inference benchmarks, side by side in one run; prints a table and writes JSON.

Usage: python bench/run.py --models build/models --out bench/results [--sam-build .aws-sam/build]

Compares, at batch 1 and 32 on the same sentences: onnxruntime fp32 and int8 through our
runtime, and the whole handler path (API Gateway event -> Mangum -> FastAPI -> runtime ->
JSON); the PyTorch baseline comes from bench/torch_baseline.py (run just before by
`make bench`). Cold start and peak RSS run in fresh processes against the `sam build`
artifacts when present (bytecode precompiled as in the layer, site-packages off as in Lambda).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from aiaas_dev.events import build_event
from aiaas_runtime import Model, ModelRegistry

sys.path.insert(0, str(Path(__file__).parent))
from common import batch_of, block_median_ms, paired_median_ms, write_json
from local_aws import local_aws
from report import print_table

ROOT = Path(__file__).resolve().parents[1]
MODEL = "all-minilm-l6-v2"
SHORT_QUERY = "how to reset my password"  # a search query: the shortest common request


CALLER = {
    "tenant": "tnt_bench",
    "principal": "usr_bench",
    "kind": "key",
    "key_id": "benchbenchbenchb",
    "scopes": "predict",
    "daily_quota": 0,
}


class MemoryMetrics:
    """The per-model metrics store in memory (one record per request in AWS)."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, observation: Any) -> None:
        self.added.append(observation)

    def hours(self, tenant: str, model: str, start: str, end: str) -> list[dict[str, Any]]:
        return []


class MemoryUsage:
    """UsageStore in memory: the handler benchmark leaves out DynamoDB's round trip."""

    def __init__(self) -> None:
        self.count = 0

    def consume(self, **_: Any) -> None:
        self.count += 1

    def query(self, tenant: str, start: str, end: str) -> list[Any]:
        return []


def ok(response: dict[str, Any]) -> dict[str, Any]:
    """A benchmark of error responses would measure nothing: fail loudly instead."""
    if response["statusCode"] != 200:
        raise RuntimeError(f"handler answered {response['statusCode']}: {response['body']}")
    return response


def predict_event(texts: list[str]) -> dict[str, Any]:
    """The API Gateway event for one predict request, authorized as the authorizer would."""
    body = json.dumps({"inputs": texts}).encode()
    event = build_event(
        "POST",
        f"/v1/models/{MODEL}/predict",
        headers={"content-type": "application/json"},
        body=body,
        route_key="POST /v1/models/{name}/predict",
        path_parameters={"name": MODEL},
    )
    event["requestContext"]["authorizer"] = {"lambda": CALLER}
    return event


def latency(models: Path, sentences: list[str]) -> dict[str, Any]:
    """Median ms per request for fp32, int8 and the handler path at batch 1 and 32."""
    sys.path.insert(0, str(ROOT / "functions" / "predict"))
    for name, value in {"AIAAS_USAGE_TABLE": "UsageTable", "AIAAS_MODELS_TABLE": "ModelsTable",
                        "AIAAS_WEIGHTS_BUCKET": "weights",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        os.environ.setdefault(name, value)  # built-ins read no table; metering is replaced
    import app  # type: ignore[import-not-found]  # noqa: PLC0415

    from aiaas.domain.usage import UsageService  # noqa: PLC0415

    # Metering's DynamoDB round trip is left out; FastAPI's dependency_overrides are not used
    # for that, since they re-inspect the override on every request (~0.3 ms here).
    memory = UsageService(MemoryUsage(), 10**9)
    app.services.predictions.meter = memory
    app.services.model_metrics.store = MemoryMetrics()  # its record's round trip likewise

    fp32 = ModelRegistry(models, variants=("fp32",)).get(MODEL)
    int8 = app.services.layer.get(MODEL)  # the very session the handler uses
    out: dict[str, Any] = {"int8_variant": int8.variant}
    cases = {
        "batch1": batch_of(sentences, 1),
        "batch32": batch_of(sentences, 32),
        "batch1_query": [SHORT_QUERY],
    }
    for name, batch in cases.items():
        event = predict_event(batch)
        # the handler against the runtime in alternating pairs: drifting load hits both
        runtime_ms, handler_ms = paired_median_ms(
            lambda b=batch: int8.predict(b),
            lambda e=event: ok(app.handler(e, None)),
            runs=400 if len(batch) == 1 else 40,
        )
        lengths = [int8.processor.length(int8.processor.prepare(t, 0)) for t in batch]
        # fp32 against int8 in alternating blocks (two sessions): the speed-up is their ratio
        fp32_ms, int8_paired_ms = block_median_ms(
            lambda b=batch: fp32.predict(b),
            lambda b=batch: int8.predict(b),
            runs=320 if len(batch) == 1 else 32,
        )
        out[name] = {
            "tokens": max(lengths),
            "total_tokens": sum(lengths),
            "ort_fp32_ms": fp32_ms,
            "int8_paired_with_fp32_ms": int8_paired_ms,
            "int8_runtime_ms": runtime_ms,
            "handler_ms": handler_ms,
        }
    out["protocols"] = protocols(app, int8, batch_of(sentences, 1))
    out["cost"] = cost(out["batch32"])
    out["fastembed"] = fastembed_peer(models, app, int8, cases)
    out["torch"] = torch_interleaved(int8, cases)
    return out


BUILD_PYTHON = ROOT / ".venv-build" / "bin" / "python"  # Python 3.11, where torch runs


def torch_interleaved(int8: Model, cases: dict[str, list[str]], rounds: int = 15) -> Any:
    """sentence-transformers (PyTorch fp32, in the 3.11 environment) against our int8 runtime,
    in alternating rounds in the same minutes: a ``torch_baseline.py --serve`` subprocess
    times its own calls, so only the model's time is compared. None without that env.

    As in ``block_median_ms``, each side's first calls of a round go untimed: right after
    PyTorch's calls its OpenMP threads spin on for a while, and our first call then took
    3.5 ms against 2.1 ms for the rest of its round (and PyTorch's first, after ours, finds
    its weights out of the caches)."""
    if not BUILD_PYTHON.exists():
        return None
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    peer = subprocess.Popen(
        [str(BUILD_PYTHON), str(ROOT / "bench" / "torch_baseline.py"), "--serve"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert peer.stdin is not None and peer.stdout is not None
    try:
        hello = json.loads(peer.stdout.readline())
        out: dict[str, Any] = {
            "engine": "sentence-transformers (PyTorch fp32)",
            "torch": hello["torch"],
            "interleaved_rounds": rounds,
            "untimed_calls_per_round": "3 at batch 1, 1 at batch 32",
        }
        for name, batch in cases.items():
            runs, warmup = (10, 3) if len(batch) == 1 else (2, 1)
            theirs: list[float] = []
            ours: list[float] = []
            for round_ in range(rounds + 1):  # the first round warms both up
                request = {"texts": batch, "runs": runs, "warmup": warmup}
                peer.stdin.write(json.dumps(request) + "\n")
                peer.stdin.flush()
                theirs_round = json.loads(peer.stdout.readline())["ms"]
                for _ in range(warmup):
                    int8.predict(batch)
                ours_round = [timed_ms(lambda b=batch: int8.predict(b)) for _ in range(runs)]
                if round_ > 0:
                    theirs += theirs_round
                    ours += ours_round
            out[f"{name}_ms"] = round(statistics.median(theirs), 3)
            out[f"{name}_int8_ms"] = round(statistics.median(ours), 3)
        return out
    finally:
        peer.stdin.close()
        peer.wait(timeout=30)


def timed_ms(fn: Any) -> float:
    """One call's wall time in ms."""
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def fastembed_peer(models: Path, app: Any, int8: Model, cases: dict[str, list[str]]) -> Any:
    """fastembed on the same int8 file, in alternating blocks with our runtime and with our
    handler, at batch 1 and 32 (``bench/peers.py``)."""
    from peers import fastembed_model  # noqa: PLC0415

    _, embed = fastembed_model(models / MODEL, len(os.sched_getaffinity(0)))
    out: dict[str, Any] = {"library": "fastembed 0.9.1 (same model.int8.opt.onnx)"}
    for name in ("batch1", "batch32"):
        batch = cases[name]
        runs = 300 if len(batch) == 1 else 30
        peer_ms, runtime_ms = block_median_ms(
            lambda b=batch: embed(b), lambda b=batch: int8.predict(b), runs=runs
        )
        event = predict_event(batch)
        peer2_ms, handler_ms = block_median_ms(
            lambda b=batch: embed(b), lambda e=event: ok(app.handler(e, None)), runs=runs
        )
        out[name] = {
            "fastembed_ms": round((peer_ms + peer2_ms) / 2, 4),
            "runtime_ms": runtime_ms,
            "handler_ms": handler_ms,
            "fastembed_over_runtime": round(peer_ms / runtime_ms, 3),
            "fastembed_over_handler": round(peer2_ms / handler_ms, 3),
        }
    return out


# Lambda prices, us-east-1, as published on aws.amazon.com/lambda/pricing (checked 2026-12-01):
# duration per GB-second (first tier) and per request. 1,769 MB is one vCPU's worth.
PRICES = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
PER_REQUEST = 0.20 / 1e6
MB_PER_VCPU = 1769
TEMPLATE_MEMORY_MB = 2048  # template.yaml's Globals (PredictFunction)
OPENAI_SMALL_PER_1M = 0.02  # text-embedding-3-small, USD per 1M tokens (openai.com/api/pricing)


def cost(batch32: dict[str, Any]) -> dict[str, Any]:
    """USD per 1M embedded tokens on Lambda, from this run's tokens per second per vCPU.

    Lambda at ``TEMPLATE_MEMORY_MB`` gets ``memory / 1769`` vCPUs; one request of 32 texts
    takes ``32-text time x (cpus here / vCPUs there)``, billed per ms at the memory's GB-s
    price plus the request price. The same formula prices every model's cost profile
    (``aiaas.registration.runs.cost_per_million_tokens``).
    """
    from aiaas.domain.pricing import cost_per_million_tokens  # noqa: PLC0415

    cpus = len(os.sched_getaffinity(0))
    out: dict[str, Any] = {
        "memory_mb": TEMPLATE_MEMORY_MB,
        "tokens_per_request": batch32["total_tokens"],
        "openai_text_embedding_3_small_per_1m": OPENAI_SMALL_PER_1M,
        "prices_checked": "2026-12-01",
    }
    for path in ("int8_runtime_ms", "handler_ms", "ort_fp32_ms"):
        per_vcpu = batch32["total_tokens"] / (batch32[path] / 1000) / cpus
        out[path.removesuffix("_ms")] = {
            "tokens_per_s_per_vcpu": round(per_vcpu, 1),
            **{
                arch: round(
                    cost_per_million_tokens(
                        per_vcpu,
                        batch32["total_tokens"],
                        memory_mb=TEMPLATE_MEMORY_MB,
                        per_gb_second=price,
                        per_request=PER_REQUEST,
                        mb_per_vcpu=MB_PER_VCPU,
                    ),
                    6,
                )
                for arch, price in PRICES.items()
            },
        }  # fmt: skip
    return out


def protocols(app: Any, int8: Model, texts: list[str]) -> dict[str, Any]:
    """The same one text through each protocol's handler path, against the bare runtime."""
    import tritonclient.http as triton  # noqa: PLC0415 - the client's own binary encoder

    tensor = triton.InferInput("text", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_))
    binary, header = triton.InferenceServerClient.generate_request_body([tensor])
    as_json = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": texts}]}
    infer = ("POST", f"/v2/models/{MODEL}/infer", "POST /v2/models/{name}/infer")
    bodies = {
        "oip_json": (*infer, json.dumps(as_json).encode(), {}),
        "oip_binary": (*infer, binary, {"inference-header-content-length": str(header)}),
        "openai_float": (
            "POST",
            "/v1/embeddings",
            "POST /v1/embeddings",
            json.dumps({"model": MODEL, "input": texts[0]}).encode(),
            {},
        ),
        "openai_base64": (
            "POST",
            "/v1/embeddings",
            "POST /v1/embeddings",
            json.dumps({"model": MODEL, "input": texts[0], "encoding_format": "base64"}).encode(),
            {},
        ),
    }
    out: dict[str, Any] = {}
    for name, (method, path, route, body, extra) in bodies.items():
        event = build_event(
            method,
            path,
            headers=extra,
            body=body,
            route_key=route,
            path_parameters={"name": MODEL} if "{name}" in route else None,
        )
        event["requestContext"]["authorizer"] = {"lambda": CALLER}
        runtime_ms, handler_ms = paired_median_ms(
            lambda: int8.predict(texts), lambda e=event: ok(app.handler(e, None))
        )
        out[name] = {
            "int8_runtime_ms": runtime_ms,
            "handler_ms": handler_ms,
            "ratio": round(handler_ms / runtime_ms, 3),
        }
    return out


def cold_start(sam_build: Path | None, runs: int = 5) -> dict[str, Any]:
    """Median of fresh-process cold starts, runtime alone and through the handler.

    The handler meters the request in DynamoDB (moto over loopback) as deployed.
    """
    with local_aws() as aws_env:
        return _cold_start(sam_build, runs, {**os.environ, **aws_env})


def _cold_start(sam_build: Path | None, runs: int, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable]
    if sam_build is not None:
        layers = [
            sam_build / "PredictFunction",
            sam_build / "InferenceLayer" / "python",
            sam_build / "AppLayer" / "python",
        ]
        env["PYTHONPATH"] = os.pathsep.join(map(str, layers))
        env["AIAAS_MODELS_DIR"] = str(sam_build / "ModelsLayer" / "models")
        cmd = [sys.executable, "-S"]  # no site-packages: only what the layers ship
    else:
        env["PYTHONPATH"] = str(ROOT / "functions" / "predict")
    # the models PredictFunction opens at init, as the template deploys it
    env["AIAAS_PRELOAD_MODELS"] = template_preload()
    event = ROOT / "events" / "predict-embedding.json"
    out: dict[str, Any] = {
        "source": str(sam_build) if sam_build else "venv",
        "preload_models": env["AIAAS_PRELOAD_MODELS"],
    }
    for path in ("runtime", "handler"):
        samples = []
        for _ in range(runs):
            proc = subprocess.run(
                [*cmd, str(Path(__file__).parent / "coldstart.py"), path, str(event)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        out[path] = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    return out


def template_preload() -> str:
    """``AIAAS_PRELOAD_MODELS`` of PredictFunction in template.yaml (parameters at default)."""
    from aiaas_dev.template import load_template  # noqa: PLC0415

    functions = load_template(ROOT / "template.yaml").functions
    return functions["PredictFunction"].environment.get("AIAAS_PRELOAD_MODELS", "")


class CountingClient:
    """A DynamoDB client that counts the reads made through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        if name in ("get_item", "query", "scan", "batch_get_item", "transact_get_items"):
            self.reads += 1
        return getattr(self.inner, name)


def registered(models: Path, requests: int = 50) -> dict[str, Any]:
    """A registered scikit-learn classifier on moto: DynamoDB reads of its cold and warm
    requests, and its warm request through the prediction service against its bare session."""
    import boto3  # noqa: PLC0415
    import onnxruntime as ort  # noqa: PLC0415

    from aiaas.auth.principal import Principal  # noqa: PLC0415
    from aiaas.auth.scopes import ALL_SCOPES  # noqa: PLC0415
    from aiaas.domain.usage import UsageService  # noqa: PLC0415
    from aiaas.registration.register import registrar_from  # noqa: PLC0415
    from aiaas.services import Services  # noqa: PLC0415
    from aiaas.settings import Settings  # noqa: PLC0415
    from tests.unit.catalog_models import logistic_regression_default_opset  # noqa: PLC0415

    caller = Principal("t-bench", "u-bench", "key", "k-bench", ALL_SCOPES)
    with local_aws() as env, tempfile.TemporaryDirectory() as cache:
        os.environ.update(env)
        settings = Settings(models_dir=models, weights_cache_dir=Path(cache))
        services = Services(settings)
        services.catalog.create(caller, name="bench-lr", task="tabular-classification",
                                description="", visibility="private", runtime="cpu",
                                labels=["a", "b", "c"])  # fmt: skip
        version, _ = services.catalog.new_version(caller, "bench-lr")
        data = logistic_regression_default_opset().SerializeToString()
        bucket = str(settings.weights_bucket)
        boto3.client("s3").put_object(Bucket=bucket, Key=version.upload_key, Body=data)
        store, weights = services.catalog.store, services.catalog.weights
        registrar_from(settings, store, weights).register(version.upload_key)  # type: ignore[arg-type]
        counting = CountingClient(services.client("dynamodb").client)
        store.client = counting  # type: ignore[attr-defined]
        services.predictions.meter = UsageService(MemoryUsage(), 10**9)
        rows = [[13.2, 1.8, 2.1, 15.0, 110, 2.8, 3.0, 0.3, 2.3, 5.6, 1.0, 3.2, 1065.0]]
        services.predictions.predict(caller, "bench-lr", rows)
        cold = counting.reads
        for _ in range(requests):
            services.predictions.predict(caller, "bench-lr", rows)
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        feed = {"X": np.asarray(rows, dtype=np.float32)}
        runtime_ms, service_ms = paired_median_ms(
            lambda: session.run(None, feed),
            lambda: services.predictions.predict(caller, "bench-lr", rows),
        )
    return {
        "dynamodb_reads_cold_request": cold,
        "dynamodb_reads_per_warm_request": (counting.reads - cold) / requests,
        "warm_requests": requests,
        "service_ms": service_ms,
        "bare_fp32_session_ms": runtime_ms,
    }


def predict_all(model: Model, items: list[Any]) -> list[dict[str, Any]]:
    """Predict any number of items, one request per 32 (as a client would send them)."""
    return [r for i in range(0, len(items), 32) for r in model.predict(items[i : i + 32]).results]


def quality(models: Path, sentences: list[str]) -> dict[str, Any]:
    """int8 vs fp32: embedding cosine over the sentences; classifier accuracy held out."""
    fp32_reg, int8_reg = ModelRegistry(models, variants=("fp32",)), ModelRegistry(models)

    def vectors(model: Model, texts: list[str]) -> np.ndarray:
        return np.array([r["embedding"] for r in predict_all(model, texts)])

    a, b = vectors(fp32_reg.get(MODEL), sentences), vectors(int8_reg.get(MODEL), sentences)
    cosines = np.sum(a * b, axis=1)
    out: dict[str, Any] = {
        "embedding": {
            "n": len(sentences),
            "cosine_mean": float(cosines.mean()),
            "cosine_min": float(cosines.min()),
        }
    }
    testdata = ROOT / "build" / "testdata"
    out["embedding_edge_cases"] = edge_cases(int8_reg.get(MODEL), testdata)
    for name, file in (("iris-rf", "iris_test.json"), ("digits-cnn", "digits_test.json")):
        data = json.loads((testdata / file).read_text())
        row = {}
        for variant, registry in (("fp32", fp32_reg), ("int8", int8_reg)):
            model = registry.get(name)
            labels = [r["label"] for r in predict_all(model, data["X"])]
            truth = [model.manifest.labels[y] for y in data["y"]]
            row[variant] = float(np.mean(np.array(labels) == np.array(truth)))
        out[name] = {"n": len(data["y"]), "accuracy": row}
    return out


def edge_cases(model: Model, testdata: Path) -> dict[str, Any]:
    """The held-out edge cases against sentence-transformers fp32 (written by the build),
    each text alone; and each text alone against within 32-row mixed requests."""
    reference = json.loads((testdata / "embedding_edge_cases_reference.json").read_text())
    texts, want = reference["texts"], np.array(reference["embeddings"], dtype=np.float32)
    alone = np.vstack([[r["embedding"] for r in model.predict([t]).results] for t in texts])
    cosines = np.sum(alone * want, axis=1) / np.linalg.norm(want, axis=1)
    together = np.vstack(
        [
            [r["embedding"] for r in predict_all(model, texts[i : i + 32])]
            for i in range(0, len(texts), 32)
        ]
    )
    independence = np.sum(alone * together, axis=1)
    return {
        "n": len(texts),
        "cosine_mean": float(cosines.mean()),
        "cosine_min": float(cosines.min()),
        "worst": texts[int(cosines.argmin())],
        "batch_independence_min": float(independence.min()),
    }


def machine() -> dict[str, Any]:
    """CPUs, Python, and the processor's family, model and SIMD flags (hosts differ)."""
    info: dict[str, Any] = {"cpus": len(os.sched_getaffinity(0)), "python": sys.version.split()[0]}
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return info
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    info |= {
        "cpu": fields.get("model name", ""),
        "cpu_family": fields.get("cpu family", ""),
        "cpu_model": fields.get("model", ""),
        "simd": sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "fma"}),
    }
    return info


def main() -> None:
    """Run everything, write bench/results/inference.json, print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sam-build", type=Path, default=None)
    args = parser.parse_args()
    sentences = json.loads((ROOT / "build" / "testdata" / "sentences.json").read_text())
    results = {
        "machine": machine(),
        "latency": latency(args.models, sentences),
        "cold_start": cold_start(
            args.sam_build if args.sam_build and args.sam_build.exists() else None
        ),
        "quality": quality(args.models, sentences),
        "registered": registered(args.models),
    }
    if results["latency"].get("torch"):  # interleaved with our runs: the ratio to report
        results["torch"] = results["latency"]["torch"]
    write_json(args.out / "inference.json", results)
    print_table(results)


if __name__ == "__main__":
    main()
