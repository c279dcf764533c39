"""Lambda's SQS event source mapping, done locally: long-poll the queue, invoke the rebuild handler.

Batching as the mapping does it: up to ``BATCH_SIZE`` records from several ReceiveMessage
calls, gathered for at most ``BATCH_WINDOW_SECONDS`` after the first one. With
``ReportBatchItemFailures`` the messages the handler reports as failed stay on the queue (SQS
redelivers them after the visibility timeout and finally dead-letters them); the others are
deleted. A handler that raises fails the whole batch.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from devstack.runtime import FunctionLogs, LambdaFunction

BATCH_SIZE = 100  # as template.yaml's event source mapping
BATCH_WINDOW_SECONDS = 0.5  # the template waits 30 s to gather bulk uploads; locally, edits should show at once
RECEIVE_MAX = 10  # what one ReceiveMessage call may return
LONG_POLL_SECONDS = 1  # short, so that stopping the stack never waits long


@dataclass
class BatchOutcome:
    """What one invocation of the rebuild handler was given and what it answered."""

    message_ids: list[str]
    keys: list[str]  # object keys the batch's S3 events name (triggers only)
    failed_ids: list[str] = field(default_factory=list)
    error: str | None = None  # the traceback when the handler raised
    problems: list[str] = field(default_factory=list)  # what the function logged as skipped or wrong
    duration_seconds: float = 0.0


def object_keys(body: str) -> list[str]:
    """The object keys an S3 notification names, for reporting; [] for anything else."""
    try:
        records = json.loads(body).get("Records") or []
        return [unquote_plus(r["s3"]["object"]["key"]) for r in records]
    except (ValueError, AttributeError, KeyError, TypeError):
        return []


def to_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message in the shape Lambda's event source mapping gives the function."""
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes") or {},
        "messageAttributes": attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsEventSource:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        function: LambdaFunction,
        on_batch: Callable[[BatchOutcome], None],
        logs: FunctionLogs | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = queue_arn.split(":")[3]
        self.function = function
        self.on_batch = on_batch
        self.logs = logs
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def next_batch(self) -> list[dict[str, Any]]:
        """Wait (briefly) for a first message, then gather more until the batch is full or the window closes."""
        batch = self._receive(RECEIVE_MAX, LONG_POLL_SECONDS)
        if not batch:
            return []
        window_ends = time.monotonic() + BATCH_WINDOW_SECONDS
        while len(batch) < BATCH_SIZE and time.monotonic() < window_ends and not self._stop.is_set():
            more = self._receive(min(RECEIVE_MAX, BATCH_SIZE - len(batch)), 0)
            batch.extend(more)
            if not more:
                self._stop.wait(0.1)
        return batch

    def process(self, batch: list[dict[str, Any]]) -> BatchOutcome:
        """Invoke the function with one batch and settle its messages as the event source mapping does."""
        event = {"Records": [to_lambda_record(m, self.queue_arn, self.region) for m in batch]}
        ids = [m["MessageId"] for m in batch]
        outcome = BatchOutcome(message_ids=ids, keys=[k for m in batch for k in object_keys(m["Body"])])
        started = time.monotonic()
        try:
            with self.logs.collect() if self.logs else contextlib.nullcontext([]) as problems:
                outcome.problems = problems
                result = self.function.invoke(event)
        except Exception:
            outcome.error = traceback.format_exc()
            outcome.failed_ids = ids
        else:
            failures = result.get("batchItemFailures") if isinstance(result, dict) else None
            outcome.failed_ids = [f["itemIdentifier"] for f in failures or []]
        outcome.duration_seconds = time.monotonic() - started
        done = [m for m in batch if m["MessageId"] not in outcome.failed_ids]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return outcome

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="devstack-sqs-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self.next_batch()
                if batch:
                    self.on_batch(self.process(batch))
            except Exception:  # the embedded S3/SQS going away at shutdown, or a bug: keep polling
                if not self._stop.is_set():
                    traceback.print_exc()
                    self._stop.wait(1)

    def stop(self) -> None:
        """Stop polling; a build in progress is not waited for (Lambda would time it out, SQS redeliver)."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=LONG_POLL_SECONDS + 2)
