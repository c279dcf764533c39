"""Fixtures shared by every test tier: moto S3, a Lambda context, the shared corpora."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from talksearch.store import open_store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CONTENT = ROOT / "content" / "sample"
SHARED = Path(os.environ.get("TALKSEARCH_SHARED", ROOT.parent / "shared"))
FULL_CORPUS = SHARED / "corpora" / "pyvideo-talks.jsonl.gz"
FRENCH_CORPUS = SHARED / "corpora" / "pyvideo-talks-fr.jsonl"


@pytest.fixture(autouse=True)
def _aws_test_credentials(monkeypatch):
    """Never let a test reach a real AWS account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "POWERTOOLS_METRICS_NAMESPACE": "talksearch-tests",
        "POWERTOOLS_SERVICE_NAME": "talksearch",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def _private_build_cache(tmp_path, monkeypatch):
    """Each test gets its own index builder cache (see index_builder.cache.IndexCache), never /tmp's."""
    monkeypatch.setenv("TALKSEARCH_BUILD_CACHE", str(tmp_path / "build-cache"))


#: The bucket of the ``store`` fixture's S3 side.
STORE_BUCKET = "talksearch-store-tests"


@contextmanager
def moto_bucket(name: str) -> Iterator:
    """moto's in-process S3 with one bucket; yields the S3 client."""
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        yield client


@pytest.fixture(scope="session")
def moto_server_endpoint() -> Iterator[str]:
    """One moto server for the session: what the search function's own signed GETs (``talksearch.s3_get``)
    reach, since ``mock_aws`` only patches botocore."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@contextmanager
def moto_server_aws(endpoint: str) -> Iterator[None]:
    """Every AWS client created inside (boto3's, the search function's) talks to moto's server at ``endpoint``,
    emptied first, as ``mock_aws`` starts empty."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.delenv("AWS_ENDPOINT_URL_S3", raising=False)
        yield


@pytest.fixture
def moto_server(moto_server_endpoint) -> Iterator[str]:
    """moto's server, emptied, with every AWS client of the test pointed at it; yields its endpoint."""
    with moto_server_aws(moto_server_endpoint):
        yield moto_server_endpoint


@pytest.fixture
def s3_bucket():
    with moto_bucket(STORE_BUCKET) as client:
        yield client


@pytest.fixture(params=["s3", "local"])
def store(request, tmp_path):
    """The same tests against an S3 prefix (moto) and a local folder."""
    if request.param == "s3":
        request.getfixturevalue("s3_bucket")
        return open_store(f"s3://{STORE_BUCKET}/site/index")
    return open_store(tmp_path / "index")


def require_shared(path: Path) -> Path:
    """Skip, with a message, tests that need ../shared when a fresh clone does not have it."""
    if not path.exists():
        pytest.skip(f"needs {path} (the shared corpora are not next to this clone)")
    return path


@pytest.fixture
def full_corpus() -> Path:
    return require_shared(FULL_CORPUS)


@pytest.fixture
def french_corpus() -> Path:
    return require_shared(FRENCH_CORPUS)


@pytest.fixture(scope="session")
def sam_build_dir(tmp_path_factory) -> Path:
    """`make build` once per run into a private directory (pip's wheel cache keeps it quick), for every test of the
    built packages and of `make deploy`."""
    from sam_support import lambda_python, offline_aws_env, sam_cli

    sam_cli()
    runtime_python = lambda_python()
    build_dir = tmp_path_factory.mktemp("sam-build")
    result = subprocess.run(
        ["make", "--no-print-directory", "build", f"SAM_BUILD_DIR={build_dir}"],
        cwd=ROOT,
        env=offline_aws_env(PATH=f"{runtime_python.parent}:{offline_aws_env()['PATH']}"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return build_dir


@dataclass
class FakeLambdaContext:
    function_name: str = "talksearch-test"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-3:123456789012:function:talksearch-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
