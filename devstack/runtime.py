"""How the local stack invokes a Lambda handler: one event at a time, with a context object, logs read back."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_seconds: int = 900
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "devstack"
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-3:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def load_handler(dotted: str, *, fresh: bool = False) -> Handler:
    """``functions.search.app.lambda_handler`` → the function, imported as Lambda's runtime does.

    ``fresh`` runs its module again when this process has imported it before, as a cold start would:
    for a handler that reads its environment at import.
    """
    module_name, _, name = dotted.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(importlib.reload(module) if fresh else module, name)


#: The function whose invocation this thread is running (the log group its records would go to in Lambda).
_invoking = threading.local()


class LambdaFunction:
    """A handler invoked one event at a time, like a single warm Lambda execution environment.

    Lambda never runs two invocations in one environment at once, and handlers rely on it
    (Powertools' resolver keeps the current event on the app object), so concurrent HTTP
    requests queue here instead of sharing the handler's state.
    """

    def __init__(self, name: str, handler: Handler, timeout_seconds: int = 900) -> None:
        self.name = name
        self.handler = handler
        self.timeout_seconds = timeout_seconds
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            _invoking.name = self.name
            try:
                return self.handler(event, LambdaContext(self.name, timeout_seconds=self.timeout_seconds))
            finally:
                _invoking.name = None


def _describe_skip(entry: Any) -> str:
    if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
        entry = dataclasses.asdict(entry)
    if isinstance(entry, dict):
        return ": ".join(str(v) for v in entry.values())
    if isinstance(entry, list | tuple):
        return ": ".join(str(v) for v in entry)
    return str(entry)


def _powertools_handlers() -> list[logging.Handler]:
    """The stdout handlers of every Powertools Logger in this process, whatever its service name."""
    loggers = list(logging.Logger.manager.loggerDict.values())
    found = [getattr(logger, "powertools_handler", None) for logger in loggers]
    return [handler for handler in found if isinstance(handler, logging.Handler)]


class FunctionLogs(logging.Handler):
    """Reads what a function logs, as CloudWatch would show it, to report problems on the console.

    Problems are what a build report lists as skipped or warned about, and every warning or error
    logged. It listens at the root logger (Powertools loggers propagate), and keeps only records
    logged by the thread inside ``collect()``, so concurrent requests to another function never mix in.
    """

    def __init__(self, console_level: int = logging.NOTSET) -> None:
        super().__init__(logging.INFO)
        self._local = threading.local()
        # The functions' own log output (JSON lines on stdout) shows only from this level: one line
        # per search request would bury the stack's URLs and rebuild lines.
        self._console_filter = lambda record: record.levelno >= console_level
        self._console_handlers = _powertools_handlers()
        for handler in self._console_handlers:
            handler.addFilter(self._console_filter)
        logging.getLogger().addHandler(self)

    @contextlib.contextmanager
    def collect(self) -> Iterator[list[str]]:
        problems: list[str] = []
        self._local.problems = problems
        try:
            yield problems
        finally:
            self._local.problems = None

    def emit(self, record: logging.LogRecord) -> None:
        problems = getattr(self._local, "problems", None)
        if problems is None:
            return
        report = getattr(record, "report", None)
        if isinstance(report, dict):
            problems.extend(_describe_skip(s) for s in report.get("skipped") or [])
            problems.extend(str(w) for w in report.get("warnings") or [])
        if record.levelno >= logging.WARNING:
            problems.append(record.getMessage())

    def close(self) -> None:
        logging.getLogger().removeHandler(self)
        for handler in self._console_handlers:
            handler.removeFilter(self._console_filter)
        super().close()


def _powertools_formatter(logger_name: str) -> logging.Formatter | None:
    """The formatter of the Powertools logger that logged under this name (or a parent of it)."""
    while logger_name:
        handler = getattr(logging.Logger.manager.loggerDict.get(logger_name), "powertools_handler", None)
        if isinstance(handler, logging.Handler) and handler.formatter:
            return handler.formatter
        logger_name = logger_name.rpartition(".")[0]
    return None


class LogArchive(logging.Handler):
    """Keeps what each function logs as its CloudWatch log group would, for ``make stats`` to read.

    Every record logged during a function's invocation is written as the JSON line Powertools prints (the
    CloudWatch message) to ``<folder>/<function name>/<UTC day>.jsonl``. Day files older than
    ``retention_days`` are deleted when the archive opens, as the template's LogRetentionDays does.
    """

    def __init__(self, folder: Path, retention_days: int) -> None:
        super().__init__(logging.INFO)
        self.folder = Path(folder)
        oldest = (datetime.now(UTC) - timedelta(days=retention_days)).strftime("%Y-%m-%d")
        for day_file in self.folder.glob("*/*.jsonl"):
            if day_file.stem < oldest:
                day_file.unlink()
        logging.getLogger().addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        function = getattr(_invoking, "name", None)
        formatter = _powertools_formatter(record.name)
        if function is None or formatter is None:
            return
        line = formatter.format(record)
        day = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d")
        # handle() holds the handler's lock; a file opened per record has every line on disk at once, for
        # `make stats` while the stack runs
        (self.folder / function).mkdir(parents=True, exist_ok=True)
        with open(self.folder / function / f"{day}.jsonl", "a", encoding="utf-8") as file:
            file.write(line + "\n")

    def close(self) -> None:
        logging.getLogger().removeHandler(self)
        super().close()
