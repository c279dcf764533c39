"""talksearch.store: the same behaviour for an S3 prefix (moto) and a local folder."""

from __future__ import annotations

import threading

import pytest

from talksearch.contracts import Manifest, artifact_key
from talksearch.store import LocalStore, ManifestConflictError, ObjectTooLargeError, S3Store, open_store
from tests.conftest import STORE_BUCKET


def manifest_for(store, version: str, sha: str = "0" * 64) -> Manifest:
    return Manifest(
        schema_version=1,
        index_version=version,
        artifact_key=store.full_key(f"versions/{version}/index.tar.gz"),
        artifact_sha256=sha,
        artifact_bytes=1,
        talk_count=1,
        built_at="2026-11-26T00:00:00Z",
    )


def test_open_store_picks_the_backend(tmp_path):
    s3 = open_store("s3://bucket-name/some/prefix/")
    assert isinstance(s3, S3Store) and s3.bucket == "bucket-name" and s3.prefix == "some/prefix"
    assert isinstance(open_store(tmp_path), LocalStore)
    with pytest.raises(ValueError, match="unsupported location"):
        open_store("gs://elsewhere/x")
    with pytest.raises(ValueError, match="no bucket"):
        open_store("s3:///prefix")


def test_first_manifest_then_conditional_replace(store):
    # GIVEN no manifest yet
    assert store.read_manifest() == (None, None)
    # WHEN the first build publishes
    first_etag = store.write_manifest(manifest_for(store, "v1"), expected_etag=None)
    manifest, etag = store.read_manifest()
    assert manifest.index_version == "v1" and etag == first_etag
    # THEN a second "first" publish is refused, and a replace with the right ETag succeeds
    with pytest.raises(ManifestConflictError):
        store.write_manifest(manifest_for(store, "v-other"), expected_etag=None)
    store.write_manifest(manifest_for(store, "v2"), expected_etag=etag)
    assert store.read_manifest()[0].index_version == "v2"
    # AND a writer holding the stale ETag is refused without touching the manifest
    with pytest.raises(ManifestConflictError):
        store.write_manifest(manifest_for(store, "v3"), expected_etag=etag)
    assert store.read_manifest()[0].index_version == "v2"


def test_manifest_artifact_key_is_the_full_bucket_key(s3_bucket):
    store = open_store(f"s3://{STORE_BUCKET}/site/index")
    assert manifest_for(store, "v1").artifact_key == artifact_key("site/index", "v1")


def test_local_conditional_writes_have_one_winner(tmp_path):
    # GIVEN ten builders that all read the same (absent) manifest
    store = LocalStore(tmp_path)
    outcomes: list[str] = []

    def publish(n: int) -> None:
        try:
            store.write_manifest(manifest_for(store, f"v{n}"), expected_etag=None)
            outcomes.append("won")
        except ManifestConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN exactly one of them published
    assert sorted(outcomes) == ["conflict"] * 9 + ["won"]


def test_listing_is_paginated_and_relative(s3_bucket):
    # GIVEN more objects than one ListObjectsV2 page holds, and one outside the prefix
    for n in range(1005):
        s3_bucket.put_object(Bucket=STORE_BUCKET, Key=f"content/talks/{n:04d}.md", Body=b"x" * (n % 7))
    s3_bucket.put_object(Bucket=STORE_BUCKET, Key="content-other/a.md", Body=b"no")
    s3_bucket.put_object(Bucket=STORE_BUCKET, Key="content/folder/", Body=b"")
    objects = list(open_store(f"s3://{STORE_BUCKET}/content").list_objects())
    assert len(objects) == 1005
    assert objects[0].key == "talks/0000.md" and objects[3].size == 3 and objects[3].etag.startswith('"')


def test_local_listing_hashes_content_and_skips_hidden(tmp_path):
    (tmp_path / "a.md").write_text("one")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text("[]")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x")
    (tmp_path / ".DS_Store").write_text("x")
    before = {o.key: o.etag for o in LocalStore(tmp_path).list_objects()}
    assert set(before) == {"a.md", "sub/b.json"}
    (tmp_path / "a.md").write_text("two")
    after = {o.key: o.etag for o in LocalStore(tmp_path).list_objects()}
    assert after["a.md"] != before["a.md"] and after["sub/b.json"] == before["sub/b.json"]


def test_read_respects_the_size_cap(store):
    store.write_bytes("big.bin", b"x" * 2000)
    assert store.read_bytes("big.bin", max_bytes=2000) == b"x" * 2000
    with pytest.raises(ObjectTooLargeError, match="2,000 bytes, over the 1,000-byte limit"):
        store.read_bytes("big.bin", max_bytes=1000)


def test_versions_listed_in_order_and_deleted(store):
    for version in ("20261126T100000000Z", "20261125T100000000Z", "20261127T100000000Z"):
        store.write_bytes(f"versions/{version}/index.tar.gz", b"artifact")
        store.write_version_manifest(manifest_for(store, version))
    assert store.list_versions() == ["20261125T100000000Z", "20261126T100000000Z", "20261127T100000000Z"]
    assert store.read_version_manifest("20261126T100000000Z").index_version == "20261126T100000000Z"
    store.delete_version("20261126T100000000Z")
    assert store.list_versions() == ["20261125T100000000Z", "20261127T100000000Z"]
    assert store.read_version_manifest("20261126T100000000Z") is None
