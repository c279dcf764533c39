"""The search function's own signed S3 GET (talksearch.s3_get), held to what boto3 does.

GIVEN the requests the search function sends WHEN botocore's SigV4 signer signs the same requests THEN the
Authorization header and the signed headers are identical (a stand-in that S3 would refuse must fail here,
not in a deploy), and the URLs are the ones boto3 builds: path-style under AWS_ENDPOINT_URL_S3 /
AWS_ENDPOINT_URL (moto's server, the local stack), regional virtual-hosted for real S3, keys escaped alike.
Against moto's server on the wire: keys that need escaping read back, a missing key is "not there", a
refused one an error, and a body that breaks once is resumed where it broke.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotocoreCredentials
from fault_proxy import FaultProxy
from search_support import boto3_modules, http_event, write_content

from index_builder import build_and_publish
from talksearch.s3_get import Credentials, S3GetClient, S3ResponseError, signed_headers
from talksearch.store import S3ReadStore, StoreError, open_reader
from tests.conftest import ROOT

NOW = datetime(2026, 12, 2, 3, 4, 5, tzinfo=UTC)
KEYS = [
    "index/manifest.json",
    "index/versions/20261202T030405Z-ab12/index.tar.gz",
    "talks/une conférence + deux ~ trois.json",
    "talks/Émilie Ærø/naïve (draft)=1&x.md",
]
#: What Lambda puts in the environment, with and without a session token (Lambda always has one).
CREDENTIALS = {
    "session": {"AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t/+k", "AWS_SESSION_TOKEN": "IQo"},
    "keys only": {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t/+k"},
}
#: Lambda sets both; boto3 reads the second.
REGION = {"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "eu-west-3"}
ENDPOINTS = {
    "moto via AWS_ENDPOINT_URL_S3": {"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5123"},
    "stack via AWS_ENDPOINT_URL": {"AWS_ENDPOINT_URL": "http://localhost:4566"},
    "real S3, regional virtual-hosted": {},
}


@pytest.fixture
def lambda_env(monkeypatch, request):
    credentials, endpoint = request.param
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**CREDENTIALS[credentials], **ENDPOINTS[endpoint], **REGION}.items():
        monkeypatch.setenv(name, value)
    return credentials


def botocore_signed(url: str, headers: dict[str, str], monkeypatch) -> dict[str, str]:
    """The headers botocore's S3 SigV4 signer gives the same GET at the same instant."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    credentials = Credentials.from_env()
    request = AWSRequest(method="GET", url=url, headers=dict(headers))
    signer = botocore.auth.S3SigV4Auth(
        BotocoreCredentials(credentials.access_key, credentials.secret_key, credentials.token), "s3", "eu-west-3"
    )
    signer.add_auth(request)
    return dict(request.headers.items())


def boto3_url(bucket: str, key: str) -> str:
    """The URL boto3's own client sends a GetObject to (captured before it is sent)."""
    client = boto3.client("s3", config=Config(retries={"max_attempts": 1}))
    sent = []

    def capture(request, **_):
        sent.append(request.url)
        raise StopIteration  # never sent

    client.meta.events.register("before-send.s3.GetObject", capture)
    with pytest.raises(StopIteration):
        client.get_object(Bucket=bucket, Key=key)
    return sent[0]


@pytest.mark.parametrize(
    "lambda_env", [(c, e) for c in CREDENTIALS for e in ENDPOINTS], indirect=True, ids=lambda p: " / ".join(p)
)
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("extra", [{}, {"Range": "bytes=1048576-", "If-Match": '"0a1b2c"'}], ids=["get", "resume"])
def test_requests_are_signed_as_botocore_signs_them_at_the_urls_boto3_uses(lambda_env, key, extra, monkeypatch):
    client = S3GetClient()
    url = client.object_url("talksearch-index", key)
    assert url == boto3_url("talksearch-index", key)
    ours = signed_headers(url, client.credentials, client.region, NOW, extra)
    theirs = botocore_signed(url, extra, monkeypatch)
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours == theirs  # the same headers, values included: what is signed is what is sent
    signed = ours["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert ("x-amz-security-token" in signed) == (lambda_env == "session")
    assert {"host", "x-amz-content-sha256", "x-amz-date"} | {name.lower() for name in extra} <= set(signed)


def test_dotted_bucket_names_use_the_path_style_s3_certificates_cover(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert S3GetClient().object_url("talks.example.org", "index/manifest.json") == (
        "https://s3.eu-west-3.amazonaws.com/talks.example.org/index/manifest.json"
    )


def test_no_credentials_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(StoreError, match="AWS_ACCESS_KEY_ID"):
        S3GetClient()


# --- on the wire, against moto's server -------------------------------------------------------------------------


@pytest.fixture
def bucket(moto_server):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="talksearch-get", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    return s3


def test_keys_that_need_escaping_read_back_with_their_etag(bucket):
    store = open_reader("s3://talksearch-get/site")
    assert isinstance(store, S3ReadStore)
    for n, key in enumerate(KEYS):
        put = bucket.put_object(Bucket="talksearch-get", Key=f"site/{key}", Body=f"body {n} é".encode())
        assert store.read_with_etag(key) == (f"body {n} é".encode(), put["ETag"])
        assert store.read_bytes(key) == f"body {n} é".encode()


def test_a_missing_key_is_not_there_and_a_missing_bucket_an_error(bucket):
    assert open_reader("s3://talksearch-get/site").read_with_etag("index/manifest.json") is None
    with pytest.raises(S3ResponseError) as raised:
        open_reader("s3://no-such-bucket/site").read_with_etag("index/manifest.json")
    assert (raised.value.status, raised.value.code) == (404, "NoSuchBucket")


def read_all(body) -> bytes:
    return b"".join(iter(lambda: body.read(1 << 16), b""))


def readinto_all(body) -> bytes:
    """The body through ``readinto`` of one reused buffer, as the search pack is downloaded."""
    buffer, chunks = bytearray(1 << 16), []
    while count := body.readinto(memoryview(buffer)):
        chunks.append(bytes(buffer[:count]))
    return b"".join(chunks)


@pytest.mark.parametrize("read", [read_all, readinto_all])
def test_a_body_that_breaks_once_is_resumed_where_it_broke(bucket, moto_server, monkeypatch, read):
    data = bytes(range(256)) * 8192  # 2 MB
    bucket.put_object(Bucket="talksearch-get", Key="site/index.tar.gz", Body=data)
    with FaultProxy(moto_server) as proxy:
        proxy.inject("truncate", path="index.tar.gz", times=1)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        with open_reader("s3://talksearch-get/site").open_stream("index.tar.gz") as body:
            received = read(body)
    assert received == data
    assert [fault for _, _, fault in proxy.requests] == ["truncate", None]


def test_a_body_that_keeps_breaking_fails_after_two_attempts(bucket, moto_server, monkeypatch):
    bucket.put_object(Bucket="talksearch-get", Key="site/index.tar.gz", Body=b"x" * 100_000)
    with FaultProxy(moto_server) as proxy:
        proxy.inject("truncate", path="index.tar.gz")
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        with pytest.raises(StoreError, match="broke off"):
            open_reader("s3://talksearch-get/site").read_bytes("index.tar.gz")
    assert len(proxy.requests) == 2


@pytest.fixture
def refusing_s3(monkeypatch):
    """An endpoint that answers every GET 403 AccessDenied, as S3 does without s3:GetObject."""

    requests = []

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{server.server_port}")
    yield requests
    server.shutdown()
    server.server_close()


def test_access_denied_is_an_error_not_a_missing_manifest_and_is_not_retried(refusing_s3):
    with pytest.raises(S3ResponseError, match="AccessDenied") as raised:
        open_reader("s3://talksearch-index/index").read_manifest()
    assert raised.value.status == 403
    assert refusing_s3 == ["/talksearch-index/index/manifest.json"]


# --- what a cold search function imports ------------------------------------------------------------------------

DRIVER = ROOT / "tests" / "lambda_driver.py"


def test_a_cold_search_function_answers_from_s3_without_importing_boto3(bucket, tmp_path):
    content = write_content(tmp_path / "content")
    assert build_and_publish(str(content), "s3://talksearch-get/index", full=True).published
    env = {**os.environ, "INDEX_BUCKET": "talksearch-get", "INDEX_PREFIX": "index", "TMPDIR": str(tmp_path)}
    (tmp_path / "event.json").write_text(json.dumps(http_event("/api/search", "q=python")), encoding="utf-8")
    # the repository's venv has boto3 installed: it must stay unimported, not merely absent
    command = [sys.executable, str(DRIVER), str(ROOT), str(ROOT), "functions.search.app.lambda_handler"]
    result = subprocess.run(
        [*command, str(tmp_path / "event.json"), str(tmp_path / "out.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert report["result"]["statusCode"] == 200
    assert json.loads(report["result"]["body"])["total"] > 0
    assert boto3_modules(report["module_names"]) == []
    # nor the builder's artifact module and its tarfile: the pack is one verified GET into memory
    assert {"talksearch.artifact", "tarfile"}.isdisjoint(report["module_names"])
