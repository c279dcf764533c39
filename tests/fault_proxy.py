"""A small HTTP proxy in front of moto's server that injects S3 faults into the requests it forwards.

Point a client's ``AWS_ENDPOINT_URL_S3`` at ``proxy.url``: every request goes on to moto unchanged
unless a fault matches it. Faults act on what a client meets on the wire, so they keep guarding
whatever S3 client the code under test uses::

    with FaultProxy(moto_endpoint) as proxy:
        proxy.inject("slowdown", path="manifest.json", times=1)  # one 503 SlowDown, then normal answers
        proxy.inject("hang", path="index.tar.gz")  # hold every artifact request until the client gives up

Kinds: ``slowdown`` (503 SlowDown, S3's throttling answer), ``hang`` (read the request, never answer),
``truncate`` (the full Content-Length, half the body, then the connection closes), ``drop`` (close
the connection without answering) and ``trickle`` (a GET's body one byte every 0.2 s, never slow enough
for a client's read timeout, until ``release()``; then the rest at once: a download as slow as a test needs).
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("slowdown", "hang", "truncate", "drop", "trickle")
TRICKLE_SECONDS_PER_BYTE = 0.2
_SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>FAULTPROXY</RequestId></Error>"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass
class _Fault:
    kind: str
    path: str
    times: int | None


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        self._upstream = (target.hostname, target.port)
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._released = threading.Event()
        #: trickled downloads still sending their body
        self.trickling = 0
        #: (method, path, fault kind or None) of every request, in order
        self.requests: list[tuple[str, str, str | None]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def inject(self, kind: str, *, path: str = "", times: int | None = None) -> None:
        """Apply ``kind`` to the next ``times`` requests (all, when None) whose path contains ``path``."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(kind, path, times))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def release(self) -> None:
        """Let every trickled download, now and later, send the rest of its body at once."""
        self._released.set()

    def faulted(self, kind: str) -> int:
        return sum(1 for _, _, fault in self.requests if fault == kind)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # ends the hangs
        self._released.set()  # ... and the trickles
        self._server.shutdown()
        self._server.server_close()

    def _take(self, path: str) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.path in path and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault.kind
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._take(self.path)
                proxy.requests.append((self.command, self.path, fault))
                if fault == "hang":
                    proxy._stopping.wait(120)
                    self.close_connection = True
                    return
                if fault == "drop":
                    self.close_connection = True
                    return
                if fault == "slowdown":
                    self._answer(503, {"Content-Type": "application/xml"}, _SLOWDOWN)
                    return
                upstream = http.client.HTTPConnection(*proxy._upstream, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    headers = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
                finally:
                    upstream.close()
                if fault == "truncate" and self.command == "GET" and len(data) > 1:
                    headers["Content-Length"] = str(len(data))
                    self.send_response(response.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                if fault == "trickle" and self.command == "GET":
                    self._trickle(response.status, headers, data)
                    return
                self._answer(response.status, headers, data, head=self.command == "HEAD")

            def _trickle(self, status: int, headers: dict[str, str], data: bytes) -> None:
                headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
                headers["Content-Length"] = str(len(data))
                with proxy._lock:
                    proxy.trickling += 1
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    sent = 0
                    while sent < len(data) - 1 and not proxy._released.wait(TRICKLE_SECONDS_PER_BYTE):
                        self.wfile.write(data[sent : sent + 1])
                        self.wfile.flush()
                        sent += 1
                    self.wfile.write(data[sent:])
                finally:
                    with proxy._lock:
                        proxy.trickling -= 1

            def _answer(self, status: int, headers: dict[str, str], data: bytes, head: bool = False) -> None:
                stated = [v for k, v in headers.items() if k.lower() == "content-length"]
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", stated[0] if stated else str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

        return Handler
