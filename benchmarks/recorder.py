"""Server-side request log for the benchmarks: a WSGI layer in front of the sandbox's realism layer.

Every request any process sends to the sandbox (xacct as a subprocess, the baseline scripts, STS included) is
recorded with its start and end time (time.monotonic in the server process), service and operation. The latency is
the realism layer's (a sleep per request inside moto's threaded werkzeug server: requests are served concurrently,
one thread each, so the latency does not serialise them).

Also records when the sandbox's simulated waits end (the realism layer's ``later``), for the wait overshoot.
"""
from __future__ import annotations

import io
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

READ_PREFIXES = ("Describe", "Get", "List")


@dataclass
class Request:
    start: float
    end: float
    service: str
    op: str
    status: int = 0
    method: str = "POST"

    @property
    def read(self) -> bool:
        """Describe/Get/List, or an HTTP GET (route53's REST API)."""
        return self.op.startswith(READ_PREFIXES) or self.method in ("GET", "HEAD")


@dataclass
class Log:
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    waits_end: list[tuple[float, str]] = field(default_factory=list)  # (due time, what)
    pauses: list[tuple[float, float]] = field(default_factory=list)  # the server process's GC pauses > 20 ms (start, s)

    def mark(self) -> int:
        with self.lock:
            return len(self.requests)

    def since(self, mark: int) -> list[Request]:
        with self.lock:
            return sorted(self.requests[mark:], key=lambda r: r.start)


def _service(environ: dict) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    # AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/ec2/aws4_request, ...
    if "Credential=" in auth:
        try:
            return auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3]
        except IndexError:
            pass
    return "?"


def _operation(environ: dict, body: bytes) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # JSON protocols (KMS, Secrets Manager): "TrentService.CreateKey"
        return target.rsplit(".", 1)[-1]
    if body:  # query protocols (EC2, IAM, STS, RDS): Action=...
        try:
            action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
        except ValueError:
            action = None
        if action:
            return action[0]
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    path = environ.get("PATH_INFO", "")
    if "hostedzonesbyvpc" in path:
        return "ListHostedZonesByVPC"
    return f"{environ.get('REQUEST_METHOD', '?')} {path}"


def wrap(app: Callable, log: Log) -> Callable:
    def recording_app(environ: dict, start_response: Callable) -> Any:
        start = time.monotonic()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        op = _operation(environ, body)
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return app(environ, start_response)
        status: list[int] = [0]

        def recording_start(st: str, headers: Any, *a: Any) -> Any:
            status[0] = int(st.split(" ", 1)[0])
            return start_response(st, headers, *a)

        result = app(environ, recording_start)
        try:
            chunks = list(result)  # the response is complete when the body is
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        with log.lock:
            log.requests.append(Request(start, time.monotonic(), _service(environ), op, status[0],
                                        environ.get("REQUEST_METHOD", "POST")))
        return chunks
    return recording_app


def watch_gc(log: Log) -> None:
    """Note the server process's garbage-collector pauses (every request thread stops while one runs)."""
    import gc

    started: list[float] = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.monotonic()
        elif time.monotonic() - started[0] > 0.02:
            log.pauses.append((started[0], time.monotonic() - started[0]))

    gc.callbacks.append(callback)


def install(sandbox: Any, log: Log) -> None:
    """Put the recorder in front of a started ``Sandbox``'s app, and note when its simulated waits end."""
    server = sandbox._server._server
    server.app = wrap(server.app, log)
    from xacct_dataapi.sandbox import realism

    world = realism._world_now()
    original = world.later

    def later(delay: float, change: Callable[[], None]) -> None:
        if delay > 0:
            with log.lock:
                # realism.py's closures: "ready" (endpoint available), "apply" (Data API switch), "gone" (ENIs)
                what = getattr(change, "__qualname__", "?").rsplit(".", 1)[-1]
                log.waits_end.append((time.monotonic() + delay, what))
        original(delay, change)

    world.later = later  # instance attribute: this sandbox's world only
