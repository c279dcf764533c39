"""The search pack answers what the Whoosh index answers: every method of PackFiles against IndexFiles, and the
search engine end to end over each.

Three indexes: the bundled sample content; an index of three segments with deleted talks made by an
incremental build (Whoosh's numbering across segments, terms whose every talk is deleted); generated
talks with unicode, empty fields and long summaries (posting lists of one chunk each and chunks of
many terms, positions past the narrowest array type).
"""

from __future__ import annotations

import random
import sys

import pytest

from functions.search.engine import SearchEngine
from index_builder.parsers import parse_source
from index_builder.writer import update_index, write_index
from talksearch.contracts import SITE_SYNONYMS_NAME, SYNONYMS_NAME
from talksearch.index_files.reading import IndexFiles
from talksearch.schema import Talk
from talksearch.search_pack import PackFiles, write_pack
from tests.conftest import SAMPLE_CONTENT
from tests.test_index_files import talk as segment_talk

#: Heads the prefix reads are asked for, with limits around each index's completion counts.
LIMITS = (0, 1, 2, 5, 40, 1500)


def sample_talks() -> list[Talk]:
    talks = []
    for path in sorted(SAMPLE_CONTENT.rglob("*.*")):
        if path.name != SITE_SYNONYMS_NAME:
            talks += parse_source(path.relative_to(SAMPLE_CONTENT).as_posix(), path.read_bytes()).talks
    return talks


def generated_talks(count: int) -> list[Talk]:
    """Talks drawn by a fixed seed: accents, non-Latin scripts, emoji, empty titles and summaries, long summaries."""
    draw = random.Random(12)
    words = ["données", "Straße", "日本語", "naïve", "café", "œuvre", "ÆGIS", "𝔘nicode", "🐍", "ĳssel", "python"]
    words += [f"w{n}" for n in range(300)]
    talks = []
    for n in range(count):
        length = draw.choice([0, 0, 3, 30, 400, 3000])
        summary = " ".join(draw.choice(words) for _ in range(length))
        title = "" if n % 9 == 0 else " ".join(draw.choice(words) for _ in range(draw.randint(1, 6)))
        talks.append(
            Talk(
                id=f"generated/{n}-{draw.choice(words)}" if n != 1 else "z\U0010ffff\U0010ffff-last code points",
                title=title,
                speakers=[] if n % 5 == 0 else [f"Orateur {draw.choice(words)}", f"Ω {n % 17}"],
                company="" if n % 3 else "Société Générale",
                event="" if n % 4 == 0 else f"Événement {n % 6}",
                date="" if n % 7 == 0 else f"20{10 + n % 15}-0{1 + n % 9}-1{n % 10}",
                lang=draw.choice(["fr", "en", ""]),
                tags=[] if n % 2 else [draw.choice(words)],
                summary=summary,
                url="" if n % 6 == 0 else f"https://example.org/{n}",
                source=f"generated-{n % 3}.jsonl",
            )
        )
    return talks


@pytest.fixture(scope="module", params=["sample", "segments", "generated"])
def index_dir(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(request.param)
    if request.param == "sample":
        write_index(sample_talks(), directory)
    elif request.param == "segments":
        write_index([segment_talk(n) for n in range(600)], directory, postings_per_segment=18_000)
        removed = [f"talks/{n}" for n in range(0, 600, 7)] + ["talks/599"]
        update_index(directory, remove_ids=removed, add=[segment_talk(n) for n in range(600, 700)])
    else:
        write_index(generated_talks(300), directory)
    return directory


@pytest.fixture(scope="module")
def both(index_dir, tmp_path_factory):
    """(IndexFiles, PackFiles) over the same index."""
    pack = tmp_path_factory.mktemp("pack") / "search.pack"
    write_pack(index_dir, pack)
    files = IndexFiles(index_dir)
    yield files, PackFiles(pack.read_bytes())
    files.close()


def every_term(files: IndexFiles, fieldname: str) -> list[str]:
    return [term for term, *_ in files.field_postings(fieldname)]


def test_talks_and_deleted_talks_are_whooshs(both):
    files, pack = both
    assert pack.doc_count == files.doc_count
    assert pack.deleted == files.deleted
    if len(files.segment_ranges()) > 1:
        assert pack.deleted  # the incremental index has them


def test_every_term_of_every_field_has_the_same_postings_and_frequencies(both):
    files, pack = both
    for fieldname in files.text_fields():
        for term in every_term(files, fieldname):
            assert pack.doc_frequency(fieldname, term) == files.doc_frequency(fieldname, term), (fieldname, term)
            assert pack.has_term(fieldname, term)
            assert pack.postings(fieldname, term) == files.postings(fieldname, term), (fieldname, term)
        assert pack.postings(fieldname, "\uffffnot a term") == ([], []) == files.postings(fieldname, "\uffffnot a term")
        assert not pack.has_term(fieldname, "zzzz-no-such-term")


def test_a_term_whose_every_talk_is_deleted_still_exists(both):
    files, pack = both
    gone = [t for t in every_term(files, "id") if files.doc_frequency("id", t) and not files.postings("id", t)[0]]
    if len(files.segment_ranges()) == 1:
        assert not gone
        return
    assert gone  # talks/0, talks/7 …: in the old segments' vocabulary until a merge
    for term in gone:
        assert pack.has_term("id", term) and pack.doc_frequency("id", term) == files.doc_frequency("id", term)
        assert pack.postings("id", term) == ([], []) and pack.doc_for_id(term) is None


def test_positions_of_every_positional_field(both):
    files, pack = both
    for fieldname, positional in files.text_fields().items():
        if not positional:
            continue
        for term in every_term(files, fieldname):
            talks = files.postings(fieldname, term)[0]
            asked = set(talks) | set(files.deleted) | {files.doc_count + 5}
            assert pack.positions(fieldname, term, asked) == files.positions(fieldname, term, asked), (fieldname, term)
            assert pack.positions(fieldname, term, talks[::2]) == files.positions(fieldname, term, talks[::2])


def test_known_terms_and_prefix_reads(both):
    files, pack = both
    for fieldname in files.text_fields():
        terms = every_term(files, fieldname)
        heads = sorted({t[:n] for t in terms for n in (1, 2, 3)} | {"", "zzz", "\U0010ffff", "z\U0010ffff"})
        candidates = [*terms[::3], "not-there", terms[0] + "x" if terms else "x"]
        assert pack.known_terms(fieldname, candidates) == files.known_terms(fieldname, candidates)
        for head in heads:
            for limit in LIMITS:
                found, expected = (
                    pack.terms_starting(fieldname, head, limit),
                    files.terms_starting(fieldname, head, limit),
                )
                assert (found is None) == (expected is None), (fieldname, head, limit)
                if found is not None:
                    assert sorted(found) == sorted(expected)
                # insertion order counts: the engine keeps the most frequent with heapq.nlargest, ties by order
                frequencies = pack.prefix_frequencies(fieldname, head, limit)
                assert list(frequencies.items()) == list(files.prefix_frequencies(fieldname, head, limit).items())


def test_lengths_columns_and_stored_talks(both):
    files, pack = both
    for fieldname in [*files.text_fields(), "year", "no-such-field"]:
        assert pack.length_bytes(fieldname) == files.length_bytes(fieldname), fieldname
        assert pack.total_length(fieldname) == files.total_length(fieldname), fieldname
    for fieldname in files.column_fields():
        assert pack.column(fieldname) == files.column(fieldname), fieldname
    for doc in range(files.doc_count):
        stored = pack.stored(doc)
        assert stored == files.stored(doc) and list(stored) == list(files.stored(doc))
        assert all(type(stored[k]) is type(v) for k, v in files.stored(doc).items())
    for doc in range(files.doc_count):
        talk_id = files.stored(doc)["id"]
        assert pack.doc_for_id(talk_id) == files.doc_for_id(talk_id)


def test_the_synonym_table_travels_in_the_pack(index_dir, tmp_path):
    (index_dir / SYNONYMS_NAME).write_bytes(b'{"groups": []}')
    try:
        write_pack(index_dir, tmp_path / "with.pack")
    finally:
        (index_dir / SYNONYMS_NAME).unlink()
    write_pack(index_dir, tmp_path / "without.pack")
    assert PackFiles((tmp_path / "with.pack").read_bytes()).synonyms() == b'{"groups": []}'
    assert PackFiles((tmp_path / "without.pack").read_bytes()).synonyms() is None


def test_the_reader_imports_neither_whoosh_nor_the_writer():
    import subprocess

    code = "import sys, talksearch.search_pack; print(sorted(m for m in sys.modules if 'whoosh' in m or 'writer' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the search engine end to end ------------------------------------------------------------------------


def queries_of(files: IndexFiles) -> list[dict]:
    """Queries drawn by rule from the index: its most and least frequent words, two-letter prefixes, phrases of
    consecutive words of titles, typos, filters on the largest event and speaker, browsing."""
    draw = random.Random(7)
    words = sorted(every_term(files, "words"), key=lambda t: (-files.doc_frequency("words", t), t))
    common, rare = words[:15], words[-15:]
    titles = [files.stored(d)["title"] for d in range(files.doc_count) if d not in files.deleted]
    phrases = [" ".join(t.split()[:2]) for t in titles if len(t.split()) >= 2][:15]
    queries = [{"q": w} for w in common + rare]
    queries += [{"q": w[:2] + "*"} for w in common[:10]]
    queries += [{"q": f'"{p}"'} for p in phrases]
    queries += [{"q": f"{a} {b}"} for a, b in zip(common[:8], draw.sample(words, 8), strict=False)]
    queries += [{"q": w[:-1] + "x"} for w in common[:6] if len(w) > 4]
    events = [e for e in files.column("f_event") if e]
    if events:
        biggest = max(set(events), key=events.count).decode("utf-8")
        queries += [{"q": "", "event": biggest}, {"q": common[0], "event": biggest}]
    queries += [{"q": ""}, {"q": "", "sort": "date"}, {"q": common[0], "page": 2}]
    return queries


def test_the_engine_answers_the_same_over_the_pack(index_dir, both):
    files, pack = both
    over_whoosh = SearchEngine(index_dir, time_budget_ms=10_000_000)
    over_pack = SearchEngine(index_dir, time_budget_ms=10_000_000, files=pack)
    try:
        for params in queries_of(files):
            a, b = over_whoosh.search(**params), over_pack.search(**params)
            a.pop("took_ms"), b.pop("took_ms")
            assert a == b, params
            if params["q"]:
                assert over_pack.suggest(params["q"]) == over_whoosh.suggest(params["q"])
            for hit in a["hits"][:2]:
                assert over_pack.talk(hit["id"]) == over_whoosh.talk(hit["id"])
        assert over_pack.talk("no/such/talk") is None
    finally:
        over_whoosh.close()


def test_an_opened_engine_has_decoded_what_first_asks_would_inflate(index_dir, both, tmp_path, monkeypatch):
    """Vocabularies, chunk directories, the stored talks' index, the precomputed answers and the title stop words
    are decoded when the engine opens: a visitor's first ask of a field inflates its posting chunks only."""
    files, _ = both
    pack = tmp_path / "search.pack"
    write_pack(index_dir, pack)
    opened = PackFiles(pack.read_bytes())
    engine = SearchEngine(files=opened, time_budget_ms=10_000_000)
    read: list[str] = []
    section = opened._section
    monkeypatch.setattr(opened, "_section", lambda name: read.append(name) or section(name))
    for params in [*queries_of(files), {"q": "the"}, {"q": "with"}]:
        engine.search(**params)
    once = ("terms/", "chunks/", "df/", "pre/vocab/", "stored/index", "stored/dictionary", "pre/answers", "pre/title")
    assert [name for name in read if name.startswith(once)] == []


def test_an_index_of_no_talks_packs_and_answers_nothing(tmp_path):
    write_index([], tmp_path / "index")
    summary = write_pack(tmp_path / "index", tmp_path / "search.pack")
    files = PackFiles((tmp_path / "search.pack").read_bytes())
    assert summary.talks == files.doc_count == 0 and files.column("date") == []
    engine = SearchEngine(files=files)
    assert [engine.search(q=q)["total"] for q in ("", "python", "pa*")] == [0, 0, 0]
