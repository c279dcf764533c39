"""The search Lambda through its handler: real HTTP API v2 events, an index built by index_builder into moto S3.

Every route and parameter, the error shape of every failure, CORS, caching headers, and a table of
hostile inputs that must all be answered 4xx or 200 JSON, never 500.
"""

from __future__ import annotations

import importlib
import json
import logging
from urllib.parse import quote

import boto3
import pytest

from functions.search import app as search_app
from index_builder import build_and_publish
from talksearch.contracts import MAX_QUERY_CHARS, MAX_TALK_ID_CHARS, VISIT_FIELD
from tests.conftest import FakeLambdaContext, moto_server_aws
from tests.search_support import EVENTS, ID, TALKS, call, http_event, query_string, write_content

BUCKET = "talksearch-index"


@pytest.fixture(scope="module")
def published(tmp_path_factory, moto_server_endpoint):
    """A bucket on moto's server holding an index published by the builder; yields the build report."""
    with pytest.MonkeyPatch.context() as env, moto_server_aws(moto_server_endpoint):
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "eu-west-3")
        boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        content = write_content(tmp_path_factory.mktemp("content"))
        report = build_and_publish(str(content), f"s3://{BUCKET}/index", full=True)
        assert report.published
        yield report


@pytest.fixture
def api(published, monkeypatch, tmp_path, lambda_context):
    """Call the handler: ``api(path, query, method=..., headers=...)`` -> (status, headers, body)."""
    monkeypatch.setenv("INDEX_BUCKET", BUCKET)
    monkeypatch.setenv("INDEX_PREFIX", "index")
    monkeypatch.setenv("MANIFEST_REFRESH_SECONDS", "300")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    search_app.set_index_holder(None)

    def invoke(path: str, query: str = "", **kwargs):
        return call(search_app.lambda_handler, http_event(path, query, **kwargs), lambda_context)

    yield invoke
    search_app.set_index_holder(None)


def assert_error(status: int, headers: dict, body: dict | None, expected: int) -> None:
    """The one error shape: the status expected, JSON, and a non-empty human message."""
    assert status == expected, body
    assert headers["content-type"].startswith("application/json")
    assert set(body) == {"message"} and body["message"].strip()
    assert "Traceback" not in body["message"]


# --- routes -------------------------------------------------------------------------------------------------
def test_search_route_answers_from_the_published_index(api, published):
    status, headers, body = api("/api/search", "q=kubernetes")
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert {hit["id"] for hit in body["hits"]} >= {ID["Introduction à Kubernetes"]}
    assert body["index"]["version"] == published.index_version


def test_recorded_event_with_repeated_facet_values(api, lambda_context):
    event = json.loads((EVENTS / "get_search.json").read_text(encoding="utf-8"))
    search_app.set_index_holder(None)
    status, _, body = call(search_app.lambda_handler, event, lambda_context)
    assert status == 200
    # "Chu, Hua-Rong" holds a comma: the raw query string keeps the two values apart
    assert {entry["value"] for entry in body["facets"]["speaker"]} >= {"Jane Doe", "Chu, Hua-Rong"}


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"q": "", "size": 5}, lambda b: len(b["hits"]) == 5 and b["total"] == len(TALKS)),
        ({"q": "", "page": 2, "size": 30}, lambda b: len(b["hits"]) == len(TALKS) - 30 and b["page"] == 2),
        ({"q": "asyncio", "sort": "date"}, lambda b: b["hits"][0]["id"] == ID["Programmation asynchrone avec asyncio"]),
        ({"q": "", "speaker": ["Jane Doe", "John Smith"]}, lambda b: b["total"] == 5),
        ({"q": "", "company": "Acme Corp"}, lambda b: b["total"] == 2),
        ({"q": "", "event": "DjangoCon 2018"}, lambda b: b["total"] == 2),
        ({"q": "", "year": ["2017", "2018"]}, lambda b: b["total"] == 5),
        ({"q": "", "lang": "fr"}, lambda b: {h["lang"] for h in b["hits"]} == {"fr"}),
        ({"q": "kubernets"}, lambda b: b["did_you_mean"] == "kubernetes" and b["total"] >= 2),
        ({"q": '"machine learning"'}, lambda b: ID["Learning machine code"] not in {h["id"] for h in b["hits"]}),
    ],
)
def test_search_parameters(api, params, check):
    status, _, body = api("/api/search", query_string(**params))
    assert status == 200
    assert check(body), body


def test_talk_route_takes_ids_with_slashes(api):
    status, headers, body = api(f"/api/talks/{ID['Introduction à Kubernetes']}")
    assert status == 200
    assert body["summary"].startswith("Le déploiement")
    assert 0 < len(body["related"]) <= 5
    assert headers["etag"]


def test_recorded_talk_event(api, lambda_context):
    """GIVEN an event as API Gateway sends it for /api/talks/{id+} (no query string, no parameters)."""
    event = json.loads((EVENTS / "get_talk.json").read_text(encoding="utf-8"))
    status, headers, body = call(search_app.lambda_handler, event, lambda_context)
    assert status == 200
    assert body["id"] == ID["Introduction à Kubernetes"] and body["title"] == "Introduction à Kubernetes"
    assert headers["cache-control"].startswith("public")


def test_talk_id_may_arrive_percent_encoded(api):
    status, _, body = api("/api/talks/" + quote(ID["Introduction à Kubernetes"], safe=""))  # %2F
    assert status == 200 and body["id"] == ID["Introduction à Kubernetes"]


def test_unknown_talk_is_a_404_json(api):
    assert_error(*api("/api/talks/no/such/talk"), 404)


def test_suggest_route(api):
    status, _, body = api("/api/suggest", "q=kube")
    assert status == 200
    assert {"text": "kubernetes", "kind": "term"} in body["suggestions"]
    assert len(body["suggestions"]) <= 8


def test_health_reports_the_served_version(api, published):
    status, headers, body = api("/api/health")
    assert status == 200
    assert body == {
        "status": "ok",
        "index": {"version": published.index_version, "talks": len(TALKS), "built_at": body["index"]["built_at"]},
    }
    assert headers["cache-control"] == "no-store"


def test_openapi_document_lists_the_routes(api):
    status, _, body = api("/api/openapi.json")
    assert status == 200
    assert body["openapi"].startswith("3.")
    assert set(body["paths"]) == {
        "/api/search",
        "/api/talks/{id}",
        "/api/suggest",
        "/api/opened",
        "/api/health",
        "/api/openapi.json",
    }


def test_health_is_503_before_any_index_is_published(published, monkeypatch, lambda_context, tmp_path):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="empty", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    monkeypatch.setenv("INDEX_BUCKET", "empty")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    search_app.set_index_holder(None)
    try:
        for path in ("/api/health", "/api/search"):
            status, headers, body = call(search_app.lambda_handler, http_event(path), lambda_context)
            assert_error(status, headers, body, 503)
            assert headers["retry-after"]
    finally:
        search_app.set_index_holder(None)
        s3.delete_bucket(Bucket="empty")


# --- errors ---------------------------------------------------------------------------------------------------
def test_unknown_route_is_a_404_json(api):
    assert_error(*api("/api/nothing-here"), 404)
    assert_error(*api("/"), 404)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_a_405_json(api, method):
    status, headers, body = api("/api/search", "q=x", method=method)
    assert_error(status, headers, body, 405)
    assert headers["allow"] == "GET"
    assert_error(*api("/api/talks/a/b", method=method), 405)


# --- caching and CORS -------------------------------------------------------------------------------------------
def test_responses_carry_cache_control_and_an_etag_from_the_index_version(api, published):
    status, headers, _ = api("/api/search", "q=django")
    assert status == 200
    assert headers["cache-control"].startswith("public, max-age=")
    assert published.index_version in headers["etag"]
    status, headers, body = api("/api/search", "q=django", headers={"if-none-match": headers["etag"]})
    assert status == 304 and body is None


def test_no_cors_headers_unless_origins_are_configured(api):
    _, headers, _ = api("/api/search", "q=x", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in headers


@pytest.fixture
def cors_app(monkeypatch):
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://talks.example.org, https://preview.example.org")
    module = importlib.reload(search_app)
    yield module
    monkeypatch.delenv("ALLOWED_ORIGINS")
    importlib.reload(search_app)


def test_cors_allows_only_the_configured_origins(api, cors_app, lambda_context):
    def invoke(origin, method="GET"):
        event = http_event("/api/search", "q=x", method=method, headers={"origin": origin})
        return call(cors_app.lambda_handler, event, lambda_context)

    _, headers, _ = invoke("https://preview.example.org")
    assert headers["access-control-allow-origin"] == "https://preview.example.org"
    _, headers, _ = invoke("https://evil.example")
    assert "access-control-allow-origin" not in headers
    status, headers, _ = invoke("https://talks.example.org", method="OPTIONS")
    assert status == 204
    assert "GET" in headers["access-control-allow-methods"]


# --- hostile input ------------------------------------------------------------------------------------------------
HOSTILE_QUERY_STRINGS = [
    "q=%00",
    "q=%00%01%02%03%1b[31m",
    "q=%ff%fe%fd",
    "q=%c3%28",
    "q=%e2%82",
    "q=%ed%a0%80",  # an encoded UTF-16 surrogate
    "q=%",
    "q=%%%",
    "q=%zz",
    "q=" + "a" * 10_000,
    "q=" + "%C3%A9" * 5_000,
    "q=" + "a%20" * 150,
    "q=" + "x" * 200,
    "q=" + "x" * 201,
    "q=%27%20OR%201%3D1%20--",
    "q=%22%3B%20DROP%20TABLE%20talks%3B%20--",
    "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "q=%7B%7B7*7%7D%7D",
    "q=%24%7Bjndi%3Aldap%3A%2F%2Fx%7D",
    "q=..%2F..%2F..%2Fetc%2Fpasswd",
    "q=%F0%9F%90%8D%F0%9F%92%A5",  # emoji
    "q=%E2%80%AE%D7%A9%D7%9C%D7%95%D7%9D",  # right-to-left override, Hebrew
    "q=%D9%85%D8%B1%D8%AD%D8%A8%D8%A7",  # Arabic
    "q=%E2%80%8B%E2%80%8C%E2%80%8D",  # zero-width characters
    "q=%EF%BF%BF%EF%BF%BE",  # non-characters
    "q=*",
    "q=***",
    "q=*a*",
    "q=a*b*c*",
    "q=%3F%3F%3F",
    "q=a~2",
    "q=%5E%5E%5E",
    "q=((((((((((((((((((((",
    "q=))))))))))",
    "q=%22%22%22%22%22",
    "q=-------",
    "q=NOT%20NOT%20NOT",
    "q=OR%20OR%20OR",
    "q=AND",
    "q=speaker%3A",
    "q=year%3A99999999999999999999",
    "q=year%3A2019-1900",
    "q=" + "%3A" * 100,
    "q=%5C%5C%5C",
    "q=a&q=b",
    "q=+++",
    "q=%09%0A%0D",
    "page=0",
    "page=-1",
    "page=1e3",
    "page=99999999999999999999999",
    "page=%00",
    "page=",
    "page=1&page=2",
    "size=0",
    "size=51",
    "size=abc",
    "size=%F0%9F%90%8D",
    "sort=%00",
    "sort=relevance;drop",
    "exact=maybe",
    "exact=1&exact=0",
    "speaker=" + "&speaker=".join(str(n) for n in range(11)),
    "speaker=" + "s" * 201,
    "speaker=%00",
    "speaker=%E2%80%AE",
    "year=twenty",
    "year=2019.5",
    "year=%00",
    "lang=" + "x" * 300,
    "event=%3Cscript%3E",
    "unknown=1",
    "q=a&" + "&".join(f"p{n}=1" for n in range(70)),
    "&&&&",
    "=",
    "==&==",
    "q",
    "%00=%00",
]


@pytest.mark.parametrize("raw", HOSTILE_QUERY_STRINGS, ids=range(len(HOSTILE_QUERY_STRINGS)))
def test_hostile_search_input_never_breaks_the_api(api, raw):
    for path in ("/api/search", "/api/suggest"):
        status, headers, body = api(path, raw)
        assert status in (200, 400), (path, raw, status, body)
        assert headers["content-type"].startswith("application/json")
        if status == 400:
            assert_error(status, headers, body, 400)
        else:
            assert isinstance(body, dict)


def test_search_and_suggest_check_q_the_same_way(api):
    # GIVEN a q one character over the bound, and a q given twice
    too_long, twice = "q=" + "a" * (MAX_QUERY_CHARS + 1), "q=kube&q=python"
    for path in ("/api/search", "/api/suggest"):
        # THEN both routes refuse them with the same message
        status, headers, body = api(path, too_long)
        assert_error(status, headers, body, 400)
        assert body["message"] == f"q is {MAX_QUERY_CHARS + 1} characters long; the limit is {MAX_QUERY_CHARS}"
        status, headers, body = api(path, twice)
        assert_error(status, headers, body, 400)
        assert body["message"] == "q may be given only once"


def test_exact_reaches_the_engine_and_is_checked(api):
    status, _, body = api("/api/search", "q=kubernetes")
    assert status == 200 and body["expanded"] == [{"from": "kubernetes", "to": ["k8s"]}]
    status, _, body = api("/api/search", "q=kubernetes&exact=1")
    assert status == 200 and body["expanded"] == []
    status, headers, body = api("/api/search", "q=kubernetes&exact=maybe")
    assert_error(status, headers, body, 400)
    assert body["message"].startswith("exact must be 1 or 0")


HOSTILE_PATHS = [
    "/api/talks/%00",
    "/api/talks/" + "a" * 5_000,
    "/api/talks/../../etc/passwd",
    "/api/talks/<script>",
    "/api/talks/🐍",
    "/api/talks/\u202eevil",
    "/api/talks/a/b/c/d/e/f/g",
    "/api/talks/ ",
    "/api//search",
    "/api/search/extra",
    "/API/SEARCH",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS, ids=range(len(HOSTILE_PATHS)))
def test_hostile_paths_are_404_or_400_json(api, path):
    status, headers, body = api(path)
    assert status in (400, 404), (path, status)
    assert_error(status, headers, body, status)


def test_there_are_at_least_sixty_hostile_inputs():
    assert len(HOSTILE_QUERY_STRINGS) + len(HOSTILE_PATHS) >= 60


# --- operations ---------------------------------------------------------------------------------------------------
@pytest.fixture
def log_lines():
    """The search function's log records as CloudWatch receives them: the JSON lines its Powertools logger writes."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(search_app.logger.registered_formatter.format(record))

    keep = Keep(logging.INFO)
    logging.getLogger().addHandler(keep)
    yield lines
    logging.getLogger().removeHandler(keep)


def visits(lines: list[str]) -> list[dict]:
    return [record for record in map(json.loads, lines) if VISIT_FIELD in record]


def test_each_search_is_one_log_record_of_its_normalised_query_total_page_filters_and_time(api, log_lines):
    status, _, body = api("/api/search", query_string(q="  Kubernetes   PODS ", page="1", lang=["fr", "en"]))
    assert status == 200
    api("/api/search", "q=kubernetes&page=2&sort=date&exact=1")
    first, second = visits(log_lines)
    assert first[VISIT_FIELD] == "search" and first["message"] == "search"
    assert first["query"] == "kubernetes pods"
    assert (first["total"], first["page"], first["sort"]) == (body["total"], 1, "relevance")
    assert (first["filters"], first["filtered"]) == ({"lang": ["fr", "en"]}, 2)
    assert first["took_ms"] == body["took_ms"]
    assert (second["query"], second["page"], second["sort"], second["filtered"]) == ("kubernetes", 2, "date", 0)
    assert (first["exact"], second["exact"]) == (False, True)  # the visitor asked for the words as typed only


def test_zero_hit_searches_are_logged_with_total_zero_and_counted(api, log_lines, capsys):
    status, _, body = api("/api/search", "q=" + quote("  Zzyzx   QWERTYUIOP "))
    assert status == 200 and body["total"] == 0
    assert [(v["query"], v["total"]) for v in visits(log_lines)] == [("zzyzx qwertyuiop", 0)]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emitted[-1]["ZeroHitQueries"] in (1, [1])  # CloudWatch embedded metric format


@pytest.fixture
def logs_events_if_asked(monkeypatch):
    """The function as deployed by someone who set POWERTOOLS_LOGGER_LOG_EVENT=true."""
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    yield importlib.reload(search_app)
    monkeypatch.delenv("POWERTOOLS_LOGGER_LOG_EVENT")
    importlib.reload(search_app)


def test_no_log_record_holds_the_visitors_address_agent_or_cookies(api, logs_events_if_asked, log_lines):
    search_app.set_index_holder(None)
    private = {
        "cookie": "session=s3cr3t-cookie",
        "user-agent": "Agent/7.7 (private)",
        "x-forwarded-for": "198.51.100.23",
    }
    for path, query in [
        ("/api/search", "q=django"),
        ("/api/opened", f"q=django&talk={ID['Testing Django applications']}"),
    ]:
        event = http_event(path, query, headers=private)
        event["cookies"] = [private["cookie"]]
        event["requestContext"]["http"]["sourceIp"] = "198.51.100.23"
        event["requestContext"]["http"]["userAgent"] = private["user-agent"]
        status, _, _ = call(logs_events_if_asked.lambda_handler, event, FakeLambdaContext())
        assert status in (200, 204)
    assert [v[VISIT_FIELD] for v in visits(log_lines)] == ["search", "open"]
    logged = "\n".join(log_lines)
    for secret in ("s3cr3t-cookie", "Agent/7.7", "198.51.100.23", "203.0.113.7"):
        assert secret not in logged


# --- /api/opened ----------------------------------------------------------------------------------------------
def test_an_opened_result_is_one_log_record_of_the_query_and_the_talk(api, log_lines):
    talk = ID["Introduction à Kubernetes"]
    status, headers, body = api("/api/opened", query_string(q=" Kubernetes  Intro", talk=talk))
    assert (status, body) == (204, None)
    assert headers["cache-control"] == "no-store" and "etag" not in headers
    (record,) = visits(log_lines)
    assert record == {**record, VISIT_FIELD: "open", "message": "open", "query": "kubernetes intro", "talk": talk}
    assert api("/api/opened", query_string(talk=talk))[0] == 204  # a talk opened from the listing without a query
    assert visits(log_lines)[-1]["query"] == ""


@pytest.mark.parametrize(
    "query, expected",
    [
        ("q=kubernetes", 400),  # no talk
        ("q=kubernetes&talk=", 400),
        ("q=kubernetes&talk=no/such-talk", 404),
        ("q=" + "x" * (MAX_QUERY_CHARS + 1) + "&talk=misc/undated-talk", 400),
        ("q=a&q=b&talk=misc/undated-talk", 400),
        ("q=a&talk=misc/undated-talk&talk=djangocon-2018/testing-django", 400),
        ("q=a&talk=misc/undated-talk&note=free+text", 400),
        ("talk=" + "x" * (MAX_TALK_ID_CHARS + 1), 400),
    ],
)
def test_opened_checks_every_field_and_logs_nothing_it_refused(api, log_lines, query, expected):
    assert_error(*api("/api/opened", query), expected)
    assert visits(log_lines) == []


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_opened_answers_only_get(api, log_lines, method):
    status, headers, body = api("/api/opened", "talk=misc/undated-talk", method=method)
    assert_error(status, headers, body, 405)
    assert visits(log_lines) == []
