"""Copy the CPU-served artifacts of each built model into the models layer.

Usage: python tools/stage_models.py BUILD_MODELS_DIR LAYER_MODELS_DIR [TEMPLATE]

Only the models the template's ``LayerModels`` parameter names (its default) are staged; the
others are built-ins served from the weights bucket (``make seed``).

Per model: manifest.json, the int8 model (the pre-optimized one when the build made it) and
the tokenizer. The fp32 file stays out: it does not fit beside the runtime in 250 MB and is
served from S3 (and by the GPU container) instead. Each copied file is checked against the
manifest's sha256 so a stale or half-written build never ships.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

SHIPPED = ("int8_optimized", "int8", "tokenizer")


def sha256(path: Path) -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def layer_models(template: Path) -> set[str] | None:
    """The ``LayerModels`` default of the template (None: every model)."""
    from aiaas_dev.cfn import load_yaml  # noqa: PLC0415 - the dev venv's CloudFormation reader

    default = load_yaml(template)["Parameters"]["LayerModels"]["Default"]
    return {name.strip() for name in str(default).split(",") if name.strip()} or None


def stage(source: Path, target: Path, only: set[str] | None = None) -> list[str]:
    """Copy the models under ``source`` (those in ``only``) to ``target``; the files copied."""
    manifests = sorted(source.glob("*/manifest.json"))
    if only is not None:
        manifests = [m for m in manifests if m.parent.name in only]
    if not manifests:
        raise SystemExit(f"no models under {source}: run `make models` first")
    copied = []
    for manifest_path in manifests:
        manifest = json.loads(manifest_path.read_text())
        out = target / manifest_path.parent.name
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(manifest_path, out / "manifest.json")
        roles = [r for r in SHIPPED if r in manifest["artifacts"]]
        if "int8_optimized" in roles:
            roles.remove("int8")  # one int8 file is enough on CPU
        for role in roles:
            artifact = manifest["artifacts"][role]
            src = manifest_path.parent / artifact["file"]
            if sha256(src) != artifact["sha256"]:
                raise SystemExit(f"{src} does not match its manifest sha256: rebuild models")
            shutil.copy2(src, out / artifact["file"])
            copied.append(f"{out.name}/{artifact['file']}")
    return copied


if __name__ == "__main__":
    carried = layer_models(Path(sys.argv[3])) if len(sys.argv) > 3 else None
    for name in stage(Path(sys.argv[1]), Path(sys.argv[2]), carried):
        print(f"staged {name}")
