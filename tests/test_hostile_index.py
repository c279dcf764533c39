"""A published Whoosh index whose files carry a pickle payload: nothing in it runs when the builder opens it.

GIVEN whoever can write the index prefix publishes a version whose Whoosh table of contents pickles a call
to ``os.system``, or names a segment outside the index's folder (with the manifest's sha256 made to match,
as they can) WHEN the builder opens it for an incremental build THEN the payload never runs (its marker file
is never written), nothing outside the index is opened, and the builder builds in full instead and says so.
The search function never reads the Whoosh index: what it does with a damaged or forged search pack is
tests/test_hostile_pack.py.
"""

from __future__ import annotations

import os
import pickle
import shlex
import tarfile
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from search_support import NEW_TALK, TALKS, write_content
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC

from functions.search.lifecycle import IndexHolder
from index_builder import build_and_publish
from index_builder.state import read_build_state, write_build_state
from talksearch.artifact import pack_index, upload_artifact
from talksearch.contracts import Manifest, new_index_version
from talksearch.schema import build_schema
from talksearch.store import open_store
from tests.index_support import unpacked_index

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
    index_dir = unpacked_index(store, good, tmp / "hostile-index")
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
    """A good index published to a moto server's bucket."""
    boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    content = write_content(tmp_path / "content")
    assert build_and_publish(str(content), LOCATION, full=True).published
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    yield content


def test_builder_builds_in_full_when_the_previous_version_is_hostile(published, tmp_path):
    marker = tmp_path / "payload-ran"
    hostile = publish_hostile_version(tmp_path, marker)
    write_content(published, [*TALKS, NEW_TALK])  # one talk more: an incremental build would open the hostile index

    report = build_and_publish(str(published), LOCATION)

    assert not marker.exists(), "the previous index's pickle ran code in the builder"
    assert report.published and report.mode == "full"
    assert any(hostile.index_version in w and "full rebuild" in w for w in report.warnings)
    holder = IndexHolder(LOCATION, refresh_seconds=0)
    assert holder.engine().version == report.index_version
    assert holder.engine().talk(NEW_TALK["id"]) is not None


def test_every_whoosh_module_the_product_loads_unpickles_through_the_allow_list(published, tmp_path):
    """GIVEN an index built, updated incrementally and searched (every Whoosh module the product uses is then
    loaded) THEN none of them holds Python's own pickle loaders, and no older TOC format is read."""
    import sys

    import whoosh.index

    write_content(published, [*TALKS, NEW_TALK])
    assert build_and_publish(str(published), LOCATION).mode == "incremental"
    engine = IndexHolder(LOCATION, refresh_seconds=0).engine()
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


def test_builder_builds_in_full_when_the_previous_version_names_a_segment_outside_its_folder(
    published, tmp_path, monkeypatch
):
    """A table of contents may name a segment anything; Whoosh opens its files by that name joined to the index's
    folder, so an absolute name (or one with ``..``) reads files from anywhere: here a copy of a real index
    placed outside, whose segment file Whoosh opened."""
    store = open_store(LOCATION)
    outside = unpacked_index(store, store.read_manifest()[0], tmp_path / "outside")

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
    write_content(published, [*TALKS, NEW_TALK])
    report = build_and_publish(str(published), LOCATION)

    assert [p for p in opened if outside in p.parents] == [], "a segment file outside the index was opened"
    assert report.published and report.mode == "full"
    assert any(hostile.index_version in w and "full rebuild" in w for w in report.warnings)
