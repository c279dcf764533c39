"""A published index whose files carry a pickle payload: nothing in it runs, and nobody serves it.

GIVEN whoever can write the index prefix publishes a version whose Whoosh table of contents pickles a call
to ``os.system`` (with the manifest's sha256 made to match, as they can) WHEN the warm search function swaps
to it, a cold one starts on it, or the builder opens it for an incremental build THEN the payload never
runs (its marker file is never written), the version is refused with an error naming it, the warm
function keeps answering from the last good version, a cold one answers the documented 503, and the
builder builds in full instead and says so.
"""

from __future__ import annotations

import logging
import os
import pickle
import shlex
import tarfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from search_support import NEW_TALK, TALKS, call, http_event, write_content
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC

from functions.search import app as search_app
from functions.search.lifecycle import IndexHolder
from index_builder import build_and_publish
from index_builder.state import read_build_state, write_build_state
from talksearch.artifact import download_index, pack_index, upload_artifact
from talksearch.contracts import Manifest, new_index_version
from talksearch.schema import build_schema
from talksearch.store import open_store

BUCKET = "talksearch-hostile"
LOCATION = f"s3://{BUCKET}/index"


class _RunsShell:
    """Pickles as a call to os.system: unpickling it runs the command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def publish_hostile_version(
    tmp: Path, marker: Path | None = None, segments: Callable[[list], list] | None = None
) -> Manifest:
    """Publish the current index again with its TOC's segment list changed by ``segments`` (default: a payload
    touching ``marker`` put first); the manifest's sha256 matches the artifact, and the build state is the
    previous version's."""
    store = open_store(LOCATION)
    good, etag = store.read_manifest()
    index_dir = download_index(store, good, tmp / "hostile-index")
    storage = FileStorage(str(index_dir))
    toc = TOC.read(storage, "MAIN", schema=build_schema())
    if segments is None:
        toc.segments = [_RunsShell(f"touch {shlex.quote(str(marker))}"), *toc.segments]
    else:
        toc.segments = segments(toc.segments)
    storage.delete_file(TOC._filename("MAIN", toc.generation))  # rewritten in place
    toc.write(storage, "MAIN")
    version = new_index_version(suffix="hostile")
    packed = pack_index(index_dir, tmp / "hostile.tar.gz")
    artifact_key, sha256, size = upload_artifact(store, tmp / "hostile.tar.gz", version)
    assert sha256 == packed.sha256
    write_build_state(store, version, read_build_state(store, good.index_version))
    manifest = Manifest(
        schema_version=good.schema_version,
        index_version=version,
        artifact_key=artifact_key,
        artifact_sha256=sha256,
        artifact_bytes=size,
        talk_count=good.talk_count,
        built_at=good.built_at,
        sources=good.sources,
    )
    store.write_version_manifest(manifest)
    store.write_manifest(manifest, etag)
    with tarfile.open(tmp / "hostile.tar.gz") as tar:  # the payload really is in what is published
        assert any(m.name.endswith(".toc") for m in tar.getmembers())
    return manifest


@pytest.fixture
def published(moto_server, tmp_path, monkeypatch):
    """A good index published to a moto server's bucket the search function reads (refreshing at every request)."""
    boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    content = write_content(tmp_path / "content")
    assert build_and_publish(str(content), LOCATION, full=True).published
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    yield content
    search_app.set_index_holder(None)


def search(lambda_context, q: str = "kubernetes") -> tuple[int, dict, dict]:
    return call(search_app.lambda_handler, http_event("/api/search", f"q={q}"), lambda_context)


def test_warm_function_refuses_the_hostile_version_and_keeps_serving_the_good_one(
    published, tmp_path, lambda_context, caplog
):
    holder = IndexHolder(LOCATION, refresh_seconds=0, work_dir=tmp_path / "served")
    search_app.set_index_holder(holder)
    status, headers, before = search(lambda_context)
    assert status == 200 and before["total"] > 0
    good = holder.version

    marker = tmp_path / "payload-ran"
    hostile = publish_hostile_version(tmp_path, marker)
    with caplog.at_level(logging.ERROR):
        search(lambda_context)  # starts the check in the background
        assert holder.wait_for_swap(timeout=60)
        status, after_headers, after = search(lambda_context)

    assert not marker.exists(), "the index's pickle ran code in the search function"
    assert status == 200
    assert {k: v for k, v in after.items() if k != "took_ms"} == {k: v for k, v in before.items() if k != "took_ms"}
    assert after_headers["etag"] == headers["etag"] == f'W/"{good}"'
    assert hostile.index_version in caplog.text and "refused" in caplog.text


def test_cold_function_on_a_hostile_version_runs_nothing_and_answers_503(published, tmp_path, lambda_context, caplog):
    marker = tmp_path / "payload-ran"
    hostile = publish_hostile_version(tmp_path, marker)
    search_app.set_index_holder(IndexHolder(LOCATION, refresh_seconds=0, work_dir=tmp_path / "served"))
    with caplog.at_level(logging.ERROR):
        status, headers, body = search(lambda_context)

    assert not marker.exists(), "the index's pickle ran code in the search function"
    assert status == 503 and headers["retry-after"] == "30" and body["message"]
    assert hostile.index_version in caplog.text and "refused" in caplog.text


def test_builder_builds_in_full_when_the_previous_version_is_hostile(published, tmp_path):
    marker = tmp_path / "payload-ran"
    hostile = publish_hostile_version(tmp_path, marker)
    write_content(published, [*TALKS, NEW_TALK])  # one talk more: an incremental build would open the hostile index

    report = build_and_publish(str(published), LOCATION)

    assert not marker.exists(), "the previous index's pickle ran code in the builder"
    assert report.published and report.mode == "full"
    assert any(hostile.index_version in w and "full rebuild" in w for w in report.warnings)
    holder = IndexHolder(LOCATION, refresh_seconds=0, work_dir=tmp_path / "served")
    assert holder.engine().version == report.index_version
    assert holder.engine().talk(NEW_TALK["id"]) is not None


def test_every_whoosh_module_the_product_loads_unpickles_through_the_allow_list(published, tmp_path):
    """GIVEN an index built, updated incrementally and searched (every Whoosh module the product uses is then
    loaded) THEN none of them holds Python's own pickle loaders, and no older TOC format is read."""
    import pickle
    import sys

    import whoosh.index

    write_content(published, [*TALKS, NEW_TALK])
    assert build_and_publish(str(published), LOCATION).mode == "incremental"
    engine = IndexHolder(LOCATION, refresh_seconds=0, work_dir=tmp_path / "served").engine()
    assert engine.search(q='"zeppelin"')["total"] == 1 and engine.talk(NEW_TALK["id"]) is not None

    unrestricted = {id(pickle.load), id(pickle.loads), id(pickle), id(pickle.Unpickler)}
    holding = [
        f"{name}.{attribute}"
        for name, module in list(sys.modules.items())
        if name == "whoosh" or name.startswith("whoosh.")
        for attribute, value in vars(module or object).items()
        if id(value) in unrestricted
    ]
    assert holding == []
    assert whoosh.index.toc_loaders == {}


def test_the_restricted_unpickler_refuses_what_an_index_never_holds(tmp_path):
    import pickle

    from talksearch.index_files import unpickling

    marker = tmp_path / "payload-ran"
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        with pytest.raises(unpickling.UnsafeIndexError, match="system"):
            unpickling.loads(pickle.dumps(_RunsShell(f"touch {shlex.quote(str(marker))}"), protocol))
        with pytest.raises(unpickling.UnsafeIndexError, match="eval"):
            unpickling.loads(pickle.dumps((eval, ("1",)), protocol))
    assert not marker.exists()
    # what posting blocks hold: tuples of numbers and bytes, in protocol 2
    block = ((1, 2, 3), (1.0, 2.0, 1.0), (b"\x01", b"\x02\x03", b""))
    assert unpickling.loads(pickle.dumps(block, 2)) == block


# --- below the table of contents: posting blocks, compressed pieces, segment names ------------------------------

ZEPPELIN_TALKS = [  # in more talks than INLINE_POSTINGS: the term's postings get a posting block of their own
    {**NEW_TALK, "id": f"pycon-fr-2025/zeppelins-{n}", "title": f"Des zeppelins et du Python, épisode {n}"}
    for n in range(12)
]


@contextmanager
def zeppelin_blocks_written_as(monkeypatch, *, pickled=None, deflated=None):
    """While building, write every posting block of the terms starting "zeppelin" with ``pickled`` as its pickle
    (bytes) or ``deflated`` as its compressed data: what someone writing the index prefix could publish."""
    from whoosh.codec import whoosh3

    target = {"on": False}
    start_term, finish_field = whoosh3.W3FieldWriter.start_term, whoosh3.W3FieldWriter.finish_field
    real_dumps, real_zlib = whoosh3.dumps, whoosh3.zlib

    def marking_start_term(self, btext):
        target["on"] = btext.startswith(b"zeppelin")
        start_term(self, btext)

    def marking_finish_field(self):
        target["on"] = False
        finish_field(self)

    def dumps(obj, protocol=2):
        return pickled if target["on"] and pickled is not None else real_dumps(obj, protocol)

    class Zlib:
        def __getattr__(self, name):
            return getattr(real_zlib, name)

        def compress(self, data, level=-1):
            return deflated if target["on"] and deflated is not None else real_zlib.compress(data, level)

    from talksearch.index_files import writing

    with monkeypatch.context() as patch:
        # through Whoosh's own posting writer, which the builder's term-at-a-time writer reproduces byte for byte
        patch.setattr(writing, "_writes_w3_postings", lambda fieldwriter: False)
        patch.setattr(whoosh3.W3FieldWriter, "start_term", marking_start_term)
        patch.setattr(whoosh3.W3FieldWriter, "finish_field", marking_finish_field)
        patch.setattr(whoosh3, "dumps", dumps)
        patch.setattr(whoosh3, "zlib", Zlib())
        yield


def serve_good_then_publish(published, lambda_context, tmp_path, build) -> tuple[IndexHolder, str, str]:
    """A warm function serving the good version; then ``build()`` publishes the next one and the function swaps
    to it. Returns the holder, the good version and the next one."""
    holder = IndexHolder(LOCATION, refresh_seconds=0, work_dir=tmp_path / "served")
    search_app.set_index_holder(holder)
    assert search(lambda_context)[0] == 200
    good = holder.version
    write_content(published, [*TALKS, *ZEPPELIN_TALKS])
    build()
    search(lambda_context)  # starts the check in the background
    assert holder.wait_for_swap(timeout=60)
    return holder, good, open_store(LOCATION).read_manifest()[0].index_version


def test_a_query_reaching_a_hostile_posting_block_gets_a_json_error_and_the_last_good_version_serves(
    published, tmp_path, lambda_context, caplog, monkeypatch
):
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps(_RunsShell(f"touch {shlex.quote(str(marker))}"), 2)

    def build():
        with zeppelin_blocks_written_as(monkeypatch, pickled=payload):
            assert build_and_publish(str(published), LOCATION, full=True).published

    holder, good, hostile = serve_good_then_publish(published, lambda_context, tmp_path, build)
    assert holder.version == hostile  # it opens: the payload sits in a posting block no query has read yet
    # WHEN a query reaches that block
    with caplog.at_level(logging.ERROR):
        status, headers, body = search(lambda_context, "zeppelin")
    # THEN nothing ran, the visitor gets a JSON error saying so, the log names the version
    assert not marker.exists(), "the posting block's pickle ran code in the search function"
    assert status == 503 and headers["retry-after"] == "1"
    assert set(body) == {"message"} and hostile in body["message"] and "Traceback" not in body["message"]
    assert f"index {hostile} refused by a query" in caplog.text and "posix.system" in caplog.text
    # AND the function is back on the last good version, for good: the manifest still names the hostile one
    for q in ("zeppelin", "kubernetes"):
        status, headers, _ = search(lambda_context, q)
        assert holder.wait_for_swap(timeout=60)
        assert status == 200 and headers["etag"] == f'W/"{good}"'
    assert holder.version == good


def test_with_no_good_version_to_go_back_to_only_the_queries_reaching_the_bad_block_fail_and_with_a_503(
    published, tmp_path, lambda_context, monkeypatch
):
    # GIVEN a cold function whose first version holds a hostile posting block
    marker = tmp_path / "payload-ran"
    write_content(published, [*TALKS, *ZEPPELIN_TALKS])
    with zeppelin_blocks_written_as(monkeypatch, pickled=pickle.dumps(_RunsShell(f"touch {marker}"), 2)):
        assert build_and_publish(str(published), LOCATION, full=True).published
    search_app.set_index_holder(IndexHolder(LOCATION, refresh_seconds=0, work_dir=tmp_path / "served"))
    hostile = open_store(LOCATION).read_manifest()[0].index_version
    # WHEN a query reaches the block THEN a 503 with a message, as the site is unavailable for it; nothing ran
    status, _, body = search(lambda_context, "zeppelin")
    assert (status, set(body)) == (503, {"message"}) and hostile in body["message"]
    assert not marker.exists()
    # AND queries that never read that block are still answered from the only version there is
    assert search(lambda_context, "kubernetes")[0] == 200


def test_a_posting_block_inflating_past_its_cap_is_refused_before_it_is_inflated(
    published, tmp_path, lambda_context, caplog, monkeypatch
):
    import tracemalloc
    import zlib

    from talksearch.index_files.inflating import MAX_INFLATED_BYTES

    bomb = zlib.compress(bytes(6 * MAX_INFLATED_BYTES), 9)  # 96 MB of zeros in about 100 kB
    assert len(bomb) < 200_000

    def build():
        with zeppelin_blocks_written_as(monkeypatch, deflated=bomb):
            assert build_and_publish(str(published), LOCATION, full=True).published

    holder, good, bombed = serve_good_then_publish(published, lambda_context, tmp_path, build)
    assert holder.version == bombed
    tracemalloc.start()
    try:
        with caplog.at_level(logging.ERROR):
            status, _, body = search(lambda_context, "zeppelin")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * MAX_INFLATED_BYTES, f"the query held {peak:,} bytes"
    assert status == 503 and bombed in body["message"]
    assert "inflates past" in caplog.text
    assert holder.wait_for_swap(timeout=60) and holder.version == good


def test_a_segment_named_outside_the_index_folder_is_refused(published, tmp_path, lambda_context, caplog, monkeypatch):
    """A table of contents may name a segment anything; Whoosh opens its files by that name joined to the index's
    folder, so an absolute name (or one with ``..``) reads files from anywhere: here a copy of a real index
    placed outside, whose segment file Whoosh opened."""
    holder = IndexHolder(LOCATION, refresh_seconds=0, work_dir=tmp_path / "served")
    search_app.set_index_holder(holder)
    assert search(lambda_context)[0] == 200
    good = holder.version
    store = open_store(LOCATION)
    outside = download_index(store, store.read_manifest()[0], tmp_path / "outside")

    def rename(segment):
        segment.name = str(outside / segment.segment_id())  # segment_id() answers .name when there is one
        return segment

    hostile = publish_hostile_version(tmp_path, segments=lambda segments: [rename(s) for s in segments])
    opened: list[Path] = []
    open_file = FileStorage.open_file

    def recording_open_file(self, name, **options):
        opened.append(Path(self.folder, name).resolve())
        return open_file(self, name, **options)

    monkeypatch.setattr(FileStorage, "open_file", recording_open_file)
    with caplog.at_level(logging.ERROR):
        search(lambda_context)
        assert holder.wait_for_swap(timeout=60)
        status, headers, _ = search(lambda_context)
    assert [p for p in opened if outside in p.parents] == [], "a segment file outside the index was opened"
    assert status == 200 and headers["etag"] == f'W/"{good}"'
    assert f"index {hostile.index_version} refused" in caplog.text and "names a segment" in caplog.text
