"""The search API on Lambda (HTTP API payload v2): /api/search, /api/talks/{id}, /api/suggest, /api/opened,
/api/health.

Routes are thin: they validate through ``params``, ask the ``SearchEngine`` of the current index
version (``lifecycle``) and add caching headers. Each search and each result opened is one log record
for ``make stats`` (``_log_visit``). Every error leaves as ``{"message": ...}``
(``talksearch.contracts.error_body``) with a 4xx status, or 503 while no index is published;
anything unexpected is logged and answered 500 without a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from contextvars import ContextVar
from http import HTTPStatus
from time import perf_counter
from urllib.parse import parse_qs, unquote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from functions.search.lifecycle import IndexHolder, refresh_seconds_from_env
from functions.search.openapi import OPENAPI_DOCUMENT
from functions.search.params import InvalidParameter, OpenedParams, SearchParams, SuggestParams
from functions.search.query import normalise_text
from talksearch.contracts import (
    ENV_ALLOWED_ORIGINS,
    MAX_TALK_ID_CHARS,
    VISIT_FIELD,
    VISIT_OPEN,
    VISIT_SEARCH,
    error_body,
    index_location_from_env,
    is_warm_up_event,
)

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "talksearch"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "talksearch"))

#: Browsers and CloudFront may reuse an answer this long; the ETag (index version) revalidates it.
CACHE_CONTROL = "public, max-age=60"
MAX_QUERY_STRING_FIELDS = 64
ROUTE_PATHS = ("/api/search", "/api/suggest", "/api/opened", "/api/health", "/api/openapi.json")
TALK_PREFIX = "/api/talks/"


def _cors_config() -> CORSConfig | None:
    """CORS for the origins in ALLOWED_ORIGINS (comma-separated); none at all when unset (same-origin site)."""
    origins = [o.strip().rstrip("/") for o in os.environ.get(ENV_ALLOWED_ORIGINS, "").split(",") if o.strip()]
    if not origins:
        return None
    return CORSConfig(allow_origin=origins[0], extra_origins=origins[1:], expose_headers=["ETag"], max_age=600)


app = APIGatewayHttpResolver(cors=_cors_config())


class IndexUnavailable(Exception):
    """No index has been published (or none could be loaded) yet."""


_holder: IndexHolder | None = None
#: The engine this request was answered from (a query may find a damaged piece of its index: ``unexpected``).
_answering: ContextVar = ContextVar("answering", default=None)


def set_index_holder(holder: IndexHolder | None) -> None:
    """Use this holder for the following requests (tests; None: build one from the environment again)."""
    global _holder
    _holder = holder


def index_holder() -> IndexHolder:
    global _holder
    if _holder is None:
        location = index_location_from_env()
        if location is None:
            raise IndexUnavailable("the search index location is not configured (INDEX_BUCKET is not set)")
        _holder = IndexHolder(location, refresh_seconds=refresh_seconds_from_env(), log=logger)
    return _holder


def current_engine():
    engine = index_holder().engine()
    if engine is None:
        raise IndexUnavailable("no search index has been published yet; try again in a minute")
    _answering.set(engine)
    return engine


def warm_up() -> dict:
    """Answer the builder's and the keep-warm schedule's ping: load the published index now (a warm container
    checks the manifest at once rather than at its next refresh), so the next visitor does not wait for it."""
    holder = index_holder()
    if holder.version is None:
        holder.engine()
    else:
        holder.refresh()
    return {"warm": holder.version is not None, "index": holder.version}


def _query_values() -> dict[str, list[str]]:
    """Parameters from the raw query string: HTTP API joins repeated ones with commas, which names contain."""
    event = app.current_event
    raw = event.raw_query_string
    if raw is None:
        return {k: [v] for k, v in (event.query_string_parameters or {}).items()}
    try:
        return parse_qs(raw, keep_blank_values=True, errors="replace", max_num_fields=MAX_QUERY_STRING_FIELDS)
    except ValueError as error:
        raise InvalidParameter(f"the query string has more than {MAX_QUERY_STRING_FIELDS} parameters") from error


def _cached(body: dict, engine) -> Response:
    """A JSON answer that CDNs may cache, revalidated by the index version (304 when unchanged)."""
    etag = f'W/"{engine.version}"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if etag in (app.current_event.headers or {}).get("if-none-match", ""):
        return Response(status_code=HTTPStatus.NOT_MODIFIED, content_type=None, body="", headers=headers)
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        headers=headers,
    )


def _log_visit(kind: str, q: str, **fields: object) -> None:
    """One record of what a visitor searched or opened, for ``make stats``: the query as the site owner reads it
    (normalised, lower case) and validated fields only; nothing of the request itself (address, agent, cookies)."""
    logger.info(kind, extra={VISIT_FIELD: kind, "query": normalise_text(q).lower(), **fields})


@app.get("/api/search")
def search_talks() -> Response:
    params = SearchParams.from_query_string(_query_values())
    engine = current_engine()
    started = perf_counter()
    body = engine.search(
        q=params.q, page=params.page, size=params.size, sort=params.sort, exact=params.exact, **params.filters
    )
    metrics.add_metric(name="SearchLatency", unit=MetricUnit.Milliseconds, value=(perf_counter() - started) * 1000)
    if body["total"] == 0 and params.q:
        metrics.add_metric(name="ZeroHitQueries", unit=MetricUnit.Count, value=1)
    _log_visit(
        VISIT_SEARCH,
        params.q,
        total=body["total"],
        page=params.page,
        sort=params.sort,
        exact=params.exact,
        filters={facet: list(values) for facet, values in params.filters.items()},
        filtered=sum(map(len, params.filters.values())),
        took_ms=body["took_ms"],
    )
    return _cached(body, engine)


@app.get("/api/talks/.+")
def get_talk() -> Response:
    talk_id = app.current_event.path[len(TALK_PREFIX) :]
    if len(talk_id) > MAX_TALK_ID_CHARS:
        raise InvalidParameter(f"talk id is longer than {MAX_TALK_ID_CHARS} characters")
    engine = current_engine()
    talk = engine.talk(talk_id)
    if talk is None and "%" in talk_id:  # a path that reached us still percent-encoded
        talk = engine.talk(unquote(talk_id, errors="replace"))
    if talk is None:
        raise NotFoundError(f"no talk has the id {talk_id[:200]!r}")
    return _cached(talk, engine)


@app.get("/api/suggest")
def suggest_completions() -> Response:
    params = SuggestParams.from_query_string(_query_values())
    engine = current_engine()
    return _cached(engine.suggest(params.q), engine)


@app.get("/api/opened")
def result_opened() -> Response:
    """A visitor opened a result of a search: one log record of the query and the talk, if the index has it."""
    opened = OpenedParams.from_query_string(_query_values())
    if not current_engine().has_talk(opened.talk):
        raise NotFoundError(f"no talk has the id {opened.talk[:200]!r}")
    _log_visit(VISIT_OPEN, opened.q, talk=opened.talk)
    no_store = {"Cache-Control": "no-store"}
    return Response(status_code=HTTPStatus.NO_CONTENT, content_type=None, body="", headers=no_store)


@app.get("/api/health")
def health() -> Response:
    engine = current_engine()
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"status": "ok", "index": engine.health()}),
        headers={"Cache-Control": "no-store"},
    )


@app.get("/api/openapi.json")
def openapi_document() -> Response:
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(OPENAPI_DOCUMENT),
        headers={"Cache-Control": "public, max-age=3600"},
    )


def _error(status: HTTPStatus, message: str, headers: dict | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(error_body(message), ensure_ascii=False),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


@app.exception_handler(InvalidParameter)
def bad_request(error: InvalidParameter) -> Response:
    return _error(HTTPStatus.BAD_REQUEST, str(error))


@app.exception_handler(IndexUnavailable)
def index_unavailable(error: IndexUnavailable) -> Response:
    return _error(HTTPStatus.SERVICE_UNAVAILABLE, str(error), {"Retry-After": "30"})


@app.not_found
def not_found(error: NotFoundError) -> Response:
    """404 for unknown paths and talks, 405 for a known path asked with another method."""
    path = app.current_event.path
    known = path in ROUTE_PATHS or (path.startswith(TALK_PREFIX) and len(path) > len(TALK_PREFIX))
    if known and app.current_event.http_method.upper() != "GET":
        return _error(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} only answers GET", {"Allow": "GET"})
    message = error.msg if isinstance(error.msg, str) and error.msg != "Not found" else f"no such route: {path}"
    return _error(HTTPStatus.NOT_FOUND, message[:300])


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response:
    engine = _answering.get()
    if engine is not None and _is_unsafe_index_error(error):
        # a section of the pack that is not what a pack holds (or inflates past its cap): refused, nothing else read
        if index_holder().refuse(engine, error):
            return _error(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"index version {engine.version} is damaged and no longer served; try again",
                {"Retry-After": "1"},
            )
        # nothing to go back to: the site is unavailable for the queries reaching that piece until a rebuild
        return _error(HTTPStatus.SERVICE_UNAVAILABLE, f"index version {engine.version} is damaged; it has been logged")
    logger.exception("unexpected error")
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; it has been logged")


def _is_unsafe_index_error(error: Exception) -> bool:
    """Whether ``error`` is ``talksearch.search_pack.PackError``: a damaged section of the served pack, met by this
    query (the class exists once a pack has been opened)."""
    pack_format = sys.modules.get("talksearch.search_pack.format")
    return pack_format is not None and isinstance(error, pack_format.PackError)


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: an event holds the visitor's address, agent and cookies.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context) -> dict:
    # No request counter: Lambda's own Invocations metric is free, a custom one costs $0.30 a month.
    if is_warm_up_event(event):
        return warm_up()
    _answering.set(None)
    return app.resolve(event, context)


# Provisioned concurrency initialises containers before any request: load the index then, not on a visitor's time.
if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency":
    warm_up()
