"""devstack's LogArchive: each function's log records kept as its CloudWatch log group would keep them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from devstack.runtime import LambdaFunction, LogArchive


def test_records_of_each_invocation_go_to_its_functions_day_file_as_powertools_prints_them(tmp_path):
    logger = Logger(service="talksearch-logs-test")

    def handler(event, context):
        logger.info("hello", extra={"visit": "search", "query": event["q"]})
        return {}

    archive = LogArchive(tmp_path, retention_days=30)
    try:
        LambdaFunction("fn-a", handler).invoke({"q": "python"})
        LambdaFunction("fn-b", handler).invoke({"q": "rust"})
        logger.info("outside any invocation")  # an import-time line: no function's log group
    finally:
        archive.close()
    LambdaFunction("fn-a", handler).invoke({"q": "after close"})
    today = f"{datetime.now(UTC):%Y-%m-%d}.jsonl"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl")) == [
        f"fn-a/{today}",
        f"fn-b/{today}",
    ]
    (line,) = (tmp_path / "fn-a" / today).read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert (record["message"], record["query"], record["service"]) == ("hello", "python", "talksearch-logs-test")
    assert "timestamp" in record and "level" in record


def test_day_files_older_than_the_retention_are_deleted_when_the_archive_opens(tmp_path):
    folder = tmp_path / "fn"
    folder.mkdir()
    today = datetime.now(UTC)
    kept = [f"{today - timedelta(days=n):%Y-%m-%d}.jsonl" for n in (0, 29)]
    for name in [*kept, f"{today - timedelta(days=31):%Y-%m-%d}.jsonl", "2020-01-01.jsonl"]:
        (folder / name).write_text("{}\n", encoding="utf-8")
    LogArchive(tmp_path, retention_days=30).close()
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept)
