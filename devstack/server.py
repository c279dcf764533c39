"""The local front door: static files from frontend/, and /api/* through the API Gateway adapter.

In AWS, CloudFront serves the page from a bucket and sends ``/api/*`` to the HTTP API; here one
threaded server does both on one origin, so the page's default API base (``/api``) works as is.
"""

from __future__ import annotations

import errno
import gzip
import http.server
import socketserver
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from devstack.apigw import HttpRequest, HttpResponse, RouteTable, build_event, error_response, map_response
from devstack.runtime import LambdaFunction

#: Types the page needs served right: browsers refuse ES modules served as text/plain.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
    ".woff2": "font/woff2",
    ".webmanifest": "application/manifest+json",
}


#: The widget and the page's modules it imports: another site's page loads them as module scripts, which
#: browsers fetch in CORS mode, so they carry the header CloudFront's WidgetHeadersPolicy adds in AWS.
#: They are public files, readable by anyone: any origin may load them (the API checks ALLOWED_ORIGINS).
CORS_PATHS = ("/widget/", "/js/")

#: Compressed when the client accepts gzip, as CloudFront does in AWS (the page's byte budget counts on it).
COMPRESSIBLE = ("text/", "application/json", "image/svg+xml", "application/manifest+json")
MIN_COMPRESS_BYTES = 512
GZIP_LEVEL = 6


class PortInUseError(OSError):
    """The requested port is taken; the message names it."""


class DevHTTPServer(http.server.ThreadingHTTPServer):
    """Threaded, with a real accept backlog: the default of 5 stalls clients for seconds under load."""

    request_queue_size = 128
    daemon_threads = True

    def __init__(self, port: int, frontend_dir: Path, routes: RouteTable, api: LambdaFunction | None = None) -> None:
        self.frontend_dir = frontend_dir.resolve()
        self.api = api
        self.routes = routes
        try:
            super().__init__(("127.0.0.1", port), DevRequestHandler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(exc.errno, f"port {port} is already in use on 127.0.0.1") from exc
            raise

    @property
    def port(self) -> int:
        return self.server_address[1]


class DevRequestHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as CloudFront offers
    # Headers and body leave in separate writes; with Nagle on, each keep-alive response then waits
    # for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    timeout = 60  # an idle keep-alive connection gives its thread back after a minute
    server: DevHTTPServer

    def __init__(self, request: Any, client_address: Any, server: socketserver.BaseServer) -> None:
        super().__init__(request, client_address, server, directory=str(server.frontend_dir))  # type: ignore[attr-defined]

    def guess_type(self, path: str | Any) -> str:
        return CONTENT_TYPES.get(Path(str(path)).suffix.lower()) or super().guess_type(path)

    def end_headers(self) -> None:
        if not self.path.startswith("/api/"):
            self.send_header("Cache-Control", "no-cache")  # edits to frontend/ show on reload
        super().end_headers()

    def list_directory(self, path: str | Any) -> None:
        self.send_error(404, "Not Found")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the console is for URLs and rebuilds; the handlers log what matters

    def _dispatch(self) -> None:
        try:
            if self.path == "/api" or self.path.startswith(("/api/", "/api?")):
                self._invoke_api()
            elif self.command in ("GET", "HEAD"):
                self._serve_static()
            else:
                self._write(error_response(405, "Method Not Allowed"))
        except (BrokenPipeError, ConnectionResetError):
            # the page aborts stale requests while someone types: not an error worth a traceback
            self.close_connection = True

    def _serve_static(self) -> None:
        path = Path(self.translate_path(self.path))  # confined to frontend/ by SimpleHTTPRequestHandler
        if path.is_dir():
            if not self.path.partition("?")[0].endswith("/"):
                self._write(HttpResponse(301, [("Location", self.path.partition("?")[0] + "/")], b""))
                return
            path = path / "index.html"
        if not path.is_file():
            self._write(error_response(404, "Not Found"))
            return
        headers = [("Content-Type", self.guess_type(path))]
        if self.path.startswith(CORS_PATHS):
            headers.append(("Access-Control-Allow-Origin", "*"))
        self._write(HttpResponse(200, headers, path.read_bytes()))

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def _invoke_api(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        if self.server.api is None:
            self._write(error_response(503, "Service Unavailable"))
            return
        found = self.server.routes.match(self.command, unquote(request.target.partition("?")[0]))
        if found is None:
            self._write(error_response(404, "Not Found"))
            return
        route_key, path_parameters = found
        try:
            result = self.server.api.invoke(build_event(request, route_key, path_parameters))
            response = map_response(result)
        except Exception:
            traceback.print_exc()
            response = error_response(500, "Internal Server Error")
        self._write(response)

    def _write(self, response: HttpResponse) -> None:
        body, headers = response.body, response.headers
        if self._should_compress(response):
            body = gzip.compress(body, compresslevel=GZIP_LEVEL)
            headers = [*headers, ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        self.send_response(response.status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _should_compress(self, response: HttpResponse) -> bool:
        headers = {name.lower(): value for name, value in response.headers}
        return (
            len(response.body) >= MIN_COMPRESS_BYTES
            and "content-encoding" not in headers
            and headers.get("content-type", "").startswith(COMPRESSIBLE)
            and "gzip" in (self.headers.get("Accept-Encoding") or "")
        )
