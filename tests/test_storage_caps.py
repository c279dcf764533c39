"""Caps on everything read from the index prefix: each refused with a clear error, before it costs memory or /tmp.

GIVEN a manifest of more than 1 MB, a build state that inflates past its cap, an artifact that unpacks past
its size or file count (a gzip bomb), or a /tmp too small for the next version THEN the reader refuses it
with an error saying which cap, the search function keeps answering from the current version, the builder
builds in full, and nothing is left in /tmp.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import logging
import random
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
from search_support import TALKS, write_content

from functions.search.lifecycle import IndexHolder
from index_builder import build_and_publish
from talksearch.artifact import UnsafeArchiveError, unpack_index
from talksearch.contracts import BUILD_STATE_NAME, MANIFEST_NAME, MAX_MANIFEST_BYTES, VERSIONS_DIR, join_key
from talksearch.store import ObjectTooLargeError, open_store

NEW_TALK = {**TALKS[0], "id": "pycon-fr-2025/zeppelins", "title": "Des zeppelins et du Python"}


def test_a_manifest_over_1_mb_is_refused_unread(store):
    manifest = json.dumps({"padding": "x" * MAX_MANIFEST_BYTES}).encode()
    store.write_bytes(MANIFEST_NAME, manifest)
    store.write_bytes(join_key(VERSIONS_DIR, "v1", MANIFEST_NAME), manifest)
    with pytest.raises(ObjectTooLargeError, match=r"manifest.json is 1,048,5\d\d bytes, over the 1,048,576-byte limit"):
        store.read_manifest()
    with pytest.raises(ObjectTooLargeError, match="over the 1,048,576-byte limit"):
        store.read_version_manifest("v1")


def test_search_function_keeps_serving_when_the_manifest_grows_past_its_cap(tmp_path, caplog):
    content, index = write_content(tmp_path / "content"), tmp_path / "index"
    assert build_and_publish(str(content), str(index)).published
    holder = IndexHolder(str(index), refresh_seconds=0, work_dir=tmp_path / "served")
    current = holder.engine()
    (index / MANIFEST_NAME).write_bytes(b" " * (MAX_MANIFEST_BYTES + 1))
    with caplog.at_level(logging.ERROR):
        assert holder.engine() is current  # answered at once: the check runs in the background
        assert holder.wait_for_swap(timeout=60)
    assert "could not read the manifest" in caplog.text and "1,048,576-byte limit" in caplog.text


def test_a_build_state_inflating_past_its_cap_costs_a_full_build(tmp_path, monkeypatch):
    # GIVEN a published version whose build state is a gzip bomb: 50 kB that inflate to 50 MB
    content, index = write_content(tmp_path / "content"), tmp_path / "index"
    assert build_and_publish(str(content), str(index)).published
    store = open_store(index)
    manifest, _ = store.read_manifest()
    bomb = gzip.compress(b'{"padding": "' + b" " * (50 << 20) + b'"}', compresslevel=9)
    assert len(bomb) < 100_000
    store.write_bytes(join_key(VERSIONS_DIR, manifest.index_version, BUILD_STATE_NAME), bomb)
    monkeypatch.setattr("index_builder.state.MAX_BUILD_STATE_BYTES", 1 << 20)
    # WHEN the next build reads it
    write_content(content, [*TALKS, NEW_TALK])
    report = build_and_publish(str(content), str(index))
    # THEN it is refused once 1 MB is out, and the build is a full one
    assert report.published and report.mode == "full"
    assert any("decompresses to over 1,048,576 bytes" in w and "full rebuild" in w for w in report.warnings)


def tar_gz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_an_artifact_unpacking_past_its_size_cap_is_refused_before_it_fills_tmp(tmp_path):
    # GIVEN a 20 kB artifact whose second file inflates to 20 MB (a gzip bomb)
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(tar_gz({"_MAIN_1.toc": b"toc", "MAIN_x.seg": bytes(20 << 20)}))
    assert archive.stat().st_size < 40_000
    # WHEN it is unpacked with a 1 MB cap THEN it is refused before the big file is written
    with pytest.raises(UnsafeArchiveError, match="unpacks to over 1,048,576 bytes"):
        unpack_index(archive, tmp_path / "out", max_bytes=1 << 20)
    assert sum(p.stat().st_size for p in (tmp_path / "out").iterdir()) <= 1 << 20


def test_an_artifact_with_more_files_than_an_index_has_is_refused(tmp_path):
    archive = tmp_path / "many.tar.gz"
    archive.write_bytes(tar_gz({f"MAIN_{n}.seg": b"x" for n in range(30)}))
    with pytest.raises(UnsafeArchiveError, match="more than 20 files"):
        unpack_index(archive, tmp_path / "out", max_files=20)
    assert len(list((tmp_path / "out").iterdir())) <= 20


def serve_then_forge_the_next_artifact(tmp_path: Path, artifact: bytes) -> tuple[IndexHolder, object, str]:
    """A served version, then a next one whose artifact is replaced by ``artifact`` (its sha256 made to match);
    returns the holder, its current engine and the forged version."""
    content, index = write_content(tmp_path / "content"), tmp_path / "index"
    assert build_and_publish(str(content), str(index)).published
    holder = IndexHolder(str(index), refresh_seconds=0, work_dir=Path(tempfile.gettempdir()) / "talksearch-index")
    current = holder.engine()
    write_content(content, [*TALKS, NEW_TALK])
    assert build_and_publish(str(content), str(index)).published
    store = open_store(index)
    manifest, etag = store.read_manifest()
    store.write_bytes(store.relative_key(manifest.artifact_key), artifact)
    store.write_manifest(
        dataclasses.replace(
            manifest, artifact_sha256=hashlib.sha256(artifact).hexdigest(), artifact_bytes=len(artifact)
        ),
        etag,
    )
    return holder, current, manifest.index_version


def test_the_search_function_refuses_a_gzip_bomb_artifact_and_keeps_serving(tmp_path, monkeypatch, caplog):
    # GIVEN a served version, then a published artifact replaced by a bomb
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bomb = tar_gz({"_MAIN_1.toc": b"toc", "MAIN_x.seg": bytes(20 << 20)})
    holder, current, forged = serve_then_forge_the_next_artifact(tmp_path, bomb)
    monkeypatch.setattr("talksearch.artifact.MAX_INDEX_BYTES", 1 << 20)
    # WHEN the function checks the manifest THEN it keeps the current version, and /tmp keeps only its copy
    with caplog.at_level(logging.ERROR):
        assert holder.engine() is current  # answered at once: the check runs in the background
        assert holder.wait_for_swap(timeout=60)
    assert "unpacks to over 1,048,576 bytes" in caplog.text and forged in caplog.text
    assert [p.name for p in holder.work_dir.iterdir()] == [current.snapshot.index_dir.name]


@pytest.fixture
def small_tmp(tmp_path):
    """A 3 MB tmpfs standing for a nearly full /tmp (needs the right to mount: root in a container)."""
    mount_point = tmp_path / "small-tmp"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)  # the served copy may be open


def test_a_full_tmp_keeps_the_current_version_serving_and_leaves_nothing_behind(
    tmp_path, small_tmp, monkeypatch, caplog
):
    # GIVEN a small version served from a 3 MB /tmp, then a next version of 4 MB that cannot fit
    monkeypatch.setattr(tempfile, "tempdir", str(small_tmp))
    big = tar_gz({"_MAIN_1.toc": b"toc", "MAIN_x.seg": random.Random(13).randbytes(4 << 20)})
    holder, current, forged = serve_then_forge_the_next_artifact(tmp_path, big)
    # WHEN the function checks the manifest
    with caplog.at_level(logging.ERROR):
        assert holder.engine() is current  # answered at once: the check runs in the background
        assert holder.wait_for_swap(timeout=60)
    # THEN the current version still answers, the error says why, and only its copy is left in /tmp
    assert current.search(q="kubernetes")["total"] > 0
    assert forged in caplog.text and "No space left on device" in caplog.text
    assert [p.name for p in small_tmp.iterdir()] == ["talksearch-index"]
    assert [p.name for p in holder.work_dir.iterdir()] == [current.snapshot.index_dir.name]
