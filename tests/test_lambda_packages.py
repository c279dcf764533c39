"""`sam build` output, proven complete: each built function, imported in a fresh runtime interpreter with only
its package (and the runtime's boto3) importable, does its job against a moto S3 server."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from rebuild_events import s3_notification, sqs_event
from sam_support import ROOT, lambda_python, offline_aws_env, require
from search_support import boto3_modules, http_event

from talksearch.contracts import Manifest, manifest_key
from talksearch.search_pack.answers import ANSWERS
from talksearch.search_pack.format import read_table

pytestmark = pytest.mark.sam

DRIVER = Path(__file__).parent / "lambda_driver.py"
# moto's server keeps its buckets in process-wide state that other tests' servers share: unique names, removed after
RUN = uuid.uuid4().hex[:8]
CONTENT_BUCKET = f"talksearch-content-{RUN}"
INDEX_BUCKET = f"talksearch-index-{RUN}"
TALK = {
    "id": "pycon-fr-2026/packaging-lambda",
    "title": "Empaqueter une fonction Lambda sans conteneur",
    "speakers": ["Élodie Martin"],
    "event": "PyCon FR 2026",
    "date": "2026-10-31",
    "language": "fra",
    "tags": ["aws", "packaging"],
    "summary": "Des roues arm64, du bytecode précompilé et rien de superflu : un démarrage à froid rapide.",
    "url": "https://example.org/pycon-fr-2026/packaging-lambda",
}


@pytest.fixture(scope="module")
def runtime_python() -> Path:
    return lambda_python()


@pytest.fixture(scope="module")
def built(sam_build_dir) -> Path:
    return sam_build_dir


@pytest.fixture(scope="module")
def runtime_boto3(runtime_python) -> Path:
    """A folder holding boto3 for the runtime's Python (`make lambda-runtime`): what Lambda puts on sys.path."""
    result = subprocess.run(
        ["make", "--no-print-directory", "lambda-runtime"],
        cwd=ROOT,
        env=offline_aws_env(PATH=f"{runtime_python.parent}:{offline_aws_env()['PATH']}"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    require(result.returncode == 0, f"could not install boto3 for {runtime_python}: {result.stderr[-2000:]}")
    return ROOT / ".cache" / f"lambda-runtime-{runtime_python.name}"


@pytest.fixture(scope="module")
def moto_s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="eu-west-3", aws_access_key_id="testing", aws_secret_access_key="x"
    )
    for bucket in (CONTENT_BUCKET, INDEX_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    yield s3, endpoint
    for bucket in (CONTENT_BUCKET, INDEX_BUCKET):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        s3.delete_bucket(Bucket=bucket)
    server.stop()


def invoke(runtime_python: Path, package: Path, runtime: Path, handler: str, event: dict, endpoint: str, tmp: Path):
    """Run `handler` from `package` in a fresh isolated interpreter; returns the driver's report."""
    event_file, out_file = tmp / "event.json", tmp / "out.json"
    event_file.write_text(json.dumps(event), encoding="utf-8")
    env = offline_aws_env(
        AWS_ENDPOINT_URL_S3=endpoint,
        CONTENT_BUCKET=CONTENT_BUCKET,
        CONTENT_PREFIX="talks",
        INDEX_BUCKET=INDEX_BUCKET,
        INDEX_PREFIX="index",
        MANIFEST_REFRESH_SECONDS="0",
        ALLOWED_ORIGINS="",
        POWERTOOLS_SERVICE_NAME="talksearch",
        POWERTOOLS_METRICS_NAMESPACE="talksearch",
    )
    # -I: ignore PYTHON* variables and the script's folder; -S: no site-packages; -B: leave the package as built
    command = [str(runtime_python), "-I", "-S", "-B", str(DRIVER), str(package), str(runtime), handler]
    result = subprocess.run(
        [*command, str(event_file), str(out_file)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return json.loads(out_file.read_text(encoding="utf-8"))


def python_files_without_bytecode(package: Path, runtime_python: Path) -> list[str]:
    tag = "cpython-" + runtime_python.name.removeprefix("python").replace(".", "")
    return [
        str(py.relative_to(package))
        for py in package.rglob("*.py")
        if not (py.parent / "__pycache__" / f"{py.stem}.{tag}.pyc").exists()
    ]


# --- the packages ----------------------------------------------------------------------------------------------


def test_packages_hold_only_what_each_function_imports(built):
    search, builder = built / "SearchFunction", built / "IndexBuilderFunction"
    assert (search / "functions" / "search" / "app.py").exists()
    assert (builder / "functions" / "rebuild" / "app.py").exists()
    assert (builder / "index_builder").is_dir() and (builder / "yaml").is_dir()
    # the search package leaves out the builder, YAML and boto3 (the runtime has boto3)
    assert not [name for name in ("index_builder", "yaml", "boto3", "botocore") if (search / name).exists()]
    # the builder ships its own boto3: conditional writes need a newer one than some runtimes carry
    assert (builder / "boto3").is_dir()
    assert not (search / "functions" / "rebuild").exists()
    # the builder carries the search engine: the pack's precomputed answers are computed by it
    assert (builder / "functions" / "search" / "engine.py").exists()


def test_every_module_has_bytecode_for_the_runtime(built, runtime_python):
    for name in ("SearchFunction", "IndexBuilderFunction"):
        assert python_files_without_bytecode(built / name, runtime_python) == [], name


# --- the packages at work --------------------------------------------------------------------------------------


def test_built_functions_rebuild_and_search_against_s3(built, runtime_python, runtime_boto3, moto_s3, tmp_path):
    s3, endpoint = moto_s3
    # GIVEN a talk uploaded to the content bucket
    s3.put_object(Bucket=CONTENT_BUCKET, Key="talks/packaging.json", Body=json.dumps(TALK).encode())

    # WHEN the built builder handles the S3 event that upload caused
    rebuild = invoke(
        runtime_python,
        built / "IndexBuilderFunction",
        runtime_boto3,
        "functions.rebuild.app.lambda_handler",
        sqs_event(s3_notification("talks/packaging.json", bucket=CONTENT_BUCKET)),
        endpoint,
        tmp_path,
    )
    # THEN it succeeded from its own package, and published the index
    assert rebuild["result"] == {"batchItemFailures": []}
    assert rebuild["module_files"]["functions"].startswith(str(built / "IndexBuilderFunction"))
    manifest = Manifest.from_json(s3.get_object(Bucket=INDEX_BUCKET, Key=manifest_key("index"))["Body"].read())
    assert manifest.talk_count == 1
    # with the answers its copy of the search engine precomputed in the pack
    pack = s3.get_object(Bucket=INDEX_BUCKET, Key=manifest.pack_key)["Body"].read()
    assert ANSWERS in read_table(pack)

    # WHEN the built search function answers a search for it
    search = invoke(
        runtime_python,
        built / "SearchFunction",
        runtime_boto3,
        "functions.search.app.lambda_handler",
        http_event("/api/search", "q=empaqueter"),
        endpoint,
        tmp_path,
    )
    # THEN the talk is found, using only the search package, and none of the runtime's boto3 (signed GETs of its own)
    assert search["result"]["statusCode"] == 200, search["result"]
    body = json.loads(search["result"]["body"])
    assert [hit["id"] for hit in body["hits"]] == [TALK["id"]]
    assert search["module_files"]["functions"].startswith(str(built / "SearchFunction"))
    assert boto3_modules(search["module_names"]) == []
    assert not {"index_builder", "yaml"} & set(search["modules"])
