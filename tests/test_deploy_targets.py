"""`make deploy` and `make destroy`, run for real with stand-ins for the `sam` and `aws` CLIs (no AWS account):
the stack's Outputs drive the page upload and the invalidation, and destroy empties every bucket version
(boto3 against a moto server) before deleting the stack, only after the stack name is typed back."""

from __future__ import annotations

import os
import shlex
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sam_support import ROOT, offline_aws_env

STACK, REGION = "talksearch-test", "eu-west-3"
RUN = uuid.uuid4().hex[:8]
OUTPUTS = {
    "SiteBucketName": f"site-{RUN}",
    "DistributionId": "E2EXAMPLE",
    "SiteUrl": "https://d111111abcdef8.cloudfront.net/",
    "ContentBucketName": f"content-{RUN}",
}
BUCKETS = [f"content-{RUN}", f"index-{RUN}", f"site-{RUN}"]


@pytest.fixture
def fake_clis(tmp_path) -> tuple[Path, Path]:
    """`aws` and `sam` stand-ins that log their arguments; `aws` answers the stack queries the Makefile makes."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    answers = "\n".join(f"  *\"OutputKey=='{key}'\"*) echo {shlex.quote(value)};;" for key, value in OUTPUTS.items())
    (bin_dir / "aws").write_text(
        f"""#!/bin/bash
printf '%s\\n' "aws $*" >> {shlex.quote(str(log))}
case "$*" in
{answers}
  *describe-stack-resources*) echo {" ".join(BUCKETS)};;
esac
"""
    )
    (bin_dir / "sam").write_text(f"#!/bin/bash\nprintf '%s\\n' \"sam $*\" >> {shlex.quote(str(log))}\n")
    for cli in ("aws", "sam"):
        (bin_dir / cli).chmod(0o755)
    return bin_dir, log


def run_make(target: str, bin_dir: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    environment = offline_aws_env(PATH=f"{bin_dir}:{os.environ['PATH']}", STACK=STACK, REGION=REGION, **env)
    # the stand-in SAM needs no venv: point SAM_VENV at an "installed" one, and never reinstall .venv (-o)
    fake_sam_venv = bin_dir / "venv-sam"
    fake_sam_venv.mkdir(exist_ok=True)
    (fake_sam_venv / ".installed").touch()
    make = ["make", "--no-print-directory", "-o", ".venv/.installed", f"SAM_VENV={fake_sam_venv}"]
    return subprocess.run(
        [*make, target, f"SAM={bin_dir / 'sam'}"],
        cwd=ROOT,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_deploy_publishes_the_page_to_the_stack_outputs(fake_clis):
    bin_dir, log = fake_clis
    result = run_make("deploy", bin_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    made = calls(log)
    assert made[0].startswith("sam build --build-in-source")
    assert made[1].startswith("sam deploy")  # --guided without samconfig.toml
    assert f"aws s3 sync frontend/ s3://{OUTPUTS['SiteBucketName']}/ --delete --region {REGION}" in "\n".join(made)
    assert f"aws cloudfront create-invalidation --distribution-id {OUTPUTS['DistributionId']} --paths /*" in made
    assert f"Site: {OUTPUTS['SiteUrl']}" in result.stdout


@pytest.fixture
def stack_buckets():
    """The stack's three buckets in a moto server, versioned and holding a few object versions each."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    for bucket in BUCKETS:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for body in (b"one", b"two"):
            s3.put_object(Bucket=bucket, Key="talks/a.md", Body=body)
        s3.delete_object(Bucket=bucket, Key="talks/a.md")  # a delete marker too
    yield s3, endpoint
    for bucket in BUCKETS:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        s3.delete_bucket(Bucket=bucket)
    server.stop()


def versions_left(s3) -> int:
    pages = [p for b in BUCKETS for p in s3.get_paginator("list_object_versions").paginate(Bucket=b)]
    return sum(len(p.get("Versions", [])) + len(p.get("DeleteMarkers", [])) for p in pages)


def test_destroy_empties_every_bucket_version_then_deletes_the_stack(fake_clis, stack_buckets):
    bin_dir, log = fake_clis
    s3, endpoint = stack_buckets
    result = run_make("destroy", bin_dir, stdin=f"{STACK}\n", AWS_ENDPOINT_URL_S3=endpoint)
    assert result.returncode == 0, result.stdout + result.stderr
    assert versions_left(s3) == 0
    assert calls(log)[-1] == f"sam delete --stack-name {STACK} --region {REGION} --no-prompts"


def test_destroy_does_nothing_unless_the_stack_name_is_typed(fake_clis, stack_buckets):
    bin_dir, log = fake_clis
    s3, endpoint = stack_buckets
    result = run_make("destroy", bin_dir, stdin="yes\n", AWS_ENDPOINT_URL_S3=endpoint)
    assert result.returncode != 0
    assert "not deleted" in result.stdout
    assert versions_left(s3) == 3 * 3
    assert not [c for c in calls(log) if c.startswith("sam delete")]
