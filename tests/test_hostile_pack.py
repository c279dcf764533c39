"""A published search pack that is damaged or forged: the search function refuses it and keeps answering.

GIVEN whoever can write the index prefix publishes a version whose search pack is not what a pack holds (with
the manifest's sha256 and byte count made to match, as they can) WHEN the warm search function swaps to it, a
cold one starts on it, or a query reaches the damaged piece THEN the version is refused with an error naming
it, the warm function keeps (or goes back to) answering from the last good version, for good, and a cold one
answers the documented 503; with no good version, only the queries reaching the damaged piece fail, with a 503
and a message. ``talksearch.search_pack``'s own tests (tests/test_search_pack_hostile.py) cover every kind of
damage the reader refuses; these cover what a visitor of the search function sees.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from array import array
from dataclasses import replace
from itertools import pairwise

import boto3
import pytest
from search_support import NEW_TALK, TALKS, call, http_event, write_content

from functions.search import app as search_app
from functions.search.lifecycle import IndexHolder
from index_builder import build_and_publish
from index_builder.state import read_build_state, write_build_state
from talksearch.contracts import PACK_NAME, VERSIONS_DIR, join_key, new_index_version
from talksearch.search_pack import format, writer
from talksearch.search_pack.format import read_arrays, write_arrays
from talksearch.store import open_store
from tests.test_search_pack_hostile import rebuilt, sections_of

BUCKET = "talksearch-hostile-pack"
LOCATION = f"s3://{BUCKET}/index"

ZEPPELIN_TALKS = [
    {**NEW_TALK, "id": f"pycon-fr-2025/zeppelins-{n}", "title": f"Des zeppelins et du Python, épisode {n}"}
    for n in range(3)
]


@pytest.fixture
def published(moto_server, tmp_path, monkeypatch):
    """A good index published to a moto server's bucket the search function reads (refreshing at every request),
    with the zeppelin talks; every term's postings in a chunk of its own, so that one term's can be damaged."""
    monkeypatch.setattr(writer, "CHUNK_BYTES", 1)
    boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    content = write_content(tmp_path / "content", [*TALKS, *ZEPPELIN_TALKS])
    assert build_and_publish(str(content), LOCATION, full=True).published
    yield content
    search_app.set_index_holder(None)


def search(lambda_context, q: str = "kubernetes") -> tuple[int, dict, dict]:
    return call(search_app.lambda_handler, http_event("/api/search", f"q={q}"), lambda_context)


def republish(damage, size_said=len) -> str:
    """Publish the current version again with its pack replaced by ``damage(pack)``, the manifest telling the
    truth about the new pack's sha256 and (unless ``size_said`` lies) its size; returns the new version."""
    store = open_store(LOCATION)
    good, etag = store.read_manifest()
    pack = damage(store.read_bytes(store.relative_key(good.pack_key)))
    version = new_index_version(suffix="hostile")
    key = join_key(VERSIONS_DIR, version, PACK_NAME)
    store.write_bytes(key, pack)
    write_build_state(store, version, read_build_state(store, good.index_version))
    manifest = replace(
        good,
        index_version=version,
        pack_key=store.full_key(key),
        pack_sha256=hashlib.sha256(pack).hexdigest(),
        pack_bytes=size_said(pack),
    )
    store.write_version_manifest(manifest)
    store.write_manifest(manifest, etag)
    return version


def not_a_pack(pack: bytes) -> bytes:
    return b"PK\x03\x04" + pack[4:]


def zeppelin_chunks(replacement):
    """Damage: every chunk whose first term starts with "zeppelin", in every field, replaced by
    ``replacement(stored chunk)`` (the chunk directory says the same inflated size as before)."""

    def damage(pack: bytes) -> bytes:
        sections, replaced = sections_of(pack), {}
        for name in [n for n in sections if n.startswith("terms/")]:
            field = name.removeprefix("terms/")
            terms = zlib.decompress(sections[name][0]).decode().split(chr(_separator(pack, field)))
            directory = read_arrays(zlib.decompress(sections[f"chunks/{field}"][0]), 5, "test")
            first, offsets, inflated, position_offsets, position_inflated = directory
            post = sections[f"post/{field}"][0]
            chunks = [post[a:b] for a, b in pairwise(offsets)]
            hit = [i for i, t in enumerate(first) if terms[t].startswith("zeppelin")]
            if not hit:
                continue
            for i in hit:
                chunks[i] = replacement(chunks[i])
            new_offsets = array("Q", [0])
            for chunk in chunks:
                new_offsets.append(new_offsets[-1] + len(chunk))
            data = b"".join(chunks)
            directory = write_arrays(first, new_offsets, inflated, position_offsets, position_inflated)
            replaced[f"chunks__{field}"] = (zlib.compress(directory), len(directory), format.CODEC_ZLIB)
            replaced[f"post__{field}"] = (data, len(data), format.CODEC_STORED)
        assert replaced, "no chunk of a zeppelin term"
        return rebuilt(pack, **replaced)

    return damage


def _separator(pack: bytes, field: str) -> int:
    meta = json.loads(zlib.decompress(sections_of(pack)["meta"][0]))
    return meta["fields"][field]["separator"]


def scrambled(chunk: bytes) -> bytes:
    return bytes(b ^ 0x5A for b in chunk)


def test_warm_function_refuses_a_pack_it_cannot_open_and_keeps_serving_the_good_one(published, lambda_context, caplog):
    holder = IndexHolder(LOCATION, refresh_seconds=0)
    search_app.set_index_holder(holder)
    status, headers, before = search(lambda_context)
    assert status == 200 and before["total"] > 0
    good = holder.version

    hostile = republish(not_a_pack)
    with caplog.at_level(logging.ERROR):
        search(lambda_context)  # starts the check in the background
        assert holder.wait_for_swap(timeout=60)
        status, after_headers, after = search(lambda_context)
        assert holder.wait_for_swap(timeout=60)

    assert status == 200
    assert {k: v for k, v in after.items() if k != "took_ms"} == {k: v for k, v in before.items() if k != "took_ms"}
    assert after_headers["etag"] == headers["etag"] == f'W/"{good}"'
    assert f"index {hostile} refused" in caplog.text and "magic" in caplog.text
    assert caplog.text.count(f"index {hostile} refused") == 1, "a refused pack is not downloaded again"


def test_cold_function_on_a_pack_it_cannot_open_answers_503(published, lambda_context, caplog):
    hostile = republish(not_a_pack)
    search_app.set_index_holder(IndexHolder(LOCATION, refresh_seconds=0))
    with caplog.at_level(logging.ERROR):
        status, headers, body = search(lambda_context)
    assert status == 503 and headers["retry-after"] == "30" and body["message"]
    assert f"index {hostile} refused" in caplog.text


def serve_good_then_republish(lambda_context, damage) -> tuple[IndexHolder, str, str]:
    """A warm function serving the good version; then the damaged one is published and the function swaps to it
    (its damage is below what opening reads). Returns the holder, the good version and the damaged one."""
    holder = IndexHolder(LOCATION, refresh_seconds=0)
    search_app.set_index_holder(holder)
    assert search(lambda_context)[0] == 200
    good = holder.version
    hostile = republish(damage)
    search(lambda_context)  # starts the check in the background
    assert holder.wait_for_swap(timeout=60)
    assert holder.version == hostile
    return holder, good, hostile


def test_a_query_reaching_a_damaged_posting_chunk_gets_a_json_error_and_the_last_good_version_serves(
    published, lambda_context, caplog
):
    holder, good, hostile = serve_good_then_republish(lambda_context, zeppelin_chunks(scrambled))
    # WHEN a query reaches the damaged chunk
    with caplog.at_level(logging.ERROR):
        status, headers, body = search(lambda_context, "zeppelin")
    # THEN the visitor gets a JSON error saying so, the log names the version
    assert status == 503 and headers["retry-after"] == "1"
    assert set(body) == {"message"} and hostile in body["message"] and "Traceback" not in body["message"]
    assert f"index {hostile} refused by a query" in caplog.text and "not a zlib stream" in caplog.text
    # AND the function is back on the last good version, for good: the manifest still names the damaged one
    for q in ("zeppelin", "kubernetes"):
        status, headers, body = search(lambda_context, q)
        assert holder.wait_for_swap(timeout=60)
        assert status == 200 and headers["etag"] == f'W/"{good}"' and body["total"] > 0
    assert holder.version == good


def test_with_no_good_version_to_go_back_to_only_the_queries_reaching_the_damage_fail_and_with_a_503(
    published, lambda_context
):
    # GIVEN a cold function whose first version has a damaged posting chunk
    hostile = republish(zeppelin_chunks(scrambled))
    search_app.set_index_holder(IndexHolder(LOCATION, refresh_seconds=0))
    # WHEN a query reaches the chunk THEN a 503 with a message, as the site is unavailable for it
    status, _, body = search(lambda_context, "zeppelin")
    assert (status, set(body)) == (503, {"message"}) and hostile in body["message"]
    # AND queries that never read that chunk are still answered from the only version there is
    status, headers, body = search(lambda_context, "kubernetes")
    assert status == 200 and headers["etag"] == f'W/"{hostile}"' and body["total"] > 0


def test_a_posting_chunk_inflating_past_what_it_declares_is_refused_before_it_is_inflated(
    published, lambda_context, caplog
):
    import tracemalloc

    bomb = zlib.compress(bytes(64 << 20), 9)  # 64 MB of zeros in about 64 kB, where the directory says ~50 bytes
    assert len(bomb) < 100_000
    holder, good, bombed = serve_good_then_republish(lambda_context, zeppelin_chunks(lambda chunk: bomb))
    tracemalloc.start()
    try:
        with caplog.at_level(logging.ERROR):
            status, _, body = search(lambda_context, "zeppelin")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"the query held {peak:,} bytes"
    assert status == 503 and bombed in body["message"]
    assert "does not inflate to" in caplog.text
    assert holder.wait_for_swap(timeout=60) and holder.version == good


def test_a_pack_larger_than_its_manifest_says_is_not_opened(published, lambda_context, caplog):
    holder = IndexHolder(LOCATION, refresh_seconds=0)
    search_app.set_index_holder(holder)
    assert search(lambda_context)[0] == 200
    good = holder.version
    longer = republish(lambda pack: pack, size_said=lambda pack: len(pack) - 1)
    with caplog.at_level(logging.ERROR):
        search(lambda_context)
        assert holder.wait_for_swap(timeout=60)
    assert f"could not load index {longer}" in caplog.text and "longer than the" in caplog.text
    status, headers, _ = search(lambda_context)
    assert status == 200 and headers["etag"] == f'W/"{good}"'
