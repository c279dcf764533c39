"""The local stack, assembled: embedded AWS, content watcher, SQS poller, HTTP server, real handlers.

``start_stack`` is what ``python -m devstack`` runs and what tests call: it returns once
``/api/health`` answers 200, that is once the real rebuild path (upload → S3 notification →
SQS → rebuild handler → builder → manifest) has published an index and the real search
handler serves it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from devstack.apigw import RouteTable, routes_from_template
from devstack.aws import EmbeddedAws, Resources, environment, function_environment
from devstack.poller import BatchOutcome, SqsEventSource
from devstack.runtime import FunctionLogs, LambdaFunction, LogArchive, load_handler
from devstack.server import DevHTTPServer
from devstack.watcher import ContentWatcher
from talksearch.contracts import ENV_ALLOWED_ORIGINS
from talksearch.store import open_store

ROOT = Path(__file__).resolve().parent.parent
FRONTEND_DIR = ROOT / "frontend"
TEMPLATE = ROOT / "template.yaml"
SEARCH_HANDLER = "functions.search.app.lambda_handler"
REBUILD_HANDLER = "functions.rebuild.app.lambda_handler"
SEARCH_FUNCTION = "talksearch-search"
REBUILD_FUNCTION = "talksearch-rebuild"
#: Where ``python -m devstack`` keeps each function's log records, ``<function>/<UTC day>.jsonl``, for ``make stats``.
LOGS_DIR = ROOT / ".dev" / "logs"
#: Days those records are kept, as template.yaml's LogRetentionDays default.
LOG_RETENTION_DAYS = 30
#: Low, so an edit shows up within seconds; the template's default is longer.
MANIFEST_REFRESH_SECONDS = 1
#: The first build of the 21,713-talk corpus takes about two minutes on a busy 2-core machine.
READY_TIMEOUT_SECONDS = 600

_one_stack = threading.Lock()


class StackError(RuntimeError):
    """The stack could not start; the message says why in one line."""


@dataclass
class Rebuild:
    """One invocation of the rebuild function, as the console reports it."""

    keys: list[str]  # content keys the batch's S3 events named
    duration_seconds: float
    talks: int | None  # talk count of the published index afterwards (None: nothing published yet)
    index_version: str | None
    published: bool  # a new index version was published by this rebuild
    failed: bool
    problems: list[str] = field(default_factory=list)  # skipped files and warnings the function logged

    def describe(self) -> str:
        if self.failed:
            head = f"rebuild FAILED after {self.duration_seconds:.2f} s; SQS will redeliver its messages"
        elif self.talks is None:
            head = f"rebuild: nothing to publish yet ({self.duration_seconds:.2f} s)"
        elif self.published:
            head = f"rebuild: {self.talks} talks in {self.duration_seconds:.2f} s, index {self.index_version}"
        else:
            head = (
                f"rebuild: index unchanged ({self.talks} talks, {self.index_version}) in {self.duration_seconds:.2f} s"
            )
        return "\n".join([head, *(f"  problem: {p}" for p in self.problems)])


class Stack:
    """A running local stack. Use as a context manager, or call ``stop()``."""

    def __init__(self, resources: Resources, server: DevHTTPServer, exits: ExitStack) -> None:
        self.resources = resources
        self.url = f"http://127.0.0.1:{server.port}/"
        self.api_url = f"http://127.0.0.1:{server.port}/api"
        self.s3_endpoint = resources.endpoint
        self.content_bucket = resources.content_bucket
        self.index_bucket = resources.index_bucket
        self.queue_url = resources.queue_url
        self.rebuilds: list[Rebuild] = []
        self._changed = threading.Condition()
        self._exits = exits

    def record(self, rebuild: Rebuild) -> None:
        with self._changed:
            self.rebuilds.append(rebuild)
            self._changed.notify_all()

    def wait_for_rebuild(self, key: str | None = None, since: int | None = None, timeout: float = 60) -> Rebuild:
        """The first rebuild completed after ``since`` (default: now) whose trigger named ``key``, if given.

        Take ``since = len(stack.rebuilds)`` before changing content, so a quick rebuild is not missed.
        """
        start = len(self.rebuilds) if since is None else since
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for rebuild in self.rebuilds[start:]:
                    if key is None or key in rebuild.keys:
                        return rebuild
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no rebuild{f' for {key}' if key else ''} within {timeout} s")
                self._changed.wait(remaining)

    def stop(self) -> None:
        self._exits.close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _forget_loaded_index() -> None:
    """Start the search function cold: in one process, a previous stack's index (and its S3 endpoint) stays loaded."""
    from functions.search import app

    app.set_index_holder(None)


def _health(api_url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except (TimeoutError, urllib.error.URLError, ConnectionError) as error:
        # a busy machine loading a large index can be slow to answer: keep polling
        return 0, f"no answer yet ({error})"


def _wait_until_healthy(stack: Stack, timeout: float | None, log: Callable[[str], None]) -> None:
    """Poll /api/health until 200; say so once if a rebuild finished without publishing anything."""
    deadline = None if timeout is None else time.monotonic() + timeout
    status, body, hinted = 0, "", False
    while deadline is None or time.monotonic() < deadline:
        status, body = _health(stack.api_url)
        if status == 200:
            return
        if not hinted and any(r.keys and r.talks is None and not r.failed for r in stack.rebuilds):
            log("no index published yet: the content folder has no talk the builder could read; waiting for some")
            hinted = True
        time.sleep(0.5)
    problems = [p for r in stack.rebuilds for p in r.problems]
    detail = f"; problems: {'; '.join(problems[:5])}" if problems else ""
    raise StackError(f"/api/health still answers {status} after {timeout:.0f} s ({body.strip()[:200]}){detail}")


def start_stack(
    content_dir: Path,
    port: int = 0,
    *,
    log: Callable[[str], None] = print,
    ready_timeout: float | None = READY_TIMEOUT_SECONDS,
    allowed_origins: str = "",
    logs_dir: Path | None = None,
) -> Stack:
    """Start everything, upload ``content_dir``, and return once ``/api/health`` answers 200.

    ``allowed_origins`` (comma-separated, the template's AllowedOrigins) may call the API from their pages.
    ``logs_dir``: keep the functions' log records there, as their CloudWatch log groups would (None: only the
    console shows them).

    Raises StackError (port in use, missing folder, no index published in time) after
    stopping whatever had started.
    """
    content_dir = Path(content_dir)
    if not content_dir.is_dir():
        raise StackError(f"content folder {content_dir} does not exist")
    exits = ExitStack()
    try:
        return _start(content_dir, port, log, ready_timeout, allowed_origins, logs_dir, exits)
    except BaseException:
        exits.close()
        raise


def _start(
    content_dir: Path,
    port: int,
    log: Callable[[str], None],
    ready_timeout: float | None,
    allowed_origins: str,
    logs_dir: Path | None,
    exits: ExitStack,
) -> Stack:
    server = _open_server(port, exits)  # first, so that a taken port fails at once, before anything else starts
    # The functions find the embedded AWS through os.environ, which one process has only one of.
    if not _one_stack.acquire(blocking=False):
        raise StackError("another local stack is already running in this process; stop it first")
    exits.callback(_one_stack.release)
    # The functions log at INFO (the rebuild's report is read from there); the console shows their
    # warnings and errors only, unless the user asked for a level.
    console_level = logging.NOTSET if "POWERTOOLS_LOG_LEVEL" in os.environ else logging.WARNING
    aws, resources = _embedded_aws(allowed_origins, exits)
    stack = Stack(resources, server, exits)
    rebuild = _load_functions(server, exits)
    logs = FunctionLogs(console_level)  # after the functions' loggers exist: it filters their console output
    exits.callback(logs.close)
    if logs_dir is not None:
        exits.callback(LogArchive(logs_dir, LOG_RETENTION_DAYS).close)
    _sync_and_watch(content_dir, resources, log, exits)
    poller = SqsEventSource(
        aws.client("sqs"), resources.queue_url, resources.queue_arn, rebuild, _RebuildRecorder(stack, log), logs
    )
    poller.start()
    exits.callback(poller.stop)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), name="devstack-http", daemon=True)
    thread.start()
    exits.callback(server.shutdown)
    _wait_until_healthy(stack, ready_timeout, log)
    return stack


def _open_server(port: int, exits: ExitStack) -> DevHTTPServer:
    """The page and /api on 127.0.0.1, routes as template.yaml declares them."""
    try:
        server = DevHTTPServer(port, FRONTEND_DIR, RouteTable(routes_from_template(TEMPLATE)))
    except OSError as exc:
        raise StackError(str(exc.strerror or exc)) from exc
    exits.callback(server.server_close)
    return server


def _embedded_aws(allowed_origins: str, exits: ExitStack) -> tuple[EmbeddedAws, Resources]:
    """moto's server with the template's buckets and queues, and the functions' environment: pointing at it, with
    the origins whose pages may call the API."""
    aws = EmbeddedAws()
    exits.callback(aws.stop)
    env = function_environment(aws.endpoint, MANIFEST_REFRESH_SECONDS)
    env["POWERTOOLS_LOG_LEVEL"] = "INFO"
    env[ENV_ALLOWED_ORIGINS] = allowed_origins
    exits.enter_context(environment(env, keep=("POWERTOOLS_LOG_LEVEL",)))
    return aws, aws.create_resources()


def _load_functions(server: DevHTTPServer, exits: ExitStack) -> LambdaFunction:
    """The search function behind the server's /api, and the rebuild function (returned, for the poller).

    Imported only now: handlers may read their environment at import, as on a Lambda cold start. The search
    function is imported afresh: it reads ALLOWED_ORIGINS at import, and a stack before this one in the
    process may have had others.
    """
    server.api = LambdaFunction(SEARCH_FUNCTION, load_handler(SEARCH_HANDLER, fresh=True), timeout_seconds=10)
    _forget_loaded_index()
    exits.callback(_forget_loaded_index)
    return LambdaFunction(REBUILD_FUNCTION, load_handler(REBUILD_HANDLER))


def _sync_and_watch(content_dir: Path, resources: Resources, log: Callable[[str], None], exits: ExitStack) -> None:
    """Upload the content folder to the content bucket, then keep the bucket equal to it."""
    watcher = ContentWatcher(content_dir, open_store(resources.locations.content), log)
    first = watcher.sync_once()
    log(f"uploaded {len(first.uploaded)} files from {content_dir} to {resources.locations.content}")
    if not first.uploaded:
        log(f"{content_dir} is empty: the API answers 503 until a talk summary is added there")
    watcher.start()
    exits.callback(watcher.stop)


class _RebuildRecorder:
    """After each invocation of the rebuild function: record it on the stack, and say so on the console."""

    def __init__(self, stack: Stack, log: Callable[[str], None]) -> None:
        self.stack = stack
        self.log = log
        self.index_store = open_store(stack.resources.locations.index)

    def __call__(self, outcome: BatchOutcome) -> None:
        manifest, _ = self.index_store.read_manifest()
        previous = next((r.index_version for r in reversed(self.stack.rebuilds) if r.index_version), None)
        problems = list(outcome.problems)
        if outcome.error:
            problems.append(outcome.error.strip().splitlines()[-1])
        result = Rebuild(
            keys=outcome.keys,
            duration_seconds=outcome.duration_seconds,
            talks=manifest.talk_count if manifest else None,
            index_version=manifest.index_version if manifest else None,
            published=bool(manifest and manifest.index_version != previous),
            failed=bool(outcome.failed_ids),
            problems=problems,
        )
        if outcome.keys or result.failed or result.problems:  # not for s3:TestEvent and the like
            self.log(result.describe())
        self.stack.record(result)  # after the console line, so whoever waits for the record can also read it
