"""template.yaml, checked offline: SAM's validation, cfn-lint on the expanded template, and the properties the
deployment relies on (least privilege, private encrypted buckets, DLQ and its alarm, a single builder, arm64,
CloudFront OAC and the widget's CORS, logs kept for LogRetentionDays, the opt-in ways to keep the search function
warm)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from sam_support import ROOT, TEMPLATE, offline_aws_env, sam_cli, transformed_template

from bench.page import FRONTEND, widget_files
from talksearch.contracts import (
    ENV_ALLOWED_ORIGINS,
    ENV_INDEX_BUCKET,
    ENV_INDEX_PREFIX,
    ENV_REFRESH_SECONDS,
    ENV_WARM_FUNCTION,
    WARM_UP_EVENT,
)

#: the template's opt-in conditions, all off (its defaults) and all on
OPTIONS = ("HasContentPrefix", "HasAlarmEmail", "KeepSearchWarm", "HasProvisionedConcurrency", "WarmAfterRebuild")
ALL_OFF, ALL_ON = dict.fromkeys(OPTIONS, False), dict.fromkeys(OPTIONS, True)


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return transformed_template()


def resolve(node: Any, conditions: dict[str, bool]) -> Any:
    """The template as CloudFormation sees it under these conditions: Fn::If chosen, AWS::NoValue dropped."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return resolve(when_true if conditions[name] else when_false, conditions)
        resolved = {key: resolve(value, conditions) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value != {"Ref": "AWS::NoValue"}}
    if isinstance(node, list):
        return [item for item in (resolve(i, conditions) for i in node) if item != {"Ref": "AWS::NoValue"}]
    return node


@pytest.fixture(scope="module", params=[ALL_OFF, ALL_ON], ids=["options-off", "options-on"])
def stack(cfn, request) -> dict[str, Any]:
    """The expanded template with its conditional resources and statements chosen, both ways."""
    template = resolve(cfn, request.param)
    template["Resources"] = {
        name: r for name, r in template["Resources"].items() if request.param.get(r.get("Condition"), True)
    }
    template["Conditions"] = request.param
    return template


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


def statements_of(template: dict, role: str) -> list[dict]:
    return [s for p in props(template, role)["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_no_policy_allows_every_action_or_every_resource(stack):
    broad = []
    for where, document in policy_documents(stack):
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


def test_no_role_may_create_log_groups(stack):
    # each function logs into its own group with a retention; Lambda's default /aws/lambda/... group is kept forever
    actions = {
        a
        for role in resources(stack, "AWS::IAM::Role")
        for s in statements_of(stack, role)
        for a in as_list(s["Action"])
    }
    assert "logs:CreateLogGroup" not in actions


def test_search_function_reads_the_index_prefix_and_writes_nowhere(stack):
    role = props(stack, "SearchFunction")["Role"]["Fn::GetAtt"][0]
    assert allowed(stack, role) == [
        ("s3:ListBucket", {"Fn::GetAtt": ["IndexBucket", "Arn"]}),
        ("s3:GetObject", {"Fn::Sub": "${IndexBucket.Arn}/${IndexPrefix}/*"}),
        ("logs:CreateLogStream", {"Fn::GetAtt": ["SearchLogGroup", "Arn"]}),
        ("logs:PutLogEvents", {"Fn::GetAtt": ["SearchLogGroup", "Arn"]}),
    ]
    (listing,) = [s for s in statements_of(stack, role) if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLikeIfExists": {"s3:prefix": {"Fn::Sub": "${IndexPrefix}/*"}}}


def test_builder_reads_and_writes_only_inside_its_prefixes(stack):
    role = props(stack, "IndexBuilderFunction")["Role"]["Fn::GetAtt"][0]
    pairs = allowed(stack, role)
    objects = {(a, r["Fn::Sub"]) for a, r in pairs if a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")}
    assert objects == {
        ("s3:GetObject", "${ContentBucket.Arn}/${ContentPrefix}*"),
        ("s3:GetObject", "${IndexBucket.Arn}/${IndexPrefix}/*"),
        ("s3:PutObject", "${IndexBucket.Arn}/${IndexPrefix}/*"),
        ("s3:DeleteObject", "${IndexBucket.Arn}/${IndexPrefix}/*"),
    }
    assert {a for a, _ in pairs if a.startswith("s3:")} == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
    }
    listings = {
        s["Resource"]["Fn::GetAtt"][0]: s.get("Condition")
        for s in statements_of(stack, role)
        if s["Action"] == "s3:ListBucket"
    }
    if stack["Conditions"]["HasContentPrefix"]:
        assert listings["ContentBucket"] == {"StringLike": {"s3:prefix": {"Fn::Sub": "${ContentPrefix}*"}}}
    else:  # the whole bucket is the content
        assert listings["ContentBucket"] is None
    assert listings["IndexBucket"] == {"StringLikeIfExists": {"s3:prefix": {"Fn::Sub": "${IndexPrefix}/*"}}}


def test_builder_consumes_its_queue_reports_to_the_dlq_and_may_only_invoke_search(stack):
    role = props(stack, "IndexBuilderFunction")["Role"]["Fn::GetAtt"][0]
    pairs = allowed(stack, role)
    sqs = {(a, r["Fn::GetAtt"][0]) for a, r in pairs if a.startswith("sqs:")}
    assert {queue for _, queue in sqs if _ != "sqs:SendMessage"} == {"IndexQueue"}
    assert {queue for a, queue in sqs if a == "sqs:SendMessage"} == {"IndexDLQ"}
    invokes = [r for a, r in pairs if a.startswith("lambda:")]
    assert invokes == ([{"Ref": "SearchFunctionAliaslive"}] if stack["Conditions"]["WarmAfterRebuild"] else [])


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
    rules = resources(cfn, "AWS::Events::Rule").values()
    (rule,) = [
        r for r in rules if r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["IndexBuilderFunction", "Arn"]}
    ]
    assert rule["Properties"]["ScheduleExpression"].startswith("cron(")


def test_a_failed_daily_rebuild_lands_in_the_dead_letter_queue(cfn):
    # EventBridge invokes asynchronously: without an OnFailure destination a failed full rebuild only leaves a log line
    (config,) = resources(cfn, "AWS::Lambda::EventInvokeConfig").values()
    p = config["Properties"]
    assert p["FunctionName"] == {"Ref": "IndexBuilderFunction"}
    assert p["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["IndexDLQ", "Arn"]}
    assert p["MaximumRetryAttempts"] <= 2


def test_messages_in_the_dead_letter_queue_raise_an_alarm_that_can_email(stack):
    (alarm,) = resources(stack, "AWS::CloudWatch::Alarm").values()
    p = alarm["Properties"]
    assert (p["Namespace"], p["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert p["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["IndexDLQ", "QueueName"]}}]
    assert (p["ComparisonOperator"], p["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert p["TreatMissingData"] == "notBreaching"
    (topic,) = resources(stack, "AWS::SNS::Topic")
    assert p["AlarmActions"] == [{"Ref": topic}]
    subscriptions = list(resources(stack, "AWS::SNS::Subscription").values())
    if stack["Conditions"]["HasAlarmEmail"]:
        (subscription,) = subscriptions
        assert subscription["Properties"] == {
            "TopicArn": {"Ref": topic},
            "Protocol": "email",
            "Endpoint": {"Ref": "AlarmEmail"},
        }
    else:
        assert subscriptions == []


def test_alarm_email_parameter_takes_an_address_or_nothing(cfn):
    pattern = re.compile(cfn["Parameters"]["AlarmEmail"]["AllowedPattern"])
    assert cfn["Parameters"]["AlarmEmail"]["Default"] == ""
    assert [v for v in ("", "ops@example.org", "a.b+c@d.example") if not pattern.fullmatch(v)] == []
    assert [v for v in ("ops", "ops@", "@example.org", "a b@c.d") if pattern.fullmatch(v)] == []


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


def test_tmp_fits_two_index_versions_for_the_builder_and_the_search_function_pays_for_none(cfn):
    # the full corpus (21,713 talks) is a 48.1 MB artifact that unpacks to 91.5 MB (docs/benchmarks.md): the builder
    # holds the previous one, the new one and their archives; the search function holds its search pack in memory
    assert props(cfn, "SearchFunction")["EphemeralStorage"]["Size"] == 512
    assert props(cfn, "IndexBuilderFunction")["EphemeralStorage"]["Size"] >= 3 * 2 * (49 + 92)


def test_each_function_logs_into_its_own_group_kept_for_the_retention_days(cfn):
    for function in resources(cfn, "AWS::Lambda::Function"):
        group = props(cfn, function)["LoggingConfig"]["LogGroup"]["Ref"]
        assert cfn["Resources"][group]["Type"] == "AWS::Logs::LogGroup", function
        assert props(cfn, group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}, function
    assert cfn["Outputs"]["SearchLogGroupName"]["Value"] == {"Ref": "SearchLogGroup"}
    assert cfn["Parameters"]["LogRetentionDays"]["Default"] in cfn["Parameters"]["LogRetentionDays"]["AllowedValues"]


def test_search_function_can_stay_warm_on_request_and_is_cold_by_default(stack):
    (alias,) = resources(stack, "AWS::Lambda::Alias")
    concurrency = props(stack, alias).get("ProvisionedConcurrencyConfig")
    rules = resources(stack, "AWS::Events::Rule").values()
    (keep_warm,) = [r["Properties"] for r in rules if r["Properties"]["Targets"][0]["Arn"] == {"Ref": alias}]
    assert json.loads(keep_warm["Targets"][0]["Input"]) == WARM_UP_EVENT
    warm_after_rebuild = props(stack, "IndexBuilderFunction")["Environment"]["Variables"][ENV_WARM_FUNCTION]
    if stack["Conditions"]["HasProvisionedConcurrency"]:
        assert concurrency == {"ProvisionedConcurrentExecutions": {"Ref": "SearchProvisionedConcurrency"}}
    else:
        assert concurrency is None
    if stack["Conditions"]["KeepSearchWarm"]:
        assert keep_warm["State"] == "ENABLED"
        assert keep_warm["ScheduleExpression"] == {"Fn::Sub": "rate(${SearchKeepWarmMinutes} minutes)"}
    else:
        assert keep_warm["State"] == "DISABLED"
    assert warm_after_rebuild == ({"Ref": alias} if stack["Conditions"]["WarmAfterRebuild"] else "")


def test_warm_options_are_off_by_default(cfn):
    defaults = {
        name: cfn["Parameters"][name]["Default"] for name in ("SearchKeepWarmMinutes", "SearchProvisionedConcurrency")
    }
    assert defaults == {"SearchKeepWarmMinutes": 0, "SearchProvisionedConcurrency": 0}
    assert cfn["Parameters"]["WarmSearchAfterRebuild"]["Default"] == "false"


def test_api_routes_and_the_schedule_call_the_published_alias(cfn):
    (alias,) = resources(cfn, "AWS::Lambda::Alias")
    permissions = resources(cfn, "AWS::Lambda::Permission")
    search = [p["Properties"] for p in permissions.values() if p["Properties"]["FunctionName"] == {"Ref": alias}]
    assert len(search) == len(api_routes(cfn)) + 1  # every route, and the keep-warm schedule


def test_search_function_is_configured_through_the_shared_contract_names(cfn):
    variables = props(cfn, "SearchFunction")["Environment"]["Variables"]
    assert {ENV_INDEX_BUCKET, ENV_INDEX_PREFIX, ENV_REFRESH_SECONDS, ENV_ALLOWED_ORIGINS} <= set(variables)
    assert variables[ENV_INDEX_BUCKET] == {"Ref": "IndexBucket"}
    assert props(cfn, "SearchFunction")["MemorySize"] == {"Ref": "SearchMemorySize"}
    assert props(cfn, "SearchFunction")["Timeout"] == {"Ref": "SearchTimeout"}


def api_routes(template: dict) -> list[tuple[str, str]]:
    paths = props(template, "SearchApi")["Body"]["paths"]
    return [(method, path) for path, methods in paths.items() for method in methods]


def test_api_routes_reach_the_search_function_and_are_throttled(cfn):
    paths = props(cfn, "SearchApi")["Body"]["paths"]
    assert {
        "/api/search",
        "/api/talks/{id+}",
        "/api/suggest",
        "/api/opened",
        "/api/health",
        "/api/openapi.json",
    } <= set(paths)
    assert all(p.startswith("/api/") for p in paths)
    settings = props(cfn, "SearchApiApiGatewayDefaultStage")["DefaultRouteSettings"]
    assert settings == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }


def test_throttling_is_described_as_per_route(cfn):
    # DefaultRouteSettings throttles every route on its own: the API as a whole takes routes x the rate
    description = cfn["Parameters"]["ApiThrottlingRateLimit"]["Description"]
    assert f"EACH of the API's {len(api_routes(cfn))} routes" in description
    assert "each route" in cfn["Parameters"]["ApiThrottlingBurstLimit"]["Description"]


def test_api_access_logs_are_json_without_visitor_data_and_kept_for_the_retention_days(cfn):
    settings = props(cfn, "SearchApiApiGatewayDefaultStage")["AccessLogSettings"]
    group = settings["DestinationArn"]["Fn::GetAtt"][0]
    assert props(cfn, group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    line = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", settings["Format"]))
    assert {"requestId", "routeKey", "status", "responseLatency", "integrationLatency"} <= set(line)
    assert not re.search(r"sourceIp|userAgent|identity", settings["Format"])


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


CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CloudFront's managed cache policy


def test_opened_results_reach_the_api_uncached_before_the_cached_api_behaviour(cfn):
    config = props(cfn, "SiteDistribution")["DistributionConfig"]
    patterns = [b["PathPattern"] for b in config["CacheBehaviors"]]
    assert patterns.index("/api/opened") < patterns.index("/api/*")  # CloudFront takes the first pattern matching
    opened = config["CacheBehaviors"][patterns.index("/api/opened")]
    api = config["CacheBehaviors"][patterns.index("/api/*")]
    assert opened["CachePolicyId"] == CACHING_DISABLED
    for key in ("TargetOriginId", "OriginRequestPolicyId", "ResponseHeadersPolicyId", "ViewerProtocolPolicy"):
        assert opened[key] == api[key], key
    assert "/api/opened" in props(cfn, "SearchApi")["Body"]["paths"]


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


def test_every_file_the_widget_loads_is_served_with_cors_for_any_origin(cfn):
    # other sites' pages load the widget's module graph as module scripts, fetched in CORS mode
    config = props(cfn, "SiteDistribution")["DistributionConfig"]
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}

    def cors_of(behaviour: dict) -> dict | None:
        return props(cfn, behaviour["ResponseHeadersPolicyId"]["Ref"])["ResponseHeadersPolicyConfig"].get("CorsConfig")

    for path in widget_files():
        key = "/" + path.relative_to(FRONTEND).as_posix()
        (pattern,) = [p for p in behaviours if fnmatchcase(key, p)]
        behaviour = behaviours[pattern]
        assert behaviour["TargetOriginId"] == config["DefaultCacheBehavior"]["TargetOriginId"], key
        assert behaviour["AllowedMethods"] == ["GET", "HEAD"] and behaviour["Compress"] is True, key
        cors = cors_of(behaviour)
        assert cors["AccessControlAllowOrigins"]["Items"] == ["*"], key
        assert cors["AccessControlAllowCredentials"] is False and cors["OriginOverride"] is True, key
    # the API's answers and the page get no CORS header from CloudFront: the API's ALLOWED_ORIGINS decides
    assert cors_of(behaviours["/api/*"]) is None
    assert cors_of(config["DefaultCacheBehavior"]) is None
    assert props(cfn, "SearchFunction")["Environment"]["Variables"][ENV_ALLOWED_ORIGINS] == {"Ref": "AllowedOrigins"}


# --- parameters and outputs ----------------------------------------------------------------------------------

#: the longest region names, and S3's naming rules for general purpose buckets
LONGEST_REGION = "ap-southeast-7"
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")


def valid_bucket_name(name: str) -> bool:
    return (
        3 <= len(name) <= 63
        and re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name) is not None
        and ".." not in name
        and not name.startswith(("xn--", "sthree-"))
        and not name.endswith(S3_RESERVED_SUFFIXES)
    )


def test_stage_admits_exactly_the_names_that_make_valid_buckets(cfn):
    parameter = cfn["Parameters"]["Stage"]
    pattern, max_length = re.compile(parameter["AllowedPattern"]), parameter["MaxLength"]
    bucket_name = props(cfn, "ContentBucket")["BucketName"]["Fn::Sub"]

    def admitted(stage: str) -> bool:
        return len(stage) <= max_length and pattern.fullmatch(stage) is not None

    def bucket(stage: str) -> str:
        names = {"AWS::AccountId": "123456789012", "AWS::Region": LONGEST_REGION, "Stage": stage}
        return re.sub(r"\$\{([^}]+)\}", lambda m: names[m.group(1)], bucket_name)

    good = ["prod", "staging-2", "a", "x1-y2-z3", "s3", "alias", "0123456789"]
    bad = ["prod-", "-prod", "pr--od", "Prod", "staging_2", "pr.od", "", "a-s3alias", "s3alias", "elevenchars"]
    assert [s for s in good if not admitted(s)] == []
    assert [s for s in bad if admitted(s)] == []
    assert [s for s in good if not valid_bucket_name(bucket(s))] == []
    assert admitted(parameter["Default"])


def test_no_name_depends_on_the_stack_name(cfn):
    # an origin access control name is at most 64 characters: built from the stack name, it failed above 59. Every
    # name the template sets comes from Stage and Region instead, so any stack name CloudFormation takes works
    named = {
        name: json.dumps(value)
        for name, resource in cfn["Resources"].items()
        for key, value in resource.get("Properties", {}).items()
        if key.endswith("Name") or key.endswith("Config")
    }
    assert not [name for name, text in named.items() if "AWS::StackName" in text]
    oac_name = props(cfn, "SiteOriginAccessControl")["OriginAccessControlConfig"]["Name"]["Fn::Sub"]
    longest = oac_name.replace("${Stage}", "x" * cfn["Parameters"]["Stage"]["MaxLength"]).replace(
        "${AWS::Region}", LONGEST_REGION
    )
    assert len(longest) <= 64


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
