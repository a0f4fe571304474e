"""One cold-start fix for FastAPI 0.165: its pydantic.v1 probe.

For every path parameter, body field and response model, FastAPI asks whether the type is a
pydantic v1 model (``fastapi._compat.shared.is_pydantic_v1_model_class``), and the answer
imports ``pydantic.v1`` to compare against: ~45 ms on a quiet host, ~75 ms on a loaded one,
paid by every function's cold start while its routes are declared. A class can only be a
``pydantic.v1.BaseModel`` if ``pydantic.v1`` was imported, so while it is not in
``sys.modules`` the answer is no, and the probe need not import it; once something imports
it, FastAPI's own check runs unchanged (and still refuses v1 models).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_PATCHED = "__aiaas_lazy_v1_probe__"


def lazy_pydantic_v1_probe() -> None:
    """Make FastAPI's v1 probes answer False without importing ``pydantic.v1`` (idempotent)."""
    import fastapi._compat  # noqa: PLC0415 - private, pinned FastAPI version
    import fastapi.encoders  # noqa: PLC0415
    from fastapi._compat import shared  # noqa: PLC0415

    if getattr(shared, _PATCHED, False):
        return
    # the modules that hold the probes, by their own name (imported with `from ... import`)
    holders = (shared, fastapi._compat, fastapi.encoders)
    for name in ("is_pydantic_v1_model_class", "is_pydantic_v1_model_instance"):
        original = getattr(shared, name, None)
        if not callable(original):
            continue
        probe = _unless_v1_imported(original)
        for module in holders:
            if getattr(module, name, None) is original:
                setattr(module, name, probe)
    setattr(shared, _PATCHED, True)


def _unless_v1_imported(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def probe(value: Any) -> bool:
        return "pydantic.v1" in sys.modules and original(value)

    probe.__doc__ = original.__doc__
    return probe
