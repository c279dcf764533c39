"""index_builder.writer: the fast write path gives exactly the index Whoosh's own analysis gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from index_builder.writer import TalkWriter, update_index, write_index
from talksearch.index_files import open_index
from talksearch.index_files.writing import index_codec
from talksearch.schema import Talk, build_schema, talk_to_document
from tests.index_support import indexed_ids

TRICKY_TALKS = [
    Talk(
        id="fr/1",
        title="L’état de l'art des conteneurs : qu’en est-il en 2026 ?",
        speakers=["Émilie Durand", "Jean-Noël Lefèvre"],
        company="Société Générale",
        event="Journée Cloud Nantes",
        date="2026-03-12",
        lang="fr",
        tags=["Kubernetes", "sécurité"],
        summary=(
            "Les conteneurs, c'est l'avenir ? Jusqu'où aller… Œuvre, cœur, naïveté, Straße, ﬁchier, x².\n"
            "Deuxième ligne."
        ),
        url="https://example.org/recap#emilie",
        source="recaps/cloud.md",
    ),
    Talk(
        id="en/2",
        title="Containers, containers everywhere: the state of the art",
        speakers=["Ada O'Brien"],
        company="ACME Corp.",
        event="PyCon Test",
        date="2019",
        lang="en",
        tags=[],
        summary="We'll run <script>alert(1)</script> and the running runners ran. Don't panic; it's fine. 😀 ﾃｽﾄ",
        source="talks/en.md",
    ),
    Talk(id="empty/3", title="Sans résumé", summary="", source="x.json"),
    Talk(
        id="nums/4",
        title="42 000 requêtes/s et 3 x 10⁶ appels",
        speakers=["李 小龍"],
        summary="ﬂux ǅ İstanbul ΣΑΣ",
        source="x.json",
    ),
]


def index_contents(directory) -> dict:
    """Everything a search can observe: terms and postings per field, stored fields, lengths, columns."""
    ix = open_index(directory)
    with ix.reader() as reader:
        postings = {}
        for fieldname, term in reader.all_terms():
            matcher = reader.postings(fieldname, term)
            values = []
            while matcher.is_active():
                values.append((matcher.id(), matcher.weight(), matcher.value()))
                matcher.next()
            postings[(fieldname, term)] = values
        stored = [reader.stored_fields(n) for n in range(reader.doc_count_all())]
        lengths = {
            (n, name): reader.doc_field_length(n, name)
            for n in range(reader.doc_count_all())
            for name in ix.schema.scorable_names()
        }
        columns = {name: list(reader.column_reader(name)) for name in ix.schema.names() if ix.schema[name].column_type}
    return {"postings": postings, "stored": stored, "lengths": lengths, "columns": columns}


def test_fast_path_matches_whoosh_analysis(tmp_path, monkeypatch):
    # GIVEN the same talks written by Whoosh's own add_document and by the fast writer, unverified
    plain = tmp_path / "plain"
    plain.mkdir()
    ix = whoosh_index.create_in(str(plain), build_schema())
    writer = ix.writer(codec=index_codec())  # the same storage layout: only the analysis differs
    for talk in TRICKY_TALKS:
        writer.add_document(**talk_to_document(talk))
    writer.commit()
    monkeypatch.setattr(TalkWriter, "VERIFY_DOCUMENTS", 0)
    (tmp_path / "fast").mkdir()
    fast_writer = TalkWriter(whoosh_index.create_in(str(tmp_path / "fast"), build_schema()))
    for talk in TRICKY_TALKS:
        fast_writer.add_talk(talk)
    assert fast_writer.fast
    fast_writer.commit()
    # THEN every term, posting, stored field, length and column is identical
    fast, expected = index_contents(tmp_path / "fast"), index_contents(plain)
    assert fast["postings"].keys() == expected["postings"].keys()
    assert fast == expected


def test_fast_path_falls_back_when_analysis_differs(tmp_path, monkeypatch, caplog):
    # GIVEN a fast analysis that disagrees with the schema (as after an unsynchronised schema change)
    monkeypatch.setattr("index_builder.writer.WORDS_PARTS", ("title",))
    monkeypatch.setattr("index_builder.writer._TOKEN", __import__("re").compile(r"\S+"))
    ix = whoosh_index.create_in(str(tmp_path), build_schema())
    writer = TalkWriter(ix)
    writer.add_talk(TRICKY_TALKS[0])
    # THEN the writer notices on the first document and uses Whoosh's own path
    assert writer.fast is False
    assert "fast analysis differs" in caplog.text
    writer.commit()
    assert indexed_ids(tmp_path) == {"fr/1"}


def test_write_index_verifies_then_stays_fast(tmp_path, monkeypatch):
    writers = []
    real_commit = TalkWriter.commit

    def recording_commit(self, **kwargs):
        writers.append(self)
        return real_commit(self, **kwargs)

    monkeypatch.setattr(TalkWriter, "commit", recording_commit)
    write_index(TRICKY_TALKS, tmp_path)
    assert writers[0].fast is True


def test_update_index_removes_and_adds(tmp_path):
    write_index(TRICKY_TALKS[:3], tmp_path)
    update_index(tmp_path, remove_ids=["en/2"], add=[TRICKY_TALKS[3]])
    assert indexed_ids(tmp_path) == {"fr/1", "empty/3", "nums/4"}


def test_fast_path_matches_whoosh_on_real_french_talks(tmp_path, monkeypatch, french_corpus):
    from index_builder.parsers import parse_source

    talks = parse_source("fr.jsonl", french_corpus.read_bytes()).talks[:150]
    plain = tmp_path / "plain"
    plain.mkdir()
    writer = whoosh_index.create_in(str(plain), build_schema()).writer(codec=index_codec())
    for talk in talks:
        writer.add_document(**talk_to_document(talk))
    writer.commit()
    monkeypatch.setattr(TalkWriter, "VERIFY_DOCUMENTS", 0)
    write_index(talks, tmp_path / "fast")
    assert index_contents(tmp_path / "fast") == index_contents(plain)


def test_a_write_over_the_postings_budget_is_split_into_segments_with_the_same_answers(tmp_path):
    # GIVEN the same talks written in one segment, and with a postings budget a tenth of what they need
    from functions.search.engine import SearchEngine
    from talksearch.index_files.reading import IndexFiles
    from tests.search_support import TALKS
    from tests.test_search_engine import _talk_records

    talks = _talk_records(TALKS)
    write_index(talks, tmp_path / "one")
    write_index(talks, tmp_path / "split", postings_per_segment=200)
    # THEN the budget gave several segments
    split = IndexFiles(tmp_path / "split")
    assert len(split._segments) > 3
    split.close()
    # AND a visitor gets the same answers from both
    engines = [
        SearchEngine(tmp_path / name, version="v", built_at="b", time_budget_ms=60_000) for name in ("one", "split")
    ]
    for q in ("kubernetes", "python data", '"machine learning"', "kube*", "", "kubernets", "speaker:martin"):
        one, split_body = (e.search(q=q, size=50) for e in engines)
        for body in (one, split_body):
            body.pop("took_ms")
        assert one == split_body, q
    for engine in engines:
        engine.close()


def segment_files(directory) -> dict[str, bytes]:
    """The bytes of every file inside the index's compound segments, by segment order and extension."""
    from whoosh.filedb.compound import CompoundStorage
    from whoosh.filedb.filestore import FileStorage

    storage, files = FileStorage(str(directory)), {}
    for n, segment in enumerate(open_index(directory)._segments()):
        compound = CompoundStorage(storage.open_file(segment.make_filename(".seg")), use_mmap=False)
        for inner in compound.list():
            files[f"{n}.{inner.split('.', 1)[1]}"] = compound.open_file(inner).read()
        compound.close()
    return files


def synthetic_talks(count: int) -> list[Talk]:
    from bench.corpus import synthetic_records
    from index_builder.parsers import parse_source

    records = "\n".join(json.dumps(r, ensure_ascii=False) for r in synthetic_records(count))
    return parse_source("synthetic.jsonl", records.encode("utf-8")).talks


def test_postings_are_written_byte_for_byte_as_whoosh_writes_them(tmp_path, monkeypatch):
    # GIVEN talks with inlined, one-block and multi-block posting lists, in two segments
    talks = TRICKY_TALKS + synthetic_talks(700)
    write_index(talks, tmp_path / "fast", postings_per_segment=60_000, parallel=False)
    # WHEN Whoosh's own posting writer writes the same segments
    monkeypatch.setattr("talksearch.index_files.writing._writes_w3_postings", lambda fieldwriter: False)
    write_index(talks, tmp_path / "whoosh", postings_per_segment=60_000, parallel=False)
    # THEN every file of every segment is the same, byte for byte
    fast, whoosh = segment_files(tmp_path / "fast"), segment_files(tmp_path / "whoosh")
    assert {name.split(".")[0] for name in fast} == {"0", "1"}
    assert fast.keys() == whoosh.keys()
    assert [name for name in fast if fast[name] != whoosh[name]] == []


_PARALLEL_WRITE = """
import sys
from index_builder import writer
from tests.test_builder_writer import TRICKY_TALKS, synthetic_talks

if sys.argv[2] == "worker-dies":
    real = writer._analyse_talks

    def first_batch_only(talks, send):
        real(talks[: writer._ANALYSIS_BATCH], send)

    writer._analyse_talks = first_batch_only
if sys.argv[2] == "term-writer-dies":
    from talksearch.index_files import writing

    def dies(*args):
        raise SystemExit(1)

    writing._forked_terms = dies
writer.write_index(TRICKY_TALKS + synthetic_talks(700), sys.argv[1], postings_per_segment=60_000, parallel=True)
"""


@pytest.mark.parametrize("worker", ["works", "worker-dies", "term-writer-dies"])
def test_analysing_in_a_second_process_writes_the_same_index(tmp_path, worker):
    # GIVEN the same talks written in one process, and analysed in a forked one, with part of each
    # segment's term table written by another forked one (a fresh interpreter runs the write: a
    # process with threads, like pytest's, is never forked)
    talks = TRICKY_TALKS + synthetic_talks(700)
    write_index(talks, tmp_path / "one", postings_per_segment=60_000, parallel=False)
    done = subprocess.run(
        [sys.executable, "-c", _PARALLEL_WRITE, str(tmp_path / "two"), worker],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    # THEN the segment files are byte for byte the same, also when a forked process stops early
    assert segment_files(tmp_path / "two") == segment_files(tmp_path / "one")
    assert ("stopped after 200 talks" in done.stderr) == (worker == "worker-dies")
    assert done.stderr.count("the term-writing process stopped") == (2 if worker == "term-writer-dies" else 0)


@pytest.mark.parametrize(("memory_mb", "forks"), [("2048", False), ("3538", True)])
def test_a_rebuild_lambda_analyses_in_a_second_process_only_with_two_cores_worth_of_memory(
    monkeypatch, memory_mb, forks
):
    from index_builder import writer

    monkeypatch.setattr(writer.os, "sched_getaffinity", lambda pid: {0, 1})  # Lambda shows 2 vCPUs from 1,769 MB
    monkeypatch.setattr(writer.threading, "active_count", lambda: 1)
    monkeypatch.setattr(writer.os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb)
    assert writer.can_fork_worker() is forks
    monkeypatch.setattr(writer.os, "getloadavg", lambda: (1.5, 1.5, 1.5))  # both cores busy: one process
    assert writer.can_fork_worker() is False
    monkeypatch.setattr(writer.threading, "active_count", lambda: 2)  # another thread: never forked
    assert writer.can_fork_worker() is False
