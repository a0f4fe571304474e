"""JSON responses written by orjson, which also serializes numpy arrays (embeddings)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """``application/json`` rendered by orjson; numpy float32 arrays keep float32 precision."""

    def render(self, content: Any) -> bytes:
        """Serialize ``content``; numpy arrays and scalars included."""
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def page_body(data: list[Any], cursor: str | None) -> dict[str, Any]:
    """A page of a listing: ``{"object": "list", "data", "has_more", "next"}``."""
    return {"object": "list", "data": data, "has_more": cursor is not None, "next": cursor}
