"""The embedded AWS: moto's server on loopback, with the buckets and queue the SAM template creates.

The product's own code (talksearch.store, the functions) reaches it through the standard
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` variables, exactly as it reaches real AWS. This
module plays CloudFormation's part: it creates the resources, nothing more.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talksearch.contracts import ENV_REFRESH_SECONDS, Locations

REGION = "eu-west-3"
CONTENT_BUCKET = "talksearch-content"
INDEX_BUCKET = "talksearch-index"
QUEUE_NAME = "talksearch-index-queue"
DLQ_NAME = "talksearch-index-dlq"
#: Short enough that a failed local build is retried within the minute; the template uses function timeout × 6.
VISIBILITY_TIMEOUT_SECONDS = 30
MAX_RECEIVE_COUNT = 5  # as template.yaml
#: The buckets, with the template's default prefixes.
LOCATIONS = Locations(content_bucket=CONTENT_BUCKET, index_bucket=INDEX_BUCKET)


@dataclass(frozen=True)
class Resources:
    endpoint: str
    locations: Locations
    queue_url: str
    queue_arn: str
    dlq_url: str

    @property
    def content_bucket(self) -> str:
        return self.locations.content_bucket

    @property
    def index_bucket(self) -> str:
        return self.locations.index_bucket


def function_environment(endpoint: str, refresh_seconds: float) -> dict[str, str]:
    """What the functions' environment holds in the template, pointed at the embedded endpoint."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "devstack",
        "AWS_SECRET_ACCESS_KEY": "devstack",
        "AWS_SESSION_TOKEN": "devstack",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        **LOCATIONS.to_env(),
        ENV_REFRESH_SECONDS: str(refresh_seconds),
        "POWERTOOLS_SERVICE_NAME": "talksearch",
        "POWERTOOLS_METRICS_NAMESPACE": "talksearch-dev",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


@contextmanager
def environment(values: dict[str, str], keep: tuple[str, ...] = ()) -> Iterator[None]:
    """Set variables for the life of the stack and restore the previous ones after.

    Names in ``keep`` are left alone when the user already set them (log level, for example).
    """
    previous = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if not (name in keep and name in os.environ):
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class EmbeddedAws:
    """moto's server on 127.0.0.1 and a free port, in a process of its own.

    Its own process because moto keeps every object version it was sent (each 21.7k-talk artifact is
    48 MB): in the stack's process that memory was indistinguishable from the functions' own, and made
    ``make soak`` report the stand-in's growth as the product's (docs/reliability.md, "Memory across
    index swaps"). The child stops when its stdin closes, so it never outlives the stack, even killed.
    """

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from devstack.aws import serve_until_stdin_closes; serve_until_stdin_closes()"],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._process.stdout.readline().split()  # "<host> <port>", once it listens
        if len(ready) != 2:
            self._process.kill()
            self._process.wait()
            raise RuntimeError(f"the embedded S3 did not start (exit code {self._process.returncode})")
        self.endpoint = f"http://{ready[0]}:{ready[1]}"

    @property
    def pid(self) -> int:
        """The embedded AWS's process, whose memory is the stand-in's, not the functions'."""
        return self._process.pid

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="devstack",
            aws_secret_access_key="devstack",
        )

    def create_resources(self) -> Resources:
        """Buckets, queue with dead-letter queue, and content notifications, as in template.yaml."""
        s3, sqs = self.client("s3"), self.client("sqs")
        location = {"LocationConstraint": REGION}
        for bucket in (CONTENT_BUCKET, INDEX_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)
        dlq_url = sqs.create_queue(QueueName=DLQ_NAME)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_url = sqs.create_queue(
            QueueName=QUEUE_NAME,
            Attributes={
                "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
            },
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # The content bucket stays unversioned here (the template versions it): moto sends no
        # notification for deletes on versioned buckets, and the rebuild treats events as
        # triggers only, so versioning changes nothing the functions see but the event name.
        s3.put_bucket_notification_configuration(
            Bucket=CONTENT_BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]},
                ]
            },
        )
        return Resources(
            endpoint=self.endpoint,
            locations=LOCATIONS,
            queue_url=queue_url,
            queue_arn=queue_arn,
            dlq_url=dlq_url,
        )

    def stop(self) -> None:
        """Forget every bucket and queue, then stop serving: the child exits when its stdin closes."""
        import urllib.request

        reset = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with contextlib.suppress(OSError):  # the server is going away either way
            urllib.request.urlopen(reset, timeout=5).close()
        self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()


def serve_until_stdin_closes() -> None:
    """The child ``EmbeddedAws`` starts: moto's server, its address on stdout, until the parent closes stdin."""
    import signal

    from moto.server import ThreadedMotoServer

    # Ctrl-C in a terminal reaches the whole process group: the stack stops, then closes our stdin
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per S3 call on the console
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(host, port, flush=True)
    sys.stdin.read()  # returns at EOF: the stack stopped, or died
    server.stop()
