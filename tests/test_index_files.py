"""talksearch.index_files, the one door to Whoosh: what it reads equals what Whoosh's public API reads.

The door reads some private parts of Whoosh's W3 codec for speed. These tests pin each of them on
an index with several segments, deleted talks, inlined and multi-block posting lists, lengths and
positions: a Whoosh release that changes any of it fails here rather than silently changing ranking.
"""

from __future__ import annotations

import pytest
from whoosh.codec.whoosh3 import W3Codec
from whoosh.formats import Frequency, Positions
from whoosh.util.numeric import byte_to_length

from index_builder.writer import update_index, write_index
from talksearch.index_files import open_index, reading
from talksearch.index_files.reading import LENGTH_OF_BYTE, IndexFiles
from talksearch.index_files.writing import INLINE_POSTINGS, frequency_value, positions_value
from talksearch.schema import Talk

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
#: Fields read through the door, with and without positions, text and names.
FIELDS = ["summary", "summary_en", "title", "words", "speakers", "event", "id"]


def talk(n: int) -> Talk:
    # "every" is in every talk (several posting blocks of 128), "rare<n % 100>" in a few (inlined)
    words = " ".join(WORDS[(n * k) % len(WORDS)] for k in range(1, 1 + n % 7))
    return Talk(
        id=f"talks/{n}",
        title=f"Talk {n} every {WORDS[n % 8]}",
        speakers=[f"Speaker {n % 13}", "Common Speaker"] if n % 3 else [f"Speaker {n % 13}"],
        event=f"Event {n % 5}",
        date=f"20{10 + n % 15}-0{1 + n % 9}-1{n % 10}",
        lang="fr" if n % 2 else "en",
        summary=f"every talk says every word {words} rare{n % 100} " + "filler " * (n % 11),
        source="talks.jsonl",
    )


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    """Three segments (a full write split by its postings budget, then an update) with deleted talks."""
    directory = tmp_path_factory.mktemp("segments")
    write_index([talk(n) for n in range(600)], directory, postings_per_segment=18_000)
    update_index(directory, remove_ids=[f"talks/{n}" for n in range(0, 600, 7)], add=[talk(n) for n in range(600, 700)])
    return directory


@pytest.fixture(scope="module")
def files(index_dir):
    opened = IndexFiles(index_dir)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def reader(index_dir):
    """Whoosh's public API over the same index: the reference."""
    opened = open_index(index_dir).reader()
    yield opened
    opened.close()


def public_postings(reader, fieldname: str, term: str) -> list[tuple[int, float, list[int] | None]]:
    """(talk, frequency, positions) of a term through a public matcher, which leaves deleted talks out."""
    matcher = reader.postings(fieldname, term)
    found = []
    while matcher.is_active():
        positions = list(matcher.value_as("positions")) if matcher.supports("positions") else None
        found.append((matcher.id(), matcher.weight(), positions))
        matcher.next()
    return found


def test_the_fixture_has_what_the_door_must_handle(index_dir, files, reader):
    segments = [segment for segment, _ in reader.leaf_readers()]
    assert len(segments) >= 3
    assert files.deleted and files.deleted == {d for d in range(reader.doc_count_all()) if reader.is_deleted(d)}
    assert segments[0].term_info("summary", "every").doc_frequency() > 2 * 128  # several posting blocks
    assert segments[0].term_info("summary", "rare3").is_inlined()  # fewer than INLINE_POSTINGS talks
    assert not segments[0].term_info("summary", "every").is_inlined()


def test_postings_and_positions_equal_whooshs_for_every_term(files, reader):
    for fieldname in FIELDS:
        for term in {t.decode("utf-8") for t in reader.lexicon(fieldname)}:
            expected = public_postings(reader, fieldname, term)
            ids, frequencies = files.postings(fieldname, term)
            assert list(zip(ids, frequencies, strict=True)) == [(d, w) for d, w, _ in expected], (fieldname, term)
            assert files.doc_frequency(fieldname, term) == reader.doc_frequency(fieldname, term)
            assert files.has_term(fieldname, term)
            if expected and expected[0][2] is not None:
                assert files.positions(fieldname, term, set(ids)) == {d: p for d, _, p in expected}, (fieldname, term)


def test_known_terms_are_the_candidates_the_field_has(files, reader):
    terms = sorted({t.decode("utf-8") for t in reader.lexicon("words")})[:50]
    candidates = ["absentword", *terms, "zzz"]
    assert files.known_terms("words", candidates) == [(reader.doc_frequency("words", t), t) for t in terms]


def test_positions_are_read_only_for_the_talks_asked(files, reader):
    expected = {d: p for d, _, p in public_postings(reader, "summary", "every")}
    some = set(list(expected)[5::97]) | {max(expected)}
    assert files.positions("summary", "every", some) == {d: expected[d] for d in some}
    assert files.positions("summary", "every", {min(files.deleted)}) == {}


def test_blocks_are_read_whole_from_w3_matchers(files):
    # the speed of postings and phrase checks: if this fails, the door silently went the slow way
    matchers = [matcher for matcher, _, _ in files._matchers("summary", "every")]
    assert len(matchers) >= 3 and all(reading._reads_blocks(m) for m in matchers)  # deletions included
    assert not any(reading._reads_blocks(m) for m, _, _ in files._matchers("summary", "rare3"))  # inlined


def test_lengths_equal_whooshs_and_are_read_whole(files, reader):
    for fieldname in FIELDS:
        lengths = files.length_bytes(fieldname)
        assert len(lengths) == reader.doc_count_all()
        for doc in range(reader.doc_count_all()):
            assert LENGTH_OF_BYTE[lengths[doc]] == (reader.doc_field_length(doc, fieldname) or 0), (fieldname, doc)
        assert files.total_length(fieldname) == reader.field_length(fieldname)
    for segment, _ in reader.leaf_readers():
        assert reading._lengths_column(segment, "summary") is not None  # the fast path is the one in use


def test_lengths_never_silently_become_zero(reader):
    """Without the codec internals the door reads, lengths still come right, from Whoosh's public API."""

    class PublicOnly:
        def __init__(self, segment) -> None:
            self.doc_count_all, self.doc_field_length = segment.doc_count_all, segment.doc_field_length

    for segment, _ in reader.leaf_readers():
        assert reading._lengths_column(PublicOnly(segment), "summary") is None
        assert reading._length_bytes(PublicOnly(segment), "summary") == reading._length_bytes(segment, "summary")
        assert any(reading._length_bytes(segment, "summary"))
    assert tuple(byte_to_length(b) for b in range(256)) == LENGTH_OF_BYTE


def test_columns_equal_whooshs_and_are_read_whole(files, reader):
    for fieldname in ("speaker_values", "sort_title", "date", "f_event", "lang"):
        expected = [
            v for segment, _ in reader.leaf_readers() for v in segment.column_reader(fieldname, translate=False)
        ]
        assert files.column(fieldname) == expected, fieldname
    segment = next(segment for segment, _ in reader.leaf_readers())
    assert reading._column_slices(segment, "speaker_values") is not None


def test_terms_by_prefix_equal_whooshs(files, reader):
    public = {t.decode("utf-8"): reader.doc_frequency("words", t) for t in reader.expand_prefix("words", "ra")}
    assert sorted(files.terms_starting("words", "ra", limit=1000)) == sorted(public)
    assert files.terms_starting("words", "ra", limit=3) is None  # a segment has more than 3: not worth it
    assert files.prefix_frequencies("words", "ra", scan_limit=1000) == public


def test_stored_fields_and_ids(files, reader):
    live = [d for d in range(reader.doc_count_all()) if not reader.is_deleted(d)]
    assert [files.stored(d) for d in live] == [reader.stored_fields(d) for d in live]
    assert files.doc_for_id("talks/650") == reader.first_id("id", "talks/650")
    assert files.doc_for_id("talks/7") is None  # deleted
    assert files.doc_for_id("no/such-talk") is None


def test_the_table_of_contents_names_whooshs_classes_only(index_dir, reader):
    # the codec inlining short posting lists pickles as Whoosh's own: readers need nothing of ours
    assert {type(segment.segment().codec()) for segment, _ in reader.leaf_readers()} == {W3Codec}
    assert all(segment.segment().codec()._inlinelimit == INLINE_POSTINGS for segment, _ in reader.leaf_readers())
    for toc in index_dir.glob("*.toc"):
        assert b"talksearch" not in toc.read_bytes() and b"index_builder" not in toc.read_bytes()


def test_posting_values_are_whooshs_encodings():
    assert Frequency().decode_frequency(frequency_value(7)) == 7
    assert Positions().decode_positions(positions_value([0, 3, 4, 90])) == [0, 3, 4, 90]
    assert Positions().decode_frequency(positions_value([0, 3, 4, 90])) == 4
