"""The pack's precomputed sections answer what the search function computes without them, and a damaged one
is refused.

``pre/vocab/<field>``: a vocabulary read by blocks answers every lookup as the whole list does.

``pre/title-stop/*``: every stop word's titles, computed at build time in one pass over the titles, must be
what ``IndexSnapshot.stop_word_titles`` finds with its regex per word over the same titles (elisions,
``j'ai``, curly apostrophes, deleted talks); an engine over the pack and one over the Whoosh index answer
stop-word queries alike; a pack without the sections (written before them) is read as before.

``pre/answers``: what the engine keeps of a two-letter prefix or a frequent word, computed at build time, must be
what it computes over the same pack without the section, at every page; a damaged entry is refused when read.
"""

from __future__ import annotations

import bisect
import json
import os
import random
import zlib
from array import array

import pytest

from functions.search import engine as engine_module
from functions.search.engine import SearchEngine
from functions.search.snapshot import IndexSnapshot
from index_builder import answers as answers_module
from index_builder.answers import answer_section
from index_builder.writer import update_index, write_index
from talksearch.analysis import STOP_WORDS
from talksearch.schema import Talk
from talksearch.search_pack import PackError, PackFiles, format, write_pack
from talksearch.search_pack.answers import ANSWERS, MAX_ANSWERS
from talksearch.search_pack.precomputed import (
    TITLE_STOP_POSTINGS,
    TITLE_STOP_WORDS,
    VOCABULARY_BLOCK,
    VOCABULARY_PREFIX,
    BlockVocabulary,
)
from tests.test_search_pack_hostile import prefix_key, rebuilt, sections_of, word_key, zlib_section

#: Title pieces around the rule's edges: elided articles before an apostrophe (straight and curly) and a
#: letter, or not; ``j'ai`` and ``ai`` alone; stop words glued to digits or underscores; capitals (titles are
#: folded: never matched), newlines inside a title.
PIECES = [
    "l'API",
    "l’API",
    "l'",
    "l' API",
    "d'un",
    "qu'est-ce",
    "jusqu'au",
    "c'est",
    "j'ai",
    "j’ai",
    "J'ai",
    "ai",
    "AI",
    "the",
    "The",
    "a",
    "à",
    "les",
    "de",
    "de_la",
    "a1",
    "1a",
    "s'il",
    "t'",
    "n'est",
    "m’a",
    "python",
    "data",
    "and",
    "for",
    "in",
    "to",
    "on",
    "of",
    "we",
    "you",
    "\n",
    "-",
    "!",
    "l'ai",
    "qu’il",
    "no",
    "not",
]


def titles_talk(n: int, rng: random.Random) -> Talk:
    title = " ".join(rng.choice(PIECES) for _ in range(rng.randint(0, 9)))
    return Talk(
        id=f"talks/{n}",
        title=title or "untitled",
        speakers=[f"Speaker {n % 7}"],
        event=f"Event {n % 3}",
        date=f"20{10 + n % 15}-01-01",
        lang="fr" if n % 2 else "en",
        summary=f"summary {n} python data",
        source="talks.jsonl",
    )


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    """Generated titles over two segments, some talks deleted (their titles must say nothing)."""
    rng = random.Random(12)
    directory = tmp_path_factory.mktemp("titles")
    write_index([titles_talk(n, rng) for n in range(400)], directory)
    update_index(directory, remove_ids=[f"talks/{n}" for n in range(0, 400, 9)], add=[titles_talk(400, rng)])
    return directory


@pytest.fixture(scope="module")
def pack(index_dir, tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("pack") / "search.pack"
    write_pack(index_dir, path)
    return path.read_bytes()


def test_every_stop_word_has_the_titles_the_regex_finds(index_dir, pack):
    files = PackFiles(pack)
    snapshot = IndexSnapshot(index_dir)  # over IndexFiles: no precomputed section, the regex per word
    assert snapshot.deleted, "the index should have deleted talks"
    found = 0
    for word in sorted(STOP_WORDS):
        precomputed = files.title_stop_words(word)
        assert precomputed == snapshot.stop_word_titles(word), word
        found += bool(precomputed)
    assert found >= 20  # the pieces hold many stop words: the comparison is not of empty dicts
    assert files.title_stop_words("python") is None  # not a stop word: not listed, the caller reads titles


def test_the_engine_answers_stop_word_queries_alike_over_the_pack(index_dir, pack):
    over_index = SearchEngine(index_dir, warm=False)
    over_pack = SearchEngine(files=PackFiles(pack), version=over_index.version, warm=False)
    for q in ["the", "ai", "l", "a de", "c", "j", "the and for", "les", "qu", "s", "à", "no not", "we you"]:
        expected, got = over_index.search(q=q), over_pack.search(q=q)
        assert got["total"] == expected["total"] and got["hits"] == expected["hits"], q
        assert got["facets"] == expected["facets"], q


def test_a_pack_without_the_sections_is_read_as_before(index_dir, pack):
    sections = sections_of(pack)
    kept = [(name, *value) for name, value in sections.items() if not name.startswith("pre/")]
    older = PackFiles(format.write_header(kept) + b"".join(stored for _, stored, _, _ in kept))
    assert older.title_stop_words("the") is None
    over_index = SearchEngine(index_dir, warm=False)
    over_older = SearchEngine(files=older, version=over_index.version, warm=False)
    for q in ["the", "ai", "a de"]:
        assert over_older.search(q=q)["hits"] == over_index.search(q=q)["hits"], q


def forged(pack: bytes, words: list[str] | None = None, *arrays: list[int]) -> PackFiles:
    """The pack with its stop-word sections replaced: ``words`` and (counts, talk deltas, frequencies)."""
    replaced = {}
    if words is not None:
        replaced[TITLE_STOP_WORDS] = zlib_section("\n".join(words).encode())
    if arrays:
        replaced[TITLE_STOP_POSTINGS] = zlib_section(format.write_arrays(*(array("Q", a) for a in arrays)))
    return PackFiles(rebuilt(pack, **{name.replace("/", "__"): value for name, value in replaced.items()}))


def test_damaged_stop_word_sections_are_refused(pack):
    doc_count = PackFiles(pack).doc_count
    cases = [
        (["the", "a"], [1], [0], [1], "do not match its words"),  # two words, one count
        (["the", "the"], [1, 1], [0, 1], [1, 1], "do not match its words"),  # a word twice
        (["the"], [2], [0], [1, 1], "do not match"),  # fewer talks than counted
        (["the"], [1], [0], [0], "do not match"),  # a frequency of 0
        (["the"], [1], [doc_count], [1], "past the talk count"),
        (["the"], [2], [3, 0], [1, 1], "out of order"),  # a talk twice
    ]
    for words, counts, ids, frequencies, message in cases:
        with pytest.raises(PackError, match=message):
            forged(pack, words, counts, ids, frequencies).title_stop_words("the")
    stored, _, _ = sections_of(pack)[TITLE_STOP_POSTINGS]
    with pytest.raises(PackError, match=r"bytes after its arrays|runs past"):
        files = PackFiles(
            rebuilt(pack, **{TITLE_STOP_POSTINGS.replace("/", "__"): zlib_section(zlib.decompress(stored)[:-1])})
        )
        files.title_stop_words("the")
    not_utf8 = PackFiles(rebuilt(pack, **{TITLE_STOP_WORDS.replace("/", "__"): zlib_section(b"\xff\xfe")}))
    with pytest.raises(PackError, match="not UTF-8"):
        not_utf8.title_stop_words("the")
    without_words = PackFiles(rebuilt(pack, **{TITLE_STOP_WORDS.replace("/", "__"): (b"", 0, format.CODEC_STORED)}))
    with pytest.raises(PackError):
        without_words.title_stop_words("the")


# --- vocabulary blocks ----------------------------------------------------------------------------------------
def test_a_vocabulary_read_by_blocks_answers_what_the_whole_list_does(pack):
    sections = sections_of(pack)
    assert any(name.startswith(VOCABULARY_PREFIX) for name in sections)
    kept = [(name, *value) for name, value in sections.items() if not name.startswith(VOCABULARY_PREFIX)]
    whole = PackFiles(format.write_header(kept) + b"".join(stored for _, stored, _, _ in kept))
    blocks = PackFiles(pack)
    for fieldname in ("title", "summary", "speakers", "id", "words"):
        by_blocks, listed = blocks._field(fieldname).terms, whole._field(fieldname).terms
        assert isinstance(by_blocks, BlockVocabulary) and not isinstance(listed, BlockVocabulary)
        assert len(by_blocks) > VOCABULARY_BLOCK or fieldname in ("title", "speakers")  # several blocks
        assert [by_blocks[i] for i in range(len(listed))] == listed == by_blocks[:]
        assert by_blocks[-1] == listed[-1] and by_blocks[5:200] == listed[5:200]
        probes = [*listed[::7], "", "0", "zzzz", "\U0010ffff", *(t + "a" for t in listed[::13])]
        assert [by_blocks.bisect_left(t) for t in probes] == [bisect.bisect_left(listed, t) for t in probes]
        for head in ("a", "t", "s", "ta", "e", ""):
            assert blocks.terms_starting(fieldname, head, 1500) == whole.terms_starting(fieldname, head, 1500)
            assert blocks.prefix_frequencies(fieldname, head, 40) == whole.prefix_frequencies(fieldname, head, 40)


def test_damaged_vocabulary_blocks_are_refused(pack):
    name = f"{VOCABULARY_PREFIX}summary"
    (starts,) = format.read_arrays(zlib.decompress(sections_of(pack)[name][0]), 1, "test")
    terms_size = sections_of(pack)["terms/summary"][1]
    cases = {
        "do not match its terms": [list(starts[:-1]), [1, *starts[1:]], [starts[0], starts[2], starts[1], *starts[3:]]],
        "past its terms": [[*starts[:-1], terms_size + 1]],
    }
    for message, forged_starts in cases.items():
        for values in forged_starts:
            files = PackFiles(
                rebuilt(pack, **{name.replace("/", "__"): zlib_section(format.write_arrays(array("Q", values)))})
            )
            with pytest.raises(PackError, match=message):
                files.has_term("summary", "every")
    shifted = [starts[0], starts[1] + 1, *starts[2:]]  # a block starting inside a term: found when it is read
    files = PackFiles(
        rebuilt(pack, **{name.replace("/", "__"): zlib_section(format.write_arrays(array("Q", shifted)))})
    )
    with pytest.raises(PackError):
        for i in range(len(files._field("summary").terms)):
            files._field("summary").terms[i]


# --- answers of two-letter prefixes and frequent words ---------------------------------------------------------
@pytest.fixture(scope="module")
def answered(index_dir, tmp_path_factory) -> bytes:
    """A pack with answers: the 400 talks have no prefix reaching the engine's threshold for keeping one
    (2,000 postings), so the build is asked to keep answers from 20 postings."""
    path = tmp_path_factory.mktemp("answers") / "search.pack"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_module, "ANSWER_MIN_POSTINGS", 20)
        write_pack(index_dir, path, answers=answer_section)
    return path.read_bytes()


def without_answers(pack: bytes) -> PackFiles:
    kept = [(name, *value) for name, value in sections_of(pack).items() if name != ANSWERS]
    return PackFiles(format.write_header(kept) + b"".join(stored for _, stored, _, _ in kept))


def test_precomputed_prefix_answers_are_what_the_engine_computes(answered):
    files = PackFiles(answered)
    assert files.precomputed_answer(prefix_key("su")) is not None  # "summary": every talk
    assert files.precomputed_answer(prefix_key("zq")) is None  # no such terms: not kept, not stored
    over_answers = SearchEngine(files=files, version="v", warm=False)
    long_way = SearchEngine(files=without_answers(answered), version="v", warm=False)
    asked = 0
    for prefix in ("su", "py", "da", "sp", "ev", "ta", "th", "l'", "qu"):
        asked += files.precomputed_answer(prefix_key(prefix)) is not None
    assert files.precomputed_answer(word_key("summary")) is not None  # the most frequent words too
    for q in ("su*", "py*", "da*", "sp*", "ev*", "ta*", "th*", "l'*", "qu*", "summary", "python", "data", "event"):
        for page, size in ((1, 10), (2, 10), (1, 50), (3, 25), (9, 50)):
            got = over_answers.search(q=q, page=page, size=size)
            expected = long_way.search(q=q, page=page, size=size)
            for body in (got, expected):
                body.pop("took_ms")
            assert got == expected, (q, page, size)
    assert asked >= 3 and files._answers is not None  # the first asks read the section


def test_a_pack_without_answers_has_none(pack):
    assert PackFiles(pack).precomputed_answer(prefix_key("su")) is None  # none reach 2,000 postings: none kept
    assert PackFiles(pack).precomputed_answer(prefix_key("su")) is None
    assert without_answers(pack).precomputed_answer(prefix_key("su")) is None


def forged_answers(pack: bytes, raw: bytes) -> PackFiles:
    return PackFiles(rebuilt(pack, **{ANSWERS.replace("/", "__"): zlib_section(raw)}))


def test_damaged_answers_are_refused(answered):
    raw = zlib.decompress(sections_of(answered)[ANSWERS][0])
    index_line, body = raw.split(b"\n", 1)
    index = json.loads(index_line)
    key = json.dumps(prefix_key("su"), separators=(",", ":"))
    start, end = index[key]
    entry = json.loads(body[start:end])
    doc_count = PackFiles(answered).doc_count

    def with_entry(**changed) -> bytes:
        forged = json.dumps({**entry, **changed}).encode()
        return json.dumps({key: [0, len(forged)]}).encode() + b"\n" + forged

    cases = [
        (b"no index line", "no index line"),
        (b"[1, 2]\n", "not an object"),
        (b"{\n", "not JSON"),
        (json.dumps({key: [0, 10**6]}).encode() + b"\n{}", "not within the section"),
        (json.dumps({key: [5, 2]}).encode() + b"\n{}", "not within the section"),
        (json.dumps({key: [0, 3]}).encode() + b"\n{{{", "an entry is not JSON"),
        (json.dumps({key: [0, 2]}).encode() + b"\n[]", "not an object"),
        (with_entry(total="12"), "no total"),
        (with_entry(best=[doc_count]), "not talk numbers"),
        (with_entry(best=[-1]), "not talk numbers"),
        (with_entry(best=[0, 0], scores=[1.0, 1.0]), "repeat"),
        (with_entry(scores=[1.0]), "do not match its talks"),
        (with_entry(facets={"year": [{"value": 2020}]}), "a facet row"),
        (with_entry(facets={"year": "2020"}), "not lists"),
    ]
    for forged, message in cases:
        with pytest.raises(PackError, match=message):
            forged_answers(answered, forged).precomputed_answer(prefix_key("su"))
    too_many = {json.dumps([n]): [0, 0] for n in range(MAX_ANSWERS + 1)}
    with pytest.raises(PackError, match="at most"):
        forged_answers(answered, json.dumps(too_many).encode() + b"\n").precomputed_answer(prefix_key("su"))


def test_answers_are_kept_whatever_the_engine_cache_holds(index_dir, answered, tmp_path):
    """The build takes each answer as it is computed: an engine cache of one answer (or a memory budget
    that drops the first ones) must not lose the others."""
    path = tmp_path / "search.pack"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_module, "ANSWER_MIN_POSTINGS", 20)
        patch.setattr(engine_module, "ANSWER_CACHE_SIZE", 1)
        write_pack(index_dir, path, answers=answer_section)
    listed = [
        json.loads(zlib.decompress(sections_of(p)[ANSWERS][0]).split(b"\n")[0]) for p in (path.read_bytes(), answered)
    ]
    assert len(listed[1]) > 3 and listed[0] == listed[1]


def test_the_builder_answers_within_a_small_cache_budget_and_gives_the_process_its_own_back(index_dir, tmp_path):
    """Each query is asked once at build time: caches sized to the function's memory only raised the build's
    peak (100,000 talks: 499 MB, 142 MB within ``ANSWERING_CACHE_BYTES``, the same answers)."""
    from functions.search.lru import PROCESS_BUDGET
    from index_builder.answers import ANSWERING_CACHE_BYTES

    limits = []
    keep_answer = SearchEngine.keep_answer

    def spied(self, q):
        limits.append(PROCESS_BUDGET.limit)
        return keep_answer(self, q)

    before = PROCESS_BUDGET.limit
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SearchEngine, "keep_answer", spied)
        write_pack(index_dir, tmp_path / "search.pack", answers=answer_section)
    assert limits and max(limits) <= ANSWERING_CACHE_BYTES < before
    assert PROCESS_BUDGET.limit == before


def test_answers_asked_over_two_processes_are_those_of_one(index_dir, answered, tmp_path):
    """With a second core, a forked process asks the frequent words: the section is the same as one process
    asking everything, and the same again when that process dies before answering (its words asked here)."""
    sections = []
    for forks, child in ((False, None), (True, None), (True, lambda files, table: os._exit(3))):
        path = tmp_path / f"search-{len(sections)}.pack"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(engine_module, "ANSWER_MIN_POSTINGS", 20)
            patch.setattr(answers_module, "can_fork_worker", lambda forks=forks: forks)
            if child is not None:
                patch.setattr(answers_module, "_ask_frequent_words", child)
            forked = []
            patch.setattr(answers_module, "ForkedCall", _counted(answers_module.ForkedCall, forked))
            write_pack(index_dir, path, answers=answer_section)
        assert len(forked) == forks
        sections.append(zlib.decompress(sections_of(path.read_bytes())[ANSWERS][0]))
    assert sections[0] == sections[1] == sections[2] == zlib.decompress(sections_of(answered)[ANSWERS][0])
    index = json.loads(sections[0].split(b"\n")[0])
    assert {json.dumps(k, separators=(",", ":")) for k in (word_key("summary"), prefix_key("su"))} <= set(index)


def _counted(make, calls: list):
    def counting(*args, **kwargs):
        calls.append(1)
        return make(*args, **kwargs)

    return counting
