"""How the warm search function follows published index versions (moto S3, builds by index_builder).

GIVEN a published index WHEN a new version is published THEN it is served after the refresh
interval, requests holding the old engine still work, and a missing, corrupt or unreadable new
version leaves the current one serving. A warm holder checks in the background (the request that
starts a check is answered from the current version: tests/test_search_s3_faults.py shows it), so
``after_check`` waits for that check before asking again.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
import pytest

from functions.search.lifecycle import IndexHolder
from index_builder import build_and_publish
from talksearch.contracts import Manifest
from talksearch.store import open_store
from tests.search_support import NEW_TALK, TALKS, write_content

BUCKET = "talksearch-lifecycle"
LOCATION = f"s3://{BUCKET}/index"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def bucket(moto_server, tmp_path):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    content = write_content(tmp_path / "content")
    assert build_and_publish(str(content), LOCATION, full=True).published
    return s3, content


@pytest.fixture
def holder(bucket):
    clock = Clock()
    holder = IndexHolder(LOCATION, refresh_seconds=60, clock=clock)
    holder.clock = clock
    yield holder


def after_check(holder: IndexHolder):
    """The engine a request gets once the check the request before it started has finished."""
    holder.engine()
    assert holder.wait_for_swap(timeout=60)
    engine = holder.engine()
    assert holder.wait_for_swap(timeout=60)  # a check this request started (refresh_seconds=0) ends here too
    return engine


def publish_next_version(content) -> Manifest:
    write_content(content, [*TALKS, NEW_TALK])
    report = build_and_publish(str(content), LOCATION)
    assert report.published
    manifest, _ = open_store(LOCATION).read_manifest()
    return manifest


def test_serves_the_published_index_and_swaps_after_the_refresh_interval(bucket, holder):
    _, content = bucket
    first = holder.engine()
    assert first.search(q="")["total"] == len(TALKS)

    manifest = publish_next_version(content)
    holder.clock.now += 30  # before the interval: the manifest is not even read
    assert holder.engine() is first

    holder.clock.now += 31
    second = after_check(holder)
    assert second.version == manifest.index_version != first.version
    assert [h["id"] for h in second.search(q="zeppelin")["hits"]] == ["pycon-fr-2025/zeppelins"]
    # a request that started on the old version finishes on it
    assert first.search(q="kubernetes")["total"] == 2


def test_unchanged_manifest_keeps_the_same_engine(holder):
    first = holder.engine()
    holder.clock.now += 61
    assert after_check(holder) is first


def test_serving_and_swapping_versions_write_nothing_to_tmp(bucket, holder, tmp_path, monkeypatch):
    """The pack is held in memory: a warm container's /tmp (512 MB, shared with nothing else here) never fills."""
    empty = tmp_path / "tmp"
    empty.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(empty))
    monkeypatch.setenv("TMPDIR", str(empty))
    _, content = bucket
    holder.engine()
    for n in range(3):
        NEW_TALK["title"] = f"Des zeppelins, épisode {n}"
        manifest = publish_next_version(content)
        holder.clock.now += 61
        assert after_check(holder).version == manifest.index_version
        assert holder.engine().search(q="zeppelins")["total"] == 1
    assert list(empty.iterdir()) == []


def test_corrupt_new_pack_keeps_the_current_index_serving(bucket, holder, caplog):
    s3, content = bucket
    first = holder.engine()
    manifest = publish_next_version(content)
    s3.put_object(Bucket=BUCKET, Key=manifest.pack_key, Body=b"not a pack at all")
    holder.clock.now += 61
    with caplog.at_level(logging.ERROR):
        assert after_check(holder) is first
    assert "could not load index" in caplog.text
    assert first.search(q="asyncio")["total"] == 2


def test_missing_new_pack_keeps_the_current_index_serving(bucket, holder, caplog):
    s3, content = bucket
    first = holder.engine()
    manifest = publish_next_version(content)
    s3.delete_object(Bucket=BUCKET, Key=manifest.pack_key)
    holder.clock.now += 61
    with caplog.at_level(logging.ERROR):
        assert after_check(holder) is first
    assert manifest.index_version in caplog.text


def test_unreadable_manifest_keeps_the_current_index_serving(bucket, holder, caplog):
    s3, _ = bucket
    first = holder.engine()
    s3.put_object(Bucket=BUCKET, Key="index/manifest.json", Body=b"{ this is not json")
    holder.clock.now += 61
    with caplog.at_level(logging.ERROR):
        assert after_check(holder) is first
    assert "could not read the manifest" in caplog.text


def test_index_of_another_schema_version_is_not_opened(bucket, holder, caplog):
    s3, _ = bucket
    first = holder.engine()
    manifest, _ = open_store(LOCATION).read_manifest()
    future = json.loads(manifest.to_json())
    future.update(schema_version=manifest.schema_version + 1, index_version="29990101T000000000Z")
    s3.put_object(Bucket=BUCKET, Key="index/manifest.json", Body=json.dumps(future).encode())
    holder.clock.now += 61
    with caplog.at_level(logging.ERROR):
        assert after_check(holder) is first
    assert "schema version" in caplog.text


def test_a_version_published_without_a_search_pack_is_not_opened(bucket, holder, caplog):
    """A manifest an older builder wrote (no pack_key): the function says what to do rather than failing."""
    s3, _ = bucket
    first = holder.engine()
    manifest, _ = open_store(LOCATION).read_manifest()
    older = json.loads(manifest.to_json())
    for field in ("pack_key", "pack_sha256", "pack_bytes"):
        older.pop(field)
    older.update(index_version="29990101T000000000Z")
    s3.put_object(Bucket=BUCKET, Key="index/manifest.json", Body=json.dumps(older).encode())
    holder.clock.now += 61
    with caplog.at_level(logging.ERROR):
        assert after_check(holder) is first
    assert "index 29990101T000000000Z has no search pack" in caplog.text and "rebuild the index" in caplog.text


def test_no_engine_until_an_index_is_published(moto_server, tmp_path):
    boto3.client("s3").create_bucket(Bucket="empty", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    holder = IndexHolder("s3://empty/index", refresh_seconds=0)
    assert holder.engine() is None
    content = write_content(tmp_path / "content")
    build_and_publish(str(content), "s3://empty/index", full=True)
    assert holder.engine().search(q="")["total"] == len(TALKS)


def test_memory_stays_flat_across_fifty_index_swaps(tmp_path):
    """GIVEN the builder and the search function in one process (``make dev``'s stack) WHEN 50 versions are
    published one content change at a time, each swapped in and searched THEN the memory Python holds after
    swap 50 is what it held after swap 10. Before the fix it grew by 4.7 MB here (117 kB a swap): every
    ``gc.freeze()`` made the reference cycles then waiting for the collector (retired readers, the last
    build's objects) permanent."""
    import tracemalloc

    content, index = tmp_path / "content", str(tmp_path / "index")

    def publish(n: int) -> None:
        write_content(content, [*TALKS, {**NEW_TALK, "title": f"Des zeppelins et du Python, épisode {n}"}])
        assert build_and_publish(str(content), index).published

    publish(0)
    holder = IndexHolder(index, refresh_seconds=0)
    traced: dict[int, int] = {}
    tracemalloc.start()
    try:
        for n in range(1, 51):
            publish(n)
            engine = after_check(holder)
            assert engine.search(q=f'"épisode {n}"')["total"] == 1
            engine.suggest("zep")
            if n in (10, 50):
                traced[n] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert traced[50] - traced[10] < 500_000, f"grew {traced[50] - traced[10]:,} bytes from swap 10 to 50"


def test_resident_memory_stays_flat_across_swaps_with_queries_on_several_threads(tmp_path):
    """GIVEN the search function alone in a process (tests/measure_swap_memory.py: 3,000 generated talks, four
    versions swapped through four times, four threads querying each) THEN its resident memory over the last
    eight swaps is, on average, within 25 MB of what it was after the first swaps. Before the fix it was 55 MB
    above (180 → 203, 228, 249, … 270 MB) while Python's heap stayed flat: glibc kept what each retired
    version freed in the arenas of the threads that had allocated it; ``malloc_trim`` after each swap returns it
    (159 → 159 … 174 MB)."""
    measured = subprocess.run(
        [sys.executable, "-m", "tests.measure_swap_memory", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert measured.returncode == 0, measured.stderr[-2000:]
    resident = json.loads(measured.stdout.strip().splitlines()[-1])
    settled, last = min(resident[1:4]), resident[-8:]
    assert sum(last) / len(last) - settled < 25, f"resident MB after each swap: {resident}"
