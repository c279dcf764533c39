"""What `make deploy` and `make destroy` do around the SAM CLI, with boto3 (no AWS CLI needed).

The stack to work on is the one the first, guided `sam deploy` saved in samconfig.toml at the project root
(its stack name and region). After SAM, the page in frontend/ is synced to the stack's site bucket, the
CloudFront distribution invalidated, and the functions' old versions deleted; before `sam delete`, every
object version in the stack's buckets is removed (CloudFormation cannot delete a bucket that is not empty).
Like every AWS SDK, boto3 honours AWS_ENDPOINT_URL, which is how the tests point all of this at moto's server.
"""

from __future__ import annotations

import hashlib
import mimetypes
import shlex
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Files of frontend/ that are not the page (the Node test runner's config for tests/js).
NOT_PUBLISHED = ("package.json",)
#: The page changes with each deploy: browsers and CloudFront revalidate it after five minutes.
PAGE_CACHE_CONTROL = "public, max-age=300"
#: Each deploy publishes a new version of every function for the ``live`` alias, and Lambda keeps them all
#: (they count against the account's 75 GB of code storage). These many newest ones stay besides those an
#: alias points to, so the alias can still be pointed back by hand.
KEPT_FUNCTION_VERSIONS = 3
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}


class DeployError(Exception):
    """Something the person deploying must fix; the message says what."""


@dataclass(frozen=True)
class SavedDeploy:
    """What a guided `sam deploy` saved: the stack, its region and the parameters it was given."""

    stack_name: str
    region: str | None
    parameters: dict[str, str] = field(default_factory=dict)


def read_samconfig(path: Path, environment: str = "default") -> SavedDeploy:
    """The deploy settings of ``environment`` in a samconfig.toml (global ones, overridden by deploy ones)."""
    if not path.is_file():
        raise DeployError(f"no {path}: run `make deploy` once (it asks and saves), or pass STACK=... REGION=...")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise DeployError(f"{path} is not valid TOML: {error}") from None
    sections = document.get(environment, {})
    values = {**sections.get("global", {}).get("parameters", {}), **sections.get("deploy", {}).get("parameters", {})}
    if not values.get("stack_name"):
        raise DeployError(f"{path} has no stack_name under [{environment}.deploy.parameters]")
    overrides = values.get("parameter_overrides", "")
    pairs = shlex.split(" ".join(overrides) if isinstance(overrides, list) else overrides)
    return SavedDeploy(
        stack_name=values["stack_name"],
        region=values.get("region"),
        parameters=dict(pair.split("=", 1) for pair in pairs if "=" in pair),
    )


def target_stack(config: Path, stack: str | None = None, region: str | None = None) -> tuple[str, str]:
    """(stack name, region): the ones given, else samconfig.toml's, else the AWS configuration's region."""
    saved = read_samconfig(config) if not (stack and region) else None
    stack = stack or (saved.stack_name if saved else None)
    region = region or (saved.region if saved else None) or _session().region_name
    if not region:
        raise DeployError(f"no region for stack {stack}: none in {config} or the AWS configuration; pass REGION=...")
    return stack, region


def _session(region: str | None = None) -> Any:
    import boto3

    return boto3.session.Session(region_name=region)


def stack_outputs(stack: str, region: str) -> dict[str, str]:
    cloudformation = _session(region).client("cloudformation")
    (description,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}


def _output(outputs: dict[str, str], key: str, stack: str) -> str:
    if key not in outputs:
        raise DeployError(f"stack {stack} has no output {key} (outputs: {', '.join(sorted(outputs)) or 'none'})")
    return outputs[key]


def page_files(site: Path) -> Iterator[tuple[str, Path]]:
    """(key, file) for every file of the page, keys relative to ``site`` with forward slashes."""
    for path in sorted(site.rglob("*")):
        relative = path.relative_to(site)
        if path.is_file() and path.name not in NOT_PUBLISHED and not any(p.startswith(".") for p in relative.parts):
            yield relative.as_posix(), path


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def sync_site(site: Path, bucket: str, region: str) -> tuple[list[str], list[str]]:
    """Make ``bucket`` hold exactly the page: upload new and changed files (by MD5), delete the others."""
    s3 = _session(region).client("s3")
    existing = {
        item["Key"]: item["ETag"].strip('"')
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    }
    uploaded = []
    wanted = dict(page_files(site))
    for key, path in wanted.items():
        body = path.read_bytes()
        if existing.get(key) == hashlib.md5(body, usedforsecurity=False).hexdigest():
            continue
        s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=content_type(path), CacheControl=PAGE_CACHE_CONTROL
        )
        uploaded.append(key)
    deleted = sorted(set(existing) - set(wanted))
    for start in range(0, len(deleted), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in deleted[start : start + 1000]]})
    return uploaded, deleted


def invalidate(distribution: str, region: str) -> str:
    """Ask CloudFront to drop every cached page and answer (its id)."""
    cloudfront = _session(region).client("cloudfront")
    batch = {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"talksearch-{time.time_ns()}"}
    return cloudfront.create_invalidation(DistributionId=distribution, InvalidationBatch=batch)["Invalidation"]["Id"]


def publish_site(stack: str, region: str, site: Path) -> dict[str, str]:
    """Sync the page to the stack's site bucket, then invalidate its distribution; returns the stack's outputs."""
    outputs = stack_outputs(stack, region)
    bucket = _output(outputs, "SiteBucketName", stack)
    uploaded, deleted = sync_site(site, bucket, region)
    print(f"page: {len(uploaded)} files uploaded, {len(deleted)} deleted in s3://{bucket}/", flush=True)
    invalidation = invalidate(_output(outputs, "DistributionId", stack), region)
    print(f"CloudFront invalidation {invalidation} of /* started", flush=True)
    return outputs


def stack_buckets(stack: str, region: str) -> list[str]:
    cloudformation = _session(region).client("cloudformation")
    resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    return [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::S3::Bucket"]


def empty_bucket(bucket: str, region: str) -> int:
    """Delete every object version and delete marker in ``bucket``; returns how many."""
    s3 = _session(region).client("s3")
    removed = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            entries = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if entries:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": entries, "Quiet": True})
                removed += len(entries)
    except s3.exceptions.NoSuchBucket:
        return removed
    return removed


def stack_functions(stack: str, region: str) -> list[str]:
    cloudformation = _session(region).client("cloudformation")
    resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    return [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::Lambda::Function"]


def prune_versions(function: str, region: str, keep: int = KEPT_FUNCTION_VERSIONS) -> list[str]:
    """Delete ``function``'s published versions but the ``keep`` newest and any an alias points to (or routes
    a share of its traffic to); returns the versions deleted, oldest first."""
    lambda_client = _session(region).client("lambda")
    aliased = set()
    for page in lambda_client.get_paginator("list_aliases").paginate(FunctionName=function):
        for alias in page["Aliases"]:
            aliased.add(alias["FunctionVersion"])
            aliased.update(alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}))
    numbered = sorted(
        int(version["Version"])
        for page in lambda_client.get_paginator("list_versions_by_function").paginate(FunctionName=function)
        for version in page["Versions"]
        if version["Version"].isdigit()
    )
    doomed = [str(v) for v in numbered[: max(len(numbered) - keep, 0)] if str(v) not in aliased]
    for version in doomed:
        lambda_client.delete_function(FunctionName=function, Qualifier=version)
    return doomed
