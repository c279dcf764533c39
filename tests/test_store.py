"""talksearch.store: the same behaviour for an S3 prefix (moto) and a local folder."""

from __future__ import annotations

import io
import tarfile
import threading
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from talksearch.contracts import Manifest, artifact_key
from talksearch.store import (
    ChecksumMismatchError,
    LocalStore,
    ManifestConflictError,
    ObjectTooLargeError,
    PackedFile,
    S3Store,
    UnsafeArchiveError,
    open_store,
    pack_index,
    unpack_index,
)

BUCKET = "talksearch-store-tests"


@pytest.fixture
def s3_bucket():
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        yield client


@pytest.fixture(params=["s3", "local"])
def store(request, tmp_path):
    if request.param == "s3":
        request.getfixturevalue("s3_bucket")
        return open_store(f"s3://{BUCKET}/site/index")
    return open_store(tmp_path / "index")


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
    store = open_store(f"s3://{BUCKET}/site/index")
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
        s3_bucket.put_object(Bucket=BUCKET, Key=f"content/talks/{n:04d}.md", Body=b"x" * (n % 7))
    s3_bucket.put_object(Bucket=BUCKET, Key="content-other/a.md", Body=b"no")
    s3_bucket.put_object(Bucket=BUCKET, Key="content/folder/", Body=b"")
    objects = list(open_store(f"s3://{BUCKET}/content").list_objects())
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


def make_index_dir(root: Path) -> Path:
    index = root / "idx"
    index.mkdir()
    (index / "_MAIN_1.toc").write_bytes(b"toc")
    (index / "MAIN_abc.seg").write_bytes(b"segment" * 100)
    return index


def test_artifact_round_trip_with_checksum(store, tmp_path):
    # GIVEN a packed index uploaded under a version
    archive = tmp_path / "index.tar.gz"
    packed = pack_index(make_index_dir(tmp_path), archive)
    sha, size = packed.sha256, packed.size
    key, uploaded_sha, uploaded_size = store.upload_artifact(archive, "v1")
    assert (uploaded_sha, uploaded_size) == (sha, size)
    manifest = Manifest(1, "v1", key, sha, size, 2, "now")
    # WHEN it is downloaded and unpacked
    out = store.download_index(manifest, tmp_path / "out")
    # THEN the same files come back
    assert sorted(p.name for p in out.iterdir()) == ["MAIN_abc.seg", "_MAIN_1.toc"]
    assert (out / "MAIN_abc.seg").read_bytes() == b"segment" * 100


def test_artifact_with_wrong_checksum_is_refused(store, tmp_path):
    archive = tmp_path / "index.tar.gz"
    pack_index(make_index_dir(tmp_path), archive)
    key, _, size = store.upload_artifact(archive, "v1")
    forged = Manifest(1, "v1", key, "f" * 64, size, 2, "now")
    target = tmp_path / "dl" / "index.tar.gz"
    with pytest.raises(ChecksumMismatchError, match="manifest says ffff"):
        store.download_artifact(forged, target)
    assert not target.exists()


def test_versions_listed_in_order_and_deleted(store, tmp_path):
    archive = tmp_path / "index.tar.gz"
    pack_index(make_index_dir(tmp_path), archive)
    for version in ("20261126T100000000Z", "20261125T100000000Z", "20261127T100000000Z"):
        store.upload_artifact(archive, version)
        store.write_version_manifest(manifest_for(store, version))
    assert store.list_versions() == ["20261125T100000000Z", "20261126T100000000Z", "20261127T100000000Z"]
    assert store.read_version_manifest("20261126T100000000Z").index_version == "20261126T100000000Z"
    store.delete_version("20261126T100000000Z")
    assert store.list_versions() == ["20261125T100000000Z", "20261127T100000000Z"]
    assert store.read_version_manifest("20261126T100000000Z") is None


def hostile_archive(path: Path, name: str, kind: bytes = tarfile.REGTYPE) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        data = b"pwned"
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        if kind == tarfile.SYMTYPE:
            info.linkname = "/etc/passwd"
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("../escape.seg", tarfile.REGTYPE),
        ("/tmp/absolute.seg", tarfile.REGTYPE),
        ("nested/dir.seg", tarfile.REGTYPE),
        ("link.seg", tarfile.SYMTYPE),
        (".hidden", tarfile.REGTYPE),
    ],
)
def test_unpack_refuses_path_traversal_and_links(tmp_path, name, kind):
    archive = hostile_archive(tmp_path / "evil.tar.gz", name, kind)
    with pytest.raises(UnsafeArchiveError, match="refusing archive member"):
        unpack_index(archive, tmp_path / "out")
    assert not (tmp_path / "escape.seg").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_pack_reuses_members_of_the_previous_artifact(tmp_path):
    # GIVEN an index packed once, then given one new file (as an incremental build does)
    index = make_index_dir(tmp_path)
    first = pack_index(index, tmp_path / "first.tar.gz")
    (index / "MAIN_new.seg").write_bytes(b"fresh segment")
    (index / "_MAIN_1.toc").write_bytes(b"toc, now longer")
    # WHEN it is packed again with the first artifact to reuse
    second = pack_index(index, tmp_path / "second.tar.gz", previous=(tmp_path / "first.tar.gz", first.files))
    # THEN the unchanged file's member is copied byte for byte, the others compressed anew
    old_bytes = (tmp_path / "first.tar.gz").read_bytes()
    new_bytes = (tmp_path / "second.tar.gz").read_bytes()
    reused, before = second.files["MAIN_abc.seg"], first.files["MAIN_abc.seg"]
    assert (
        new_bytes[reused.offset : reused.offset + reused.length]
        == old_bytes[before.offset : before.offset + before.length]
    )
    # AND the result is an ordinary tar.gz holding exactly the current files
    unpack_index(tmp_path / "second.tar.gz", tmp_path / "out")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == {
        p.name: p.read_bytes() for p in index.iterdir()
    }
    with tarfile.open(tmp_path / "second.tar.gz", "r:gz") as tar:
        assert sorted(tar.getnames()) == ["MAIN_abc.seg", "MAIN_new.seg", "_MAIN_1.toc"]


def test_pack_does_not_trust_a_wrong_member_table(tmp_path):
    index = make_index_dir(tmp_path)
    first = pack_index(index, tmp_path / "first.tar.gz")
    wrong = {name: PackedFile(f.size, 0, f.length) for name, f in first.files.items()}  # all point at member 0
    pack_index(index, tmp_path / "second.tar.gz", previous=(tmp_path / "first.tar.gz", wrong))
    unpack_index(tmp_path / "second.tar.gz", tmp_path / "out")
    assert (tmp_path / "out" / "MAIN_abc.seg").read_bytes() == b"segment" * 100
