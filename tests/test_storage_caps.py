"""Caps on everything read from the index prefix: each refused with a clear error, before it costs memory or /tmp.

GIVEN a manifest of more than 1 MB, a build state that inflates past its cap, an artifact that unpacks past
its size or file count (a gzip bomb), or a search pack declared larger than the search function reads THEN
the reader refuses it with an error saying which cap, the search function keeps answering from the current
version, and the builder builds in full. (The search function writes nothing to /tmp: the pack is held in
memory, tests/test_search_lifecycle.py; what its reader refuses inside a pack: tests/test_hostile_pack.py.)
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import tarfile

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
    holder = IndexHolder(str(index), refresh_seconds=0)
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


def test_a_pack_declared_over_the_cap_is_refused_unread_and_the_current_version_serves(tmp_path, monkeypatch, caplog):
    # GIVEN a served version, then a next one whose search pack is larger than the function reads
    content, index = write_content(tmp_path / "content"), tmp_path / "index"
    assert build_and_publish(str(content), str(index)).published
    holder = IndexHolder(str(index), refresh_seconds=0)
    current = holder.engine()
    write_content(content, [*TALKS, NEW_TALK])
    assert build_and_publish(str(content), str(index)).published
    forged = open_store(index).read_manifest()[0]
    monkeypatch.setattr("talksearch.search_pack.MAX_PACK_BYTES", forged.pack_bytes - 1)
    # WHEN the function checks the manifest THEN it refuses the pack before asking for it, and keeps serving
    with caplog.at_level(logging.ERROR):
        assert holder.engine() is current  # answered at once: the check runs in the background
        assert holder.wait_for_swap(timeout=60)
    assert forged.index_version in caplog.text
    assert f"declared as {forged.pack_bytes:,} bytes; the most this function reads is {forged.pack_bytes - 1:,}" in (
        caplog.text
    )
    assert holder.engine() is current and current.search(q="kubernetes")["total"] > 0
