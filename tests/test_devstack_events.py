"""The local stand-ins for `aws s3 sync` and Lambda's SQS event source mapping, each on its own.

The watcher syncs into a local-folder store (same Store API as S3). The event source runs
against a fresh moto server with the buckets and notifications the stack creates, and a fake
handler that only records what it was given, to pin the mapping's batching and settlement.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.aws import EmbeddedAws, Resources, environment, function_environment
from devstack.poller import BatchOutcome, SqsEventSource
from devstack.runtime import LambdaFunction
from devstack.watcher import ContentWatcher
from talksearch.store import open_store

# --- content watcher ------------------------------------------------------------------------


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    content, bucket = tmp_path / "content", tmp_path / "bucket"
    content.mkdir()
    bucket.mkdir()
    return content, bucket


def bucket_files(bucket: Path) -> dict[str, str]:
    return {p.relative_to(bucket).as_posix(): p.read_text("utf-8") for p in bucket.rglob("*") if p.is_file()}


def test_watcher_uploads_changes_and_deletes_like_s3_sync(folders):
    content, bucket = folders
    watcher = ContentWatcher(content, open_store(bucket))
    # GIVEN a file, a nested file, and files that are not content
    (content / "a.md").write_text("one", "utf-8")
    (content / "recaps").mkdir()
    (content / "recaps" / "b.md").write_text("two", "utf-8")
    (content / ".a.md.swp").write_text("editor state", "utf-8")
    (content / "a.md~").write_text("backup", "utf-8")
    (content / ".git").mkdir()
    (content / ".git" / "HEAD").write_text("ref", "utf-8")
    # WHEN synced  THEN only the content is uploaded, under the same relative keys
    assert watcher.sync_once().uploaded == ["a.md", "recaps/b.md"]
    assert bucket_files(bucket) == {"a.md": "one", "recaps/b.md": "two"}

    # WHEN nothing changed, or a file is touched with the same bytes  THEN nothing is uploaded
    assert not watcher.sync_once()
    os.utime(content / "a.md", ns=(1, 1))
    assert not watcher.sync_once()

    # WHEN a file changes and another is deleted  THEN the bucket follows
    (content / "a.md").write_text("one, edited", "utf-8")
    (content / "recaps" / "b.md").unlink()
    result = watcher.sync_once()
    assert (result.uploaded, result.deleted) == (["a.md"], ["recaps/b.md"])
    assert bucket_files(bucket) == {"a.md": "one, edited"}
    assert result.describe() == "+a.md -recaps/b.md"


# --- SQS event source -----------------------------------------------------------------------


@pytest.fixture
def aws() -> Iterator[tuple[EmbeddedAws, Resources]]:
    embedded = EmbeddedAws()
    try:
        with environment(function_environment(embedded.endpoint, 1)):
            resources = embedded.create_resources()
            # the notification set-up's s3:TestEvent: each test starts from an empty queue
            embedded.client("sqs").purge_queue(QueueUrl=resources.queue_url)
            yield embedded, resources
    finally:
        embedded.stop()


class RecordingHandler:
    """Stands in for the rebuild function: records each event, fails the message ids it is told to."""

    def __init__(self, fail: str = "") -> None:
        self.events: list[dict] = []
        self.fail = fail

    def __call__(self, event, context):
        self.events.append(event)
        if self.fail == "all":
            raise RuntimeError("build failed")
        failed = [r["messageId"] for r in event["Records"] if self.fail and self.fail in r["body"]]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}


def in_flight(sqs, resources: Resources) -> tuple[int, int]:
    """(visible, in flight) message counts of the queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=resources.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def drain(source: SqsEventSource) -> list[BatchOutcome]:
    outcomes = []
    while batch := source.next_batch():
        outcomes.append(source.process(batch))
    return outcomes


def event_source(aws, handler) -> SqsEventSource:
    embedded, resources = aws
    return SqsEventSource(
        embedded.client("sqs"), resources.queue_url, resources.queue_arn, LambdaFunction("rebuild", handler), print
    )


def test_uploads_reach_the_handler_as_one_lambda_sqs_batch_and_are_deleted(aws):
    embedded, resources = aws
    sqs, s3 = embedded.client("sqs"), embedded.client("s3")
    # GIVEN twelve uploads in a row
    for i in range(12):
        s3.put_object(Bucket=resources.content_bucket, Key=f"batch/{i:02}.md", Body=b"x")
    handler = RecordingHandler()
    # WHEN the event source polls
    outcomes = drain(event_source(aws, handler))
    # THEN they arrive together (several ReceiveMessage calls, one invocation) in Lambda's SQS shape
    assert len(handler.events) == 1
    records = handler.events[0]["Records"]
    assert sorted(k for o in outcomes for k in o.keys) == [f"batch/{i:02}.md" for i in range(12)]
    record = records[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == resources.queue_arn
    assert record["awsRegion"] == "eu-west-3"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"messageId", "receiptHandle", "md5OfBody", "messageAttributes"} <= record.keys()
    s3_event = json.loads(record["body"])["Records"][0]
    assert s3_event["eventName"] == "ObjectCreated:Put"
    assert s3_event["s3"]["bucket"]["name"] == resources.content_bucket
    # and, all succeeded, the queue is empty
    assert in_flight(sqs, resources) == (0, 0)


def test_deletes_are_notified_too(aws):
    embedded, resources = aws
    s3 = embedded.client("s3")
    s3.put_object(Bucket=resources.content_bucket, Key="gone.md", Body=b"x")
    drain(event_source(aws, RecordingHandler()))
    s3.delete_object(Bucket=resources.content_bucket, Key="gone.md")
    handler = RecordingHandler()
    drain(event_source(aws, handler))
    names = [json.loads(r["body"])["Records"][0]["eventName"] for e in handler.events for r in e["Records"]]
    assert names == ["ObjectRemoved:Delete"]


def test_reported_failures_stay_on_the_queue_for_redelivery(aws):
    embedded, resources = aws
    sqs, s3 = embedded.client("sqs"), embedded.client("s3")
    s3.put_object(Bucket=resources.content_bucket, Key="fine.md", Body=b"x")
    s3.put_object(Bucket=resources.content_bucket, Key="poison.md", Body=b"x")
    outcomes = drain(event_source(aws, RecordingHandler(fail="poison.md")))
    assert [o.keys for o in outcomes] == [["fine.md", "poison.md"]]
    assert len(outcomes[0].failed_ids) == 1
    # the failed message is in flight (visible again after the visibility timeout), the other deleted
    assert in_flight(sqs, resources) == (0, 1)


def test_a_handler_that_raises_fails_the_whole_batch(aws):
    embedded, resources = aws
    sqs, s3 = embedded.client("sqs"), embedded.client("s3")
    s3.put_object(Bucket=resources.content_bucket, Key="one.md", Body=b"x")
    s3.put_object(Bucket=resources.content_bucket, Key="two.md", Body=b"x")
    outcomes = drain(event_source(aws, RecordingHandler(fail="all")))
    assert len(outcomes) == 1
    assert "RuntimeError: build failed" in (outcomes[0].error or "")
    assert len(outcomes[0].failed_ids) == 2
    assert in_flight(sqs, resources) == (0, 2)
