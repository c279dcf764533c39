"""The deployed pipeline, end to end in moto: upload to the content bucket -> S3 notification -> SQS -> rebuild
function -> published index -> search function. The SQS messages are the ones moto's S3 really sends."""

from __future__ import annotations

import json

import boto3
import pytest
from rebuild_events import CONTENT_BUCKET, s3_notification
from search_support import http_event

from functions.rebuild import app as rebuild
from functions.search import app as search

INDEX_BUCKET = "talksearch-index"


def talk(slug: str, title: str, summary: str) -> bytes:
    record = {
        "id": f"pycon-fr-2026/{slug}",
        "title": title,
        "speakers": ["Camille Dupont"],
        "event": "PyCon FR 2026",
        "date": "2026-10-31",
        "language": "fra",
        "tags": ["aws"],
        "summary": summary,
        "url": f"https://example.org/pycon-fr-2026/{slug}",
    }
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


@pytest.fixture
def aws(moto_server, monkeypatch):
    """The deployment's storage and queue on moto's server, wired like template.yaml: versioned content bucket whose
    creations and removals under talks/ are announced to the index queue."""
    for name, value in {
        "CONTENT_BUCKET": CONTENT_BUCKET,
        "CONTENT_PREFIX": "talks/",
        "INDEX_BUCKET": INDEX_BUCKET,
        "INDEX_PREFIX": "index",
        "MANIFEST_REFRESH_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    for bucket in (CONTENT_BUCKET, INDEX_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    s3.put_bucket_versioning(Bucket=CONTENT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    queue_url = sqs.create_queue(QueueName="IndexQueue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=CONTENT_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "talks/"}]}},
                }
            ]
        },
    )
    search.set_index_holder(None)  # read the index from this moto S3, not one a previous test loaded
    yield s3, sqs, queue_url, queue_arn
    search.set_index_holder(None)


def deliver(sqs, queue_url: str, queue_arn: str, context) -> list[dict]:
    """Hand the queue's messages to the rebuild function the way Lambda's SQS poller does: in batches, deleting
    the messages the function did not report as failed. Returns the function's responses."""
    responses = []
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages"):
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": m.get("MessageAttributes", {}),
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": "eu-west-3",
                }
                for m in messages
            ]
        }
        response = rebuild.lambda_handler(event, context)
        responses.append(response)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        kept = [d for d, m in zip(done, messages, strict=True) if m["MessageId"] not in failed]
        if kept:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=kept)
        if failed:
            break  # redelivery comes after the visibility timeout, not within this call
    return responses


def search_ids(context, query: str) -> list[str]:
    """GET /api/search?q=... through the search function, as the HTTP API invokes it: the second of two visits, so
    that the version the first one's background manifest check found is served (functions/search/lifecycle.py)."""
    for _ in range(2):
        response = search.lambda_handler(http_event("/api/search", f"q={query}"), context)
        assert search.index_holder().wait_for_swap(timeout=60)
    assert response["statusCode"] == 200, response
    return [hit["id"] for hit in json.loads(response["body"])["hits"]]


def test_uploaded_talks_become_searchable_and_deleted_ones_disappear(aws, lambda_context):
    s3, sqs, queue_url, queue_arn = aws
    # GIVEN a first talk uploaded (S3 also sent its s3:TestEvent when the notifications were configured)
    s3.put_object(
        Bucket=CONTENT_BUCKET,
        Key="talks/observabilite.json",
        Body=talk("observabilite", "Observabilité d'une application Django", "Traces, métriques et journaux."),
    )
    # WHEN the messages moto delivered reach the rebuild function
    responses = deliver(sqs, queue_url, queue_arn, lambda_context)
    # THEN nothing failed, and the talk is found
    assert responses and all(r == {"batchItemFailures": []} for r in responses)
    assert search_ids(lambda_context, "observabilite") == ["pycon-fr-2026/observabilite"]

    # GIVEN a second talk, and a draft outside talks/ that S3 does not announce
    s3.put_object(
        Bucket=CONTENT_BUCKET,
        Key="talks/conteneurs.json",
        Body=talk("conteneurs", "Des conteneurs sans douleur", "Construire des images légères pour Kubernetes."),
    )
    s3.put_object(Bucket=CONTENT_BUCKET, Key="drafts/brouillon.json", Body=talk("brouillon", "Brouillon", "Non."))
    deliver(sqs, queue_url, queue_arn, lambda_context)
    # THEN the new talk is searchable next to the first one, and the draft is not
    assert search_ids(lambda_context, "conteneur") == ["pycon-fr-2026/conteneurs"]
    assert search_ids(lambda_context, "observabilite") == ["pycon-fr-2026/observabilite"]
    assert search_ids(lambda_context, "brouillon") == []

    # WHEN the second talk is deleted (a delete marker: moto sends no notification for it on a versioned bucket)
    s3.delete_object(Bucket=CONTENT_BUCKET, Key="talks/conteneurs.json")
    if not deliver(sqs, queue_url, queue_arn, lambda_context):
        # S3 would have sent this; events are only triggers, so the rebuild reads the listing either way
        removed = s3_notification("talks/conteneurs.json", event_name="ObjectRemoved:DeleteMarkerCreated")
        sqs.send_message(QueueUrl=queue_url, MessageBody=removed)
        assert deliver(sqs, queue_url, queue_arn, lambda_context) == [{"batchItemFailures": []}]
    # THEN it is gone from the results, and the other talk stays
    assert search_ids(lambda_context, "conteneur") == []
    assert search_ids(lambda_context, "observabilite") == ["pycon-fr-2026/observabilite"]
    # AND the queue is empty: every message was handled and deleted
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
