"""fastembed (Qdrant's ONNX embedding library) on our own MiniLM files, as a peer in `make bench`.

fastembed loads a local model directory as a custom model: the ONNX file, ``tokenizer.json``
and the ``tokenizer_config.json`` / ``special_tokens_map.json`` it wants beside them. Our graph
already pools and normalizes (output ``sentence_embedding``), so fastembed runs it with
``PoolingType.DISABLED`` and no normalization of its own: both sides run the very same int8
file with the same threads, and what differs is the library around the session.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

FILES = {"model.onnx": "model.int8.opt.onnx", "tokenizer.json": "tokenizer.json"}


def fastembed_model(model_dir: Path, threads: int) -> tuple[Any, Callable[[list[str]], Any]]:
    """A fastembed ``TextEmbedding`` over ``model_dir``'s int8 file; and its embed function."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from fastembed import TextEmbedding  # noqa: PLC0415 - a bench-only dependency
    from fastembed.common.model_description import ModelSource, PoolingType  # noqa: PLC0415

    local = Path(tempfile.mkdtemp(prefix="aiaas-fastembed-"))
    for name, ours in FILES.items():
        (local / name).symlink_to((model_dir / ours).resolve())
    manifest = json.loads((model_dir / "manifest.json").read_text())
    length = int(manifest["preprocessing"]["max_length"])
    config = {"model_max_length": length, "pad_token": manifest["preprocessing"]["pad_token"]}
    (local / "tokenizer_config.json").write_text(json.dumps(config))
    specials = {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                "unk_token": "[UNK]", "mask_token": "[MASK]"}  # fmt: skip
    (local / "special_tokens_map.json").write_text(json.dumps(specials))
    name = "aiaas/all-minilm-l6-v2-int8"
    with contextlib.suppress(ValueError):  # registered by an earlier call in this process
        TextEmbedding.add_custom_model(
            model=name,
            pooling=PoolingType.DISABLED,
            normalization=False,
            sources=ModelSource(hf="aiaas/not-downloaded"),
            dim=384,
            model_file="model.onnx",
            output_name="sentence_embedding",
        )
    model = TextEmbedding(name, specific_model_path=str(local), threads=threads)

    def embed(texts: list[str]) -> np.ndarray:
        return np.array(list(model.embed(texts, batch_size=max(1, len(texts)))))

    return model, embed
