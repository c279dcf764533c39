"""Helpers for the tests that need the SAM template or the SAM CLI (no AWS account involved).

The SAM CLI lives in its own venv (.venv-sam, made by `make sam-venv`). Without it these tests
skip, except under `make test`, which installs it and sets TALKSEARCH_REQUIRE_SAM=1 so that a
missing CLI fails CI instead of silently skipping.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
SAM = ROOT / ".venv-sam" / "bin" / "sam"


def require(condition: bool, why: str) -> None:
    """Skip when a tool is missing, or fail when `make test` promised it."""
    if condition:
        return
    if os.environ.get("TALKSEARCH_REQUIRE_SAM") == "1":
        pytest.fail(why)
    pytest.skip(why)


def sam_cli() -> Path:
    require(SAM.exists(), f"needs the SAM CLI at {SAM} (make sam-venv)")
    return SAM


def lambda_python_version() -> str:
    """The template's Python runtime version ("3.13"): the one place it is chosen."""
    versions = set(re.findall(r"^\s*Runtime: python(\d+\.\d+)\s*$", TEMPLATE.read_text(encoding="utf-8"), re.M))
    assert len(versions) == 1, f"one Python runtime expected in template.yaml, found {versions}"
    return versions.pop()


def lambda_python() -> Path:
    """The Lambda runtime's Python, to build and run packages with (pyenv's, or one on PATH)."""
    version = lambda_python_version()
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"), reverse=True)
    on_path = shutil.which(f"python{version}")
    found = candidates[0] if candidates else Path(on_path) if on_path else None
    require(found is not None, f"needs python{version} (the template's runtime) for sam build")
    return found


def offline_aws_env(**extra: str) -> dict[str, str]:
    """Environment for a subprocess that must never reach a real AWS account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="eu-west-3",
        AWS_REGION="eu-west-3",
        SAM_CLI_TELEMETRY="0",
    )
    env.update(extra)
    return env


def _no_managed_policies() -> dict[str, str]:
    raise AssertionError("the template should not use SAM managed policy names")


def transformed_template(region: str = "eu-west-3") -> dict[str, Any]:
    """template.yaml with the SAM transform expanded into plain CloudFormation, as AWS would see it."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # `sam build` replaces the local CodeUri with the built package; the transform wants an S3 URI
            resource["Properties"]["CodeUri"] = "s3://talksearch-artifacts/package.zip"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    return translator.translate(template, parameter_values={}, get_managed_policy_map=_no_managed_policies)
