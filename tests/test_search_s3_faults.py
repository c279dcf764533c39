"""S3 faults in the search path, injected on the wire (tests/fault_proxy.py in front of moto's server).

GIVEN the search function serving a version from S3 WHEN S3 throttles (503 SlowDown), hangs, breaks,
truncates or trickles the search pack's download, or refuses connections, as the next version is published
THEN every visitor still gets an answer from the current version at once (the swap runs in the
background), the swap gives up on a failing S3 and is retried, and the next version is served once S3
recovers; a cold container with no index answers the documented 503 within API Gateway's 30 s.
Everything goes through the function's handler and its own S3 client, so the tests keep guarding
whichever client the function uses.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import boto3
import pytest
from fault_proxy import FaultProxy
from moto.server import ThreadedMotoServer
from search_support import TALKS, call, http_event, write_content

from functions.search import app as search_app
from functions.search.lifecycle import IndexHolder
from index_builder import build_and_publish
from talksearch.store import S3_CALL_WORST_SECONDS

BUCKET = "talksearch-faults"
LOCATION = f"s3://{BUCKET}/index"
API_GATEWAY_LIMIT_SECONDS = 30
#: How long a test waits for a condition (a check to end, a visit to return) before failing: never reached when
#: the code is right, so it only bounds how long a broken build takes to fail
CONDITION_TIMEOUT_SECONDS = 120
NEW_TALK = {**TALKS[0], "id": "pycon-fr-2025/zeppelins", "title": "Des zeppelins et du Python"}


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def site(moto_endpoint, tmp_path, monkeypatch):
    """A bucket with one published version, and a search function whose S3 requests cross the fault proxy."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    content = write_content(tmp_path / "content")
    assert build_and_publish(str(content), LOCATION).published
    with FaultProxy(moto_endpoint) as proxy:
        yield Site(proxy, content, tmp_path, monkeypatch, moto_endpoint)
    search_app.set_index_holder(None)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


class Site:
    def __init__(self, proxy: FaultProxy, content, tmp_path, monkeypatch, moto_endpoint: str) -> None:
        self.proxy, self.content, self.tmp_path, self.moto_endpoint = proxy, content, tmp_path, moto_endpoint
        self.monkeypatch = monkeypatch

    def start_function(self, endpoint: str | None = None) -> None:
        """A fresh container whose S3 client (created here) talks to ``endpoint``, the proxy by default."""
        self.monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint or self.proxy.url)
        self.holder = IndexHolder(LOCATION, refresh_seconds=0)
        self.holder.store.client  # noqa: B018 — the client reads the endpoint now
        self.monkeypatch.setenv("AWS_ENDPOINT_URL_S3", self.moto_endpoint)  # the builder's own S3 stays healthy
        search_app.set_index_holder(self.holder)

    def check_ended(self) -> None:
        """Wait for the background check the last visit started (a condition, bounded)."""
        assert self.holder.wait_for_swap(timeout=CONDITION_TIMEOUT_SECONDS), "the index check never ended"

    def publish_next(self) -> str:
        write_content(self.content, [*TALKS, NEW_TALK])
        report = build_and_publish(str(self.content), LOCATION)
        assert report.published
        return report.index_version


def visit(lambda_context, q: str = "zeppelins") -> tuple[int, dict, dict, float]:
    started = time.monotonic()
    status, headers, body = call(search_app.lambda_handler, http_event("/api/search", f"q={q}"), lambda_context)
    return status, headers, body, time.monotonic() - started


def visit_after_check(site, lambda_context) -> tuple[int, dict, dict, float]:
    """A visit, once the check the visit before it started in the background has ended."""
    visit(lambda_context)
    site.check_ended()
    answer = visit(lambda_context)
    site.check_ended()
    return answer


def visit_in_a_thread(lambda_context) -> tuple[int, dict, dict, float]:
    """A visit, failing the test when it has not returned within the bound (its thread is left to finish)."""
    answers: list = []
    thread = threading.Thread(target=lambda: answers.append(visit(lambda_context)), daemon=True)
    thread.start()
    thread.join(CONDITION_TIMEOUT_SECONDS)
    assert answers, f"the visit had not returned after {CONDITION_TIMEOUT_SECONDS} s"
    return answers[0]


def etag(version: str) -> str:
    return f'W/"{version}"'


def served_version(lambda_context) -> str:
    status, headers, _, _ = visit(lambda_context)
    assert status == 200
    return json.loads(headers["etag"][2:])


def test_the_worst_s3_call_fits_twice_in_api_gateways_limit():
    # a version swap reads the manifest, then downloads the search pack: two calls, each bounded
    assert 2 * S3_CALL_WORST_SECONDS < API_GATEWAY_LIMIT_SECONDS


@pytest.mark.parametrize(
    ("fault", "path"),
    [
        ("slowdown", "manifest.json"),  # throttled at every attempt
        ("slowdown", "search.pack"),
        ("truncate", "search.pack"),  # half the pack, then the connection closes
        ("drop", "search.pack"),  # the connection closes with no answer
    ],
)
def test_visitors_keep_the_current_version_while_s3_fails_then_get_the_next(site, lambda_context, caplog, fault, path):
    site.start_function()
    first = served_version(lambda_context)
    site.proxy.inject(fault, path=path)
    second = site.publish_next()

    with caplog.at_level(logging.ERROR):
        status, headers, body, _ = visit_after_check(site, lambda_context)
    assert status == 200 and headers["etag"] == etag(first) and body["total"] == 0  # the new talk is not in it
    assert site.proxy.faulted(fault) >= 1
    assert second in caplog.text or "could not read the manifest" in caplog.text

    site.proxy.clear()  # S3 recovers: the failed swap is tried again at the next check
    status, headers, body, _ = visit_after_check(site, lambda_context)
    assert status == 200 and headers["etag"] == etag(second) and body["total"] == 1


def test_one_throttled_read_is_retried_within_the_request(site, lambda_context):
    site.start_function()
    served_version(lambda_context)
    site.proxy.inject("slowdown", path="manifest.json", times=1)
    second = site.publish_next()
    visit(lambda_context)
    site.check_ended()
    assert served_version(lambda_context) == second
    assert site.proxy.faulted("slowdown") == 1


@pytest.mark.parametrize("path", ["manifest.json", "search.pack"])
def test_a_hung_s3_holds_no_visitor_and_the_swap_gives_up_then_retries(site, lambda_context, path):
    site.start_function()
    first = served_version(lambda_context)
    site.proxy.inject("hang", path=path)
    second = site.publish_next()
    status, headers, _, _ = visit_in_a_thread(lambda_context)
    assert status == 200 and headers["etag"] == etag(first)
    # the swap's S3 calls time out (one swap in flight holds the next back: it must end)
    site.check_ended()
    assert site.proxy.faulted("hang") >= 1
    site.proxy.clear()
    assert visit_after_check(site, lambda_context)[1]["etag"] == etag(second)


def test_a_slow_download_of_the_next_version_never_slows_a_visitor(site, lambda_context):
    """The download trickles until the test releases it: every visit meanwhile must return, from the current
    version, while the download is still in flight (a condition, not a timing)."""
    site.start_function()
    first = served_version(lambda_context)
    site.proxy.inject("trickle", path="search.pack")
    second = site.publish_next()

    status, headers, body, _ = visit_in_a_thread(lambda_context)  # notices the new manifest
    assert status == 200 and headers["etag"] == etag(first) and body["total"] == 0
    deadline = time.monotonic() + CONDITION_TIMEOUT_SECONDS
    while site.proxy.trickling == 0:  # the background swap is downloading
        assert time.monotonic() < deadline, "the new version's download never started"
        time.sleep(0.05)
    for _ in range(3):
        status, headers, body, _ = visit_in_a_thread(lambda_context)
        assert status == 200 and headers["etag"] == etag(first) and body["total"] == 0
    assert site.proxy.trickling == 1  # still downloading, and only once: one swap in flight

    site.proxy.release()
    site.check_ended()
    status, headers, body, _ = visit(lambda_context)
    assert status == 200 and headers["etag"] == etag(second) and body["total"] == 1


def test_a_cold_container_while_s3_throttles_answers_503_then_serves(site, lambda_context):
    site.proxy.inject("slowdown", path="manifest.json")
    site.start_function()
    status, headers, body, took = visit(lambda_context)
    assert status == 503 and headers["retry-after"] == "30" and body["message"]
    assert took < API_GATEWAY_LIMIT_SECONDS
    site.proxy.clear()
    assert visit(lambda_context)[0] == 200


def test_a_cold_container_that_cannot_connect_answers_503_within_the_limit(site, lambda_context):
    # a listener that never accepts, its one-connection queue filled: the kernel drops further connection
    # attempts, so connecting hangs until the client's connect timeout
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        with socket.create_connection(listener.getsockname(), timeout=1):
            host, port = listener.getsockname()
            site.start_function(endpoint=f"http://{host}:{port}")
            status, headers, _, took = visit(lambda_context)
    assert status == 503 and headers["retry-after"] == "30"
    assert took < API_GATEWAY_LIMIT_SECONDS
