"""The bench's load test counts as errors only requests that failed, not those hey never sent."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.measure import load_test

pytestmark = pytest.mark.skipif(shutil.which("hey") is None, reason="hey is not installed (make bench installs it)")


class _Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 503 if "q=down" in self.path else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()
    server.server_close()


def test_requests_hey_drops_when_workers_do_not_divide_them_are_not_errors(api):
    # GIVEN 150 requests over 2 queries with 4 workers: 75 per query does not split evenly over 4
    result = load_test(api, [{"params": {"q": "a"}}, {"params": {"q": "b"}}], 150, 4, progress=lambda _: None)
    # THEN every request counted was sent and answered 200, and none counts as an error
    assert result["errors"] == 0
    assert result["statuses"] == {"200": result["requests"]} and result["requests"] % 4 == 0


def test_an_answer_other_than_200_is_an_error(api):
    result = load_test(api, [{"params": {"q": "a"}}, {"params": {"q": "down"}}], 16, 4, progress=lambda _: None)
    assert result["statuses"] == {"200": 8, "503": 8} and result["errors"] == 8
