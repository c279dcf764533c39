"""A full build's search pack, written from the postings the full write kept in memory, is the pack exporting the
index files gives, byte for byte, over one segment or several; an index that is no longer exactly what was written
(an update since, or postings dropped for memory) is exported from its files.
"""

from __future__ import annotations

import pytest

from index_builder.writer import update_index, write_index
from talksearch.index_files.reading import IndexFiles
from talksearch.search_pack.writer import write_pack
from tests.test_builder_writer import TRICKY_TALKS
from tests.test_search_pack import generated_talks


def packs(index_dir, tmp_path, written) -> tuple[bytes, bytes, bool]:
    """(pack written with ``written``, pack exported from the files, whether the first came from memory)."""
    summary = write_pack(index_dir, tmp_path / "written.pack", written=written)
    write_pack(index_dir, tmp_path / "exported.pack")
    return (tmp_path / "written.pack").read_bytes(), (tmp_path / "exported.pack").read_bytes(), summary.from_memory


@pytest.mark.parametrize("postings_per_segment", [1_000_000, 9_000], ids=["one-segment", "several-segments"])
def test_a_pack_from_the_written_postings_is_the_exported_pack(tmp_path, postings_per_segment):
    # GIVEN a full write (generated talks with long summaries, and talks Whoosh's own analysis indexes)
    index_dir = tmp_path / "index"
    talks = TRICKY_TALKS + generated_talks(240)
    written = write_index(talks, index_dir, postings_per_segment=postings_per_segment, parallel=False)
    segments = len(IndexFiles(index_dir).segment_ranges())
    assert segments == 1 if postings_per_segment == 1_000_000 else segments >= 3
    # WHEN its pack is written from the postings kept in memory, and again from the index files
    from_written, exported, from_memory = packs(index_dir, tmp_path, written)
    # THEN the memory was used, and both packs are the same bytes
    assert from_memory
    assert from_written == exported


def test_an_index_updated_since_the_write_is_exported_from_its_files(tmp_path):
    # GIVEN a full write of several segments, then an update (a talk deleted, one added: a new segment)
    index_dir = tmp_path / "index"
    talks = generated_talks(200)
    written = write_index(talks[:180], index_dir, postings_per_segment=9_000, parallel=False)
    update_index(index_dir, remove_ids=[talks[3].id], add=[talks[190]])
    # WHEN the pack is written with the postings of the full write
    from_written, exported, from_memory = packs(index_dir, tmp_path, written)
    # THEN they are not used (the index is not what was written): the pack is the export
    assert not from_memory
    assert from_written == exported


def test_postings_over_the_memory_budget_are_dropped(tmp_path):
    # GIVEN a full write whose postings exceed what it may keep in memory
    index_dir = tmp_path / "index"
    written = write_index(generated_talks(120), index_dir, postings_per_segment=9_000, kept_postings=5_000)
    # WHEN its pack is written with them
    from_written, exported, from_memory = packs(index_dir, tmp_path, written)
    # THEN none were kept, and the pack is the export
    assert written.dropped and not written.segments
    assert not from_memory
    assert from_written == exported
