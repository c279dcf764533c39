"""The rebuild function: SQS batches of S3 events (and the daily schedule) turn into builds of the published index."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from rebuild_events import CONTENT_BUCKET, load_event, s3_notification, s3_test_event, sqs_event

import index_builder
from functions.rebuild import app
from talksearch.contracts import Manifest, manifest_key

INDEX_BUCKET = "talksearch-index"


def failed_ids(response: dict) -> set[str]:
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


TALK = {
    "id": "pycon-fr-2026/serverless-search",
    "title": "Une recherche plein texte sans serveur",
    "speakers": ["Camille Dupont"],
    "event": "PyCon FR 2026",
    "date": "2026-10-31",
    "language": "fra",
    "tags": ["aws", "whoosh"],
    "summary": "Comment publier un index Whoosh dans S3 et le servir depuis une fonction Lambda.",
    "url": "https://example.org/pycon-fr-2026/serverless-search",
}


@pytest.fixture
def buckets(monkeypatch):
    """Moto S3 with the two buckets, and the function's environment pointing at them."""
    with mock_aws():
        s3 = boto3.client("s3")
        for name in (CONTENT_BUCKET, INDEX_BUCKET):
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        monkeypatch.setenv("CONTENT_BUCKET", CONTENT_BUCKET)
        monkeypatch.setenv("CONTENT_PREFIX", "talks")
        monkeypatch.setenv("INDEX_BUCKET", INDEX_BUCKET)
        monkeypatch.setenv("INDEX_PREFIX", "index")
        yield s3


def published_manifest(s3) -> Manifest | None:
    try:
        body = s3.get_object(Bucket=INDEX_BUCKET, Key=manifest_key("index"))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return Manifest.from_json(body)


LOCATIONS = app.Locations(
    content_bucket=CONTENT_BUCKET, content_prefix="talks", index_bucket=INDEX_BUCKET, index_prefix="index"
)


# --- reading messages -------------------------------------------------------------------------------------------


def test_created_object_is_reported_with_its_decoded_key():
    # GIVEN the notification S3 sends for a key with a space and an accent (URL-encoded in the event)
    body = s3_notification("talks/pycon+fr/nouvelle+conf%C3%A9rence.json")
    # THEN the handler sees the real key
    assert app.changed_content_keys(body, LOCATIONS) == ["talks/pycon fr/nouvelle conférence.json"]


def test_removed_object_is_a_change_too():
    body = s3_notification("talks/old.md", event_name="ObjectRemoved:DeleteMarkerCreated")
    assert app.changed_content_keys(body, LOCATIONS) == ["talks/old.md"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(s3_notification("talks/a.md", bucket="someone-elses-bucket"), id="other bucket"),
        pytest.param(s3_notification("drafts/a.md"), id="outside the content prefix"),
        pytest.param(s3_notification("talksheet.md"), id="prefix is a folder, not a string prefix"),
        pytest.param(s3_notification("talks/folder/"), id="folder marker"),
        pytest.param(s3_notification("talks/a.md", event_name="ObjectRestore:Completed"), id="restore"),
        pytest.param(s3_test_event(), id="s3:TestEvent"),
    ],
)
def test_events_that_change_no_content_trigger_nothing(body):
    assert app.changed_content_keys(body, LOCATIONS) == []


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[1, 2]",
        '"a string"',
        '{"Records": "nope"}',
        '{"hello": 1}',
        '{"Records": [{"eventName": 3}]}',
        '{"Records": [7]}',
        '{"Records": [{"eventName": 3, "s3": {"bucket": {"name": "c"}, "object": {"key": "talks/a"}}}]}',
        '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": null}}}]}',
    ],
)
def test_malformed_messages_are_recognised(body):
    with pytest.raises(app.MalformedMessageError):
        app.changed_content_keys(body, LOCATIONS)


# --- the handler ------------------------------------------------------------------------------------------------


def test_test_events_and_garbage_never_fail_the_batch(buckets, lambda_context):
    # GIVEN a batch with S3's test event and messages that are not S3 events at all
    event = sqs_event(s3_test_event(), "garbage", '{"Records": [{}]}')
    # WHEN the rebuild function handles it
    response = app.lambda_handler(event, lambda_context)
    # THEN every message is acknowledged and nothing was published
    assert response == {"batchItemFailures": []}
    assert published_manifest(buckets) is None


def test_missing_configuration_is_a_clear_error(buckets, lambda_context, monkeypatch):
    monkeypatch.delenv("CONTENT_BUCKET")
    with pytest.raises(RuntimeError, match="CONTENT_BUCKET"):
        app.lambda_handler(sqs_event(s3_notification("talks/a.json")), lambda_context)


def test_a_batch_of_events_publishes_the_new_content_with_one_build(buckets, lambda_context, monkeypatch):
    # GIVEN two talks uploaded, so S3 sent two notifications, and a test event in the same batch
    for number in (1, 2):
        talk = {**TALK, "id": f"{TALK['id']}-{number}"}
        buckets.put_object(Bucket=CONTENT_BUCKET, Key=f"talks/talk-{number}.json", Body=json.dumps(talk).encode())
    builds = []
    real_build = index_builder.build_and_publish
    monkeypatch.setattr(index_builder, "build_and_publish", lambda *a, **kw: builds.append(a) or real_build(*a, **kw))
    event = sqs_event(
        s3_notification("talks/talk-1.json"),
        s3_notification("talks/talk-2.json"),
        s3_test_event(),
    )
    # WHEN the rebuild function handles the batch
    response = app.lambda_handler(event, lambda_context)
    # THEN nothing failed, one build ran over the whole content prefix, and the index holds both talks
    assert response == {"batchItemFailures": []}
    assert builds == [(f"s3://{CONTENT_BUCKET}/talks", f"s3://{INDEX_BUCKET}/index")]
    assert published_manifest(buckets).talk_count == 2


def test_a_failed_build_fails_only_the_trigger_messages(buckets, lambda_context, monkeypatch):
    # GIVEN new content, but an index bucket the function cannot write to (it does not exist)
    buckets.put_object(Bucket=CONTENT_BUCKET, Key="talks/talk.json", Body=json.dumps(TALK).encode())
    monkeypatch.setenv("INDEX_BUCKET", "no-such-index-bucket")
    triggers = sqs_event(s3_notification("talks/talk.json"), s3_notification("talks/talk.json"))
    others = sqs_event(s3_test_event(), "garbage")
    event = {"Records": triggers["Records"] + others["Records"]}
    # WHEN the rebuild function handles the batch
    response = app.lambda_handler(event, lambda_context)
    # THEN SQS is told to redeliver the trigger messages (and finally dead-letter them), not the others
    assert failed_ids(response) == {r["messageId"] for r in triggers["Records"]}


def test_the_daily_schedule_rebuilds_in_full(buckets, lambda_context):
    # GIVEN content that no event ever announced
    buckets.put_object(Bucket=CONTENT_BUCKET, Key="talks/talk.json", Body=json.dumps(TALK).encode())
    # WHEN the daily EventBridge schedule invokes the function
    app.lambda_handler(load_event("scheduled_event.json"), lambda_context)
    # THEN the index is published with the talk
    assert published_manifest(buckets).talk_count == 1


def test_a_refused_build_is_retried_then_dead_lettered_and_publishes_nothing(buckets, lambda_context):
    # GIVEN an event for a file that holds no talk at all, so the builder refuses to publish an empty index
    buckets.put_object(Bucket=CONTENT_BUCKET, Key="talks/notes.txt", Body=b"not a talk")
    event = sqs_event(s3_notification("talks/notes.txt"))
    # WHEN the rebuild function handles it
    response = app.lambda_handler(event, lambda_context)
    # THEN the message goes back to the queue (and, after maxReceiveCount, to the DLQ); nothing is published
    assert failed_ids(response) == {event["Records"][0]["messageId"]}
    assert published_manifest(buckets) is None


def test_a_refused_scheduled_rebuild_fails_the_invocation(buckets, lambda_context):
    with pytest.raises(index_builder.BuildRefusedError):
        app.lambda_handler(load_event("scheduled_event.json"), lambda_context)
    assert published_manifest(buckets) is None
