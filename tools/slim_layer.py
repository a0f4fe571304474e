"""Slim a layer's site-packages after pip: drop what Lambda never runs, precompile the rest.

Usage: python tools/slim_layer.py SITE_DIR [--keep RELATIVE_DIR ...] [--strip]
       [--sourceless PACKAGE ...]

Lambda extracts layers to a read-only /opt, so Python cannot write bytecode there: every cold
start would compile every imported module again (numpy 86 -> 235 ms, fastapi 289 -> 614 ms,
measured). The .pyc files are written here with unchecked hashes, valid whatever the mtimes.
"""

from __future__ import annotations

import compileall
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

# Whole directories no served code imports.
DROP_DIRS = (
    "bin",
    "numpy/f2py",
    "numpy/_pyinstaller",
    "onnxruntime/transformers",
    "onnxruntime/tools",
    "onnxruntime/quantization",
    "onnxruntime/datasets",
)
# Pillow codecs and fonts an image model never needs (PNG and JPEG live in _imaging).
DROP_GLOBS = (
    "PIL/_avif.*.so",
    "PIL/_webp.*.so",
    "PIL/_imagingft.*.so",
    "PIL/_imagingtk.*.so",
    "pillow.libs/libavif-*",
    "pillow.libs/libwebp*",
    "pillow.libs/libsharpyuv-*",
    "pillow.libs/libfreetype-*",
    "pillow.libs/libharfbuzz-*",
    "pillow.libs/libbrotli*",
    "pillow.libs/libpng16-*",
)


def slim(site: Path, keep: tuple[str, ...] = ()) -> None:
    """Remove test suites, unused tools and codecs (but ``keep``); precompile every module."""
    for pattern in ("**/tests", "**/__pycache__"):
        for path in site.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
    for rel in DROP_DIRS:
        if rel not in keep:
            shutil.rmtree(site / rel, ignore_errors=True)
    for pattern in DROP_GLOBS:
        for path in site.glob(pattern):
            path.unlink()
    ok = compileall.compile_dir(
        site,
        quiet=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        workers=0,
    )
    if not ok:
        raise SystemExit(f"compileall failed in {site}")


def strip_binaries(site: Path) -> None:
    """Drop the debug symbols manylinux wheels leave in their extension modules (not in the
    vendored libraries under ``*.libs/``: auditwheel patched those, and stripping breaks them)."""
    strip = shutil.which("strip")
    if strip is None:
        raise SystemExit("strip (binutils) is needed to slim this layer: apt-get install binutils")
    for path in site.rglob("*.so*"):
        if path.is_file() and not path.parent.name.endswith(".libs"):
            subprocess.run([strip, "--strip-unneeded", str(path)], check=True)  # noqa: S603


def sourceless(site: Path, package: str) -> None:
    """Keep only bytecode for ``package``: each module's ``.pyc`` where its ``.py`` was (Python
    imports those without a source), no ``.py``, no ``__pycache__``. Tracebacks inside it then
    show no source lines; the layer that needs the bytes (TrainingLayer) says so."""
    root = site / package
    for cache in root.rglob("__pycache__"):
        shutil.rmtree(cache)
    ok = compileall.compile_dir(
        root,
        quiet=1,
        legacy=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        workers=0,
    )
    if not ok:
        raise SystemExit(f"compileall failed in {root}")
    for source in root.rglob("*.py"):
        if source.with_suffix(".pyc").exists():
            source.unlink()


if __name__ == "__main__":
    args = sys.argv[1:]
    kept = tuple(args[i + 1] for i, arg in enumerate(args) if arg == "--keep")
    slim(Path(args[0]), kept)
    if "--strip" in args:
        strip_binaries(Path(args[0]))
    for package in (args[i + 1] for i, arg in enumerate(args) if arg == "--sourceless"):
        sourceless(Path(args[0]), package)
