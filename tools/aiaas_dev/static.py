"""The web console's built files (``make console``: ``build/console``), served for every GET
that no API route takes, as CloudFront serves them from the console bucket when deployed.

``/`` is ``index.html``; a path outside the directory, a dotfile or a missing file is
CloudFront's 404 (``{"message": "Not Found"}`` here, like any unknown route).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiaas_dev.responses import HttpResponse

TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".map": "application/json",
}
# What the deployed distribution adds (its response headers policy), minus HSTS on plain HTTP
SECURITY_HEADERS = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
]


class StaticFiles:
    """Files under one directory, by URL path."""

    def __init__(self, root: Path) -> None:
        """Serve ``root`` (it may not exist yet: ``make console`` builds it)."""
        self.root = root.resolve()

    def file_for(self, target: str) -> Path | None:
        """The file a request target names (query string ignored), or None."""
        path = target.split("?", 1)[0].split("#", 1)[0]
        if path.endswith("/"):
            path += "index.html"
        parts = [p for p in path.split("/") if p]
        if any(p.startswith(".") or "\\" in p for p in parts):
            return None
        candidate = self.root.joinpath(*parts).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def response(self, target: str) -> HttpResponse | None:
        """The file's response (200, its type, no caching), or None when there is no file
        (the server leaves the body out of a HEAD answer)."""
        found = self.file_for(target)
        if found is None:
            return None
        kind = TYPES.get(found.suffix) or mimetypes.guess_type(found.name)[0]
        headers = [
            ("content-type", kind or "application/octet-stream"),
            ("cache-control", "no-cache"),
            *SECURITY_HEADERS,
        ]
        return HttpResponse(200, headers, found.read_bytes())
