"""build_and_publish: reports, bad content, the publish protocol, retention and rollback (moto S3 and folders)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from index_builder import build_and_publish, publish, rollback
from talksearch.contracts import ARTIFACT_NAME, MANIFEST_NAME, PACK_NAME, Manifest
from talksearch.search_pack import PackFiles
from talksearch.store import ManifestConflictError, S3Store, StoreError, open_store
from tests.conftest import SAMPLE_CONTENT, moto_bucket
from tests.index_support import indexed_ids, unpacked_index

BUCKET = "talksearch-builder-tests"
SAMPLE_TALK_COUNT = 11 + 3 + 2  # the recap's talks, the single talks, the JSON records


@pytest.fixture
def s3():
    with moto_bucket(BUCKET) as client:
        yield client


@pytest.fixture
def content(tmp_path) -> Path:
    """A writable copy of the sample content."""
    return Path(shutil.copytree(SAMPLE_CONTENT, tmp_path / "content"))


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def talk_record(n: int, **extra) -> dict:
    return {"id": f"corpus/{n:03d}", "title": f"Talk number {n}", "speakers": [f"Speaker {n}"], **extra}


def published_ids(index: str, tmp_path: Path) -> set[str]:
    store = open_store(index)
    manifest, _ = store.read_manifest()
    target = tmp_path / f"downloaded-{manifest.index_version}"
    unpacked_index(store, manifest, target)
    return indexed_ids(target)


def upload_dir(s3, directory: Path, prefix: str) -> None:
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            s3.put_object(
                Bucket=BUCKET, Key=f"{prefix}/{path.relative_to(directory).as_posix()}", Body=path.read_bytes()
            )


# --- building and reporting ------------------------------------------------------------------------


def test_sample_content_builds_and_publishes_to_s3(s3, tmp_path):
    # GIVEN the sample content in an S3 prefix
    upload_dir(s3, SAMPLE_CONTENT, "content")
    # WHEN it is built
    report = build_and_publish(f"s3://{BUCKET}/content", f"s3://{BUCKET}/site/index")
    # THEN every talk is published behind the manifest, under the contracted keys
    assert report.published and report.status == "published" and report.mode == "full"
    assert report.talks_indexed == SAMPLE_TALK_COUNT and report.skipped == []
    assert report.artifact_bytes > 0 and report.duration_seconds > 0
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=f"site/index/{MANIFEST_NAME}")["Body"].read())
    assert manifest["talk_count"] == SAMPLE_TALK_COUNT
    assert manifest["artifact_key"] == f"site/index/versions/{report.index_version}/{ARTIFACT_NAME}"
    assert set(manifest["sources"]) == {
        "recaps/journees-python-bretagne-2026.md",
        "talks/observability-on-a-budget.md",
        "talks/packaging-without-tears.md",
        "talks/search-for-small-sites.md",
        "data/meetup-talks.json",
        "synonyms.txt",  # the site's synonyms: a change to them rebuilds too
    }
    ids = published_ids(f"s3://{BUCKET}/site/index", tmp_path)
    assert len(ids) == SAMPLE_TALK_COUNT and "rennes-python-meetup/2026-05/asyncio-en-pratique" in ids
    # and the search pack next to the artifact, with its checksum and size in the manifest
    assert manifest["pack_key"] == f"site/index/versions/{report.index_version}/{PACK_NAME}"
    pack = s3.get_object(Bucket=BUCKET, Key=manifest["pack_key"])["Body"].read()
    assert manifest["pack_sha256"] == hashlib.sha256(pack).hexdigest() and manifest["pack_bytes"] == len(pack)
    files = PackFiles(pack)
    assert {files.stored(d)["id"] for d in range(files.doc_count) if d not in files.deleted} == ids
    assert files.synonyms() is not None  # the site's synonyms.txt, compiled: the search function needs it


def test_broken_files_are_skipped_and_reported(content, tmp_path):
    # GIVEN good content plus one file of each broken kind
    broken = content / "broken"
    broken.mkdir()
    (broken / "latin1.md").write_bytes(b"---\ntitle: caf\xe9\n---\n")
    (broken / "image.md").write_bytes(b"\x89PNG\x00\x00")
    (broken / "empty.json").write_bytes(b"")
    (broken / "bomb.md").write_text("---\na: &a [1]\nb: [*a, *a]\nspeaker: X Y\n---\n")
    (broken / "python.md").write_text("---\nspeaker: !!python/object/apply:os.system [echo]\n---\n")
    (broken / "huge.json").write_text(json.dumps([talk_record(1, summary="x" * 30_000)]))
    (broken / "notes.txt").write_text("not content")
    (broken / "partly.jsonl").write_text(jsonl([talk_record(1)]) + "{oops\n")
    # WHEN it is built with a small size cap
    report = build_and_publish(str(content), str(tmp_path / "index"), max_source_bytes=20_000)
    # THEN the good talks are published and each broken file is reported with its reason
    assert report.published and report.talks_indexed == SAMPLE_TALK_COUNT + 1
    reasons = {s.source: s.reason for s in report.skipped}
    assert set(reasons) == {f"broken/{n}" for n in ("latin1.md", "image.md", "empty.json", "bomb.md", "python.md",
                                                     "huge.json", "notes.txt")}  # fmt: skip
    assert "not valid UTF-8" in reasons["broken/latin1.md"]
    assert "binary content" in reasons["broken/image.md"]
    assert reasons["broken/empty.json"] == "empty file"
    assert "aliases" in reasons["broken/bomb.md"]
    assert "invalid YAML" in reasons["broken/python.md"]
    assert "over the 20,000-byte limit" in reasons["broken/huge.json"]
    assert "unsupported file type" in reasons["broken/notes.txt"]
    assert any(w.startswith("broken/partly.jsonl: skipped line 2: invalid JSON") for w in report.warnings)
    assert "skipped broken/huge.json: too large" in report.format()


def test_duplicate_ids_keep_the_first_source_in_key_order(tmp_path):
    # GIVEN the same id in two files and twice in one file
    content = tmp_path / "content"
    content.mkdir()
    (content / "b.jsonl").write_text(jsonl([talk_record(1, title="From b"), talk_record(2)]))
    (content / "a.jsonl").write_text(jsonl([talk_record(1, title="From a"), talk_record(1, title="From a again")]))
    report = build_and_publish(str(content), str(tmp_path / "index"))
    # THEN the talk from a.jsonl (first key), first line, wins, whatever the listing order, with warnings
    assert report.talks_indexed == 2
    assert report.warnings == [
        "a.jsonl: duplicate talk id 'corpus/001' ignored (kept the one earlier in the same file)",
        "b.jsonl: duplicate talk id 'corpus/001' ignored (kept the one from a.jsonl)",
    ]
    store = open_store(tmp_path / "index")
    manifest, _ = store.read_manifest()
    unpacked_index(store, manifest, tmp_path / "dl")
    from talksearch.index_files import open_index

    with open_index(tmp_path / "dl").searcher() as searcher:
        assert searcher.document(id="corpus/001")["title"] == "From a"


# --- the publish protocol ---------------------------------------------------------------------------


def test_manifest_is_written_last_after_a_complete_upload(s3, content, monkeypatch):
    # GIVEN a record of every write the build makes to the index store
    writes: list[str] = []
    real_upload, real_write = S3Store.upload_file, S3Store.write_bytes

    def upload_file(self, key, path, metadata=None):
        real_upload(self, key, path, metadata)
        head = self.client.head_object(Bucket=self.bucket, Key=self.full_key(key))
        writes.append(f"upload {key.split('/')[-1]} {head['ContentLength']}")

    def write_bytes(self, key, data, **conditions):
        writes.append(f"write {key.split('/')[-1]}{' (conditional)' if conditions else ''}")
        return real_write(self, key, data, **conditions)

    monkeypatch.setattr(S3Store, "upload_file", upload_file)
    monkeypatch.setattr(S3Store, "write_bytes", write_bytes)
    # WHEN a build publishes
    report = build_and_publish(str(content), f"s3://{BUCKET}/index")
    # THEN the complete artifact, the build state and the version manifest come first, the manifest last
    manifest, _ = open_store(f"s3://{BUCKET}/index").read_manifest()
    assert writes == [
        f"upload {ARTIFACT_NAME} {report.artifact_bytes}",
        f"upload {PACK_NAME} {manifest.pack_bytes}",
        "write build-state.json.gz",
        f"write {MANIFEST_NAME}",
        f"write {MANIFEST_NAME} (conditional)",
    ]


def test_failed_upload_leaves_the_published_manifest(s3, content, monkeypatch, tmp_path):
    # GIVEN a published index
    index = f"s3://{BUCKET}/index"
    first = build_and_publish(str(content), index)
    # WHEN the next build's artifact upload fails half-way
    (content / "talks" / "new.md").write_text("---\ntitle: New\nspeaker: New Speaker\n---\nBody.\n")

    def broken_upload(self, key, path, metadata=None):
        self.client.put_object(Bucket=self.bucket, Key=self.full_key(key), Body=b"partial")
        raise ConnectionError("connection reset during upload")

    monkeypatch.setattr(S3Store, "upload_file", broken_upload)
    with pytest.raises(ConnectionError):
        build_and_publish(str(content), index)
    # THEN readers still get the first build, intact
    manifest, _ = open_store(index).read_manifest()
    assert manifest.index_version == first.index_version
    assert len(published_ids(index, tmp_path)) == SAMPLE_TALK_COUNT


def test_a_pack_that_cannot_be_written_fails_the_build_before_anything_is_published(s3, content, monkeypatch):
    # GIVEN a published index
    index = f"s3://{BUCKET}/index"
    first = build_and_publish(str(content), index)
    # WHEN the next build cannot write its search pack
    (content / "talks" / "new.md").write_text("---\ntitle: New\nspeaker: New Speaker\n---\nBody.\n")

    def unwritable(index_dir, destination, previous=None, written=None, answers=None):
        raise ValueError("talk 3's stored fields do not survive JSON")

    monkeypatch.setattr("index_builder.publish.write_pack", unwritable)
    with pytest.raises(ValueError, match="survive JSON"):
        build_and_publish(str(content), index)
    # THEN the first build is still the published one, and no other version was uploaded
    store = open_store(index)
    manifest, _ = store.read_manifest()
    assert manifest.index_version == first.index_version and manifest.pack_bytes > 0
    assert store.list_versions() == [first.index_version]


def test_a_manifest_from_before_the_search_pack_still_reads(s3, content):
    build_and_publish(str(content), f"s3://{BUCKET}/index")
    current = json.loads(s3.get_object(Bucket=BUCKET, Key=f"index/{MANIFEST_NAME}")["Body"].read())
    older = {k: v for k, v in current.items() if not k.startswith("pack_")}
    manifest = Manifest.from_json(json.dumps(older))
    assert (manifest.pack_key, manifest.pack_sha256, manifest.pack_bytes) == ("", "", 0)
    assert manifest.artifact_key == current["artifact_key"]


def test_conditional_write_conflict_keeps_the_other_build(s3, content, monkeypatch):
    # GIVEN a published index, and a rival build that publishes while ours is uploading
    index = f"s3://{BUCKET}/index"
    build_and_publish(str(content), index)
    store = open_store(index)
    real_upload = publish.upload_artifact

    def upload_then_rival_publishes(index_store, archive, version):
        result = real_upload(index_store, archive, version)
        current, etag = store.read_manifest()
        rival = current.__class__(**{**current.__dict__, "index_version": "rival", "built_at": "rival"})
        store.write_manifest(rival, etag)
        return result

    monkeypatch.setattr(publish, "upload_artifact", upload_then_rival_publishes)
    (content / "talks" / "new.md").write_text("---\ntitle: New\nspeaker: New Speaker\n---\nBody.\n")
    # WHEN our build tries to replace the manifest it read before
    with pytest.raises(ManifestConflictError):
        build_and_publish(str(content), index)
    # THEN the rival's manifest stands, and our unpublished version was cleaned up
    assert store.read_manifest()[0].index_version == "rival"
    assert len(store.list_versions()) == 1


def test_empty_result_is_refused_and_the_old_index_kept(content, tmp_path):
    index = str(tmp_path / "index")
    first = build_and_publish(str(content), index)
    # WHEN every file becomes unusable
    for path in content.rglob("*.*"):
        path.write_bytes(b"\x00\x01 broken")
    report = build_and_publish(str(content), index)
    # THEN nothing is published
    assert report.status == "refused" and not report.published
    assert report.message == "no talks found: refusing to publish an empty index"
    assert len(report.skipped) == 5
    assert open_store(index).read_manifest()[0].index_version == first.index_version


def test_losing_most_talks_while_content_stays_is_refused(tmp_path):
    # GIVEN 40 published talks in one JSONL file
    content, index = tmp_path / "content", str(tmp_path / "index")
    content.mkdir()
    good = jsonl([talk_record(n) for n in range(40)])
    (content / "talks.jsonl").write_text(good)
    first = build_and_publish(str(content), index)
    # WHEN the file keeps its size but most lines break (a bad export, not a deletion)
    (content / "talks.jsonl").write_text(jsonl([talk_record(n) for n in range(10)]) + "{" * (len(good) - 700) + "\n")
    report = build_and_publish(str(content), index)
    # THEN the build is refused and the 40 talks stay published
    assert report.status == "refused" and "only 10 talks, down from 40" in report.message
    assert open_store(index).read_manifest()[0].index_version == first.index_version
    # AND a full build is held to the same rule
    assert build_and_publish(str(content), index, full=True).status == "refused"
    # AND when content really shrinks, the smaller index is published, by a full build too
    (content / "talks.jsonl").write_text(jsonl([talk_record(n) for n in range(10)]))
    assert build_and_publish(str(content), index, full=True).published


def test_old_versions_are_deleted_and_rollback_restores_one(content, tmp_path):
    index = str(tmp_path / "index")
    versions = []
    for n in range(4):
        (content / "talks" / f"extra-{n}.md").write_text(f"---\ntitle: Extra {n}\nspeaker: Ex Tra\n---\nBody.\n")
        versions.append(build_and_publish(str(content), index, keep_versions=2).index_version)
    store = open_store(index)
    # THEN only the last two versions are kept
    assert store.list_versions() == versions[-2:]
    # WHEN rolling back without a target: the version before the published one
    assert rollback(index).index_version == versions[-2]
    assert store.read_manifest()[0].index_version == versions[-2]
    assert len(published_ids(index, tmp_path)) == SAMPLE_TALK_COUNT + 3
    # AND rolling forward to a named version works; a deleted one is refused with the kept list
    assert rollback(index, to=versions[-1]).index_version == versions[-1]
    with pytest.raises(StoreError, match=f"version {versions[0]} is not kept"):
        rollback(index, to=versions[0])


def test_rollback_keeps_the_published_version_when_pruning(content, tmp_path):
    index = str(tmp_path / "index")
    first = build_and_publish(str(content), index, keep_versions=1).index_version
    (content / "talks" / "x.md").write_text("---\ntitle: X\nspeaker: Ex Tra\n---\nBody.\n")
    build_and_publish(str(content), index, keep_versions=5)
    rollback(index, to=first)
    (content / "talks" / "y.md").write_text("---\ntitle: Y\nspeaker: Ex Tra\n---\nBody.\n")
    latest = build_and_publish(str(content), index, keep_versions=1).index_version
    assert open_store(index).list_versions() == [latest]


def test_rollback_refuses_a_corrupted_artifact(content, tmp_path):
    index = str(tmp_path / "index")
    first = build_and_publish(str(content), index).index_version
    (content / "talks" / "x.md").write_text("---\ntitle: X\nspeaker: Ex Tra\n---\nBody.\n")
    second = build_and_publish(str(content), index).index_version
    (tmp_path / "index" / "versions" / first / ARTIFACT_NAME).write_bytes(b"tampered")
    with pytest.raises(StoreError, match="sha256"):
        rollback(index)
    assert open_store(index).read_manifest()[0].index_version == second


def test_index_inside_the_content_tree_is_not_read_as_content(s3, tmp_path):
    # GIVEN content at the bucket's root and the index under index/ in the same bucket
    upload_dir(s3, SAMPLE_CONTENT, "talks")
    build_and_publish(f"s3://{BUCKET}", f"s3://{BUCKET}/index")
    s3.put_object(Bucket=BUCKET, Key="talks/extra.md", Body=b"---\ntitle: E\nspeaker: Ex Tra\n---\nBody.\n")
    # WHEN it is built again
    report = build_and_publish(f"s3://{BUCKET}", f"s3://{BUCKET}/index")
    # THEN the published manifests and artifacts were not listed as content
    assert report.published and report.sources_listed == 7
    # AND the sample's synonyms.txt, now under talks/ rather than at the root, is reported as not used
    assert [(s.source, s.reason) for s in report.skipped] == [
        ("talks/synonyms.txt", "synonyms.txt is read at the content root only; this one is not used")
    ]
    # AND the same holds for a local index folder inside the content folder
    content = Path(shutil.copytree(SAMPLE_CONTENT, tmp_path / "content"))
    build_and_publish(str(content), str(content / ".." / "content" / "_index"))
    again = build_and_publish(str(content), str(content / "_index"), full=True)
    assert again.skipped == [] and again.sources_listed == 6
