"""`make stats`: tallies from make dev's log files and from CloudWatch Logs Insights, and the report they make.

The local stack end to end is in test_stats_stack.py; here the log records are written as the search function
writes them, Logs Insights answers come from botocore's Stubber (moto runs no `stats` command), and moto plays
the deployed stack and its log group.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from stats import StatsError, Tallies, parse_since, render, report
from stats.cloudwatch import QUERIES, read_cloudwatch, search_log_group
from stats.local import read_local

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
REGION = "eu-west-3"


def powertools_line(at: datetime, **fields) -> str:
    """A record as the search function's Powertools logger prints it."""
    stamp = at.strftime("%Y-%m-%d %H:%M:%S,") + f"{at.microsecond // 1000:03d}+0000"
    return json.dumps(
        {"level": "INFO", "message": fields.get("visit"), "timestamp": stamp, "service": "talksearch", **fields}
    )


def search(at: datetime, query: str, total: int, page: int = 1, filtered: int = 0) -> str:
    filters = {"year": [2019]} if filtered else {}
    return powertools_line(
        at, visit="search", query=query, total=total, page=page, sort="relevance", filters=filters, filtered=filtered
    )


def opened(at: datetime, query: str, talk: str = "some/talk") -> str:
    return powertools_line(at, visit="open", query=query, talk=talk)


@pytest.fixture
def logs(tmp_path) -> Path:
    """Two days of a search function's logs, and one older than the window."""
    folder = tmp_path / "talksearch-search"
    folder.mkdir()
    hour = timedelta(hours=1)
    days = {
        "2026-11-20": [search(NOW - timedelta(days=12), "too old", 3)],
        "2026-12-01": [
            search(NOW - 20 * hour, "kubernetes", 4),
            search(NOW - 20 * hour, "kubernetes", 4, page=2),  # the next page is not another search
            opened(NOW - 20 * hour, "kubernetes"),
            search(NOW - 19 * hour, "rust", 0),
            search(NOW - 19 * hour, "python", 0, filtered=1),  # filters left nothing: not a zero-hit query
            '{"level":"INFO","message":"index loaded","timestamp":"2026-12-01 16:00:00,000+0000"}',
            "not json at all",
        ],
        "2026-12-02": [
            search(NOW - hour, "kubernetes", 4),
            search(NOW - hour, "rust", 0),
            search(NOW - hour, "rust", 0),
            search(NOW - hour, "python", 9),
            search(NOW - hour, "", 16),  # the listing without a query
            opened(NOW - hour, "", "other/talk"),
            search(NOW + hour, "later than until", 1),
        ],
    }
    for day, lines in days.items():
        (folder / f"{day}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_local_logs_tally_first_pages_zero_hits_and_opens_inside_the_window(logs):
    tallies = read_local(logs, NOW - timedelta(days=7), NOW)
    assert tallies.searches == {"kubernetes": 2, "rust": 3, "python": 2, "": 1}
    assert tallies.zero_hits == {"rust": 3}
    assert tallies.with_hits == {"kubernetes": 2, "python": 1, "": 1}
    assert tallies.opens == {"kubernetes": 1, "": 1}
    assert read_local(logs, NOW - timedelta(hours=2), NOW).searches == {"kubernetes": 1, "rust": 2, "python": 1, "": 1}


def test_the_report_ranks_each_list_and_leaves_out_the_listing_without_a_query(logs):
    summary = report(
        read_local(logs, NOW - timedelta(days=7), NOW), source="test", since=NOW - timedelta(days=7), until=NOW
    )
    assert (summary["searches"], summary["distinct_queries"], summary["opens"]) == (7, 3, 2)
    assert summary["top"] == [
        {"query": "rust", "searches": 3, "opens": 0},
        {"query": "kubernetes", "searches": 2, "opens": 1},
        {"query": "python", "searches": 2, "opens": 0},
    ]
    assert summary["zero_hits"] == [{"query": "rust", "searches": 3}]
    assert summary["unopened"] == [{"query": "python", "searches": 1}]  # rust found nothing: not "unopened"
    assert report(Tallies(searches={"a": 1, "b": 2}), source="t", since=NOW, until=NOW, top=1)["top"][0]["query"] == "b"


def test_the_text_report_shows_each_list_with_its_counts(logs):
    since = NOW - timedelta(days=7)
    text = render(report(read_local(logs, since, NOW), source="make dev's logs", since=since, until=NOW))
    assert "2026-11-25 12:00 to 2026-12-02 12:00 UTC (7 days)" in text
    assert "7 searches with a query (3 different), 2 results opened" in text
    lines = text.splitlines()
    top = lines.index(next(line for line in lines if line.startswith("Top queries")))
    assert lines[top + 1].split() == ["rust", "3", "0"] and lines[top + 2].split() == ["kubernetes", "2", "1"]
    zero = lines.index(next(line for line in lines if line.startswith("Zero-hit queries")))
    assert lines[zero + 1].split() == ["rust", "3"]
    unopened = lines.index(next(line for line in lines if line.startswith("Queries whose results nobody opened")))
    assert lines[unopened + 1].split() == ["python", "1"]  # its filtered search found nothing: not a hit unopened


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(days=14)),
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
        ("2026-11-30T08:00+01:00", datetime(2026, 11, 30, 7, tzinfo=UTC)),
    ],
)
def test_since_takes_a_duration_or_a_date(text, expected):
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "7 days", "-3d", "2027-01-01", ""])
def test_since_refuses_what_it_cannot_read_or_the_future(text):
    with pytest.raises(StatsError):
        parse_since(text, NOW)


def test_command_line_prints_json_and_says_when_there_are_no_logs(logs, tmp_path):
    def stats(logs_dir: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "stats", "--logs-dir", str(logs_dir), "--since", "30d", "--json"]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)

    done = stats(logs.parent)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["source"] == f"make dev's logs in {logs}"
    empty = stats(tmp_path / "none")
    assert (empty.returncode, empty.stdout) == (1, "")
    assert empty.stderr.startswith("stats: no logs in ") and "make dev" in empty.stderr


def test_a_reader_that_stops_early_gets_no_traceback(logs):
    # GIVEN `python -m stats | head -1`: the pipe is closed before stats writes anything
    command = [sys.executable, "-m", "stats", "--logs-dir", str(logs.parent), "--since", "30d"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    # THEN it stops quietly, as command-line tools do when their reader has gone
    _, stderr = process.communicate(timeout=60)
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr, stderr.decode()
    assert process.returncode == 0


def test_make_stats_passes_since_the_stack_and_options_on():
    dry = subprocess.run(
        ["make", "-n", "stats", "SINCE=2d", "STACK=talks", "REGION=eu-west-1", "STATS_ARGS=--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    (command,) = [line for line in dry.stdout.splitlines() if "-m stats" in line]
    assert command.split()[1:4] == ["-m", "stats", "--since"]
    assert {'"2d"', '"talks"', '"eu-west-1"', "--json"} <= set(command.split())


# --- CloudWatch --------------------------------------------------------------------------------------------------
def insights_rows(counts: dict[str, int]) -> list:
    """Rows as Insights gives them; the empty query's group has no query field at all."""
    return [
        [{"field": "query", "value": q}, {"field": "n", "value": str(n)}] if q else [{"field": "n", "value": str(n)}]
        for q, n in counts.items()
    ]


def stubbed_logs(answers: dict[str, list]) -> tuple:
    """A Logs client answering the four queries in turn: each is Running once, then Complete with its rows."""
    client = boto3.client("logs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    since, until = NOW - timedelta(days=7), NOW
    for name, query in QUERIES.items():
        expected = {
            "logGroupName": "search-logs",
            "startTime": int(since.timestamp()),
            "endTime": int(until.timestamp()),
            "queryString": query,
        }
        stubber.add_response("start_query", {"queryId": f"id-{name}"}, expected)
    for name in QUERIES:
        stubber.add_response("get_query_results", {"status": "Running", "results": []}, {"queryId": f"id-{name}"})
        stubber.add_response(
            "get_query_results", {"status": "Complete", "results": answers[name]}, {"queryId": f"id-{name}"}
        )
    return client, stubber, since, until


def test_insights_rows_become_the_same_tallies_as_local_logs():
    client, stubber, since, until = stubbed_logs(
        {
            "searches": insights_rows({"rust": 3, "kubernetes": 2, "": 1}),
            "zero_hits": insights_rows({"rust": 3}),
            "with_hits": insights_rows({"kubernetes": 2, "": 1}),
            "opens": insights_rows({"kubernetes": 1}),
        }
    )
    with stubber:
        tallies = read_cloudwatch("search-logs", REGION, since, until, client=client, sleep=lambda _: None)
        stubber.assert_no_pending_responses()
    assert tallies == Tallies(
        searches={"rust": 3, "kubernetes": 2, "": 1},
        zero_hits={"rust": 3},
        with_hits={"kubernetes": 2, "": 1},
        opens={"kubernetes": 1},
    )
    summary = report(tallies, source="t", since=since, until=until)
    assert [row["query"] for row in summary["top"]] == ["rust", "kubernetes"] and summary["unopened"] == []


def test_insights_queries_count_first_pages_by_query_and_say_so_when_rows_run_out():
    assert 'visit = "search" and page = 1 and total = 0 and filtered = 0' in QUERIES["zero_hits"]
    assert all("| stats count(*) as n by query |" in q for q in QUERIES.values())
    client, stubber, since, until = stubbed_logs(
        {
            "searches": insights_rows({f"q{n}": 1 for n in range(10_000)}),
            "zero_hits": [],
            "with_hits": [],
            "opens": [],
        }
    )
    with stubber:
        assert read_cloudwatch("search-logs", REGION, since, until, client=client, sleep=lambda _: None).truncated


def test_a_failed_insights_query_is_an_error_that_says_so():
    client = boto3.client("logs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for name in QUERIES:
        stubber.add_response("start_query", {"queryId": f"id-{name}"})
    stubber.add_response("get_query_results", {"status": "Failed", "results": []})
    with stubber, pytest.raises(StatsError, match="ended Failed"):
        read_cloudwatch("search-logs", REGION, NOW - timedelta(days=1), NOW, client=client, sleep=lambda _: None)


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_the_stack_names_the_log_group_the_four_queries_run_on(aws):
    stack = f"talksearch-{uuid.uuid4().hex[:6]}"
    template = {
        "Resources": {"SearchLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}}},
        "Outputs": {"SearchLogGroupName": {"Value": {"Ref": "SearchLogGroup"}}},
    }
    boto3.client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
    group = search_log_group(stack, REGION)
    logs = boto3.client("logs")
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == [group]
    read_cloudwatch(group, REGION, NOW - timedelta(days=7), NOW, sleep=lambda _: None)
    assert sorted(q["queryString"] for q in logs.describe_queries(logGroupName=group)["queries"]) == sorted(
        QUERIES.values()
    )


def test_a_stack_without_the_output_or_a_missing_log_group_is_a_clear_error(aws):
    boto3.client("cloudformation").create_stack(
        StackName="old-stack", TemplateBody=json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    )
    with pytest.raises(StatsError, match="has no SearchLogGroupName output"):
        search_log_group("old-stack", REGION)
    with pytest.raises(StatsError, match="cannot read stack no-such-stack"):
        search_log_group("no-such-stack", REGION)
    with pytest.raises(StatsError, match="no log group gone in eu-west-3"):
        read_cloudwatch("gone", REGION, NOW - timedelta(days=7), NOW, sleep=lambda _: None)
