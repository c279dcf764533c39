"""Events the rebuild function receives, built from the recorded examples in tests/events/rebuild."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

EVENTS = Path(__file__).parent / "events" / "rebuild"
CONTENT_BUCKET = "talksearch-content"


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def s3_test_event() -> str:
    """The body S3 sends to SQS when notifications are configured."""
    return (EVENTS / "s3_test_event.json").read_text(encoding="utf-8")


def s3_notification(key: str, bucket: str = CONTENT_BUCKET, event_name: str = "ObjectCreated:Put") -> str:
    """The body S3 sends to SQS when `key` changes."""
    body = load_event("s3_object_created.json")
    record = body["Records"][0]
    record["eventName"] = event_name
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    record["s3"]["object"]["key"] = key
    return json.dumps(body)


def sqs_event(*bodies: str) -> dict:
    """An SQS batch, as Lambda's event source mapping delivers it, with one message per body."""
    envelope = load_event("sqs_envelope.json")
    template = envelope["Records"][0]
    envelope["Records"] = [{**copy.deepcopy(template), "messageId": str(uuid.uuid4()), "body": b} for b in bodies]
    return envelope
