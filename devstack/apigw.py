"""What API Gateway (HTTP API, payload format 2.0) does around a Lambda handler, done locally.

An HTTP request becomes the event API Gateway would send, and the handler's return value
becomes the HTTP response API Gateway would send back. Kept free of sockets and threads so
the mapping itself is unit-tested.

Behaviours reproduced on purpose, because handlers depend on them:

* ``rawPath`` and ``pathParameters`` are percent-decoded (HTTP APIs decode the path);
  ``rawQueryString`` is passed on as received.
* Header names are lower-cased and repeated headers joined with commas; the ``Cookie``
  header moves to the ``cookies`` array.
* ``queryStringParameters`` joins a repeated parameter's values with commas.
* A body that is not text is base64-encoded with ``isBase64Encoded: true``.
* A response without ``statusCode`` is taken as a 200 JSON body; ``cookies`` become
  separate ``Set-Cookie`` headers; a handler that raises gives 500 ``Internal Server Error``.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

#: Routes used when template.yaml declares none for the search function: everything under /api.
DEFAULT_ROUTE_KEYS = ("ANY /api/{proxy+}",)

_TEXT_TYPES = re.compile(
    r"^(text/|application/(json|[\w.+-]+\+json|xml|[\w.+-]+\+xml|javascript|x-www-form-urlencoded|graphql))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Route:
    """One HTTP API route key, such as ``GET /api/talks/{id+}``, and how it matches a path."""

    key: str
    method: str
    pattern: re.Pattern[str]
    literal_segments: int

    @classmethod
    def parse(cls, key: str) -> Route:
        if key == "$default":  # the catch-all route: anything no other route takes
            return cls(key, "ANY", re.compile(".*"), -1)
        method, _, path = key.partition(" ")
        parts, literal = [], 0
        for segment in path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                parts.append(f"(?P<{segment[1:-2]}>.+)")
            elif segment.startswith("{") and segment.endswith("}"):
                parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            else:
                parts.append(re.escape(segment))
                literal += 1
        return cls(key, method.upper(), re.compile("^/" + "/".join(parts) + "$"), literal)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route takes the request, else None."""
        if self.method not in ("ANY", method.upper()):
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None


class RouteTable:
    """Picks the route API Gateway would pick: the most specific match wins, exact method over ANY."""

    def __init__(self, route_keys: tuple[str, ...] | list[str] = DEFAULT_ROUTE_KEYS) -> None:
        self.routes = sorted(
            (Route.parse(k) for k in route_keys),
            key=lambda r: (-r.literal_segments, r.method == "ANY", "+}" in r.key),
        )

    def match(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route.key, params
        return None


def routes_from_template(template: Path, handler: str = "functions.search.app.lambda_handler") -> list[str]:
    """The route keys template.yaml gives the function with this handler, or the catch-all when it has none."""
    import yaml

    class _IgnoreTags(yaml.SafeLoader):
        """Reads CloudFormation's short forms (!Ref, !Sub ...) as plain values."""

    _IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)
    try:
        document = yaml.load(template.read_text(encoding="utf-8"), Loader=_IgnoreTags) or {}
    except (OSError, yaml.YAMLError):
        return list(DEFAULT_ROUTE_KEYS)
    global_handler = (((document.get("Globals") or {}).get("Function") or {}).get("Handler")) or ""
    keys = []
    for resource in (document.get("Resources") or {}).values():
        properties = (resource or {}).get("Properties") or {}
        if resource.get("Type") != "AWS::Serverless::Function" or properties.get("Handler", global_handler) != handler:
            continue
        for event in (properties.get("Events") or {}).values():
            details = (event or {}).get("Properties") or {}
            if event.get("Type") != "HttpApi":
                continue
            path, method = details.get("Path"), details.get("Method")
            if not isinstance(path, str):
                keys.append("$default")  # an HttpApi event without a path is the catch-all route
                continue
            method = method.upper() if isinstance(method, str) else "ANY"
            keys.append(f"{'ANY' if method in ('ANY', 'X-AMAZON-APIGATEWAY-ANY-METHOD') else method} {path}")
    return keys or list(DEFAULT_ROUTE_KEYS)


@dataclass
class HttpRequest:
    """An incoming request as the HTTP server read it."""

    method: str
    target: str  # path and query string exactly as on the request line
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def build_event(request: HttpRequest, route_key: str, path_parameters: dict[str, str]) -> dict[str, Any]:
    """The HTTP API v2 event API Gateway would send for this request."""
    raw_path, _, raw_query = request.target.partition("?")
    raw_path = unquote(raw_path)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lower = name.lower()
        if lower == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": headers.get("host", "localhost").split(".")[0],
            "http": {
                "method": request.method.upper(),
                "path": raw_path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    query = _query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = {k: unquote(v) for k, v in path_parameters.items()}
    if request.body:
        text = _as_text(request.body, headers.get("content-type", ""))
        if text is None:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def _query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def _as_text(body: bytes, content_type: str) -> str | None:
    """The body as text when API Gateway would pass it unencoded, else None."""
    if content_type and not _TEXT_TYPES.match(content_type.strip()):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def map_response(result: Any) -> HttpResponse:
    """The HTTP response API Gateway would send for a v2 handler's return value."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # format 2.0 "inferred" response: any other value is the JSON body of a 200
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("Content-Type", "application/json")], body.encode("utf-8"))
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((name, str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if not any(h[0].lower() == name.lower() for h in headers):
            headers.extend((name, str(v)) for v in values)
    headers.extend(("Set-Cookie", cookie) for cookie in result.get("cookies") or [])
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        payload = base64.b64decode(body)
    else:
        payload = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
    return HttpResponse(int(result["statusCode"]), headers, payload)


def error_response(status: int, message: str) -> HttpResponse:
    """API Gateway's own error responses (no route, handler failure): ``{"message": ...}``."""
    body = json.dumps({"message": message}).encode("utf-8")
    return HttpResponse(status, [("Content-Type", "application/json")], body)
