"""The local API Gateway: HTTP requests become HTTP API v2 events, handler results become HTTP responses.

A tiny echo handler stands in for the search function here, to pin the MAPPING alone; the
real handler is exercised over the whole stack in test_devstack_stack.py.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.apigw import HttpRequest, RouteTable, build_event, map_response, routes_from_template
from devstack.runtime import LambdaFunction
from devstack.server import DevHTTPServer, PortInUseError

ROUTES = ["GET /api/search", "GET /api/talks/{id+}", "GET /api/health", "ANY /api/{proxy+}"]


def echo_handler(event, context):
    """Returns the event it was given, plus the response features the adapter must map back."""
    if event["rawPath"] == "/api/boom":
        raise RuntimeError("handler bug")
    if event["rawPath"] == "/api/binary":
        png = {"content-type": "image/png"}
        return {"statusCode": 200, "headers": png, "isBase64Encoded": True, "body": "AAEC/w=="}
    if event["rawPath"] == "/api/inferred":
        return {"answer": 42}
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-function": context.function_name},
        "multiValueHeaders": {"x-multi": ["one", "two"]},
        "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
        "body": json.dumps(event),
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DevHTTPServer]:
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>", encoding="utf-8")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("export const x = 1;\n", encoding="utf-8")
    (tmp_path / "style.css").write_text("body{}", encoding="utf-8")
    srv = DevHTTPServer(0, tmp_path, RouteTable(ROUTES), LambdaFunction("echo", echo_handler))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(server: DevHTTPServer, method: str, target: str, headers=(), body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest(method, target, skip_accept_encoding=True)
    for name, value in headers:
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def test_query_headers_and_cookies_arrive_as_api_gateway_sends_them(server):
    # GIVEN repeated query parameters, a repeated header in mixed case and two cookies
    response, data = request(
        server,
        "GET",
        "/api/search?q=caf%C3%A9+cr%C3%A8me&speaker=Ann&speaker=Bob&empty=",
        headers=[("X-Tag", "one"), ("x-tag", "two"), ("Cookie", "lang=fr; theme=dark"), ("User-Agent", "pytest")],
    )
    event = json.loads(data)
    # THEN the event is a v2 event for the specific route
    assert response.status == 201
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /api/search"
    assert event["rawPath"] == "/api/search"
    assert event["rawQueryString"] == "q=caf%C3%A9+cr%C3%A8me&speaker=Ann&speaker=Bob&empty="
    # repeated parameters comma-joined and decoded, as API Gateway does
    assert event["queryStringParameters"] == {"q": "café crème", "speaker": "Ann,Bob", "empty": ""}
    assert event["headers"]["x-tag"] == "one,two"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["lang=fr", "theme=dark"]
    http_context = event["requestContext"]["http"]
    assert http_context == {
        "method": "GET",
        "path": "/api/search",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest",
    }
    assert event["requestContext"]["requestId"]
    assert event["requestContext"]["timeEpoch"] > 0
    assert event["isBase64Encoded"] is False
    assert "body" not in event and "pathParameters" not in event


def test_greedy_path_parameter_is_decoded_and_may_hold_slashes(server):
    response, data = request(server, "GET", "/api/talks/pyvideo/2019%2Fmy%20talk")
    event = json.loads(data)
    assert response.status == 201
    assert event["routeKey"] == "GET /api/talks/{id+}"
    assert event["pathParameters"] == {"id": "pyvideo/2019/my talk"}
    assert event["rawPath"] == "/api/talks/pyvideo/2019/my talk"
    assert "queryStringParameters" not in event


def test_other_methods_reach_the_catch_all_route(server):
    response, data = request(
        server, "POST", "/api/search", headers=[("Content-Type", "application/json")], body=b'{"q": "x"}'
    )
    event = json.loads(data)
    assert response.status == 201
    assert event["routeKey"] == "ANY /api/{proxy+}"
    assert event["pathParameters"] == {"proxy": "search"}
    assert event["body"] == '{"q": "x"}'
    assert event["isBase64Encoded"] is False


def test_binary_request_body_is_base64_encoded(server):
    payload = bytes(range(256))
    response, data = request(
        server, "PUT", "/api/upload", headers=[("Content-Type", "application/octet-stream")], body=payload
    )
    event = json.loads(data)
    assert response.status == 201
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_response_headers_cookies_and_status_are_mapped_back(server):
    response, _ = request(server, "GET", "/api/health")
    assert response.status == 201
    assert response.getheader("x-function") == "echo"
    assert response.getheader("content-type") == "application/json"
    assert response.msg.get_all("x-multi") == ["one", "two"]
    assert response.msg.get_all("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]


def test_base64_response_body_is_decoded(server):
    response, data = request(server, "GET", "/api/binary")
    assert response.getheader("content-type") == "image/png"
    assert data == b"\x00\x01\x02\xff"


def test_result_without_status_code_is_a_json_200(server):
    response, data = request(server, "GET", "/api/inferred")
    assert response.status == 200
    assert response.getheader("content-type") == "application/json"
    assert json.loads(data) == {"answer": 42}


def test_a_handler_that_raises_gives_api_gateway_500_and_the_server_keeps_serving(server, capsys):
    response, data = request(server, "GET", "/api/boom")
    assert response.status == 500
    assert json.loads(data) == {"message": "Internal Server Error"}
    assert "handler bug" in capsys.readouterr().err
    response, _ = request(server, "GET", "/api/health")
    assert response.status == 201


def test_unrouted_api_path_is_api_gateway_404(server):
    response, data = request(server, "GET", "/api")
    assert response.status == 404
    assert json.loads(data) == {"message": "Not Found"}


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/", "text/html; charset=utf-8", b"<!doctype html><title>t</title>"),
        ("/js/app.js", "text/javascript; charset=utf-8", b"export const x = 1;\n"),
        ("/style.css?v=2", "text/css; charset=utf-8", b"body{}"),
    ],
)
def test_static_files_are_served_with_their_content_type(server, path, content_type, body):
    response, data = request(server, "GET", path)
    assert response.status == 200
    assert response.getheader("content-type") == content_type
    assert data == body


def test_text_is_gzipped_for_clients_that_accept_it_as_cloudfront_does(server, tmp_path):
    # GIVEN a page module large enough to be worth compressing
    module = "export const words = [" + ", ".join(f'"w{i}"' for i in range(400)) + "];\n"
    (tmp_path / "js" / "big.js").write_text(module, encoding="utf-8")
    # WHEN a browser that accepts gzip asks for it, and for an API answer
    static, static_body = request(server, "GET", "/js/big.js", headers=[("Accept-Encoding", "gzip, br")])
    api, api_body = request(server, "GET", "/api/search?q=" + "x" * 600, headers=[("Accept-Encoding", "gzip")])
    plain, plain_body = request(server, "GET", "/js/big.js")
    # THEN both come compressed and decode to the same bytes; a client without gzip gets them plain
    assert static.getheader("content-encoding") == "gzip" and len(static_body) < len(module)
    assert gzip.decompress(static_body).decode() == module
    assert api.getheader("content-encoding") == "gzip"
    assert json.loads(gzip.decompress(api_body))["rawQueryString"] == "q=" + "x" * 600
    assert plain.getheader("content-encoding") is None and plain_body.decode() == module


@pytest.mark.parametrize("path", ["/missing.js", "/js/", "/../pyproject.toml", "/%2e%2e/pyproject.toml"])
def test_no_file_outside_the_frontend_and_no_directory_listing(server, path):
    response, _ = request(server, "GET", path)
    assert response.status == 404


def test_a_port_in_use_is_one_clear_error(server, tmp_path):
    with pytest.raises(PortInUseError, match=f"port {server.port} is already in use"):
        DevHTTPServer(server.port, tmp_path, RouteTable(ROUTES))


def test_route_table_prefers_the_most_specific_route():
    table = RouteTable(["ANY /api/{proxy+}", "GET /api/talks/{id+}", "GET /api/search", "$default"])
    assert table.match("GET", "/api/search") == ("GET /api/search", {})
    assert table.match("POST", "/api/search") == ("ANY /api/{proxy+}", {"proxy": "search"})
    assert table.match("GET", "/api/talks/a/b") == ("GET /api/talks/{id+}", {"id": "a/b"})
    assert table.match("GET", "/elsewhere") == ("$default", {})


def test_routes_come_from_the_template_when_it_declares_them(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(
        """
Globals:
  Function:
    Runtime: python3.12
Resources:
  SearchFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: functions.search.app.lambda_handler
      Environment:
        Variables:
          INDEX_BUCKET: !Ref IndexBucket
      Events:
        Search:
          Type: HttpApi
          Properties: {ApiId: !Ref SearchApi, Path: /api/search, Method: get}
        Talk:
          Type: HttpApi
          Properties: {ApiId: !Ref SearchApi, Path: "/api/talks/{id+}", Method: GET}
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: functions.rebuild.app.lambda_handler
      Events:
        Api: {Type: HttpApi, Properties: {Path: /api/other, Method: any}}
""",
        encoding="utf-8",
    )
    assert routes_from_template(template) == ["GET /api/search", "GET /api/talks/{id+}"]
    assert routes_from_template(tmp_path / "missing.yaml") == ["ANY /api/{proxy+}"]


def test_text_body_with_invalid_utf8_is_sent_as_base64():
    event = build_event(
        HttpRequest("POST", "/api/x", [("Content-Type", "text/plain")], body=b"\xff\xfe"), "ANY /api/{proxy+}", {}
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


def test_map_response_passes_plain_string_bodies_through():
    response = map_response({"statusCode": 404, "headers": {"Content-Type": "application/json"}, "body": "{}"})
    assert (response.status, response.body) == (404, b"{}")
