"""AuthorizerFunction: HTTP API Lambda authorizer (API keys and login JWTs). No FastAPI."""

from aiaas.auth.gateway import handle as handler

__all__ = ["handler"]
