"""template.yaml, checked offline: SAM's validation, cfn-lint on the expanded template, and the properties the
deployment relies on (least privilege, private encrypted buckets, DLQ, a single builder, arm64, CloudFront OAC)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sam_support import ROOT, TEMPLATE, offline_aws_env, sam_cli, transformed_template

from talksearch.contracts import ENV_ALLOWED_ORIGINS, ENV_INDEX_BUCKET, ENV_INDEX_PREFIX, ENV_REFRESH_SECONDS


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return transformed_template()


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == type_}


def props(template: dict, name: str) -> dict:
    return template["Resources"][name]["Properties"]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def policy_documents(template: dict) -> list[tuple[str, dict]]:
    """Every IAM and resource policy document in the stack, named by where it lives."""
    documents = []
    for name, role in resources(template, "AWS::IAM::Role").items():
        documents += [
            (f"{name}/{p['PolicyName']}", p["PolicyDocument"]) for p in role["Properties"].get("Policies", [])
        ]
    for type_ in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"):
        documents += [(name, r["Properties"]["PolicyDocument"]) for name, r in resources(template, type_).items()]
    return documents


def references(node: Any) -> set[str]:
    """Logical ids a piece of template refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def allowed(template: dict, role: str) -> list[tuple[str, Any]]:
    """(action, resource) pairs a role's inline policies allow."""
    pairs = []
    for policy in props(template, role)["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            pairs += [(a, r) for a in as_list(statement["Action"]) for r in as_list(statement["Resource"])]
    return pairs


# --- the tools' verdicts -------------------------------------------------------------------------------------


def test_sam_validate_with_lint_passes_offline():
    result = subprocess.run(
        [str(sam_cli()), "validate", "--lint", "--template-file", str(TEMPLATE), "--region", "eu-west-3"],
        cwd=ROOT,
        env=offline_aws_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout


def test_cfn_lint_passes_on_the_expanded_template(cfn, tmp_path):
    # cfn-lint 1.x no longer expands AWS::Serverless::*; lint what the SAM transform produces instead
    expanded = tmp_path / "expanded.json"
    expanded.write_text(json.dumps(cfn), encoding="utf-8")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--regions", "eu-west-3", "us-east-1", "--", str(expanded)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_transform_produced_plain_cloudformation(cfn):
    assert not [r["Type"] for r in cfn["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]


# --- least privilege -----------------------------------------------------------------------------------------


def test_no_policy_allows_every_action_or_every_resource(cfn):
    broad = []
    for where, document in policy_documents(cfn):
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue  # Deny s3:* (TLS only) is meant to be broad
            broad += [(where, a) for a in as_list(statement["Action"]) if a == "*" or a.endswith(":*")]
            broad += [(where, r) for r in as_list(statement.get("Resource", [])) if r == "*"]
            if statement.get("Principal") in ("*", {"AWS": "*"}):
                broad.append((where, "Principal *"))
    assert broad == []


def test_roles_carry_no_managed_policies(cfn):
    # AWSLambdaBasicExecutionRole & co. allow their actions on every resource; the roles spell theirs out
    for name, role in resources(cfn, "AWS::IAM::Role").items():
        assert not role["Properties"].get("ManagedPolicyArns"), name


def test_search_function_only_reads_the_index_prefix(cfn):
    role = props(cfn, "SearchFunction")["Role"]["Fn::GetAtt"][0]
    assert allowed(cfn, role) == [
        ("s3:ListBucket", {"Fn::GetAtt": ["IndexBucket", "Arn"]}),
        ("s3:GetObject", {"Fn::Sub": "${IndexBucket.Arn}/${IndexPrefix}/*"}),
        ("logs:CreateLogStream", {"Fn::GetAtt": ["SearchLogGroup", "Arn"]}),
        ("logs:PutLogEvents", {"Fn::GetAtt": ["SearchLogGroup", "Arn"]}),
    ]


def test_builder_reads_content_and_writes_only_the_index_prefix(cfn):
    role = props(cfn, "IndexBuilderFunction")["Role"]["Fn::GetAtt"][0]
    pairs = allowed(cfn, role)
    writes = {r["Fn::Sub"] for a, r in pairs if a in ("s3:PutObject", "s3:DeleteObject")}
    assert writes == {"${IndexBucket.Arn}/${IndexPrefix}/*"}
    assert ("s3:GetObject", {"Fn::Sub": "${ContentBucket.Arn}/${ContentPrefix}*"}) in pairs
    assert {r["Fn::GetAtt"][0] for a, r in pairs if a.startswith("sqs:")} == {"IndexQueue"}


# --- storage -------------------------------------------------------------------------------------------------


def test_every_bucket_is_private_encrypted_and_tls_only(cfn):
    policies = {r["Properties"]["Bucket"]["Ref"]: r for r in resources(cfn, "AWS::S3::BucketPolicy").values()}
    buckets = resources(cfn, "AWS::S3::Bucket")
    assert set(buckets) == {"ContentBucket", "IndexBucket", "SiteBucket"}
    for name, bucket in buckets.items():
        p = bucket["Properties"]
        assert p["PublicAccessBlockConfiguration"] == dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
        ), name
        assert p["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}], name
        (rule,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms"), name
        statements = policies[name]["Properties"]["PolicyDocument"]["Statement"]
        deny_plain_http = [s for s in statements if s["Effect"] == "Deny"]
        assert deny_plain_http == [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [{"Fn::GetAtt": [name, "Arn"]}, {"Fn::Sub": f"${{{name}.Arn}}/*"}],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ], name


def test_content_bucket_is_versioned_and_announces_creations_and_removals_to_the_queue(cfn):
    p = props(cfn, "ContentBucket")
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    notifications = p["NotificationConfiguration"]["QueueConfigurations"]
    assert {n["Event"] for n in notifications} == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}
    assert {json.dumps(n["Queue"]) for n in notifications} == {json.dumps({"Fn::GetAtt": ["IndexQueue", "Arn"]})}


def test_queue_policy_admits_only_the_content_bucket_without_a_dependency_cycle(cfn):
    # the bucket's name is computed from pseudo parameters, and the policy names the same ARN (no Ref/GetAtt to
    # the bucket, which would close the cycle bucket -> queue policy -> bucket)
    bucket_name = props(cfn, "ContentBucket")["BucketName"]["Fn::Sub"]
    (statement,) = props(cfn, "IndexQueuePolicy")["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket_name}"
    }
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert "ContentBucket" not in references(props(cfn, "IndexQueuePolicy"))
    assert "IndexQueuePolicy" in as_list(cfn["Resources"]["ContentBucket"]["DependsOn"])


def test_old_index_versions_expire_but_the_live_one_never_does(cfn):
    p = props(cfn, "IndexBucket")
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = p["LifecycleConfiguration"]["Rules"]
    versions = [r for r in rules if r.get("Prefix") == {"Fn::Sub": "${IndexPrefix}/versions/"}]
    assert versions and versions[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0
    # only noncurrent versions expire: a current artifact, however old, is the one the manifest may name
    assert not [r for r in rules if "ExpirationInDays" in r or "ExpirationDate" in r]


# --- the rebuild pipeline ------------------------------------------------------------------------------------


def test_index_queue_dead_letters_after_retries(cfn):
    redrive = props(cfn, "IndexQueue")["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["IndexDLQ", "Arn"]}
    assert 1 <= redrive["maxReceiveCount"] <= 10


def test_builder_is_alone_and_the_queue_outwaits_it(cfn):
    builder = props(cfn, "IndexBuilderFunction")
    assert builder["ReservedConcurrentExecutions"] == 1
    assert builder["Timeout"] <= 900
    assert props(cfn, "IndexQueue")["VisibilityTimeout"] >= 6 * builder["Timeout"]


def test_builder_consumes_the_queue_in_batches_with_partial_failures(cfn):
    (mapping,) = resources(cfn, "AWS::Lambda::EventSourceMapping").values()
    p = mapping["Properties"]
    assert p["EventSourceArn"] == {"Fn::GetAtt": ["IndexQueue", "Arn"]}
    assert p["FunctionName"] == {"Ref": "IndexBuilderFunction"}
    assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert p["MaximumBatchingWindowInSeconds"] > 0


def test_builder_also_runs_daily(cfn):
    (rule,) = resources(cfn, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"].startswith("cron(")
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["IndexBuilderFunction", "Arn"]}


# --- functions -----------------------------------------------------------------------------------------------


def test_functions_run_python_on_arm64_from_the_repository_packages(cfn):
    functions = resources(cfn, "AWS::Lambda::Function")
    assert {name: f["Properties"]["Handler"] for name, f in functions.items()} == {
        "SearchFunction": "functions.search.app.lambda_handler",
        "IndexBuilderFunction": "functions.rebuild.app.lambda_handler",
    }
    for name, function in functions.items():
        assert function["Properties"]["Architectures"] == ["arm64"], name
        assert function["Properties"]["Runtime"] in ("python3.12", "python3.13"), name


def test_tmp_fits_two_index_versions(cfn):
    # the full corpus (21,713 talks) is a 71.5 MB artifact that unpacks to 115.7 MB (docs/benchmarks.md)
    assert props(cfn, "SearchFunction")["EphemeralStorage"]["Size"] >= 2 * (72 + 116)
    assert props(cfn, "IndexBuilderFunction")["EphemeralStorage"]["Size"] >= 3 * (72 + 116)


def test_search_function_is_configured_through_the_shared_contract_names(cfn):
    variables = props(cfn, "SearchFunction")["Environment"]["Variables"]
    assert {ENV_INDEX_BUCKET, ENV_INDEX_PREFIX, ENV_REFRESH_SECONDS, ENV_ALLOWED_ORIGINS} <= set(variables)
    assert variables[ENV_INDEX_BUCKET] == {"Ref": "IndexBucket"}
    assert props(cfn, "SearchFunction")["MemorySize"] == {"Ref": "SearchMemorySize"}
    assert props(cfn, "SearchFunction")["Timeout"] == {"Ref": "SearchTimeout"}


def test_api_routes_reach_the_search_function_and_are_throttled(cfn):
    paths = props(cfn, "SearchApi")["Body"]["paths"]
    assert {"/api/search", "/api/talks/{id+}", "/api/suggest", "/api/health", "/api/openapi.json"} <= set(paths)
    assert all(p.startswith("/api/") for p in paths)
    settings = props(cfn, "SearchApiApiGatewayDefaultStage")["DefaultRouteSettings"]
    assert settings == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }


# --- site delivery -------------------------------------------------------------------------------------------


def test_site_bucket_is_read_only_by_this_distribution_through_oac(cfn):
    config = props(cfn, "SiteDistribution")["DistributionConfig"]
    (site_origin,) = [o for o in config["Origins"] if o["Id"] == config["DefaultCacheBehavior"]["TargetOriginId"]]
    assert site_origin["DomainName"] == {"Fn::GetAtt": ["SiteBucket", "RegionalDomainName"]}
    assert site_origin["OriginAccessControlId"] == {"Fn::GetAtt": ["SiteOriginAccessControl", "Id"]}
    assert site_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    oac = props(cfn, "SiteOriginAccessControl")["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    (allow,) = [s for s in props(cfn, "SiteBucketPolicy")["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert "${SiteDistribution}" in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]


def test_api_behaviour_caches_gets_by_full_query_string_as_the_api_says(cfn):
    config = props(cfn, "SiteDistribution")["DistributionConfig"]
    (api,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    (origin,) = [o for o in config["Origins"] if o["Id"] == api["TargetOriginId"]]
    assert origin["DomainName"]["Fn::Sub"].startswith("${SearchApi}.execute-api.")
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert api["CachedMethods"] == ["GET", "HEAD"]
    assert api["ViewerProtocolPolicy"] in ("redirect-to-https", "https-only")
    policy = props(cfn, api["CachePolicyId"]["Ref"])["CachePolicyConfig"]
    assert policy["ParametersInCacheKeyAndForwardedToOrigin"]["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    # MinTTL 0 and DefaultTTL 0: the API's Cache-Control decides, and no header means no caching
    assert (policy["MinTTL"], policy["DefaultTTL"]) == (0, 0)
    assert policy["MaxTTL"] > 0


def test_every_response_carries_the_security_headers(cfn):
    config = props(cfn, "SiteDistribution")["DistributionConfig"]
    for behaviour in [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]:
        headers = props(cfn, behaviour["ResponseHeadersPolicyId"]["Ref"])["ResponseHeadersPolicyConfig"]
        security = headers["SecurityHeadersConfig"]
        csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
        assert security["ContentTypeOptions"] == {"Override": True}
        assert security["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"


# --- parameters and outputs ----------------------------------------------------------------------------------


def test_every_parameter_and_output_says_what_it_is(cfn):
    for section in ("Parameters", "Outputs"):
        undocumented = [name for name, item in cfn[section].items() if not item.get("Description")]
        assert undocumented == [], section
    assert {"SiteUrl", "ApiUrl", "ContentBucketName", "IndexBucketName", "SiteBucketName", "DistributionId"} <= set(
        cfn["Outputs"]
    )
    assert {"Stage", "AllowedOrigins", "SearchMemorySize", "BuilderMemorySize", "ApiThrottlingRateLimit"} <= set(
        cfn["Parameters"]
    )
