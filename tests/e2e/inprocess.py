"""The repository's template served by a local stack in the test process.

Batch and GPU tests use it to reach inside the functions (a scorer that fails on purpose,
the GPU app's counters). The stack sets ``os.environ`` for its functions; it is restored, and
moto's state reset, when the stack stops.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moto.moto_api._internal.models import moto_api_backend

from aiaas_dev.stack import LocalStack
from aiaas_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def in_process_stack(
    models_dir: Path, env: dict[str, str] | None = None, **options: Any
) -> Iterator[LocalStack]:
    """Start the stack on a free port (``env`` adds to the functions' environment, ``options``
    go to `LocalStack`), stop it after."""
    saved = dict(os.environ)
    moto_api_backend.reset()  # moto's state is per process, shared by every server in it
    stack = LocalStack(
        load_template(ROOT / "template.yaml"),
        port=0,
        env_overrides={
            "AIAAS_MODELS_DIR": str(models_dir),
            "AIAAS_LOG_LEVEL": "WARNING",
            **(env or {}),
        },
        **options,
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        moto_api_backend.reset()
