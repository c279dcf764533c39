"""An incremental build's search pack, written from the previous pack and the index's new segments, is the pack
a whole export of the same index gives: every section byte for byte but the stored talks (which keep the
previous pack's zlib dictionary), and every stored talk the same. A damaged previous pack is never copied (the
whole index is exported instead), and a hostile Whoosh index is refused before anything of it runs.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC

from index_builder.writer import update_index, write_index
from talksearch.index_files import UnsafeIndexError
from talksearch.index_files.reading import IndexFiles
from talksearch.schema import build_schema
from talksearch.search_pack import PackFiles
from talksearch.search_pack.format import read_table
from talksearch.search_pack.writer import write_pack
from tests.test_search_pack import generated_talks

#: The stored talks' sections: an incremental pack keeps the previous pack's dictionary, so their bytes differ.
STORED = ("stored/index", "stored/data", "stored/dictionary")


def sections(data: bytes) -> dict[str, bytes]:
    return {name: data[offset : offset + size] for name, (offset, size, _, _) in read_table(memoryview(data)).items()}


def assert_same_pack(incremental: bytes, whole: bytes, index_dir: Path) -> None:
    """Every section but the stored talks byte for byte, and every stored talk as the index has it."""
    ours, theirs = sections(incremental), sections(whole)
    assert ours.keys() == theirs.keys()
    for name in ours.keys() - set(STORED):
        assert ours[name] == theirs[name], name
    pack, files = PackFiles(incremental), IndexFiles(index_dir)
    try:
        assert [pack.stored(doc) for doc in range(pack.doc_count)] == [
            files.stored(doc) for doc in range(files.doc_count)
        ]
    finally:
        files.close()


def pack_of(index_dir: Path, tmp_path: Path, previous: bytes | None = None) -> tuple[bytes, int]:
    path = tmp_path / ("incremental.pack" if previous is not None else "whole.pack")
    summary = write_pack(index_dir, path, previous)
    return path.read_bytes(), summary.kept_talks


def update(index_dir: Path, step: int, talks: list) -> None:
    """Change three talks, delete one and add one: what a content edit does."""
    changed = [talks[(step * 37 + k * 11) % 240] for k in range(3)]
    update_index(
        index_dir,
        remove_ids=[t.id for t in changed] + [talks[(step * 53 + 5) % 240].id],
        add=[*changed, talks[240 + step]],
    )


def test_every_incremental_pack_is_the_whole_export_through_whoosh_merges(tmp_path):
    # GIVEN an index of 240 generated talks (long summaries: chunks of one term and chunks of many) and its pack
    talks = generated_talks(260)
    index_dir = tmp_path / "index"
    write_index(talks[:240], index_dir)
    previous, _ = pack_of(index_dir, tmp_path)
    merged = False
    for step in range(9):
        # WHEN talks change (nine updates: Whoosh merges the small segments on the way) and the pack is written
        # from the previous one
        before = len(IndexFiles(index_dir).segment_ranges())
        update(index_dir, step, talks)
        after = len(IndexFiles(index_dir).segment_ranges())
        merged |= after <= before
        incremental, kept = pack_of(index_dir, tmp_path, previous)
        whole, whole_kept = pack_of(index_dir, tmp_path)
        # THEN it keeps the old segments' talks and is the pack a whole export writes
        assert kept >= 240 and whole_kept == 0
        assert_same_pack(incremental, whole, index_dir)
        previous = incremental
    assert merged, "no update merged segments: the merge path went untested"


@pytest.fixture
def updated(tmp_path) -> tuple[Path, bytes, bytes]:
    """(index updated once, the pack before the update, a whole export of the updated index)."""
    talks = generated_talks(260)
    index_dir = tmp_path / "index"
    write_index(talks[:240], index_dir)
    previous, _ = pack_of(index_dir, tmp_path)
    update(index_dir, 0, talks)
    whole, _ = pack_of(index_dir, tmp_path)
    return index_dir, previous, whole


def test_a_damaged_previous_pack_is_never_copied(updated, tmp_path):
    index_dir, previous, whole = updated
    # GIVEN the previous pack with one byte changed, at places spread over every section
    for at in range(0, len(previous), len(previous) // 13):
        damaged = bytearray(previous)
        damaged[at] ^= 0x5A
        # WHEN the pack is written from it THEN it is still the whole export (damage found: exported whole;
        # or the changed byte is in a part the writer never copies)
        incremental, _ = pack_of(index_dir, tmp_path, bytes(damaged))
        assert_same_pack(incremental, whole, index_dir)


def test_a_pack_that_is_not_the_index_s_previous_one_is_not_used(updated, tmp_path):
    index_dir, _, whole = updated
    # GIVEN the pack of another index (same schema, other segments)
    other = tmp_path / "other"
    write_index(generated_talks(30), other)
    stranger, _ = pack_of(other, tmp_path)
    # WHEN the pack is written from it THEN nothing of it is kept
    incremental, kept = pack_of(index_dir, tmp_path, stranger)
    assert kept == 0
    assert incremental == whole


class _RunsShell:
    """Pickles as a call to os.system: unpickling it runs the command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_a_hostile_index_is_refused_by_the_pack_writer_and_nothing_runs(updated, tmp_path):
    # GIVEN the updated index whose table of contents pickles a call to os.system, and its good previous pack
    index_dir, previous, _ = updated
    marker = tmp_path / "payload-ran"
    storage = FileStorage(str(index_dir))
    toc = TOC.read(storage, "MAIN", schema=build_schema())
    toc.segments = [_RunsShell(f"touch {shlex.quote(str(marker))}"), *toc.segments]
    storage.delete_file(TOC._filename("MAIN", toc.generation))
    toc.write(storage, "MAIN")
    # WHEN its pack is written, from the previous pack (an incremental build) or whole
    for given in (previous, None):
        with pytest.raises(UnsafeIndexError):
            write_pack(index_dir, tmp_path / "search.pack", given)
    # THEN it is refused and the payload never ran
    assert not marker.exists(), "the index's pickle ran code in the pack writer"
    assert not (tmp_path / "search.pack").exists()
