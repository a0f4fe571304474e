"""Serve the GPU container: ``python -m aiaas.gpu [serve] [--host H] [--port N]``.

SageMaker starts the image as ``docker run <image> serve`` and sends traffic to port 8080
(``SAGEMAKER_BIND_TO_PORT`` where it says otherwise). One process: the models, their
sessions and their batchers live once, and the batchers keep the GPU busy. Prints
``aiaas-gpu listening on http://HOST:PORT`` once the socket accepts connections (port 0
picks a free one), and ``/ping`` answers from then on.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn

from aiaas.settings import Settings

LISTENING = "aiaas-gpu listening on"


class _Server(uvicorn.Server):
    """uvicorn, saying where it listens once it does (the local stack waits for that line)."""

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        for server in self.servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                print(f"{LISTENING} http://{host}:{port}", flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (SageMaker passes only ``serve``)."""
    parser = argparse.ArgumentParser(prog="serve", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="serve", choices=["serve"])
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - the container's port
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, app: str = "aiaas.gpu.server:create_gpu_app") -> None:
    """Run the server until SIGTERM (SageMaker's stop) or SIGINT.

    Args:
        argv: Command-line arguments; ``sys.argv[1:]`` when omitted.
        app: uvicorn import string of the app, or of a factory taking no arguments.
    """
    args = parse_args(sys.argv[1:] if argv is None else argv)
    level = Settings().log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(
        app,
        factory=app.endswith("create_gpu_app"),
        host=args.host,
        port=args.port,
        workers=1,
        log_level=level.lower(),
        access_log=args.access_log,
        timeout_keep_alive=75,  # keep connections from SageMaker's front end alive
    )
    _Server(config).run()


if __name__ == "__main__":
    main()
