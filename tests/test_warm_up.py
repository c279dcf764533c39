"""Warming the search function (template.yaml's opt-in WarmSearchAfterRebuild and SearchKeepWarmMinutes).

The builder, after publishing, invokes the search function asynchronously with the warm-up event; the search
handler answers it by loading the published index, without a search. The rebuild runs against a moto S3 server;
its Lambda call goes, through real boto3 and HTTP, to a stub that records it (it must not reach AWS).
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto.server import ThreadedMotoServer
from rebuild_events import s3_notification, sqs_event
from search_support import call, http_event, write_content

from functions.rebuild import app as rebuild_app
from functions.search import app as search_app
from index_builder import build_and_publish
from talksearch.contracts import ENV_WARM_FUNCTION, WARM_UP_EVENT, Manifest, manifest_key

SEARCH_ALIAS = "arn:aws:lambda:eu-west-3:123456789012:function:talksearch-SearchFunction-x:live"


# --- the search function's side --------------------------------------------------------------------------------


@pytest.fixture
def index_bucket(moto_server, monkeypatch, tmp_path):
    """An empty index bucket on moto's server the search function is configured to read (a long refresh interval)."""
    boto3.client("s3").create_bucket(Bucket="warm", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    monkeypatch.setenv("INDEX_BUCKET", "warm")
    monkeypatch.setenv("INDEX_PREFIX", "index")
    monkeypatch.setenv("MANIFEST_REFRESH_SECONDS", "300")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    search_app.set_index_holder(None)
    yield tmp_path
    search_app.set_index_holder(None)


def publish(content_dir, talks_count: int) -> str:
    write_content(content_dir)
    extra = content_dir / "extra.jsonl"
    extra.write_text(
        "\n".join(
            json.dumps(
                {"id": f"extra/{n}", "title": f"Talk {n}", "speakers": ["A"], "summary": "warm", "language": "en"}
            )
            for n in range(talks_count)
        ),
        encoding="utf-8",
    )
    report = build_and_publish(str(content_dir), "s3://warm/index", full=True)
    assert report.published
    return report.index_version


def health_version(lambda_context) -> str:
    status, _, body = call(search_app.lambda_handler, http_event("/api/health"), lambda_context)
    assert status == 200, body
    return body["index"]["version"]


def test_warm_up_before_anything_is_published_says_so(index_bucket, lambda_context):
    assert search_app.lambda_handler(dict(WARM_UP_EVENT), lambda_context) == {"warm": False, "index": None}


def test_warm_up_loads_the_published_index_without_a_search(index_bucket, lambda_context):
    version = publish(index_bucket / "content", talks_count=1)
    # GIVEN a cold container WHEN the warm-up event arrives THEN it loads the index and says which
    assert search_app.lambda_handler(dict(WARM_UP_EVENT), lambda_context) == {"warm": True, "index": version}
    assert health_version(lambda_context) == version


def test_warm_up_swaps_to_a_new_version_before_the_refresh_is_due(index_bucket, lambda_context):
    first = publish(index_bucket / "content", talks_count=1)
    assert health_version(lambda_context) == first
    # GIVEN a new version published while the warm container's next manifest check is 300 s away
    second = publish(index_bucket / "content", talks_count=2)
    assert health_version(lambda_context) == first
    # WHEN the builder's warm-up arrives THEN the container serves the new version at once
    assert search_app.lambda_handler(dict(WARM_UP_EVENT), lambda_context) == {"warm": True, "index": second}
    assert health_version(lambda_context) == second


# --- the builder's side ------------------------------------------------------------------------------------------


class LambdaRecorder(BaseHTTPRequestHandler):
    """Stands in for the Lambda API: records each Invoke and answers 202 as for an asynchronous one."""

    calls: list[dict]

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append({"path": self.path, "type": self.headers["X-Amz-Invocation-Type"], "body": json.loads(body)})
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def lambda_api():
    calls: list[dict] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Recorder", (LambdaRecorder,), {"calls": calls}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", calls
    server.shutdown()
    server.server_close()


@pytest.fixture
def rebuild_env(monkeypatch, lambda_api):
    """A moto S3 server with content and index buckets, and the rebuild function's environment pointing at them."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    run = uuid.uuid4().hex[:8]
    content, index = f"warm-content-{run}", f"warm-index-{run}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{host}:{port}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", lambda_api[0])
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    for name, value in {"CONTENT_BUCKET": content, "CONTENT_PREFIX": "", "INDEX_BUCKET": index}.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3")
    for bucket in (content, index):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    yield s3, content, index, lambda_api[1]
    for bucket in (content, index):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)
    server.stop()


def upload_and_rebuild(s3, content: str, key: str, lambda_context) -> dict:
    talk = {"id": key, "title": "Chauffer une fonction", "speakers": ["B"], "summary": "froid", "language": "fr"}
    s3.put_object(Bucket=content, Key=key, Body=json.dumps(talk).encode())
    return rebuild_app.lambda_handler(sqs_event(s3_notification(key, bucket=content)), lambda_context)


def test_a_published_build_asks_the_search_function_to_load_it(rebuild_env, monkeypatch, lambda_context):
    s3, content, index, calls = rebuild_env
    monkeypatch.setenv(ENV_WARM_FUNCTION, SEARCH_ALIAS)
    assert upload_and_rebuild(s3, content, "warm.json", lambda_context) == {"batchItemFailures": []}
    manifest = Manifest.from_json(s3.get_object(Bucket=index, Key=manifest_key("index"))["Body"].read())
    assert manifest.talk_count == 1
    assert calls == [
        {
            "path": f"/2015-03-31/functions/{SEARCH_ALIAS.replace(':', '%3A')}/invocations",
            "type": "Event",
            "body": WARM_UP_EVENT,
        }
    ]


def test_without_the_option_the_builder_invokes_nothing(rebuild_env, lambda_context):
    s3, content, _, calls = rebuild_env
    assert upload_and_rebuild(s3, content, "cold.json", lambda_context) == {"batchItemFailures": []}
    assert calls == []


def test_a_failed_warm_up_never_fails_the_build(rebuild_env, monkeypatch, lambda_context):
    s3, content, index, _ = rebuild_env
    monkeypatch.setenv(ENV_WARM_FUNCTION, SEARCH_ALIAS)
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")  # nothing listens there
    assert upload_and_rebuild(s3, content, "unwarmed.json", lambda_context) == {"batchItemFailures": []}
    assert s3.get_object(Bucket=index, Key=manifest_key("index"))["ContentLength"] > 0
