"""Rebuild the search index when content changes: SQS batches of S3 events, and a daily full rebuild.

S3 events are triggers only. The builder lists the content prefix and compares it with the
published manifest, so duplicate, out-of-order or lost events (S3 and moto both drop some)
still converge to the right index, and one incremental build per batch is enough however
many objects the batch reports. Test events and malformed messages carry nothing to rebuild:
they are logged and acknowledged. A failed build fails the batch's trigger messages, so SQS
redelivers them and finally moves them to the dead-letter queue; the published index stays
as it was (the builder only replaces the manifest after a complete upload).
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

import index_builder
from index_builder import BuildRefusedError, BuildReport
from talksearch.contracts import ENV_WARM_FUNCTION, WARM_UP_EVENT, Locations

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

#: S3 event names that change what the content prefix holds (the ones template.yaml subscribes to).
CONTENT_EVENTS = ("ObjectCreated:", "ObjectRemoved:")


class MalformedMessageError(ValueError):
    """An SQS message that is not an S3 event notification."""


def changed_content_keys(body: str, locations: Locations) -> list[str]:
    """The content keys an SQS message body reports as created or removed ([] for test and unrelated events).

    Raises MalformedMessageError when the body is not an S3 event notification at all.
    """
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise MalformedMessageError(f"body is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise MalformedMessageError("body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise MalformedMessageError("body has no S3 event Records")
    keys = []
    for record in records:
        try:
            name, bucket, raw_key = record["eventName"], record["s3"]["bucket"]["name"], record["s3"]["object"]["key"]
        except (KeyError, TypeError):
            name = bucket = raw_key = None
        if not all(isinstance(value, str) for value in (name, bucket, raw_key)):
            raise MalformedMessageError("an S3 event record lacks eventName, bucket name or object key")
        key = unquote_plus(raw_key)
        if name.startswith(CONTENT_EVENTS) and bucket == locations.content_bucket and locations.holds(key):
            keys.append(key)
    return keys


class BatchBuild:
    """Runs the incremental build at most once per SQS batch and gives every trigger message its outcome."""

    def __init__(self, locations: Locations) -> None:
        self.locations = locations
        self.report: BuildReport | None = None
        self.error: Exception | None = None

    def run(self) -> BuildReport:
        if self.report is None and self.error is None:
            try:
                self.report = checked_build(self.locations, full=False)
            except Exception as exc:
                self.error = exc
                logger.exception("incremental build failed; the published index is unchanged")
        if self.error is not None:
            raise RuntimeError(f"incremental build failed: {self.error}") from self.error
        return self.report

    def handle_record(self, record: SQSRecord) -> str:
        """Record handler for the BatchProcessor: what this message led to."""
        try:
            keys = changed_content_keys(record.body, self.locations)
        except MalformedMessageError as exc:
            logger.warning(
                "ignoring a message that is not an S3 event", extra={"reason": str(exc), "body": record.body[:500]}
            )
            return "malformed"
        if not keys:
            logger.info("message reports no content change", extra={"message_id": record.message_id})
            return "ignored"
        logger.info("content changed", extra={"keys": keys[:20], "key_count": len(keys)})
        self.run()
        return "built"


def checked_build(locations: Locations, *, full: bool) -> BuildReport:
    """Build and publish; a build the builder refused (empty result, most talks lost) raises like a failure,
    so its messages are retried and end in the dead-letter queue where someone will see them."""
    report = index_builder.build_and_publish(locations.content, locations.index, full=full)
    if report.status == "refused":
        logger.error("build refused; the published index is unchanged", extra={"report": report.to_dict()})
        raise BuildRefusedError(report.message)
    logger.info(f"{report.mode} build {report.status}", extra={"report": report.to_dict()})
    if report.published:
        warm_search_function()
    return report


def warm_search_function() -> None:
    """Ask the search function named by WARM_SEARCH_FUNCTION (opt-in) to load the new index now, asynchronously,
    so its next visitor does not pay for the download. A failure only costs that visitor the wait: logged, no more."""
    function = os.environ.get(ENV_WARM_FUNCTION, "").strip()
    if not function:
        return
    import boto3  # lazily: only builders that warm the search function need a Lambda client

    try:
        boto3.client("lambda").invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(WARM_UP_EVENT))
    except Exception:
        logger.exception("could not ask the search function to load the new index", extra={"function": function})


def is_scheduled_event(event: dict[str, Any]) -> bool:
    """EventBridge schedules (the daily safety-net rebuild) send 'Scheduled Event' payloads."""
    return event.get("detail-type") == "Scheduled Event"


def full_rebuild() -> dict[str, Any]:
    """Rebuild everything from the listing; raises on failure so the invocation errors and alarms can see it."""
    return checked_build(Locations.from_env(), full=True).to_dict()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_scheduled_event(event):
        return full_rebuild()
    build = BatchBuild(Locations.from_env())
    return process_partial_response(
        event=event, record_handler=build.handle_record, processor=processor, context=context
    )
