"""The one module that reads and writes objects (content, manifests, index versions), in S3 or in a local folder.

``open_store("s3://bucket/prefix")`` and ``open_store("some/dir")`` return objects with the same
API, so the builder, the functions and the local stack never branch on where data lives. Keys
given to a store are relative to its root; keys written into a manifest (``artifact_key``) are
full bucket keys, as ``talksearch.contracts`` defines them, so a reader holding only the bucket
name can follow them.

The builder and the rebuild function use boto3 (``S3Store``), imported and its client created on
first use; the endpoint comes from ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, which boto3 reads
itself (moto server locally, real S3 in AWS). The search function only reads, through
``open_reader``: ``S3ReadStore`` signs its own GETs (``talksearch.s3_get``), with no boto3 to import
on a cold start, and the same endpoint variables, timeouts, attempts and errors.

A hung or throttling S3 must not hold a search request past API Gateway's 30 s: every call has a
2 s connect and a 4 s read timeout and at most 2 attempts (botocore's standard retry mode, which
retries 503 SlowDown, 500s and timeouts with a jittered backoff of at most 1 s before the second), and
a download retries a broken stream once: ``S3_CALL_WORST_SECONDS`` is what one call can take, and a
version swap makes two (docs/reliability.md, "S3 faults").
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talksearch.contracts import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    VERSIONS_DIR,
    Manifest,
    join_key,
    s3_location,
)

__all__ = [
    "ChecksumMismatchError",
    "LocalStore",
    "ManifestConflictError",
    "ObjectTooLargeError",
    "S3ReadStore",
    "S3Store",
    "Store",
    "StoreError",
    "StoredObject",
    "download_verified",
    "open_reader",
    "open_store",
]


S3_CONNECT_TIMEOUT = 2.0
S3_READ_TIMEOUT = 4.0
S3_MAX_ATTEMPTS = 2
#: Longest one S3 call can take before it fails: each attempt connects and waits for a read, with the backoff
#: between them (standard mode: a random 0 to 1 s before the second attempt).
S3_CALL_WORST_SECONDS = S3_MAX_ATTEMPTS * (S3_CONNECT_TIMEOUT + S3_READ_TIMEOUT) + (S3_MAX_ATTEMPTS - 1) * 1.0


#: What one read of a streamed download asks for.
_READ_CHUNK = 1 << 20


class StoreError(Exception):
    """Base class of every error this module raises on purpose."""


class ManifestConflictError(StoreError):
    """Someone else replaced (or created) the manifest since we read it: our write was refused."""


class ObjectTooLargeError(StoreError):
    """An object is bigger than the caller is willing to read into memory."""


class ChecksumMismatchError(StoreError):
    """A downloaded object does not have the sha256 (or the size) its manifest promises."""


@dataclass(frozen=True)
class StoredObject:
    """One object under a store's root: key relative to the root, ETag (local: content md5), size."""

    key: str
    etag: str
    size: int


def _quoted_md5(data: bytes) -> str:
    """An S3-style ETag for local files (md5 in quotes, like a single-part upload)."""
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


class Store:
    """Same operations for S3 and local folders; subclasses implement the raw object calls."""

    #: The key prefix of this store's root inside its bucket ("" for local folders).
    prefix: str = ""
    location: str = ""

    # --- raw object operations (keys relative to the root) -------------------------------
    def list_objects(self, under: str = "", *, etags: bool = True) -> Iterator[StoredObject]:
        """Every object under the root (or under ``under``), following S3 pagination.

        ``etags=False`` lets a local folder skip hashing file contents when only keys matter.
        """
        raise NotImplementedError

    def read_bytes(self, key: str, max_bytes: int | None = None) -> bytes:
        """The object's bytes; ``ObjectTooLargeError`` if it is bigger than ``max_bytes``."""
        raise NotImplementedError

    def read_with_etag(self, key: str, max_bytes: int | None = None) -> tuple[bytes, str] | None:
        """The object's bytes and ETag, or None when it does not exist; ``ObjectTooLargeError`` over ``max_bytes``."""
        raise NotImplementedError

    def write_bytes(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        """Write an object, optionally conditionally; returns the new ETag.

        Raises ``ManifestConflictError`` when the condition fails (S3 answers 412, or 404 for
        If-Match on an object that has gone).
        """
        raise NotImplementedError

    def upload_file(self, key: str, path: Path, metadata: dict[str, str] | None = None) -> None:
        raise NotImplementedError

    def download_file(self, key: str, path: Path) -> None:
        raise NotImplementedError

    def open_stream(self, key: str) -> contextlib.AbstractContextManager:
        """The object's bytes as a stream with ``read(size)``, closed on leaving the ``with`` block."""
        raise NotImplementedError

    def delete(self, keys: Iterable[str]) -> None:
        raise NotImplementedError

    def full_key(self, key: str) -> str:
        """The key inside the bucket (what manifests record)."""
        return join_key(self.prefix, key)

    def relative_key(self, full_key: str) -> str:
        if self.prefix and full_key.startswith(self.prefix.rstrip("/") + "/"):
            return full_key[len(self.prefix.rstrip("/")) + 1 :]
        return full_key

    # --- manifest ---------------------------------------------------------------------------
    def read_manifest(self) -> tuple[Manifest | None, str | None]:
        """The published manifest and its ETag, or ``(None, None)`` before the first publish."""
        found = self.read_with_etag(MANIFEST_NAME, MAX_MANIFEST_BYTES)
        if found is None:
            return None, None
        data, etag = found
        return Manifest.from_json(data), etag

    def write_manifest(self, manifest: Manifest, expected_etag: str | None) -> str:
        """Replace the manifest only if it still has ``expected_etag`` (None: only if there is none yet).

        Returns the new ETag; raises ``ManifestConflictError`` when another writer got there first.
        """
        if expected_etag is None:
            return self.write_bytes(MANIFEST_NAME, manifest.to_json(), if_none_match=True)
        return self.write_bytes(MANIFEST_NAME, manifest.to_json(), if_match=expected_etag)

    # --- versions ---------------------------------------------------------------------------
    def write_version_manifest(self, manifest: Manifest) -> None:
        """Keep a copy of a build's manifest next to its artifact, for rollback."""
        self.write_bytes(join_key(VERSIONS_DIR, manifest.index_version, MANIFEST_NAME), manifest.to_json())

    def read_version_manifest(self, index_version: str) -> Manifest | None:
        found = self.read_with_etag(join_key(VERSIONS_DIR, index_version, MANIFEST_NAME), MAX_MANIFEST_BYTES)
        return Manifest.from_json(found[0]) if found else None

    def list_versions(self) -> list[str]:
        """Every version that has objects under ``versions/``, oldest first (versions sort by time)."""
        versions = set()
        for obj in self.list_objects(VERSIONS_DIR, etags=False):
            parts = obj.key.split("/")
            if len(parts) >= 3 and parts[0] == VERSIONS_DIR:
                versions.add(parts[1])
        return sorted(versions)

    def delete_version(self, index_version: str) -> None:
        self.delete(obj.key for obj in self.list_objects(join_key(VERSIONS_DIR, index_version), etags=False))


class S3Store(Store):
    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = s3_location(bucket, self.prefix)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazily: the search function must not pay for it before it needs S3
            from botocore.config import Config

            self._client = boto3.client(
                "s3",
                config=Config(
                    connect_timeout=S3_CONNECT_TIMEOUT,
                    read_timeout=S3_READ_TIMEOUT,
                    retries={"mode": "standard", "max_attempts": S3_MAX_ATTEMPTS},
                ),
            )
        return self._client

    def list_objects(self, under: str = "", *, etags: bool = True) -> Iterator[StoredObject]:
        root = join_key(self.prefix, under)
        list_prefix = root + "/" if root else ""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=list_prefix):
            for item in page.get("Contents", []):
                key = self.relative_key(item["Key"]) if self.prefix else item["Key"]
                if key.endswith("/"):  # "folder" placeholder objects from the console
                    continue
                yield StoredObject(key=key, etag=item["ETag"], size=item["Size"])

    def read_bytes(self, key: str, max_bytes: int | None = None) -> bytes:
        response = self.client.get_object(Bucket=self.bucket, Key=self.full_key(key))
        return _read_body(key, response, max_bytes)

    def read_with_etag(self, key: str, max_bytes: int | None = None) -> tuple[bytes, str] | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.full_key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        return _read_body(key, response, max_bytes), response["ETag"]

    def write_bytes(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        from botocore.exceptions import ClientError

        conditions: dict[str, str] = {}
        if if_match is not None:
            conditions["IfMatch"] = if_match
        if if_none_match:
            conditions["IfNoneMatch"] = "*"
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=self.full_key(key),
                Body=data,
                ContentType="application/json" if key.endswith(".json") else "application/octet-stream",
                **conditions,
            )
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = error.response.get("Error", {}).get("Code")
            # 412: the condition failed; 409: a concurrent conditional write won; 404: If-Match on a gone key
            if conditions and (
                status in (404, 409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict")
            ):
                raise ManifestConflictError(
                    f"{self.location}/{key} changed since it was read ({code}); another build published first"
                ) from error
            raise
        return response["ETag"]

    def upload_file(self, key: str, path: Path, metadata: dict[str, str] | None = None) -> None:
        extra = {"Metadata": metadata} if metadata else None
        self.client.upload_file(str(path), self.bucket, self.full_key(key), ExtraArgs=extra)

    def download_file(self, key: str, path: Path) -> None:
        from boto3.s3.transfer import TransferConfig

        # s3transfer retries a stream that breaks mid-body up to 5 times by default, each after a read timeout
        config = TransferConfig(num_download_attempts=S3_MAX_ATTEMPTS)
        self.client.download_file(self.bucket, self.full_key(key), str(path), Config=config)

    def open_stream(self, key: str) -> contextlib.AbstractContextManager:
        return contextlib.closing(self.client.get_object(Bucket=self.bucket, Key=self.full_key(key))["Body"])

    def delete(self, keys: Iterable[str]) -> None:
        batch: list[dict[str, str]] = []
        for key in keys:
            batch.append({"Key": self.full_key(key)})
            if len(batch) == 1000:  # DeleteObjects takes at most 1000 keys
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, batch: list[dict[str, str]]) -> None:
        response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        if response.get("Errors"):
            first = response["Errors"][0]
            raise StoreError(f"could not delete {first.get('Key')}: {first.get('Message')}")


class S3ReadStore(Store):
    """The search function's read-only view of an S3 prefix: ``talksearch.s3_get``'s signed GETs, no boto3.

    Its ``client`` (created on first use) reads the credentials, region and endpoint from the
    environment then, as boto3's does; the same timeouts, attempts and errors as ``S3Store`` reads.
    """

    def __init__(self, bucket: str, prefix: str = "") -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = s3_location(bucket, self.prefix)
        self._client = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from talksearch.s3_get import S3GetClient

            self._client = S3GetClient()
        return self._client

    def read_bytes(self, key: str, max_bytes: int | None = None) -> bytes:
        with self.client.get(self.bucket, self.full_key(key)) as body:
            return _read_stream(key, body, body.content_length, max_bytes)

    def read_with_etag(self, key: str, max_bytes: int | None = None) -> tuple[bytes, str] | None:
        from talksearch.s3_get import S3ResponseError

        try:
            body = self.client.get(self.bucket, self.full_key(key))
        except S3ResponseError as error:
            if error.code == "NoSuchKey":
                return None
            raise
        with body:
            return _read_stream(key, body, body.content_length, max_bytes), body.etag

    def open_stream(self, key: str) -> contextlib.AbstractContextManager:
        return self.client.get(self.bucket, self.full_key(key))


def _read_stream(key: str, body: Any, stated: int, max_bytes: int | None) -> bytes:
    """A body of ``stated`` bytes, refused unread when that is over ``max_bytes`` (and once one byte more has
    been read, should it run on past it)."""
    _check_size(key, stated, max_bytes)
    limit = None if max_bytes is None else max_bytes + 1
    chunks, total = [], 0
    while limit is None or total < limit:
        chunk = body.read(1 << 20 if limit is None else min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    _check_size(key, total, max_bytes, read=True)
    return b"".join(chunks)


def _read_body(key: str, response: dict, max_bytes: int | None) -> bytes:
    """A GetObject body, refused unread when its length says it is over ``max_bytes`` (and, should it run on
    past its length, once one byte more than that has been read)."""
    with contextlib.closing(response["Body"]) as body:
        if max_bytes is None:
            return body.read()
        _check_size(key, response["ContentLength"], max_bytes)
        data = body.read(max_bytes + 1)
        _check_size(key, len(data), max_bytes, read=True)
        return data


def _check_size(key: str, size: int, max_bytes: int | None, *, read: bool = False) -> None:
    """``size``: the object's stated size, or (``read``) what reading at most ``max_bytes + 1`` gave."""
    if max_bytes is not None and size > max_bytes:
        said = f"over {max_bytes:,} bytes" if read else f"{size:,} bytes"
        raise ObjectTooLargeError(f"{key} is {said}, over the {max_bytes:,}-byte limit")


def download_verified(store: Store, key: str, sha256: str, size: int, max_bytes: int) -> memoryview:
    """The object at ``key`` (a full bucket key) held in memory, read-only: exactly ``size`` bytes with ``sha256``.

    One streamed GET into one buffer of the ``size`` a manifest promises, allocated once and filled in
    place (``readinto``: no chunk copied, no buffer freed and allocated again), the sha256 taken as the
    bytes arrive. Refused before the GET when ``size`` is over ``max_bytes``; an object that ends short of
    ``size`` or runs on past it, or does not have the sha256, is ``ChecksumMismatchError``: nothing else
    is read and the buffer is dropped.
    """
    if size < 0 or size > max_bytes:
        raise ObjectTooLargeError(f"{key} is declared as {size:,} bytes; the most this function reads is {max_bytes:,}")
    buffer = memoryview(bytearray(size))
    digest = hashlib.sha256()
    received = 0
    with store.open_stream(store.relative_key(key)) as body:
        while received < size:
            part = buffer[received : received + _READ_CHUNK]
            count = body.readinto(part)
            if not count:
                raise ChecksumMismatchError(f"{key} ends after {received:,} of the {size:,} bytes its manifest says")
            digest.update(part[:count])
            received += count
        if body.readinto(bytearray(1)):
            raise ChecksumMismatchError(f"{key} is longer than the {size:,} bytes its manifest says")
    actual = digest.hexdigest()
    if actual != sha256:
        raise ChecksumMismatchError(f"{key} has sha256 {actual}, manifest says {sha256}")
    return buffer.toreadonly()


class LocalStore(Store):
    """A folder laid out like the bucket. Manifest writes are serialised with an flock and
    replaced atomically (write to a temp file, then rename), emulating S3's conditional writes."""

    _LOCK_NAME = ".manifest.lock"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.location = str(self.root)
        self.prefix = ""

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise StoreError(f"refusing key with '.' or '..': {key!r}")
        return self.root.joinpath(*parts)

    def list_objects(self, under: str = "", *, etags: bool = True) -> Iterator[StoredObject]:
        start = self._path(under) if under else self.root
        if not start.is_dir():
            return
        for directory, dirnames, filenames in os.walk(start):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))  # .git, .DS_Store folders …
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                path = Path(directory, name)
                key = path.relative_to(self.root).as_posix()
                if etags:
                    data = path.read_bytes()
                    yield StoredObject(key=key, etag=_quoted_md5(data), size=len(data))
                else:
                    yield StoredObject(key=key, etag="", size=path.stat().st_size)

    def read_bytes(self, key: str, max_bytes: int | None = None) -> bytes:
        with open(self._path(key), "rb") as f:
            _check_size(key, os.fstat(f.fileno()).st_size, max_bytes)
            data = f.read() if max_bytes is None else f.read(max_bytes + 1)
        _check_size(key, len(data), max_bytes, read=True)
        return data

    def read_with_etag(self, key: str, max_bytes: int | None = None) -> tuple[bytes, str] | None:
        try:
            data = self.read_bytes(key, max_bytes)
        except FileNotFoundError:
            return None
        return data, _quoted_md5(data)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / self._LOCK_NAME, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def write_bytes(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        path = self._path(key)
        with self._locked():
            if if_match is not None or if_none_match:
                current = self.read_with_etag(key)
                current_etag = current[1] if current else None
                if (if_none_match and current_etag is not None) or (if_match is not None and current_etag != if_match):
                    raise ManifestConflictError(f"{path} changed since it was read; another build published first")
            self._atomic_write(path, data)
        return _quoted_md5(data)

    @staticmethod
    def _atomic_write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def upload_file(self, key: str, path: Path, metadata: dict[str, str] | None = None) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def download_file(self, key: str, path: Path) -> None:
        shutil.copyfile(self._path(key), path)

    def open_stream(self, key: str) -> contextlib.AbstractContextManager:
        return open(self._path(key), "rb")

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            # drop directories left empty, up to the root
            parent = path.parent
            while parent != self.root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent


def open_reader(location: str | os.PathLike) -> Store:
    """A store that only reads, for the search function: ``S3ReadStore`` (no boto3) or a local folder."""
    store = open_store(location)
    return S3ReadStore(store.bucket, store.prefix) if isinstance(store, S3Store) else store


def open_store(location: str | os.PathLike) -> Store:
    """A store for ``s3://bucket[/prefix]`` or a local directory path."""
    text = os.fspath(location)
    if text.startswith("s3://"):
        bucket, _, prefix = text[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {text!r}")
        return S3Store(bucket, prefix)
    if "://" in text:
        raise ValueError(f"unsupported location {text!r}: use s3://bucket/prefix or a directory path")
    return LocalStore(text)
