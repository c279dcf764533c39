"""A signed S3 GET in the standard library: how the search function reads its manifest and artifact.

The search function only ever GETs two kinds of objects; boto3's import and client were the largest
cost of a cold container (≈ 0.46 s of a 2.6 s first answer, docs/benchmarks.md), so it signs its own
requests with AWS Signature Version 4 (``hmac``, ``hashlib``, ``http.client``). The builder and the
rebuild function keep boto3 (``talksearch.store.S3Store``). ``tests/test_s3_get.py`` signs the same
requests with botocore's signer and requires the same Authorization header, so this stays what S3
accepts.

What it reads from the environment, as Lambda provides it: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` (always set in Lambda), ``AWS_REGION`` (or
``AWS_DEFAULT_REGION``), and the endpoint override boto3 honours, ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` (moto's server locally: path-style URLs). Without one it uses the regional
virtual-hosted URL real S3 serves (``https://BUCKET.s3.REGION.amazonaws.com/KEY``).

On faults it behaves as the boto3 client it replaced (``talksearch.store``'s timeouts): 2 s to
connect, 4 s per read, at most 2 attempts per call, the second after a random backoff of up to 1 s,
on 500/502/503/504, throttling codes (503 SlowDown) and connection errors. A body that breaks
mid-stream is resumed with a ranged GET of what is missing (``If-Match`` its ETag), if the call has an
attempt left.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from talksearch.store import S3_CONNECT_TIMEOUT, S3_MAX_ATTEMPTS, S3_READ_TIMEOUT, StoreError

__all__ = ["Credentials", "S3GetClient", "S3ResponseError", "signed_headers"]

#: sha256 of an empty body: a GET's payload hash (botocore signs it so too, over http and https).
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#: What S3 answers when a request may succeed if tried again (botocore's standard retry mode).
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
_RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "InternalError",
    }
)
#: Connection-level failures worth a second attempt: refused, reset, timed out (``socket.timeout`` is an
#: OSError), closed without an answer.
_CONNECTION_ERRORS = (OSError, http.client.HTTPException)
_MAX_ERROR_BODY = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


class S3ResponseError(StoreError):
    """S3 answered with an error: ``status`` (404, 403, 503 …) and S3's ``code`` (NoSuchKey, AccessDenied …)."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None

    @classmethod
    def from_env(cls) -> Credentials:
        access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if not access or not secret:
            raise StoreError("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
        return cls(access, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


def signed_headers(
    url: str,
    credentials: Credentials,
    region: str,
    now: datetime,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers of a SigV4-signed GET of ``url`` (already percent-encoded), ``headers`` signed with them."""
    parts = urlsplit(url)
    timestamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = timestamp[:8]
    all_headers = {
        **(headers or {}),
        "X-Amz-Date": timestamp,
        "X-Amz-Content-SHA256": EMPTY_SHA256,
    }
    if credentials.token:
        all_headers["X-Amz-Security-Token"] = credentials.token
    canonical = {name.lower(): " ".join(value.split()) for name, value in all_headers.items()}
    canonical["host"] = _host_header(parts.scheme, parts.hostname or "", parts.port)
    names = sorted(canonical)
    signed = ";".join(names)
    canonical_request = "\n".join(
        [
            "GET",
            parts.path or "/",
            _canonical_query(parts.query),
            "".join(f"{name}:{canonical[name]}\n" for name in names),
            signed,
            EMPTY_SHA256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    all_headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return all_headers


def _host_header(scheme: str, hostname: str, port: int | None) -> str:
    return hostname if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{hostname}:{port}"


def _canonical_query(query: str) -> str:
    return "&".join(sorted(query.split("&"))) if query else ""


class S3GetClient:
    """Signed GETs against one endpoint, with the environment's credentials and region read once, at creation."""

    def __init__(self) -> None:
        self.credentials = Credentials.from_env()
        self.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None

    def object_url(self, bucket: str, key: str) -> str:
        """Path-style under an endpoint override; virtual-hosted regional otherwise (path-style for dotted
        bucket names, which do not match S3's wildcard certificate)."""
        path = quote(key, safe="/~")
        if self.endpoint:
            return f"{self.endpoint.rstrip('/')}/{bucket}/{path}"
        if "." in bucket:
            return f"https://s3.{self.region}.amazonaws.com/{bucket}/{path}"
        return f"https://{bucket}.s3.{self.region}.amazonaws.com/{path}"

    def get(self, bucket: str, key: str, headers: dict[str, str] | None = None) -> ObjectBody:
        """The object's body as a stream (status 200 or 206); ``S3ResponseError`` for any other answer."""
        return ObjectBody(self, bucket, key, headers or {})

    def _request(
        self, url: str, headers: dict[str, str]
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """One signed GET on a connection of its own; the answer whatever its status."""
        parts = urlsplit(url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=S3_CONNECT_TIMEOUT)
        try:
            connection.connect()
            connection.sock.settimeout(S3_READ_TIMEOUT)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
            signed = signed_headers(url, self.credentials, self.region, datetime.now(UTC), headers)
            signed["Host"] = _host_header(parts.scheme, parts.hostname or "", parts.port)
            for name, value in signed.items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
        except BaseException:
            connection.close()
            raise
        return connection, response


class ObjectBody:
    """A GET's body read as a stream, retried and resumed within the call's attempts.

    ``etag`` and ``content_length`` are those of the object (of the first answer). ``read(size)``
    returns b"" at the end (``readinto(buffer)`` 0); a body that breaks before ``content_length`` bytes is
    resumed once with a ranged GET if an attempt is left, else ``StoreError``.
    """

    def __init__(self, client: S3GetClient, bucket: str, key: str, headers: dict[str, str]) -> None:
        self._client, self._url, self._headers = client, client.object_url(bucket, key), headers
        self._where = f"s3://{bucket}/{key}"
        self._attempts = 0
        self._received = 0
        self._connection, self._response = self._open(headers, expect=(200, 206))
        self.etag = self._response.getheader("ETag", "")
        self.content_length = int(self._response.getheader("Content-Length") or 0)

    def _open(
        self, headers: dict[str, str], expect: tuple[int, ...]
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        while True:
            self._attempts += 1
            last_try = self._attempts >= S3_MAX_ATTEMPTS
            try:
                connection, response = self._client._request(self._url, headers)
            except _CONNECTION_ERRORS as error:
                if last_try:
                    raise StoreError(f"could not GET {self._where}: {error!r}") from error
            else:
                if response.status in expect:
                    return connection, response
                error = _response_error(self._where, response)
                connection.close()
                if last_try or not (response.status in _RETRYABLE_STATUS or error.code in _RETRYABLE_CODES):
                    raise error
            time.sleep(random.random())  # the jitter of standard retries: 0 to 1 s before the second attempt

    def read(self, size: int = -1) -> bytes:
        wanted = size if size is not None and size >= 0 else self.content_length - self._received
        return self._next(lambda: self._response.read(wanted), len) if wanted else b""

    def readinto(self, buffer: memoryview | bytearray) -> int:
        """Fill as much of ``buffer`` as the body has next, with no new buffer (``read``'s ``size`` is its length)."""
        return self._next(lambda: self._response.readinto(buffer), int) if len(buffer) else 0

    def _next(self, receive, count):
        """What ``receive()`` gets next from the body: resumed when it breaks, empty only at its end."""
        while True:
            try:
                got = receive()
            except _CONNECTION_ERRORS as error:
                got, broken = None, error
            else:
                broken = None
            if got is not None and (count(got) or self._received >= self.content_length):
                self._received += count(got)
                return got
            self._resume(broken)

    def _resume(self, broken: BaseException | None) -> None:
        """Ask for the rest of the object after a body broke off at ``self._received`` bytes."""
        self.close()
        if self._attempts >= S3_MAX_ATTEMPTS:
            raise StoreError(
                f"{self._where} broke off after {self._received:,} of {self.content_length:,} bytes ({broken!r})"
            )
        headers = {**self._headers, "Range": f"bytes={self._received}-", "If-Match": self.etag}
        self._connection, self._response = self._open(headers, expect=(206,))
        stated = self._response.getheader("Content-Range", "")
        if not stated.startswith(f"bytes {self._received}-"):
            self.close()
            raise StoreError(f"{self._where}: resumed at byte {self._received:,}, S3 sent {stated!r}")

    def close(self) -> None:
        self._response.close()
        self._connection.close()

    def __enter__(self) -> ObjectBody:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _response_error(where: str, response: http.client.HTTPResponse) -> S3ResponseError:
    """S3's error answer (its XML ``Code`` and ``Message``), the answer read and closed."""
    try:
        body = response.read(_MAX_ERROR_BODY).decode("utf-8", "replace")
    except _CONNECTION_ERRORS:
        body = ""
    finally:
        response.close()
    code = _xml_text(body, "Code") or (
        {404: "NoSuchKey", 403: "AccessDenied"}.get(response.status) or str(response.status)
    )
    message = _xml_text(body, "Message") or response.reason
    return S3ResponseError(f"GET {where}: {response.status} {code}: {message}", response.status, code)


def _xml_text(body: str, tag: str) -> str:
    match = re.search(rf"<{tag}>([^<]*)</{tag}>", body)
    return match.group(1) if match else ""
