"""AuthorizerFunction: HTTP API Lambda authorizer (API keys and login JWTs). No FastAPI."""

from aiaas.handlers.authorizer import from_environment

handler = from_environment()
