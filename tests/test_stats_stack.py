"""`make stats` against the real local stack: searches and opens over HTTP, then the report's counts.

The stack keeps the search function's log records in a folder of its own (``logs_dir``), as ``make dev`` does in
.dev/logs; ``python -m stats`` reads them while the stack still runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from devstack import start_stack

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    with start_stack(ROOT / "content" / "sample", port=0, log=lambda _: None, logs_dir=logs) as running:
        running.logs_dir = logs
        yield running


def get(stack, path: str, **params) -> tuple[int, dict | None]:
    url = f"{stack.api_url}{path}?{urllib.parse.urlencode(params, doseq=True)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            status, data = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, data = error.code, error.read()
    return status, json.loads(data) if data else None


def stats(stack, *options: str) -> dict:
    command = [sys.executable, "-m", "stats", "--logs-dir", str(stack.logs_dir), "--json", *options]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_searches_and_opens_on_the_stack_are_what_make_stats_counts(stack):
    for _ in range(3):
        status, body = get(stack, "/search", q="Python")
        assert status == 200 and body["total"] > 1
    python_talk = body["hits"][0]["id"]
    assert get(stack, "/search", q="python", page=2)[0] == 200  # the next page: not another search
    assert get(stack, "/search", q="python", event="no such event")[1]["total"] == 0  # still a search for "python"
    for _ in range(2):
        assert get(stack, "/search", q="zzyzx quantique")[1]["total"] == 0
    status, body = get(stack, "/search", q="  Observability ")
    assert status == 200 and body["total"] > 0
    assert get(stack, "/search")[0] == 200  # the listing without a query
    # opens: one for python, one refused (no such talk), one refused (a field the API does not take)
    assert get(stack, "/opened", q="python", talk=python_talk) == (204, None)
    assert get(stack, "/opened", q="observability", talk="no/such-talk")[0] == 404
    assert get(stack, "/opened", q="observability", talk=python_talk, note="free text")[0] == 400

    summary = stats(stack, "--since", "1h")
    assert (summary["searches"], summary["distinct_queries"], summary["opens"]) == (7, 3, 1)
    assert summary["top"] == [
        {"query": "python", "searches": 4, "opens": 1},
        {"query": "zzyzx quantique", "searches": 2, "opens": 0},
        {"query": "observability", "searches": 1, "opens": 0},
    ]
    assert (
        summary["zero_hits"] == [{"query": "zzyzx quantique", "searches": 2}]  # python found nothing only filtered
    )
    assert summary["unopened"] == [{"query": "observability", "searches": 1}]
