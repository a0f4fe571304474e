"""AuthorizerFunction: HTTP API Lambda authorizer (API keys and login JWTs). No FastAPI."""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from aiaas.handlers.authorizer import from_environment

    handler = from_environment()
