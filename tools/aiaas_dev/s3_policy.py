"""Presigned POST policies, enforced in front of moto as S3 enforces them.

moto stores whatever a browser-style POST upload sends: an expired form, a form whose fields
were edited (another key, another tenant's pending upload), a file over the policy's
``content-length-range``. S3 refuses each. `PresignedPostGuard` wraps moto's WSGI app and
checks a POST upload before moto sees it:

- the signature over the policy (SigV2 ``signature`` or SigV4 ``x-amz-signature``), with the
  local stack's secret key: a policy cannot be rewritten;
- the policy's ``expiration``;
- every condition: exact matches (``{"key": ...}``, ``["eq", "$key", ...]``), ``starts-with``,
  ``content-length-range`` on the file's size, and the bucket in the URL;
- every form field is covered by a condition (but ``policy``, the signature fields, ``file``
  and ``x-ignore-*``), as S3 requires.

What it refuses is answered the way S3 answers: 403 ``AccessDenied`` "Invalid according to
Policy: ...", or 400 ``EntityTooLarge`` / ``EntityTooSmall``, as S3's XML error document.
Everything else passes through untouched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.formparser import parse_form_data

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
EXEMPT = {"policy", "signature", "x-amz-signature", "file", "awsaccesskeyid"}
MAX_FORM_BYTES = 6 * 1024 * 1024 * 1024  # S3's single-POST limit is 5 GB


class PolicyError(Exception):
    """An upload S3 would refuse: its status, S3 error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _v4_key(secret: str, credential: str) -> bytes:
    """SigV4's signing key for ``<akid>/<date>/<region>/<service>/aws4_request``."""
    parts = credential.split("/")
    if len(parts) != 5:
        raise PolicyError(403, "AccessDenied", "malformed x-amz-credential")
    key = f"AWS4{secret}".encode()
    for part in parts[1:]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check_signature(fields: Mapping[str, str], secret: str) -> None:
    """The policy was signed with ``secret`` (SigV4 or SigV2); PolicyError otherwise."""
    policy = fields.get("policy", "")
    if "x-amz-signature" in fields:
        key = _v4_key(secret, fields.get("x-amz-credential", ""))
        want = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
        given = fields["x-amz-signature"]
    elif "signature" in fields:
        digest = hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()
        want, given = base64.b64encode(digest).decode(), fields["signature"]
    else:
        raise PolicyError(403, "AccessDenied", "the form carries no signature")
    if not hmac.compare_digest(want, given):
        raise PolicyError(403, "SignatureDoesNotMatch", "the policy's signature does not match")


def check_policy(
    policy_b64: str, fields: Mapping[str, str], bucket: str, size: int, now: datetime
) -> None:
    """The policy allows this upload of ``size`` bytes; PolicyError naming what it breaks."""
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True))
        expiration = datetime.fromisoformat(str(policy["expiration"]).replace("Z", "+00:00"))
        conditions = list(policy["conditions"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise PolicyError(400, "InvalidPolicyDocument", "the policy is not readable") from exc
    if now >= expiration:
        raise PolicyError(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    values = {**{k.lower(): v for k, v in fields.items()}, "bucket": bucket}
    covered = {"bucket"}
    for condition in conditions:
        covered |= _check(condition, values, size)
    extra = sorted(name for name in values if name not in covered | EXEMPT)
    extra = [name for name in extra if not name.startswith("x-ignore-")]
    if extra:
        raise PolicyError(
            403,
            "AccessDenied",
            f"Invalid according to Policy: Extra input fields: {', '.join(extra)}",
        )


def _check(condition: Any, values: Mapping[str, str], size: int) -> set[str]:
    """Check one condition; the form fields it covers."""
    if isinstance(condition, dict):
        covered = set()
        for name, want in condition.items():
            _match("eq", name.lower(), str(want), values)
            covered.add(name.lower())
        return covered
    if isinstance(condition, list) and condition and condition[0] == "content-length-range":
        low, high = int(condition[1]), int(condition[2])
        if size > high:
            raise PolicyError(400, "EntityTooLarge", f"Your proposed upload exceeds {high} bytes")
        if size < low:
            raise PolicyError(400, "EntityTooSmall", f"Your proposed upload is under {low} bytes")
        return set()
    operators = ("eq", "starts-with")
    if isinstance(condition, list) and len(condition) == 3 and condition[0] in operators:
        name = str(condition[1]).removeprefix("$").lower()
        _match(condition[0], name, str(condition[2]), values)
        return {name}
    raise PolicyError(400, "InvalidPolicyDocument", f"unknown policy condition {condition!r}")


def _match(operator: str, name: str, want: str, values: Mapping[str, str]) -> None:
    got = values.get(name)
    ok = got is not None and (got == want if operator == "eq" else got.startswith(want))
    if not ok:
        raise PolicyError(
            403,
            "AccessDenied",
            f"Invalid according to Policy: Policy Condition failed: [{operator!r}, '${name}', "
            f"{want!r}]",
        )


class PresignedPostGuard:
    """WSGI middleware over moto: POST uploads to a bucket are checked first (see module)."""

    def __init__(
        self, app: WsgiApp, secret: str, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.app = app
        self.secret = secret
        self.clock = clock or (lambda: datetime.now(UTC))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        bucket = self._upload_bucket(environ)
        if bucket is None:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_FORM_BYTES:
            return _error(start_response, PolicyError(400, "EntityTooLarge", "body too large"))
        body = environ["wsgi.input"].read(length)
        parsed = dict(environ, **{"wsgi.input": io.BytesIO(body)})
        _, form, files = parse_form_data(parsed)
        fields = {k.lower(): v for k, v in form.items()}
        upload = files.get("file")
        size = len(upload.stream.read()) if upload is not None else 0
        try:
            check_signature(fields, self.secret)
            check_policy(fields.get("policy", ""), fields, bucket, size, self.clock())
        except PolicyError as exc:
            return _error(start_response, exc)
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    @staticmethod
    def _upload_bucket(environ: Mapping[str, Any]) -> str | None:
        """The bucket of a path-style browser POST upload (``POST /<bucket>``), else None."""
        if environ.get("REQUEST_METHOD") != "POST":
            return None
        if not str(environ.get("CONTENT_TYPE", "")).startswith("multipart/form-data"):
            return None
        path = str(environ.get("PATH_INFO", "")).strip("/")
        if not path or "/" in path or environ.get("QUERY_STRING"):
            return None
        return path


def _error(start_response: Callable[..., Any], error: PolicyError) -> list[bytes]:
    """S3's XML error document."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        "</Error>"
    ).encode()
    reason = {400: "Bad Request", 403: "Forbidden"}[error.status]
    start_response(
        f"{error.status} {reason}",
        [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
    )
    return [body]
