"""The local stack end to end: moto server, real rebuild and search handlers, HTTP, content watcher.

One stack serves the whole module (a build per content change is the slow part). Every wait
polls what a user would see, with a bounded timeout; nothing sleeps for correctness.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack import Stack, StackError, start_stack

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 90  # seconds; generous for a loaded 2-core machine, never reached when things work


def talk(title: str, speaker: str, summary: str) -> str:
    return (
        f"---\ntitle: {title}\nspeaker: {speaker}\ncompany: Exemple SA\nevent: DevStack Conf\n"
        f"date: 2025-06-12\nlang: fr\ntags: [tests]\n---\n{summary}\n"
    )


def get(url: str) -> tuple[int, Message, Any]:
    """Status, headers (case-insensitive) and body (parsed when JSON) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            status, headers, data = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, data = error.code, error.headers, error.read()
    is_json = headers.get("Content-Type", "").startswith("application/json")
    return status, headers, json.loads(data) if is_json else data


def search(stack: Stack, q: str) -> dict[str, Any]:
    status, _, body = get(f"{stack.api_url}/search?{urllib.parse.urlencode({'q': q})}")
    assert status == 200, body
    return body


def titles(stack: Stack, q: str) -> list[str]:
    return [hit["title"] for hit in search(stack, q)["hits"]]


def talk_count(stack: Stack) -> int:
    status, _, body = get(f"{stack.api_url}/health")
    assert status == 200, body
    return body["index"]["talks"]


def eventually(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s (last: {last!r})")


@pytest.fixture(scope="module")
def content(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("content")
    (folder / "observabilite.md").write_text(
        talk(
            "Observabilité des pipelines de données",
            "Alice Martin",
            "Tracer chaque étape avec OpenTelemetry et des métriques de fraîcheur.",
        ),
        encoding="utf-8",
    )
    (folder / "kubernetes.md").write_text(
        talk(
            "Kubernetes sans douleur",
            "Bruno Petit",
            "Déployer des conteneurs avec des opérateurs et des sondes de santé.",
        ),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def console() -> list[str]:
    """What the stack printed."""
    return []


@pytest.fixture(scope="module")
def stack(content: Path, console: list[str]) -> Iterator[Stack]:
    with start_stack(content, port=0, log=console.append) as running:
        yield running


def test_search_over_http_answers_from_the_uploaded_content(stack, console):
    # GIVEN the stack started over two talks  WHEN searching over HTTP
    body = search(stack, "conteneurs")
    # THEN the real search handler answers from the index the real rebuild published
    assert [hit["title"] for hit in body["hits"]] == ["Kubernetes sans douleur"]
    assert talk_count(stack) == 2
    # The rebuild publishes the index before it returns, so /api/health can answer before the stack has recorded
    # the rebuild and printed it: wait for the console line, as a user does.
    eventually(lambda: any(line.startswith("rebuild: 2 talks") for line in console), "the rebuild's console line")
    assert [r.talks for r in stack.rebuilds if r.published] == [2]


def test_page_and_its_modules_are_served_with_browser_types(stack):
    status, headers, html = get(stack.url)
    assert status == 200
    assert headers.get("Content-Type") == "text/html; charset=utf-8"
    assert b"<html" in html.lower()
    scripts = sorted((ROOT / "frontend").rglob("*.js"))
    assert scripts, "frontend/ has no JavaScript"
    status, headers, _ = get(stack.url + scripts[0].relative_to(ROOT / "frontend").as_posix())
    assert (status, headers.get("Content-Type")) == (200, "text/javascript; charset=utf-8")


def test_unknown_api_route_and_bad_query_are_json_errors(stack):
    status, _, body = get(f"{stack.api_url}/search?page=0")
    assert status == 400 and body["message"]
    status, _, body = get(f"{stack.api_url}/talks/no-such-talk")
    assert status == 404 and body["message"]


def test_added_file_becomes_searchable_then_changes_then_disappears(stack, content):
    # WHEN a talk is added to the content folder
    path = content / "nouvelle.md"
    path.write_text(talk("Rust pour les pythonistes", "Chloé Durand", "Écrire des extensions zygomorphes."), "utf-8")
    # THEN it becomes searchable
    eventually(lambda: titles(stack, "zygomorphes") == ["Rust pour les pythonistes"], "the added talk is found")
    assert talk_count(stack) == 3

    # WHEN it is changed
    path.write_text(
        talk("Rust pour les pythonistes", "Chloé Durand", "Écrire des extensions ornithologiques."), "utf-8"
    )
    # THEN the new text is found and the old one no longer is
    eventually(lambda: titles(stack, "ornithologiques") == ["Rust pour les pythonistes"], "the changed talk is found")
    assert titles(stack, "zygomorphes") == []
    assert talk_count(stack) == 3

    # WHEN it is deleted  THEN it disappears
    path.unlink()
    eventually(lambda: titles(stack, "ornithologiques") == [], "the deleted talk disappears")
    assert talk_count(stack) == 2


def test_a_synonyms_file_in_the_content_is_picked_up_by_the_watcher(stack, content):
    # WHEN the site adds a synonyms.txt at the content root
    path = content / "synonyms.txt"
    path.write_text("capteurs, sondes\n", "utf-8")
    # THEN its words find the talks that say the other ones, and no talk is added
    eventually(lambda: titles(stack, "capteurs") == ["Kubernetes sans douleur"], "the synonym finds the talk")
    assert talk_count(stack) == 2
    # WHEN it is removed THEN the synonym is gone
    path.unlink()
    eventually(lambda: titles(stack, "capteurs") == [], "the removed synonym no longer applies")


def test_broken_file_is_reported_and_the_stack_keeps_serving(stack, content, console):
    # GIVEN the published talk count
    before = talk_count(stack)
    since = len(stack.rebuilds)
    # WHEN a file that is not valid UTF-8 arrives
    (content / "casse.md").write_bytes(b"---\ntitle: \xff\xfe broken\n---\n\x00\x81 not text")
    rebuild = stack.wait_for_rebuild(key="casse.md", since=since, timeout=TIMEOUT)
    # THEN the rebuild reports it, the index keeps its talks, and searches still work
    assert not rebuild.failed
    assert any("casse.md" in problem for problem in rebuild.problems), rebuild.problems
    assert any("casse.md" in line for line in console if "problem" in line)
    assert talk_count(stack) == before
    assert titles(stack, "conteneurs") == ["Kubernetes sans douleur"]
    (content / "casse.md").unlink()


def test_upload_with_any_s3_client_is_indexed(stack):
    s3 = boto3.client("s3", endpoint_url=stack.s3_endpoint, region_name="eu-west-3")
    s3.put_object(
        Bucket=stack.content_bucket,
        Key="via-s3/serverless.md",
        Body=talk("Serverless en production", "Denis Roux", "Des fonctions quinquagénaires.").encode("utf-8"),
    )
    eventually(lambda: titles(stack, "quinquagénaires") == ["Serverless en production"], "the uploaded talk is found")
    s3.delete_object(Bucket=stack.content_bucket, Key="via-s3/serverless.md")
    eventually(lambda: titles(stack, "quinquagénaires") == [], "the removed talk disappears")


def test_concurrent_searches_all_succeed_while_the_index_is_swapped(stack, content):
    # GIVEN eight clients searching without pause
    statuses: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                statuses.append(get(f"{stack.api_url}/search?q=kubernetes")[0])
            except Exception as exc:
                errors.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        # WHEN a new talk is published and the search function swaps to the new index
        (content / "swap.md").write_text(talk("Swap", "Eve Blanc", "Des index interchangeables."), "utf-8")
        eventually(lambda: titles(stack, "interchangeables") == ["Swap"], "the new index is served")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    (content / "swap.md").unlink()
    # THEN every request in flight succeeded
    assert errors == []
    assert statuses and set(statuses) == {200}


def test_a_port_in_use_is_a_one_line_error(stack, content):
    port = urllib.parse.urlparse(stack.url).port
    with pytest.raises(StackError, match=f"port {port} is already in use"):
        start_stack(content, port=port)


def test_command_line_reports_a_port_in_use_in_one_line(stack, content):
    port = urllib.parse.urlparse(stack.url).port
    result = subprocess.run(
        [sys.executable, "-m", "devstack", "--content-dir", str(content), "--port", str(port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"devstack: port {port} is already in use on 127.0.0.1"


@contextlib.contextmanager
def command_line_stack(content: Path, logs: Path, **env: str) -> Iterator[tuple[subprocess.Popen, list[str]]]:
    """`python -m devstack` on ``content``, its logs kept in ``logs`` (``env`` added to its environment), once it
    has printed its URLs: the process and what it printed. Killed on the way out if it is still running."""
    command = [sys.executable, "-m", "devstack", "--content-dir", str(content), "--port", "0", "--logs-dir", str(logs)]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    # its own session, so that the test can send Ctrl-C to the process group as a terminal does
    with subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    ) as process:  # fmt: skip
        output: list[str] = []  # what it printed so far, both streams, appended to as it prints
        reader = threading.Thread(target=lambda: [output.append(line) for line in process.stdout], daemon=True)  # type: ignore[union-attr]
        reader.start()
        try:
            eventually(lambda: any("Ctrl-C stops" in line for line in output) or process.poll() is not None,
                       "the URLs printed")  # fmt: skip
            assert process.poll() is None, f"devstack exited early: {output}"
            yield process, output
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            reader.join(timeout=10)


def printed_urls(output: list[str]) -> dict[str, str]:
    return {line.split(":", 1)[0].strip(): line.split()[-1] for line in output if line.startswith("  ")}


def test_command_line_prints_urls_when_healthy_and_stops_on_ctrl_c(content, tmp_path):
    logs = tmp_path / "logs"
    with command_line_stack(content, logs) as (process, output):
        urls = printed_urls(output)
        assert get(urls["page"] + "api/health")[0] == 200
        assert urls["S3 endpoint"].startswith("http://127.0.0.1:")
        assert urls["widget"] == urls["page"] + "widget/talksearch.js"
        assert f"  search logs:    {logs / 'talksearch-search'}/" in "".join(output)
        # the rebuild that published the index may print its line just after /api/health turned 200
        eventually(lambda: any(line.startswith("rebuild: ") and " talks in " in line for line in output), "rebuild")
        assert not any(line.startswith('{"_aws"') for line in output), "metric documents reached the console"
        # WHEN Ctrl-C in the terminal (the whole process group)
        os.killpg(process.pid, signal.SIGINT)
        # THEN everything stops and the process exits cleanly, with no traceback from any of its processes
        try:
            assert process.wait(timeout=60) == 0, "".join(output)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running 60 s after Ctrl-C:\n{''.join(output)}") from None
        eventually(lambda: any(line.startswith("stopping") for line in output), "stopping")
        assert not any("Traceback" in line for line in output), "".join(output)


def get_from(url: str, origin: str) -> tuple[int, Message]:
    """Status and headers of a GET sent as a page of ``origin`` sends it."""
    request = urllib.request.Request(url, headers={"Origin": origin})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers


def test_allowed_origins_from_the_environment_may_call_the_api(content, tmp_path):
    # GIVEN `make dev` run with ALLOWED_ORIGINS in its environment (make passes it on to python -m devstack)
    blog, other = "http://localhost:4000", "https://elsewhere.example"
    with command_line_stack(content, tmp_path / "logs", ALLOWED_ORIGINS=f"{blog}, http://127.0.0.1:1313") as (
        _,
        output,
    ):
        api = printed_urls(output)["page"] + "api/search?q=conteneurs"
        assert any(line.split() == ["other", "origins:", f"{blog},", "http://127.0.0.1:1313"] for line in output)
        # THEN the API answers a page of that origin with CORS, and a page of any other origin without
        status, headers = get_from(api, blog)
        assert (status, headers.get("Access-Control-Allow-Origin")) == (200, blog)
        status, headers = get_from(api, other)
        assert (status, headers.get("Access-Control-Allow-Origin")) == (200, None)


def test_the_widget_and_the_modules_it_imports_load_from_any_origin(stack):
    # module scripts of another origin load in CORS mode: the widget's files say any page may use them
    for path in ("widget/talksearch.js", "widget/talksearch.css", "js/api.js", "js/components/hit.js"):
        status, headers = get_from(stack.url + path, "https://blog.example.org")
        assert (status, headers.get("Access-Control-Allow-Origin")) == (200, "*"), path
    # the page itself, and the API without ALLOWED_ORIGINS, do not
    for path in ("", "index.html", "css/site.css", "api/search?q=x"):
        status, headers = get_from(stack.url + path, "https://blog.example.org")
        assert (status, headers.get("Access-Control-Allow-Origin")) == (200, None), path
