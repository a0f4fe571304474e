"""The HTTP side of the local stack: API Gateway's part (`Gateway`) behind a stdlib server."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiaas_dev.authorizer import Authorizer, Outcome
from aiaas_dev.events import event_for_request, with_authorizer_context
from aiaas_dev.invoker import InvocationError, Invoker
from aiaas_dev.payload import new_request_id
from aiaas_dev.responses import (
    HttpResponse,
    MalformedResponseError,
    json_message,
    to_http_response,
)
from aiaas_dev.routes import RouteTable
from aiaas_dev.schedules import DEV_PATH, Scheduler
from aiaas_dev.static import StaticFiles

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload, each way
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # HTTP API's own request limit
MAX_HEADER_BYTES = 10 * 1024  # HTTP API: request line and headers together
MAX_URL_BYTES = 8 * 1024  # longer request targets are refused
BACKLOG = 256  # pending connections the socket queues (the stdlib's default is 5)
_CHUNK_LINE_LIMIT = 65_537
# http.server's own refusals (bad request line, unknown method...) as API Gateway words them
_GATEWAY_WORDS = {
    400: "Bad Request",
    404: "Not Found",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    431: "Request Header Fields Too Large",
}


class BadRequest(Exception):
    """A request the gateway cannot read (malformed Content-Length, chunk size...)."""


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as the server received it."""

    method: str
    target: str  # path (with the stage prefix) and query string, as sent
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    server_port: int = 3000
    protocol: str = "HTTP/1.1"


class Gateway:
    """API Gateway's part: route, authorize, build the event, invoke, convert the result."""

    def __init__(
        self,
        table: RouteTable,
        workers: Mapping[str, Invoker],
        authorizers: Mapping[str, Authorizer] | None = None,
        scheduler: Scheduler | None = None,
        console: StaticFiles | None = None,
    ) -> None:
        """Create the gateway.

        Args:
            table: The routes and the stage.
            workers: One execution environment per function, by logical ID.
            authorizers: The Lambda authorizers the routes name, by name.
            scheduler: Runs scheduled functions on demand
                (``POST /_aiaas_dev/schedules/<FunctionLogicalId>``).
            console: The web console's files, for a GET or HEAD that no route takes.
        """
        self.table = table
        self.workers = workers
        self.authorizers = dict(authorizers or {})
        self.scheduler = scheduler
        self.console = console

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request as API Gateway and Lambda would.

        Args:
            request: The request as received.

        Returns:
            The response; 401, 403, 404, 413 and 500 carry API Gateway's
            ``{"message": ...}`` bodies, and every response an ``apigw-requestid`` header.
        """
        response = self._respond(request)
        response.headers.append(("apigw-requestid", new_request_id()))
        return response

    def _respond(self, request: HttpRequest) -> HttpResponse:
        if request.target.startswith(DEV_PATH) and self.scheduler is not None:
            return self._run_schedule(self.scheduler, request)
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return json_message(413, "Request Entity Too Large")
        routed = event_for_request(
            self.table,
            request.method,
            request.target,
            headers=request.headers,
            body=request.body,
            source_ip=request.source_ip,
            server_port=request.server_port,
            protocol=request.protocol,
        )
        if routed is None:
            return self._static(request) or json_message(404, "Not Found")
        match, event = routed
        if match.route.authorizer is not None:
            decision = self.authorizers[match.route.authorizer].authorize(event)
            if decision.outcome is not Outcome.ALLOW:
                return json_message(decision.outcome.value, decision.outcome.message)
            event = with_authorizer_context(event, decision.context)
        if len(json.dumps(event)) > MAX_PAYLOAD_BYTES:
            return json_message(413, "Request Entity Too Large")
        worker = self.workers[match.route.function]
        streamed = self._invoke_stream(worker, event) if _wants_stream(request) else None
        return streamed or self._invoke(worker, event)

    def _static(self, request: HttpRequest) -> HttpResponse | None:
        if self.console is None or request.method not in ("GET", "HEAD"):
            return None
        return self.console.response(request.target)

    @staticmethod
    def _run_schedule(scheduler: Scheduler, request: HttpRequest) -> HttpResponse:
        """The local stack's own route: run a scheduled function now; its result as JSON."""
        if request.method != "POST":
            return json_message(405, "Method Not Allowed")
        function = request.target.removeprefix(DEV_PATH).split("?", 1)[0]
        try:
            result = scheduler.run_now(function)
        except KeyError:
            return json_message(404, f"{function} has no schedule")
        except InvocationError:
            return json_message(500, f"{function} failed (its traceback is in the log)")
        return to_http_response({"statusCode": 200, "body": json.dumps(result, default=str),
                                 "headers": {"content-type": "application/json"}})  # fmt: skip

    @staticmethod
    def _invoke_stream(worker: Any, event: dict[str, Any]) -> HttpResponse | None:
        """Lambda's response streaming: the app's response as it sends it (not through API
        Gateway's HTTP API, which buffers; see the README's streaming notes)."""
        if not hasattr(worker, "invoke_stream"):
            return None
        try:
            streamed = worker.invoke_stream(event, str(uuid.uuid4()))
        except InvocationError:
            return json_message(500, "Internal Server Error")
        if streamed is None:
            return None
        return HttpResponse(streamed.status, streamed.headers, stream=streamed.chunks)

    @staticmethod
    def _invoke(worker: Invoker, event: dict[str, Any]) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            result = worker.invoke(event, request_id)
            if len(json.dumps(result, default=str)) > MAX_PAYLOAD_BYTES:
                raise MalformedResponseError("response payload is over Lambda's 6 MB limit")
            return to_http_response(result)
        except InvocationError:
            pass  # the worker logged the traceback, as Lambda would
        except MalformedResponseError as exc:
            logger.error("%s: %s: %s", request_id, worker.spec.logical_id, exc)
        return json_message(500, "Internal Server Error")


class GatewayHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that hands every request to a `Gateway`."""

    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        """Bind the server (``port`` 0 picks a free port).

        Args:
            address: ``(host, port)``.
            gateway: Answers the requests.
        """
        self.gateway = gateway
        super().__init__(address, GatewayRequestHandler)


class GatewayRequestHandler(BaseHTTPRequestHandler):
    """Reads one request, lets the gateway answer it, writes the response."""

    protocol_version = "HTTP/1.1"
    server: GatewayHTTPServer

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors as API Gateway's JSON, never an HTML page; a method no
        route has is API Gateway's 404."""
        status = 404 if code == 501 else code
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # a line too garbled to name its version
            self.request_version = "HTTP/1.1"
        self._send(json_message(status, _GATEWAY_WORDS.get(status, message or "Bad Request")))

    def _too_large_head(self) -> int | None:
        if len(self.path) > MAX_URL_BYTES:
            return 414
        size = len(self.requestline) + sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        return 431 if size > MAX_HEADER_BYTES else None

    def _handle(self) -> None:
        refused = self._too_large_head()
        if refused is not None:
            self.send_error(refused)
            return
        try:
            body = self._read_body()
        except BadRequest:
            self.send_error(400)
            return
        if body is None:  # over HTTP API's limit: answer without reading it, then hang up
            self.close_connection = True
            self._send(json_message(413, "Request Entity Too Large"))
            return
        try:
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers=self.headers.items(),
                body=body,
                source_ip=self.client_address[0],
                server_port=self.server.server_address[1],
                protocol=self.request_version,
            )
            response = self.server.gateway.handle(request)
        except Exception:
            logger.exception("local stack error on %s %s", self.command, self.path)
            response = json_message(500, "Internal Server Error")
        self._send(response)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle  # noqa: N815

    def _read_body(self) -> bytes | None:
        """The request body, or ``None`` if it is over `MAX_REQUEST_BYTES`."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        declared = (self.headers.get("content-length") or "0").strip()
        if not declared.isdigit():
            raise BadRequest(f"Content-Length {declared[:40]!r} is not a number of bytes")
        length = int(declared)
        if length > MAX_REQUEST_BYTES:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while size := _chunk_size(self.rfile.readline(_CHUNK_LINE_LIMIT)):
            total += size
            if total > MAX_REQUEST_BYTES:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(_CHUNK_LINE_LIMIT)  # the CRLF after the chunk
        while self.rfile.readline(_CHUNK_LINE_LIMIT) not in {b"\r\n", b"\n", b""}:
            pass  # trailers
        return b"".join(chunks)

    def _send(self, response: HttpResponse) -> None:
        if response.stream is not None:
            self._send_stream(response, response.stream)
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _send_stream(self, response: HttpResponse, chunks: Iterator[bytes]) -> None:
        """Chunked transfer encoding, one HTTP chunk per chunk the app sent; a reader that
        hangs up stops the stream (the app's generator is closed)."""
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for chunk in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


def _wants_stream(request: HttpRequest) -> bool:
    """A streaming request: ``"stream": true`` in a JSON body, or ``Accept: text/event-stream``."""
    accept = next((v for k, v in request.headers if k.lower() == "accept"), "")
    if "text/event-stream" in accept:
        return True
    if b'"stream"' not in request.body:
        return False
    try:
        body = json.loads(request.body)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("stream") is True


def _chunk_size(line: bytes) -> int:
    try:
        return int(line.split(b";")[0].strip(), 16)
    except ValueError as exc:
        raise BadRequest("malformed chunk size") from exc
