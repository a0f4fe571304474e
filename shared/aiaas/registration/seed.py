"""Seed built-in models that the models layer does not carry into the weights bucket.

The layer is a cache of hot models (``LayerModels`` in the template); a built-in too large
to fit beside the runtime in Lambda's 250 MB is a built-in all the same: its files go to
``s3://<weights bucket>/builtins/<name>/<version>/`` and its catalog entry is public, with
the build manifest the loader reads its task settings from. Run after a deploy::

    python -m aiaas.registration.seed --models build/models --table <ModelsTable> \\
        --bucket <WeightsBucket> --layer all-minilm-l6-v2,iris-rf,digits-cnn

(``make seed STACK=<name>`` reads the three from the stack). Idempotent: a model already in
the catalog is left as it is.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Collection, Iterable
from pathlib import Path

from aiaas.domain.catalog import StoredWeights, seed_builtins
from aiaas.domain.catalog_records import CatalogStore
from aiaas.registration.register import Weights
from aiaas_runtime import ModelManifest
from aiaas_runtime.manifest import MANIFEST_FILE, load_manifest

# served on CPU, on the GPU; the tokenizer; a multi-graph model's other graphs and files (OCR);
# a language model's weight blocks; a speech model's decoder, its blocks and mel filters
UPLOADED = (
    "int8", "fp32", "tokenizer", "cls", "rec", "charset", "blocks",
    "decoder", "decoder_blocks", "mel_filters",
)  # fmt: skip


def seed_s3_builtins(
    store: CatalogStore,
    weights: Weights,
    manifests: Iterable[ModelManifest],
    gpu: Collection[str] = (),
) -> list[str]:
    """Upload each model's files and make it a public catalog entry (runtime ``gpu`` for the
    names in ``gpu``: the GPU container serves them); the names seeded."""

    def upload(manifest: ModelManifest) -> StoredWeights:
        artifacts, digests = {}, {}
        for role in UPLOADED:
            if role in manifest.artifacts:
                artifact = manifest.artifacts[role]
                data = manifest.artifact_path(role).read_bytes()
                key = f"builtins/{manifest.name}/{manifest.version}/{artifact.file}"
                artifacts[role], digests[role] = weights.write(key, data), artifact.sha256
        raw = json.loads((manifest.directory / MANIFEST_FILE).read_text())
        return StoredWeights(artifacts, digests, raw)

    return seed_builtins(store, manifests, upload, now=int(time.time()), gpu=gpu)


def not_in_layer(models_dir: Path, layer: Iterable[str]) -> list[ModelManifest]:
    """The built models the layer does not carry."""
    carried = set(layer)
    found = [load_manifest(path.parent) for path in sorted(models_dir.glob(f"*/{MANIFEST_FILE}"))]
    return [manifest for manifest in found if manifest.name not in carried]


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module's docstring)."""
    import boto3  # noqa: PLC0415 - a deploy-time tool

    from aiaas.repositories.models import DynamoCatalog  # noqa: PLC0415
    from aiaas.repositories.weights import S3Weights  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True, help="built models (build/models)")
    parser.add_argument("--table", required=True, help="the stack's ModelsTable")
    parser.add_argument("--bucket", required=True, help="the stack's WeightsBucket")
    parser.add_argument("--layer", default="", help="models the layer carries, comma-separated")
    parser.add_argument(
        "--gpu", default="", help="built-ins the GPU container serves (EnableGpu), comma-separated"
    )
    args = parser.parse_args(argv)
    layer = [name.strip() for name in args.layer.split(",") if name.strip()]
    gpu = {name.strip() for name in args.gpu.split(",") if name.strip()}
    store = DynamoCatalog(boto3.client("dynamodb"), args.table)
    weights = S3Weights(boto3.client("s3"), args.bucket)
    seeded = seed_s3_builtins(store, weights, not_in_layer(args.models, layer), gpu)
    print(json.dumps({"seeded": seeded}))


if __name__ == "__main__":
    main()
