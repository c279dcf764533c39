"""talksearch.artifact: packing an index, its verified transfer through either store, and safe unpacking."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import tarfile
from pathlib import Path

import boto3
import pytest

from talksearch.artifact import (
    PackedFile,
    UnsafeArchiveError,
    download_artifact,
    pack_index,
    sha256_file,
    unpack_index,
    upload_artifact,
)
from talksearch.contracts import MAX_INDEX_FILES, Manifest
from talksearch.store import ChecksumMismatchError, LocalStore, ObjectTooLargeError, download_verified, open_reader
from tests.index_support import unpacked_index


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
    key, uploaded_sha, uploaded_size = upload_artifact(store, archive, "v1")
    assert (uploaded_sha, uploaded_size) == (sha, size)
    manifest = Manifest(1, "v1", key, sha, size, 2, "now")
    # WHEN it is downloaded and unpacked
    out = unpacked_index(store, manifest, tmp_path / "out")
    # THEN the same files come back
    assert sorted(p.name for p in out.iterdir()) == ["MAIN_abc.seg", "_MAIN_1.toc"]
    assert (out / "MAIN_abc.seg").read_bytes() == b"segment" * 100


def test_artifact_with_wrong_checksum_is_refused(store, tmp_path):
    archive = tmp_path / "index.tar.gz"
    pack_index(make_index_dir(tmp_path), archive)
    key, _, size = upload_artifact(store, archive, "v1")
    forged = Manifest(1, "v1", key, "f" * 64, size, 2, "now")
    target = tmp_path / "dl" / "index.tar.gz"
    with pytest.raises(ChecksumMismatchError, match="manifest says ffff"):
        download_artifact(store, forged, target)
    assert not target.exists()


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


# --- the search function's streamed download: what reaches the disk, and what a forged artifact may cost ---


def publish(store, archive: Path, **overrides) -> Manifest:
    """``archive`` uploaded as version v1, with a manifest that tells the truth unless overridden."""
    key, sha, size = upload_artifact(store, archive, "v1")
    fields = {"artifact_sha256": sha, "artifact_bytes": size} | overrides
    return Manifest(1, "v1", key, fields["artifact_sha256"], fields["artifact_bytes"], 2, "now")


@pytest.mark.parametrize("cut", [0, 40, -30])
def test_a_truncated_artifact_is_refused_before_it_is_unpacked(store, tmp_path, cut):
    whole = tmp_path / "whole.tar.gz"
    pack_index(make_index_dir(tmp_path), whole)
    truncated = tmp_path / "index.tar.gz"
    truncated.write_bytes(whole.read_bytes()[:cut])
    manifest = publish(store, truncated, artifact_sha256=sha256_file(whole))
    with pytest.raises(ChecksumMismatchError):
        unpacked_index(store, manifest, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("name", "kind"), [("../escape.seg", tarfile.REGTYPE), ("link.seg", tarfile.SYMTYPE)])
def test_a_downloaded_archive_with_unsafe_members_writes_nothing(store, tmp_path, name, kind):
    archive = hostile_archive(tmp_path / "index.tar.gz", name, kind)
    with pytest.raises(UnsafeArchiveError, match="refusing archive member"):
        unpacked_index(store, publish(store, archive), tmp_path / "out")
    assert not (tmp_path / "escape.seg").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_a_member_bigger_than_an_index_is_refused_before_it_is_written(store, tmp_path):
    # a tar header may declare any size: 10 GB of zeros gzip to ~10 MB; here the header alone says so
    header = tarfile.TarInfo("MAIN_bomb.seg")
    header.size = 10 << 30
    archive = tmp_path / "index.tar.gz"
    archive.write_bytes(gzip.compress(header.tobuf() + b"\0" * 4096))
    with pytest.raises(UnsafeArchiveError, match="unpacks to over 1,073,741,824 bytes"):
        unpacked_index(store, publish(store, archive), tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_an_index_larger_than_one_read_comes_back_whole(store, tmp_path):
    # members that inflate past one read (1 MB) each, one after the other in the same gzip stream
    index = make_index_dir(tmp_path)
    noise = random.Random(12).randbytes
    big = b"".join(noise(1000) + b"\0" * 3000 for _ in range(1000))  # 4 MB, gzipped to about 1 MB
    (index / "MAIN_big.seg").write_bytes(big)
    (index / "MAIN_zzz.seg").write_bytes(big[::-1])
    archive = tmp_path / "index.tar.gz"
    pack_index(index, archive)
    out = unpacked_index(store, publish(store, archive), tmp_path / "out")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {p.name: p.read_bytes() for p in index.iterdir()}


def test_an_artifact_with_more_files_than_an_index_has_is_refused(store, tmp_path):
    many = tmp_path / "many"
    many.mkdir()
    for n in range(MAX_INDEX_FILES + 1):
        (many / f"MAIN_{n}.seg").write_bytes(b"x")
    archive = tmp_path / "index.tar.gz"
    pack_index(many, archive)
    with pytest.raises(UnsafeArchiveError, match="more than 1,000 files"):
        unpacked_index(store, publish(store, archive), tmp_path / "out")


# --- an object downloaded into memory (the search pack) --------------------------------------------------------


@pytest.fixture(params=["s3", "local"])
def reader(request, tmp_path):
    """The search function's own reader: signed GETs against moto's server, or a local folder."""
    if request.param == "s3":
        request.getfixturevalue("moto_server")
        boto3.client("s3").create_bucket(
            Bucket="talksearch-pack", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
        )
        return open_reader("s3://talksearch-pack/site/index")
    return open_reader(tmp_path / "index")


def put(reader, key: str, data: bytes) -> str:
    """``data`` at ``key`` under the reader's root; its full key, as a manifest names it."""
    if isinstance(reader, LocalStore):
        (reader.root / key).parent.mkdir(parents=True, exist_ok=True)
        (reader.root / key).write_bytes(data)
    else:
        boto3.client("s3").put_object(Bucket=reader.bucket, Key=reader.full_key(key), Body=data)
    return reader.full_key(key)


PACK = random.Random(12).randbytes(3 * (1 << 20) + 17)  # more than three reads


def test_an_object_downloads_into_memory_whole_and_read_only(reader):
    key = put(reader, "versions/v1/search.pack", PACK)
    data = download_verified(reader, key, hashlib.sha256(PACK).hexdigest(), len(PACK), 1 << 30)
    assert data == PACK
    with pytest.raises(TypeError):
        data[0] = 0


@pytest.mark.parametrize(
    ("declared", "stored", "refusal"),
    [
        (len(PACK), PACK[:-1], "ends after 3,145,744 of the 3,145,745 bytes"),
        (len(PACK), PACK + b"!", "longer than the 3,145,745 bytes"),
        (len(PACK), PACK[:-1] + b"!", "has sha256"),
    ],
)
def test_an_object_that_is_not_what_its_manifest_says_is_refused(reader, declared, stored, refusal):
    key = put(reader, "versions/v1/search.pack", stored)
    with pytest.raises(ChecksumMismatchError, match=refusal):
        download_verified(reader, key, hashlib.sha256(PACK).hexdigest(), declared, 1 << 30)


def test_an_object_declared_over_the_cap_is_refused_before_it_is_asked_for(reader):
    # nothing is stored at the key: a GET would fail otherwise
    with pytest.raises(ObjectTooLargeError, match="declared as 2,049 bytes; the most this function reads is 2,048"):
        download_verified(reader, reader.full_key("versions/v1/search.pack"), "0" * 64, 2049, 2048)
