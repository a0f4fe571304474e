"""``python -m aiaas_dev``: ``serve`` the template's API locally, or print an ``event``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiaas_dev.authorizer import identity_values
from aiaas_dev.cfn import TemplateError
from aiaas_dev.events import (
    API_ID,
    build_authorizer_event,
    event_for_request,
    with_authorizer_context,
)
from aiaas_dev.gpu_app import GpuAppError
from aiaas_dev.openapi import write_document
from aiaas_dev.routes import Route, RouteTable
from aiaas_dev.schedules import DEV_PATH
from aiaas_dev.sqs_poller import RETRY_DELAY_S
from aiaas_dev.stack import DEFAULT_CONCURRENCY, LocalStack
from aiaas_dev.template import Template, load_template

READY_LINE_PREFIX = "aiaas-dev listening on "  # the first line `serve` prints when ready
DEFAULT_PORT = 3000
DEFAULT_EXAMPLE_BODY = '{"inputs": ["hello world"]}'


def _key_value(text: str, separator: str = "=") -> tuple[str, str]:
    key, found, value = text.partition(separator)
    if not found or not key:
        raise argparse.ArgumentTypeError(f"expected KEY{separator}VALUE, got {text!r}")
    return key.strip(), value.strip() if separator == ":" else value


def _header(text: str) -> tuple[str, str]:
    return _key_value(text, ":")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aiaas_dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in [
        ("serve", "serve the template's HttpApi on loopback, like `sam local start-api`"),
        ("event", "print the HTTP API event for a request to the template's routes"),
        ("schedule", "run a scheduled function of a running `serve` now"),
        ("openapi", "write one OpenAPI document of every route, merged from the functions' apps"),
    ]:
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--template", type=Path, default=Path("template.yaml"))
        command.add_argument("--stage", help="stage name (default: the HttpApi's StageName)")
        command.add_argument(
            "--param", type=_key_value, action="append", default=[], metavar="NAME=VALUE",
            help="template parameter value, over its Default",
        )  # fmt: skip
    serve = commands.choices["serve"]
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)),
        help="port (default: $PORT or 3000; 0 picks a free one)",
    )  # fmt: skip
    serve.add_argument(
        "--env", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
        help="environment variable for the functions, over the template's (repeatable)",
    )  # fmt: skip
    serve.add_argument("--no-moto", action="store_true", help="do not start moto")
    serve.add_argument(
        "--no-schedules", action="store_true",
        help="run scheduled functions only on demand (`schedule FUNCTION`), not on their rate",
    )  # fmt: skip
    serve.add_argument(
        "--state", type=Path, default=None, metavar="DIR",
        help="keep moto's tables, objects and secrets in DIR across restarts "
        "(saved on a clean stop, loaded at start); default: in memory only",
    )  # fmt: skip
    serve.add_argument(
        "--concurrency", type=_positive, default=DEFAULT_CONCURRENCY, metavar="N",
        help="execution environments per function at most, started on demand "
        f"(default {DEFAULT_CONCURRENCY}; 1 serves each function's requests one at a time)",
    )  # fmt: skip
    serve.add_argument(
        "--gpu-app", action=argparse.BooleanOptionalAction, default=False,
        help="run the GPU container app (python -m aiaas.gpu) and forward gpu models to it",
    )  # fmt: skip
    serve.add_argument(
        "--example-param", type=_key_value, action="append", default=[], metavar="NAME=VALUE",
        help="path parameter value for the example curl printed at start",
    )  # fmt: skip
    serve.add_argument("--example-body", default=DEFAULT_EXAMPLE_BODY)
    serve.add_argument("--log-level", default="INFO", help="level of the local stack's own logs")
    serve.add_argument(
        "--console", type=Path, default=None, metavar="DIR",
        help="serve the web console's built files (make console: build/console) for every "
        "GET that no route takes, / included",
    )  # fmt: skip
    commands.choices["openapi"].add_argument("--out", type=Path, required=True, metavar="FILE")
    _event_arguments(commands.choices["event"])
    schedule = commands.choices["schedule"]
    schedule.add_argument("function", help="the function's logical ID (DriftFunction)")
    schedule.add_argument(
        "--url", default=f"http://127.0.0.1:{os.environ.get('PORT', DEFAULT_PORT)}",
        help="the running stack (default http://127.0.0.1:$PORT or 3000)",
    )  # fmt: skip
    return parser


def _event_arguments(event: argparse.ArgumentParser) -> None:
    event.add_argument("method")
    event.add_argument("path", help="path as a client sends it, with ?query if any")
    event.add_argument("--body", default="", help="request body (JSON unless --header says)")
    event.add_argument("--header", type=_header, action="append", default=[], metavar="K:V")
    mode = event.add_mutually_exclusive_group()
    mode.add_argument(
        "--authorizer", action="store_true",
        help="print the event the route's Lambda authorizer gets instead (payload 2.0 REQUEST)",
    )  # fmt: skip
    mode.add_argument(
        "--authorizer-context", type=_json_object, metavar="JSON",
        help="the authorizer's context: the route event carries requestContext.authorizer.lambda",
    )  # fmt: skip


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _example_curls(base: str, table: RouteTable, params: dict[str, str], body: str) -> list[str]:
    """Curl lines for the banner: a plain GET route and a POST route.

    The GET is the first without path parameters; the POST the first with path parameters,
    else the first. A guarded route gets an ``authorization`` header to fill in.
    """
    curls: list[str] = []
    plain_get = next((r for r in table.routes if r.method == "GET" and "{" not in r.path), None)
    if plain_get is not None:
        curls.append(f"curl -s {shlex.quote(base + plain_get.path)}{_auth_header(plain_get)}")
    posts = [r for r in table.routes if r.method == "POST"]
    post = next((r for r in posts if "{" in r.path), posts[0] if posts else None)
    if post is not None:
        path = post.path
        for segment in path.split("/"):
            if segment.startswith("{"):
                name = segment.strip("{}+")
                path = path.replace(segment, params.get(name, f"<{name}>"))
        curls.append(
            f"curl -s -X POST {shlex.quote(base + path)}{_auth_header(post)}"
            f" -H 'content-type: application/json' -d {shlex.quote(body)}"
        )
    return curls


def _auth_header(route: Route) -> str:
    return " -H 'authorization: Bearer <token>'" if route.authorizer else ""


def _route_lines(table: RouteTable) -> list[str]:
    """One line per route: method, path, function, and its authorizer or ``NONE`` (public)."""
    return [
        f"  {r.method:<7} {table.prefix + r.path:<40} {r.function:<24} "
        f"auth: {r.authorizer or 'NONE'}"
        for r in table.routes
    ]


def _banner(stack: LocalStack, args: argparse.Namespace) -> str:
    table = stack.table
    moto = f"moto at {stack.moto.endpoint_url}" if stack.moto else "no moto"
    lines = [
        f"{READY_LINE_PREFIX}{stack.base_url}",
        f"stage {table.stage}; {moto}; template {stack.template.path}",
        "",
        *_route_lines(table),
        "",
    ]
    if stack.provisioned:
        lines += ["Created in moto:", *(f"  {p.describe()}" for p in stack.provisioned), ""]
    lines += _event_source_lines(stack)
    lines += _gpu_lines(stack)
    if stack.console_dir is not None:
        lines += [f"Web console: {stack.base_url}/ (files from {stack.console_dir})", ""]
    lines += [
        "All functions share this process and its environment; each runs one request at a time.",
        "Try:",
    ]
    example = _example_curls(stack.base_url, table, dict(args.example_param), args.example_body)
    lines += [f"  {curl}" for curl in example]
    lines += ["Ctrl+C to stop."]
    return "\n".join(lines)


def _gpu_lines(stack: LocalStack) -> list[str]:
    """The banner's GPU container app line, if the functions forward to one."""
    if stack.gpu_app is not None:
        where = f"GPU container app (CPU here): {stack.gpu_app.url}"
    elif stack.gpu_url is not None:
        where = f"GPU container app (--env AIAAS_GPU_URL): {stack.gpu_url}"
    else:
        return []
    return [f"{where}, models with runtime gpu are forwarded to it", ""]


def _event_source_lines(stack: LocalStack) -> list[str]:
    """The banner's S3 and SQS event sources (or why they are not served)."""
    lines: list[str] = []
    if stack.s3_pollers:
        sources = [f"  {poller.source.describe()}" for poller in stack.s3_pollers]
        lines += ["S3 event sources (via SQS in moto, 3 attempts each):", *sources, ""]
    elif stack.template.s3_events:
        lines += ["S3 event sources are not served without moto.", ""]
    if stack.moto is not None and stack.template.sqs_events:
        sources = [f"  {source.describe()}" for source in stack.template.sqs_events]
        retry = f"failed messages back after {RETRY_DELAY_S:g} s"
        lines += [f"SQS event sources (queues in moto; {retry}):"]
        lines += [*sources, ""]
    elif stack.template.sqs_events:
        lines += ["SQS event sources are not served without moto.", ""]
    if stack.template.schedules:
        how = "on demand only" if stack.scheduler.on_demand_only else "rates on their rate"
        lines += [f"Schedules ({how}; now: python -m aiaas_dev schedule FUNCTION):"]
        lines += [f"  {source.describe()}" for source in stack.template.schedules] + [""]
    return lines


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _serve(template: Template, args: argparse.Namespace) -> int:
    # The root logger stays at WARNING as in Lambda; --log-level is for the local stack's lines.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiaas_dev").setLevel(args.log_level.upper())
    stack = LocalStack(
        template,
        host=args.host,
        port=args.port,
        env_overrides=dict(args.env),
        use_moto=not args.no_moto,
        gpu_app=args.gpu_app,
        concurrency=args.concurrency,
        state_dir=args.state,
        schedules=not args.no_schedules,
        console_dir=args.console,
    )
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        stack.start()
        print(_banner(stack, args), flush=True)
        while not stopping.wait(0.5):
            pass
    except TemplateError as exc:  # a resource moto cannot create
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GpuAppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        abandoned = stack.stop()
        print("aiaas-dev stopped", flush=True)
    if abandoned:  # a long invocation (a batch chunk) is still in native code: do not wait
        print(f"abandoned in-flight work in {', '.join(abandoned)}", flush=True)
        sys.stdout.flush()
        os._exit(0)  # skip interpreter teardown, which would abort under a running session
    return 0


def _run_schedule(url: str, function: str) -> int:
    """Ask a running stack to run a scheduled function now; print its result."""
    target = f"{url.rstrip('/')}{DEV_PATH}{function}"
    request = urllib.request.Request(target, method="POST", data=b"")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=900) as answer:  # noqa: S310 - loopback
            print(answer.read().decode())
    except urllib.error.HTTPError as exc:
        print(f"error: {exc.code}: {exc.read().decode()}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: no stack at {url} ({exc})", file=sys.stderr)
        return 1
    return 0


def _event(template: Template, args: argparse.Namespace) -> int:
    headers = [("host", f"{API_ID}.execute-api.us-east-1.amazonaws.com"), *args.header]
    body = args.body.encode()
    if body and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    if body:
        headers.append(("content-length", str(len(body))))
    table = RouteTable(template.routes, template.stage)
    routed = event_for_request(
        table, args.method, args.path, headers=headers, body=body, server_port=443, scheme="https"
    )
    if routed is None:
        print(f"no route for {args.method} {args.path}", file=sys.stderr)
        return 1
    match, event = routed
    if args.authorizer:
        return _print_authorizer_event(template, match.route, event)
    if args.authorizer_context is not None:
        event = with_authorizer_context(event, args.authorizer_context)
    print(json.dumps(event, indent=2))
    return 0


def _print_authorizer_event(template: Template, route: Route, event: dict[str, Any]) -> int:
    """Print the authorizer's event for a routed request (1: public route or no identity)."""
    if route.authorizer is None:
        print(f"{route.route_key} is public (Auth.Authorizer NONE)", file=sys.stderr)
        return 1
    spec = template.authorizers[route.authorizer]
    identity = identity_values(spec.identity_sources, event) if spec.identity_sources else None
    if spec.identity_sources and identity is None:
        print(
            f"missing identity source ({', '.join(spec.identity_sources)}): API Gateway "
            "answers 401 without calling the authorizer; pass them with --header",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(build_authorizer_event(event, identity), indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` if not given.

    Returns:
        The exit status.
    """
    args = _parser().parse_args(argv)
    if args.command == "schedule":
        return _run_schedule(args.url, args.function)
    try:
        template = load_template(
            args.template,
            parameters=dict(args.param),
            env_overrides=dict(getattr(args, "env", [])),
            stage=args.stage,
        )
    except TemplateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "event":
        return _event(template, args)
    if args.command == "openapi":
        document = write_document(template.routes, args.out)
        print(f"{args.out}: {len(document['paths'])} paths")
        return 0
    return _serve(template, args)
