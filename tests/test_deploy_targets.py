"""`make deploy` and `make destroy` run for real: the real SAM CLI (.venv-sam), the real `deploy` steps (boto3).

Nothing reaches AWS. Credentials are fake, and AWS_ENDPOINT_URL (which both SAM and boto3 honour) points
either at a closed local port, where SAM stops at its first AWS call (after reading its configuration), or at
moto's server, which plays CloudFormation, S3 and CloudFront. That endpoint is the only stand-in. Where moto
falls short of CloudFormation, the rehearsal patches moto inside this process, one documented patch per gap
(docs/deploy.md, "Rehearsing against moto"); it needs the endpoint spelt `localhost` (moto only reads a
TemplateURL's bucket from the path for such URLs).
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sam_support import ROOT, offline_aws_env

pytestmark = pytest.mark.sam

REGION = "eu-west-3"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: samconfig.toml as a guided `sam deploy` (SAM CLI 1.170) saves it
SAVED_CONFIG = """version = 0.1
[default.deploy.parameters]
stack_name = "{stack}"
resolve_s3 = true
s3_prefix = "{stack}"
region = "{region}"
confirm_changeset = false
capabilities = "CAPABILITY_IAM"
disable_rollback = false
parameter_overrides = "Stage=\\"{stage}\\" ContentPrefix=\\"talks/\\" LogRetentionDays=\\"14\\""
image_repositories = []
"""


def closed_port_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # closed again: every connection is refused


def make_command(target: str, build_dir: Path, samconfig: Path, *variables: str) -> list[str]:
    # -o: the build is the session's (sam_build_dir), and .venv is never reinstalled here
    return [
        "make", "--no-print-directory", "-o", "build", "-o", ".venv/.installed", target,
        f"SAM_BUILD_DIR={build_dir}", f"SAMCONFIG={samconfig}", *variables,
    ]  # fmt: skip


def run(command: list[str], endpoint: str, answers: dict[str, str] | None = None, **env: str):
    """Run ``command`` with AWS pointed at ``endpoint``, answering SAM's prompts from ``answers`` (question regex ->
    reply; an unexpected question fails). Returns (exit code, output without colours, questions asked)."""
    environment = offline_aws_env(AWS_ENDPOINT_URL=endpoint, AWS_MAX_ATTEMPTS="1", SAM_CLI_POLL_DELAY="0.2", **env)
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, answered_up_to, asked = "", 0, []
    deadline = time.monotonic() + 300
    while True:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            process.kill()
            raise AssertionError(f"timed out:\n{output[-4000:]}")
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            break
        output += ANSI.sub("", chunk.decode(errors="replace"))
        pending = output[answered_up_to:].rsplit("\n", 1)[-1]
        if re.search(r"(\]|Type the stack name): $", pending):  # SAM's questions, and make destroy's
            question = pending.strip()
            reply = next((a for pattern, a in (answers or {}).items() if re.search(pattern, question)), None)
            if reply is None:
                process.kill()
                raise AssertionError(f"unexpected question {question!r}:\n{output[-4000:]}")
            asked.append(question)
            process.stdin.write(reply.encode() + b"\n")
            process.stdin.flush()
            answered_up_to = len(output)
    process.stdin.close()
    process.stdout.close()
    return process.wait(), output, asked


def guided_answers(stack: str, stage: str) -> dict[str, str]:
    return {
        r"^Stack Name": stack,
        r"^AWS Region": REGION,
        r"^Parameter Stage ": stage,
        r"^Parameter \w+ ": "",  # the template's defaults
        r"^Confirm changes before deploy": "n",
        r"^Allow SAM CLI IAM role creation": "y",
        r"^Disable rollback": "n",
        r"has no authentication\. Is this okay\?": "y",  # the API is public and read-only by design
        r"^Save arguments to configuration file": "y",
        r"^SAM configuration file": "",  # its default: the project root's samconfig.toml (SAMCONFIG)
        r"^SAM configuration environment": "",
    }


# --- the real SAM CLI as far as it goes without AWS (a closed port) -----------------------------------------------


def test_a_later_deploy_reads_the_saved_config_and_asks_nothing(sam_build_dir, tmp_path):
    # GIVEN the samconfig.toml a first, guided deploy saved at the project root
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(SAVED_CONFIG.format(stack="talksearch-later", region=REGION, stage="later"), encoding="utf-8")
    # WHEN make deploy runs again, with nobody to answer questions
    command = make_command("deploy", sam_build_dir, samconfig, "SAM_DEPLOY_ARGS=--debug")
    code, output, asked = run(command, closed_port_endpoint())
    # THEN SAM read that file, not one beside the built template, and took the stack, region and parameters from it
    assert asked == []
    assert f"Config file location: {samconfig}" in output
    assert "'stack_name': 'talksearch-later'" in output and f"'region': '{REGION}'" in output
    assert re.search(
        r"--stack_name=talksearch-later .*--parameter_overrides=\{'Stage': 'later', 'ContentPrefix'", output
    )
    # AND it stopped at its first call to AWS, before publishing anything
    assert "Error: Could not connect to the endpoint URL" in output
    assert code != 0 and "deploy publish" not in output


def test_the_first_deploy_asks_and_offers_to_save_its_answers_at_the_project_root(sam_build_dir, tmp_path):
    samconfig = tmp_path / "samconfig.toml"
    code, output, asked = run(
        make_command("deploy", sam_build_dir, samconfig),
        closed_port_endpoint(),
        guided_answers("talksearch-first", "first"),
    )
    assert "Stack Name [talksearch]:" in asked  # make deploy's default stack name
    assert f"SAM configuration file [{samconfig}]:" in asked  # where every later deploy looks
    assert {"Parameter Stage [prod]:", "Parameter AlarmEmail []:", "Parameter SearchKeepWarmMinutes [0]:"} <= set(asked)
    # SAM saves the answers once it has its artifact bucket: here it stops at that first AWS call
    assert "Looking for resources needed for deployment" in output
    assert "Error: Could not connect to the endpoint URL" in output
    assert code != 0 and "stack_name" not in samconfig.read_text(encoding="utf-8")  # so the next run asks again


# --- rehearsal against moto's server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    yield f"http://localhost:{port}"
    server.stop()


def client(service: str, endpoint: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="x"
    )


@pytest.fixture
def moto_cloudformation(moto_endpoint, monkeypatch):
    """moto's CloudFormation, patched where it differs from AWS in what `sam deploy` relies on."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import ChangeSet, Stack
    from moto.cloudformation.parsing import OutputMap

    applied = ChangeSet.apply

    def apply_with_outputs(self):
        # gap 1: moto leaves a stack made or updated by a change set without Outputs. Those naming a resource moto
        # does not create (CloudFront's) stay absent, as they would on a stack it made directly.
        applied(self)
        outputs = {}
        for key, output in self.template_dict.get("Outputs", {}).items():
            try:
                OutputMap(self.stack.resource_map, {"Outputs": {key: output}}, self.stack_id)[key]
            except ValidationError:
                continue
            outputs[key] = output
        self.stack.output_map = OutputMap(self.stack.resource_map, {"Outputs": outputs}, self.stack_id)

    def same_parameters(self, submitted):
        # gap 2: moto compares the submitted parameters with those given at creation, so SAM's list (every parameter,
        # most as UsePreviousValue) always looks changed and an unchanged stack never gets "No changes to deploy"
        return all(str(self.stack_parameters.get(key)) == str(value) for key, value in submitted.items())

    monkeypatch.setattr(ChangeSet, "apply", apply_with_outputs)
    monkeypatch.setattr(Stack, "has_parameters", same_parameters)
    # gap 3: SAM's own bucket stack, made through a change set, lacks its Outputs even so (moto evaluates them before
    # the change set runs): make it directly, as `sam deploy` would have, from the same template shape
    cloudformation = client("cloudformation", moto_endpoint)
    if not cloudformation.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]:
        cloudformation.create_stack(
            StackName="aws-sam-cli-managed-default",
            TemplateBody=json.dumps(
                {
                    "Resources": {"SamCliSourceBucket": {"Type": "AWS::S3::Bucket"}},
                    "Outputs": {"SourceBucket": {"Value": {"Ref": "SamCliSourceBucket"}}},
                }
            ),
            Tags=[{"Key": "ManagedStackSource", "Value": "AwsSamCli"}],
        )
    return moto_endpoint


def site_objects(endpoint: str, stack: str) -> dict[str, dict]:
    s3 = client("s3", endpoint)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in client("cloudformation", endpoint).describe_stacks(
        StackName=stack)["Stacks"][0]["Outputs"]}  # fmt: skip
    bucket = outputs["SiteBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.head_object(Bucket=bucket, Key=key) for key in keys}


# moto warns once per resource type its CloudFormation skips (CloudFront, bucket and queue policies, SAM's types)
@pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")
def test_rehearsal_first_deploy_later_deploys_and_a_page_only_change(sam_build_dir, moto_cloudformation, tmp_path):
    endpoint, run_id = moto_cloudformation, uuid.uuid4().hex[:6]
    stack, samconfig, site = f"talksearch-{run_id}", tmp_path / "samconfig.toml", tmp_path / "site"
    shutil.copytree(ROOT / "frontend", site)
    deploy = make_command("deploy", sam_build_dir, samconfig, f"SITE_DIR={site}")

    # GIVEN a first deploy: guided, it creates the stack and saves samconfig.toml where it was told
    code, output, _ = run(deploy, endpoint, guided_answers(stack, run_id))
    assert f"Successfully created/updated stack - {stack} in {REGION}" in output, output[-3000:]
    saved = samconfig.read_text(encoding="utf-8")
    assert f'stack_name = "{stack}"' in saved and f'region = "{REGION}"' in saved and f'Stage=\\"{run_id}\\"' in saved
    # THEN the page is synced to the stack's bucket, and only the invalidation is beyond moto (no CloudFront in
    # its CloudFormation)
    assert "page: " in output and "files uploaded" in output
    assert f"error: stack {stack} has no output DistributionId" in output and code != 0
    pages = site_objects(endpoint, stack)
    assert pages["index.html"]["ContentType"] == "text/html; charset=utf-8"
    assert pages["js/app.js"]["CacheControl"] == "public, max-age=300"
    assert "js/package.json" not in pages

    # WHEN only the page changes, and make deploy runs again with nobody to answer
    (site / "index.html").write_text((site / "index.html").read_text(encoding="utf-8") + "\n<!-- v2 -->\n")
    code, output, asked = run(deploy, endpoint)
    # THEN SAM reads the saved stack, region and parameters, finds nothing to change, and the page is still published
    assert asked == []
    assert re.search(rf"Stack name\s+: {stack}\n", output) and re.search(rf"Region\s+: {REGION}\n", output)
    assert f'"Stage": "{run_id}"' in output
    assert f"No changes to deploy. Stack {stack} is up to date" in output
    assert "page: 1 files uploaded, 0 deleted" in output
    assert site_objects(endpoint, stack)["index.html"]["ContentLength"] == (site / "index.html").stat().st_size


# --- the steps after and before SAM, against moto ----------------------------------------------------------------


def plain_stack(endpoint: str, stack: str, outputs: dict, buckets: int = 0) -> None:
    """A stack made directly in moto (no change set): a site bucket, more buckets if asked, the given outputs."""
    resources = {"SiteBucket": {"Type": "AWS::S3::Bucket"}}
    for n in range(buckets):
        resources[f"Bucket{n}"] = {"Type": "AWS::S3::Bucket"}
    client("cloudformation", endpoint).create_stack(
        StackName=stack,
        TemplateBody=json.dumps({"Resources": resources, "Outputs": {k: {"Value": v} for k, v in outputs.items()}}),
    )


def test_publish_syncs_the_page_and_invalidates_the_distribution(moto_endpoint, tmp_path):
    cloudfront = client("cloudfront", moto_endpoint)
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": uuid.uuid4().hex,
            "Comment": "talksearch test",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "site",
                        "DomainName": "site.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"},
        }
    )["Distribution"]
    stack = f"talksearch-publish-{uuid.uuid4().hex[:6]}"
    plain_stack(
        moto_endpoint,
        stack,
        {
            "SiteBucketName": {"Ref": "SiteBucket"},
            "DistributionId": distribution["Id"],
            "SiteUrl": f"https://{distribution['DomainName']}/",
            "ContentBucketName": "talksearch-content-test",
        },
    )
    site = tmp_path / "site"
    shutil.copytree(ROOT / "frontend", site)
    bucket = client("cloudformation", moto_endpoint).describe_stack_resource(
        StackName=stack, LogicalResourceId="SiteBucket"
    )["StackResourceDetail"]["PhysicalResourceId"]
    client("s3", moto_endpoint).put_object(Bucket=bucket, Key="old-page.html", Body=b"gone")

    code, output, _ = run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "deploy", "publish", "--stack", stack, "--region", REGION,
         "--site", str(site)], moto_endpoint,
    )  # fmt: skip
    assert code == 0, output
    assert f"Site: https://{distribution['DomainName']}/   Content bucket: s3://talksearch-content-test/" in output
    keys = {o["Key"] for o in client("s3", moto_endpoint).list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {key for key in (p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())} - {
        "js/package.json"
    }
    invalidations = cloudfront.list_invalidations(DistributionId=distribution["Id"])["InvalidationList"]
    assert invalidations["Quantity"] == 1


def versions_left(endpoint: str, buckets: list[str]) -> int:
    s3 = client("s3", endpoint)
    pages = [p for b in buckets for p in s3.get_paginator("list_object_versions").paginate(Bucket=b)]
    return sum(len(p.get("Versions", [])) + len(p.get("DeleteMarkers", [])) for p in pages)


@pytest.fixture
def doomed_stack(moto_endpoint, tmp_path):
    """A stack in moto with three versioned buckets holding a few object versions each, named by a samconfig.toml."""
    stack = f"talksearch-doomed-{uuid.uuid4().hex[:6]}"
    plain_stack(moto_endpoint, stack, {}, buckets=3)
    cloudformation, s3 = client("cloudformation", moto_endpoint), client("s3", moto_endpoint)
    resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    buckets = [r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"].startswith("Bucket")]
    for bucket in buckets:
        # moto's CloudFormation ignores VersioningConfiguration: set it as the template does
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for body in (b"one", b"two"):
            s3.put_object(Bucket=bucket, Key="talks/a.md", Body=body)
        s3.delete_object(Bucket=bucket, Key="talks/a.md")  # a delete marker too
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(SAVED_CONFIG.format(stack=stack, region=REGION, stage="doomed"), encoding="utf-8")
    return stack, buckets, samconfig


def test_destroy_finds_the_saved_stack_empties_every_bucket_version_then_deletes_it(
    sam_build_dir, moto_endpoint, doomed_stack
):
    stack, buckets, samconfig = doomed_stack
    resources = client("cloudformation", moto_endpoint).describe_stack_resources(StackName=stack)["StackResources"]
    all_buckets = [r["PhysicalResourceId"] for r in resources]
    command = make_command("destroy", sam_build_dir, samconfig, "-o", "sam-venv")
    code, output, asked = run(command, moto_endpoint, {r"^Delete stack": stack})
    assert code == 0, output
    assert asked == [f"Delete stack {stack} ({REGION}) with its talks, index and page? Type the stack name:"]
    # every version went before `sam delete`, which moto, like AWS, lets delete the buckets with the stack
    assert re.findall(r"s3://\S+: \d+ object versions deleted", output) == [
        f"s3://{bucket}: {3 if bucket in buckets else 0} object versions deleted" for bucket in all_buckets
    ]
    assert not [s for s in client("cloudformation", moto_endpoint).list_stacks()["StackSummaries"]
                if s["StackName"] == stack and s["StackStatus"] != "DELETE_COMPLETE"]  # fmt: skip


def test_destroy_does_nothing_unless_the_stack_name_is_typed(sam_build_dir, moto_endpoint, doomed_stack):
    stack, buckets, samconfig = doomed_stack
    command = make_command("destroy", sam_build_dir, samconfig, "-o", "sam-venv")
    code, output, _ = run(command, moto_endpoint, {r"^Delete stack": "yes"})
    assert code != 0 and "not deleted" in output
    assert versions_left(moto_endpoint, buckets) == 3 * 3
    assert client("cloudformation", moto_endpoint).describe_stacks(StackName=stack)["Stacks"]


def test_prune_versions_keeps_the_newest_and_every_aliased_version(moto_endpoint):
    # GIVEN a stack whose function has had seven deploys (versions 1-7); `live` points at 2, 4 takes a share of it
    iam, lambda_client = client("iam", moto_endpoint), client("lambda", moto_endpoint)
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    role = iam.create_role(RoleName=f"fn-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    stack = f"talksearch-prune-{uuid.uuid4().hex[:6]}"
    function = {"Runtime": "python3.12", "Handler": "app.handler", "Role": role["Arn"], "Code": {"ZipFile": "pass"}}
    template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": function}}}
    cloudformation = client("cloudformation", moto_endpoint)
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    resource = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId="Fn")
    name = resource["StackResourceDetail"]["PhysicalResourceId"]
    for deploy in range(1, 8):
        lambda_client.update_function_configuration(FunctionName=name, Description=f"deploy {deploy}")
        assert lambda_client.publish_version(FunctionName=name)["Version"] == str(deploy)
    lambda_client.create_alias(
        FunctionName=name, Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {"4": 0.1}}
    )
    prune = [str(ROOT / ".venv" / "bin" / "python"), "-m", "deploy", "prune-versions", "--stack", stack]
    # WHEN make deploy's last step runs
    code, output, _ = run([*prune, "--region", REGION], moto_endpoint)
    # THEN the three newest, the aliased one and the one it routes to are left, and it says what went
    assert code == 0, output
    assert f"{name}: 2 old versions deleted 1 3" in output
    left = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in left] == ["$LATEST", "2", "4", "5", "6", "7"]
    # AND a second run has nothing left to delete
    code, output, _ = run([*prune, "--region", REGION], moto_endpoint)
    assert code == 0 and f"{name}: 0 old versions deleted" in output, output
