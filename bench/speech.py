"""The speech model, side by side in one run: our runtime against transformers' Whisper on
PyTorch fp32 (same weights, same threads, interleaved), the HTTP app, memory and cost.

Usage: python bench/speech.py --models build/models --out bench/results/speech.json

- transcription wall time of the model build's espeak-ng clips (``build/testdata/speech``:
  the 4.4 s one and the 44.8 s one), WAV bytes in, text out, audio decode included, against
  the peer (``bench/speech_reference.py`` in the 3.11 build environment, a subprocess that
  answers timing requests on stdin, rounds alternating with ours); real-time factor (audio
  seconds per second of transcription) of both and its ratio; word error rate of both
  against the text espeak-ng spoke;
- encoder ms per 30 s window and decoder ms per token (24 tokens in, with the cache);
- the short clip through the predictions app (API Gateway event -> Mangum -> FastAPI's
  multipart route ``POST /v1/audio/transcriptions`` -> the runtime), as ChatFunction serves it;
- peak RSS of a fresh process that opens the model and transcribes the long clip, and the
  Lambda cost of an hour of audio at ChatFunction's memory, from the measured speed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # modelzoo.wer, stdlib only
from chat import CALLER, PRICES, predict_app
from common import write_json
from run import machine

from aiaas.domain.pricing import cost_per_million_tokens
from aiaas_dev.events import build_event
from aiaas_runtime.session import available_cpus
from modelzoo.wer import word_error_rate
from modelzoo.whisper_speed import speed as component_speed

ROOT = Path(__file__).resolve().parents[1]
MODEL = "whisper-tiny-en"
SPEECH = ROOT / "build" / "testdata" / "speech"
CLIPS = {"short": "hello.wav", "long": "story.wav"}
ROUNDS = {"short": 3, "long": 2}
MEMORY_MB = 3538  # template.yaml's ChatFunction
MB_PER_VCPU = 1769
BOUNDARY = "benchspeechboundary"


class Peer:
    """``bench/speech_reference.py`` in the build environment, one request a line."""

    def __init__(self, python: str, models: Path, threads: int) -> None:
        command = [python, str(ROOT / "bench" / "speech_reference.py"), "--threads",
                   str(threads), "--models", str(models)]  # fmt: skip
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env)  # fmt: skip
        self.ready = self.ask({})

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        if request:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def ours(served: Any, data: bytes) -> dict[str, Any]:
    """One transcription: WAV bytes in, the runtime's result (text tokens counted, timestamps
    not) and its wall time."""
    started = time.perf_counter()
    result = served.predict([data]).results[0]
    ms = (time.perf_counter() - started) * 1e3
    eot = served.processor.ids.eot  # text tokens only, as the peer counts them
    return {"ms": ms, "text": result["text"], "duration": result["duration"],
            "tokens": sum(t < eot for s in result["segments"] for t in s["tokens"]),
            "fallbacks": sum(s["temperature"] > 0 for s in result["segments"])}  # fmt: skip


def side_by_side(served: Any, peer: Peer, clips: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Both engines on each clip, rounds alternating; medians, real-time factors, WER."""
    ours(served, clips["short"]["data"])  # warm up both
    peer.ask({"transcribe": str(clips["short"]["path"])})
    cases = {}
    for case, clip in clips.items():
        mine, theirs = [], []
        for _ in range(ROUNDS[case]):  # alternating: a noisy moment hits both
            mine.append(ours(served, clip["data"]))
            theirs.append(peer.ask({"transcribe": str(clip["path"])}))
        seconds = mine[0]["duration"]
        ms = statistics.median(r["ms"] for r in mine)
        peer_ms = statistics.median(r["ms"] for r in theirs)
        cases[case] = {
            "file": clip["path"].name, "audio_seconds": round(seconds, 3),
            "runtime": {"ms": round(ms, 1), "real_time_factor": round(seconds / ms * 1e3, 2),
                        "wer": word_error_rate(clip["text"], mine[0]["text"]),
                        "tokens": mine[0]["tokens"], "fallbacks": mine[0]["fallbacks"],
                        "text": mine[0]["text"]},
            "pytorch": {"ms": round(peer_ms, 1),
                        "real_time_factor": round(seconds / peer_ms * 1e3, 2),
                        "wer": word_error_rate(clip["text"], theirs[0]["text"]),
                        "tokens": theirs[0]["tokens"], "text": theirs[0]["text"]},
            "rounds": ROUNDS[case], "speedup_vs_pytorch": round(peer_ms / ms, 2),
        }  # fmt: skip
    return cases


def speed(served: Any, peer: Peer, path: Path) -> dict[str, Any]:
    """Encoder ms per 30 s window and decoder ms per token, ours then the peer's."""
    mine = component_speed(served, path)
    theirs = peer.ask({"speed": str(path)})
    return {
        "runtime": {"encoder_ms_per_window": round(mine["encoder_ms"], 1),
                    "decoder_ms_per_token": mine["decoder_ms_per_token"]},
        "pytorch": {"encoder_ms_per_window": round(statistics.median(theirs["encoder_ms"]), 1),
                    "decoder_ms_per_token": round(statistics.median(theirs["decoder_ms"]), 2)},
    }  # fmt: skip


def multipart(data: bytes, filename: str) -> bytes:
    """The form OpenAI's client sends: ``file`` and ``model`` (``response_format`` json)."""
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{MODEL}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: audio/wav\r\n\r\n')  # fmt: skip
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def through_app(app: Any, data: bytes, rounds: int) -> dict[str, Any]:
    """Median ms of the short clip through the handler (event -> Mangum -> route -> runtime)."""
    event = build_event("POST", "/v1/audio/transcriptions", body=multipart(data, "hello.wav"),
                        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
                        route_key="POST /v1/audio/transcriptions")  # fmt: skip
    event["requestContext"]["authorizer"] = {"lambda": CALLER}
    samples, inference = [], []
    for _ in range(rounds + 1):  # the first one warms the route up
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # its EMF line
            response = app.handler(event, None)
        samples.append((time.perf_counter() - started) * 1e3)
        if response["statusCode"] != 200:
            raise RuntimeError(f"handler answered {response['statusCode']}: {response['body']}")
        inference.append(float(response["headers"]["x-inference-ms"]))
    return {"ms": round(statistics.median(samples[1:]), 1),
            "runtime_inference_ms": round(statistics.median(inference[1:]), 1),
            "text": json.loads(response["body"])["text"], "rounds": rounds}  # fmt: skip


def peak_rss_mb(models: Path, path: Path) -> float:
    """A fresh process: open the model, transcribe the long clip; its peak resident memory."""
    code = (
        "import resource, sys; from pathlib import Path; from aiaas_runtime import ModelRegistry; "
        f"m = ModelRegistry(Path(sys.argv[1])).get({MODEL!r}); "
        "m.predict([Path(sys.argv[2]).read_bytes()]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(models), str(path)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


def cost_per_hour(real_time_factor: float, threads: int, request_seconds: int) -> dict[str, Any]:
    """USD per hour of audio at ChatFunction's memory (``memory / 1769`` vCPUs there), from
    the audio seconds per second per vCPU measured here; one request per clip this long."""
    per_vcpu = real_time_factor / threads
    return {
        arch: round(cost_per_million_tokens(per_vcpu, request_seconds, memory_mb=MEMORY_MB,
                                            per_gb_second=gb, per_request=req) * 3600 / 1e6, 4)
        for arch, (gb, req) in PRICES.items()
    }  # fmt: skip


def lambda_cost(long: dict[str, Any], threads: int) -> dict[str, Any]:
    """ChatFunction's memory, its vCPUs, and what an hour of audio costs there (both engines)."""
    seconds = round(long["audio_seconds"])
    return {
        "memory_mb": MEMORY_MB,
        "vcpus": round(MEMORY_MB / MB_PER_VCPU, 2),
        "cost_per_audio_hour_usd": cost_per_hour(
            long["runtime"]["real_time_factor"], threads, seconds
        ),
        "pytorch_cost_per_audio_hour_usd": cost_per_hour(
            long["pytorch"]["real_time_factor"], threads, seconds
        ),
        "assumes": "the long clip's real-time factor per vCPU as measured here, "
        f"{MEMORY_MB / MB_PER_VCPU:.2f} vCPUs at this memory, one request per {seconds} s of "
        "audio",
    }


def load_clips() -> dict[str, dict[str, Any]]:
    """The short and the long clip: path, bytes and the text espeak-ng spoke."""
    listed = json.loads((SPEECH / "speech.json").read_text())["clips"]
    texts = {clip["file"]: clip["text"] for clip in listed}
    return {case: {"path": SPEECH / file, "data": (SPEECH / file).read_bytes(),
                   "text": texts[file]} for case, file in CLIPS.items()}  # fmt: skip


def print_table(results: dict[str, Any]) -> None:
    """The short table: one row per clip and engine, then the rest in a line each."""
    m = results["machine"]
    print(f"\n{MODEL}, {results['threads']} threads on {m['cpus']} CPUs of {m.get('cpu', '?')}, "
          f"family {m.get('cpu_family', '?')} model {m.get('cpu_model', '?')}, "
          f"load {results['load_average']}")  # fmt: skip
    print(f"{'clip':<12}{'engine':<10}{'ms':>10}{'RTF':>8}{'WER':>8}{'tokens':>8}")
    for case, row in results["clips"].items():
        for engine in ("runtime", "pytorch"):
            r = row[engine]
            print(f"{case + ' ' + str(round(row['audio_seconds'], 1)) + ' s':<12}{engine:<10}"
                  f"{r['ms']:>10.1f}{r['real_time_factor']:>8.2f}{r['wer']:>8.3f}"
                  f"{r['tokens']:>8}")  # fmt: skip
        print(f"{'':<12}{'speedup':<10}{row['speedup_vs_pytorch']:>10.2f}x")
    s = results["speed"]
    for engine in ("runtime", "pytorch"):
        print(
            f"{engine}: encoder {s[engine]['encoder_ms_per_window']} ms a window, "
            f"decoder {s[engine]['decoder_ms_per_token']} ms a token"
        )
    print(
        f"handler (short clip): {results['handler']['ms']} ms; peak RSS "
        f"{results['peak_rss_mb']} MB; USD per audio hour at {MEMORY_MB} MB: "
        f"{results['lambda']['cost_per_audio_hour_usd']}"
    )


def main() -> None:
    """Run every case, write the JSON, print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=Path, default=ROOT / "build" / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "speech.json")
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-build" / "bin" / "python"))
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    app = predict_app()
    served = app.services.predictions.resolve(None, MODEL).model
    threads = app.services.settings.inference_threads or available_cpus()
    clips = load_clips()
    peer = Peer(args.peer_python, args.models, threads)
    try:
        cases = side_by_side(served, peer, clips)
        speeds = speed(served, peer, clips["short"]["path"])
    finally:
        peer.close()
    results: dict[str, Any] = {
        "model": MODEL,
        "machine": machine(),
        "threads": threads,
        "pytorch_engine": f"transformers {peer.ready['transformers']} on PyTorch "
        f"{peer.ready['torch']}, fp32, eager attention, same weights; greedy with timestamps; "
        "the long clip through transformers' long-form generate (its own seek loop, no "
        "temperature fallback) on the full log-mel",
        "clips": cases,
        "speed": speeds,
        "handler": through_app(app, clips["short"]["data"], ROUNDS["short"]),
        "peak_rss_mb": peak_rss_mb(args.models, clips["long"]["path"]),
        "lambda": lambda_cost(cases["long"], threads),
        "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
    }
    write_json(args.out, results)
    print(json.dumps(results, indent=1))
    print_table(results)


if __name__ == "__main__":
    main()
