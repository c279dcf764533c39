"""The tallies from a deployed stack: CloudWatch Logs Insights queries on the search function's log group.

Insights counts by query itself (``stats count(*) by query``), so what comes back is one row per distinct
query whatever the traffic; four queries run at once, each over the same window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from stats import StatsError, Tallies
from talksearch.contracts import VISIT_FIELD, VISIT_OPEN, VISIT_SEARCH

#: The stack output naming the search function's log group (template.yaml).
LOG_GROUP_OUTPUT = "SearchLogGroupName"
#: Logs Insights returns at most this many rows per query.
MAX_ROWS = 10_000
QUERY_TIMEOUT_SECONDS = 600
_FINISHED_BADLY = ("Failed", "Cancelled", "Timeout", "Unknown")


def _by_query(condition: str) -> str:
    return f"filter {condition} | stats count(*) as n by query | sort n desc | limit {MAX_ROWS}"


_FIRST_PAGES = f'{VISIT_FIELD} = "{VISIT_SEARCH}" and page = 1'
#: Tallies field -> its Logs Insights query (the same counts ``stats.local`` makes).
QUERIES = {
    "searches": _by_query(_FIRST_PAGES),
    "zero_hits": _by_query(f"{_FIRST_PAGES} and total = 0 and filtered = 0"),
    "with_hits": _by_query(f"{_FIRST_PAGES} and total > 0"),
    "opens": _by_query(f'{VISIT_FIELD} = "{VISIT_OPEN}"'),
}


def _aws_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def search_log_group(stack: str, region: str) -> str:
    """The search function's log group, from the stack's SearchLogGroupName output."""
    from deploy import stack_outputs

    try:
        outputs = stack_outputs(stack, region)
    except _aws_errors() as error:
        raise StatsError(f"cannot read stack {stack} in {region}: {error}") from None
    if LOG_GROUP_OUTPUT not in outputs:
        raise StatsError(f"stack {stack} has no {LOG_GROUP_OUTPUT} output: deploy this version of template.yaml")
    return outputs[LOG_GROUP_OUTPUT]


def read_cloudwatch(
    log_group: str,
    region: str,
    since: datetime,
    until: datetime,
    *,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Tallies:
    """Run the four queries over [since, until] and tally their rows."""
    if client is None:
        import boto3

        client = boto3.client("logs", region_name=region)
    window = {"logGroupName": log_group, "startTime": int(since.timestamp()), "endTime": int(until.timestamp())}
    tallies = Tallies()
    try:
        started = {name: client.start_query(**window, queryString=q)["queryId"] for name, q in QUERIES.items()}
        for name, query_id in started.items():
            rows = _results(client, query_id, sleep)
            counter = getattr(tallies, name)
            for row in rows:
                fields = {cell["field"]: cell["value"] for cell in row}
                counter[fields.get("query", "")] += int(fields.get("n", 0))
            tallies.truncated |= len(rows) >= MAX_ROWS
    except _aws_errors() as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            raise StatsError(f"no log group {log_group} in {region}") from None
        raise StatsError(f"CloudWatch Logs Insights on {log_group}: {error}") from None
    return tallies


def _results(client: Any, query_id: str, sleep: Callable[[float], None]) -> list:
    deadline = time.monotonic() + QUERY_TIMEOUT_SECONDS
    while True:
        answer = client.get_query_results(queryId=query_id)
        if answer["status"] == "Complete":
            return answer["results"]
        if answer["status"] in _FINISHED_BADLY:
            raise StatsError(f"the Logs Insights query {query_id} ended {answer['status']}")
        if time.monotonic() > deadline:
            raise StatsError(f"the Logs Insights query {query_id} took over {QUERY_TIMEOUT_SECONDS} s")
        sleep(1.0)
