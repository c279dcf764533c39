"""Incremental builds re-index only what changed, and end with the index a full build gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from functions.search import engine as engine_module
from index_builder import build, build_and_publish
from index_builder.answers import answer_section
from talksearch.contracts import VERSIONS_DIR
from talksearch.index_files import open_index
from talksearch.index_files.reading import IndexFiles
from talksearch.search_pack import MAX_PACK_BYTES, PackFiles, format
from talksearch.search_pack.answers import ANSWERS
from talksearch.store import open_store
from tests.conftest import SAMPLE_CONTENT
from tests.index_support import unpacked_index
from tests.test_search_pack_hostile import sections_of


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def record(n: int, **extra) -> dict:
    return {"id": f"big/{n:03d}", "title": f"Talk {n}", "speakers": [f"Speaker {n}"], "summary": f"Text {n}.", **extra}


def published_documents(index: Path, tmp_path: Path) -> dict[str, dict]:
    """id → stored fields of every talk readers would get from ``index``."""
    store = open_store(index)
    manifest, _ = store.read_manifest()
    target = tmp_path / f"check-{manifest.index_version}"
    unpacked_index(store, manifest, target)
    with open_index(target).searcher() as searcher:
        return {fields["id"]: fields for fields in searcher.all_stored_fields()}


def full_build_documents(content: Path, tmp_path: Path) -> dict[str, dict]:
    index = tmp_path / "full-check"
    shutil.rmtree(index, ignore_errors=True)
    assert build_and_publish(str(content), str(index), full=True).published
    return published_documents(index, tmp_path)


@pytest.fixture
def content(tmp_path) -> Path:
    directory = Path(shutil.copytree(SAMPLE_CONTENT, tmp_path / "content"))
    (directory / "big.jsonl").write_text(jsonl([record(n) for n in range(30)]))
    return directory


def test_add_change_and_delete_talks_like_a_full_build(content, tmp_path):
    # GIVEN a published full build
    index = tmp_path / "index"
    first = build_and_publish(str(content), str(index))
    assert first.mode == "full" and first.talks_indexed == 16 + 30
    # WHEN one JSONL record changes, one appears, one disappears; a recap section is edited,
    # a single-talk file is deleted and a new one added
    records = [record(n) for n in range(30) if n != 7]
    records[3] = record(3, title="Talk 3, now about conteneurs")
    records.append(record(99))
    (content / "big.jsonl").write_text(jsonl(records))
    recap = content / "recaps" / "journees-python-bretagne-2026.md"
    recap.write_text(recap.read_text().replace("Polars", "DuckDB"))
    (content / "talks" / "packaging-without-tears.md").unlink()
    (content / "talks" / "new-talk.md").write_text("---\ntitle: Brand new\nspeaker: Nova Writer\n---\nFresh.\n")
    report = build_and_publish(str(content), str(index))
    # THEN only the changed files were read and only the changed talks re-indexed
    assert report.published and report.mode == "incremental"
    assert report.sources_parsed == 3  # big.jsonl, the recap, new-talk.md
    assert report.talks_added == 2  # big/099, new-talk
    assert report.talks_changed == 2  # big/003, the edited recap talk
    assert report.talks_removed == 2  # big/007, packaging-without-tears
    assert report.talks_indexed == 16 + 30  # -big/007 +big/099 -packaging +new-talk
    # AND readers get exactly what a full build of the same content gives
    incremental = published_documents(index, tmp_path)
    assert incremental == full_build_documents(content, tmp_path)
    assert incremental["big/003"]["title"] == "Talk 3, now about conteneurs"
    assert "DuckDB" in incremental["recaps/journees-python-bretagne-2026/pierre-yves-le-goff-granit-energie"]["summary"]
    assert "big/007" not in incremental and "talks/packaging-without-tears" not in incremental


def test_an_incremental_build_publishes_a_pack_that_reads_as_its_index(content, tmp_path):
    # GIVEN a published build, then an incremental one that deletes, changes and adds talks
    index = tmp_path / "index"
    build_and_publish(str(content), str(index))
    records = [record(n) for n in range(30) if n != 7]
    records[3] = record(3, title="Talk 3, now about conteneurs")
    (content / "big.jsonl").write_text(jsonl([*records, record(99)]))
    assert build_and_publish(str(content), str(index)).mode == "incremental"
    # WHEN the published index (several segments, deleted talks) and its published pack are read
    store = open_store(index)
    manifest, _ = store.read_manifest()
    target = tmp_path / "published"
    unpacked_index(store, manifest, target)
    data = store.read_bytes(store.relative_key(manifest.pack_key), max_bytes=MAX_PACK_BYTES)
    files, pack = IndexFiles(target), PackFiles(data)
    # THEN the pack answers as the index does, Whoosh's numbering and deleted talks included
    try:
        assert len(files.segment_ranges()) > 1 and files.deleted and pack.deleted == files.deleted
        for fieldname in ("id", "summary", "words", "title"):
            listed = []
            for term, *_ in files.field_postings(fieldname):
                assert pack.doc_frequency(fieldname, term) == files.doc_frequency(fieldname, term)
                assert pack.postings(fieldname, term) == files.postings(fieldname, term)
                listed.append((files.doc_frequency(fieldname, term), term))
            assert list(pack.term_frequencies(fieldname)) == listed  # what the build's frequent words come from
        assert [pack.stored(d) for d in range(pack.doc_count)] == [files.stored(d) for d in range(files.doc_count)]
        assert pack.doc_for_id("big/007") is None and pack.stored(pack.doc_for_id("big/003"))["title"].endswith(
            "conteneurs"
        )
    finally:
        files.close()


def test_an_incremental_build_publishes_the_answers_of_its_own_pack(content, tmp_path, monkeypatch):
    """The precomputed answers depend on every talk: after 10 talks change, the published pack's are those the
    builder computes over that very pack, not the previous pack's (a 46-talk corpus: answers kept from 8 postings)."""
    monkeypatch.setattr(engine_module, "ANSWER_MIN_POSTINGS", 8)
    index = tmp_path / "index"
    build_and_publish(str(content), str(index))
    before = _published_answers(index)
    records = [record(n, summary=f"Text {n}, revised with errata.") if n % 3 == 0 else record(n) for n in range(30)]
    (content / "big.jsonl").write_text(jsonl(records))
    assert build_and_publish(str(content), str(index)).mode == "incremental"
    published, data = _published_answers(index), _published_pack(index)
    kept = [(name, *entry) for name, entry in sections_of(data).items() if name != ANSWERS]
    without = format.write_header(kept) + b"".join(stored for _, stored, _, _ in kept)
    recomputed = answer_section(without, PackFiles(data).synonyms())
    assert published == recomputed and published != before
    assert json.loads(published.split(b"\n")[0])  # some answers were kept


def _published_pack(index: Path) -> bytes:
    store = open_store(index)
    manifest, _ = store.read_manifest()
    return store.read_bytes(store.relative_key(manifest.pack_key), max_bytes=MAX_PACK_BYTES)


def _published_answers(index: Path) -> bytes:
    return bytes(PackFiles(_published_pack(index))._section(ANSWERS))


def test_unchanged_content_publishes_nothing(content, tmp_path):
    index = tmp_path / "index"
    first = build_and_publish(str(content), str(index))
    (content / "broken.md").write_bytes(b"\xff\xfe")
    second = build_and_publish(str(content), str(index))
    report = build_and_publish(str(content), str(index))
    assert report.status == "unchanged" and not report.published
    assert report.index_version == second.index_version != first.index_version
    assert report.talks_indexed == second.talks_indexed
    assert [s.source for s in report.skipped] == ["broken.md"]  # still reported, never re-read
    assert report.sources_parsed == 0


def test_duplicate_winner_moves_when_the_winning_file_goes(tmp_path):
    # GIVEN the same id in a.jsonl (the winner) and b.jsonl
    content, index = tmp_path / "content", tmp_path / "index"
    content.mkdir()
    (content / "a.jsonl").write_text(jsonl([record(1, title="From a")]))
    (content / "b.jsonl").write_text(jsonl([record(1, title="From b")] + [record(n) for n in range(2, 12)]))
    build_and_publish(str(content), str(index))
    # WHEN a.jsonl disappears (b.jsonl is unchanged, so not re-read for its own sake)
    (content / "a.jsonl").unlink()
    report = build_and_publish(str(content), str(index))
    # THEN b's talk takes over, as in a full build
    documents = published_documents(index, tmp_path)
    assert documents["big/001"]["title"] == "From b"
    assert report.mode == "incremental" and documents == full_build_documents(content, tmp_path)


def test_full_flag_and_schema_change_rebuild_everything(content, tmp_path, monkeypatch):
    index = tmp_path / "index"
    build_and_publish(str(content), str(index))
    (content / "talks" / "x.md").write_text("---\ntitle: X\nspeaker: Ex Tra\n---\nBody.\n")
    forced = build_and_publish(str(content), str(index), full=True)
    assert forced.mode == "full" and forced.sources_parsed == 7
    for stage in ("build", "state", "publish"):  # the builder's modules that read or write it
        monkeypatch.setattr(f"index_builder.{stage}.SCHEMA_VERSION", 99)
    (content / "talks" / "y.md").write_text("---\ntitle: Y\nspeaker: Ex Tra\n---\nBody.\n")
    report = build_and_publish(str(content), str(index))
    assert report.mode == "full" and report.sources_parsed == 8
    assert any("schema version changed" in w for w in report.warnings)
    assert open_store(index).read_manifest()[0].schema_version == 99


def test_unreadable_previous_state_or_artifact_falls_back_to_full(content, tmp_path, monkeypatch):
    monkeypatch.setenv("TALKSEARCH_BUILD_CACHE", "off")  # every previous index comes from the store
    index = tmp_path / "index"
    first = build_and_publish(str(content), str(index))
    (index / VERSIONS_DIR / first.index_version / "build-state.json.gz").write_bytes(b"garbage")
    (content / "talks" / "x.md").write_text("---\ntitle: X\nspeaker: Ex Tra\n---\nBody.\n")
    report = build_and_publish(str(content), str(index))
    assert report.mode == "full" and any("previous build state unreadable" in w for w in report.warnings)
    (index / VERSIONS_DIR / report.index_version / "index.tar.gz").write_bytes(b"tampered")
    (content / "talks" / "y.md").write_text("---\ntitle: Y\nspeaker: Ex Tra\n---\nBody.\n")
    again = build_and_publish(str(content), str(index))
    assert again.published and again.mode == "full"
    assert any("previous artifact unusable" in w and "sha256" in w for w in again.warnings)
    assert published_documents(index, tmp_path) == full_build_documents(content, tmp_path)


def test_local_cache_replaces_the_download_only_for_the_published_artifact(content, tmp_path, monkeypatch):
    # GIVEN a published build whose index the builder kept in its cache
    index = tmp_path / "index"
    build_and_publish(str(content), str(index))
    downloads = []
    real_download = build.download_artifact
    monkeypatch.setattr(
        build, "download_artifact", lambda store, m, d: downloads.append(m.index_version) or real_download(store, m, d)
    )
    # WHEN content changes twice
    (content / "talks" / "x.md").write_text("---\ntitle: X\nspeaker: Ex Tra\n---\nBody.\n")
    first = build_and_publish(str(content), str(index))
    # THEN the cached copy is used, not the artifact
    assert first.mode == "incremental" and downloads == []
    # WHEN the cache does not hold the published version (another builder published it)
    for marker in (tmp_path / "build-cache").rglob("*.sha256"):
        marker.write_text("0" * 64)
    (content / "talks" / "y.md").write_text("---\ntitle: Y\nspeaker: Ex Tra\n---\nBody.\n")
    second = build_and_publish(str(content), str(index))
    # THEN the artifact is downloaded, and the result is still the full build's
    assert second.mode == "incremental" and downloads == [first.index_version]
    assert published_documents(index, tmp_path) == full_build_documents(content, tmp_path)


def test_when_most_talks_change_a_new_index_is_written(content, tmp_path):
    index = tmp_path / "index"
    build_and_publish(str(content), str(index))
    (content / "big.jsonl").write_text(jsonl([record(n, summary=f"Rewritten {n}.") for n in range(30)]))
    report = build_and_publish(str(content), str(index))
    assert report.published and report.mode == "full"  # 30 of 46 talks changed: cheaper than 60 updates
    assert published_documents(index, tmp_path) == full_build_documents(content, tmp_path)


def test_incremental_builds_keep_publishing_when_whoosh_merges_their_segments(content, tmp_path):
    # GIVEN a published full build WHEN one talk goes and one comes, ten times (each build adds a small segment,
    # and Whoosh merges small segments, inlined posting lists of fields without values included)
    index = tmp_path / "index"
    assert build_and_publish(str(content), str(index)).mode == "full"
    for n in range(10):
        (content / "big.jsonl").write_text(jsonl([record(i) for i in range(30) if i != n] + [record(100 + n)]))
        report = build_and_publish(str(content), str(index))
        # THEN every build publishes incrementally, and readers get what a full build gives
        assert report.published and report.mode == "incremental", report.message
    assert published_documents(index, tmp_path) == full_build_documents(content, tmp_path)
