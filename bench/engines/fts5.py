"""Peer: SQLite FTS5 from the standard library, set up the way its documentation suggests.

One external-content FTS5 table over title, speakers, tags and summary (porter stemmer on unicode61 with
diacritics removed), BM25 weighted title > speakers > tags > summary, ``snippet()`` for highlights, facet
counts with GROUP BY over a temp table of the matches, and a table of folded unstemmed words for
typo tolerance (edit distance 1, checked in Python against that table).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.engines import (
    FACET_LIMIT,
    FACET_NAMES,
    MARK_CLOSE,
    MARK_OPEN,
    Term,
    edits1,
    filters_of,
    fold,
    lead_snippet,
    marked_to_html,
    parse_terms,
    response,
)

MAX_FUZZY_EXPANSIONS = 20
_WORDS = re.compile(r"[^\W_]+")

SCHEMA = """
-- narrow rows for filters and facet counts; the long text lives in docs, FTS5's content table
CREATE TABLE talks(
    rowid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, company TEXT, event TEXT, date TEXT, year INTEGER,
    lang TEXT, sort_title TEXT);
CREATE TABLE docs(
    rowid INTEGER PRIMARY KEY, title TEXT, speakers TEXT, tags TEXT, summary TEXT, speaker_list TEXT, url TEXT);
CREATE TABLE talk_speakers(talk INTEGER NOT NULL, speaker TEXT NOT NULL);
CREATE TABLE vocabulary(word TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE VIRTUAL TABLE talks_fts USING fts5(
    title, speakers, tags, summary, content='docs', content_rowid='rowid',
    tokenize='porter unicode61 remove_diacritics 2');
INSERT INTO talks_fts(talks_fts, rank) VALUES('rank', 'bm25(10.0, 5.0, 3.0, 1.0)');
"""
INDEXES = """
CREATE INDEX talk_speakers_talk ON talk_speakers(talk);
CREATE INDEX talk_speakers_speaker ON talk_speakers(speaker);
CREATE INDEX talks_browse ON talks(date DESC, sort_title);
CREATE INDEX talks_event ON talks(event);
CREATE INDEX talks_year ON talks(year);
CREATE INDEX talks_lang ON talks(lang);
"""


def _rows(rowid: int, record: dict) -> tuple[tuple, tuple]:
    from bench.corpus import day_of, lang_of, year_of

    speakers = [s for s in record.get("speakers", []) if s]
    talk = (
        rowid,
        record["id"],
        record.get("company", ""),
        record.get("event", ""),
        day_of(record),
        year_of(record),
        lang_of(record),
        fold(record["title"]),
    )
    doc = (
        rowid,
        record["title"],
        ", ".join(speakers),
        " ".join(record.get("tags", [])),
        record.get("summary", ""),
        json.dumps(speakers, ensure_ascii=False),
        record.get("url", ""),
    )
    return talk, doc


def _vocabulary(records: list[dict]) -> set[str]:
    words: set[str] = set()
    for record in records:
        text = " ".join(
            [record["title"], *record.get("speakers", []), *record.get("tags", []), record.get("summary", "")]
        )
        words.update(fold(w) for w in _WORDS.findall(text))
    return words


def build(records: list[dict], path: Path) -> None:
    """A fresh database at ``path`` holding ``records``."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    with db:
        db.executescript(SCHEMA)
        _insert(db, records, start=1)
        db.execute("INSERT INTO talks_fts(talks_fts) VALUES('rebuild')")
        db.executescript(INDEXES)
        db.execute("ANALYZE")
        db.execute("INSERT INTO talks_fts(talks_fts) VALUES('optimize')")
    db.execute("VACUUM")
    db.close()


def _insert(db: sqlite3.Connection, records: list[dict], start: int) -> None:
    rows = [_rows(start + n, r) for n, r in enumerate(records)]
    db.executemany(f"INSERT INTO talks VALUES ({','.join('?' * 8)})", [talk for talk, _ in rows])
    db.executemany(f"INSERT INTO docs VALUES ({','.join('?' * 7)})", [doc for _, doc in rows])
    db.executemany(
        "INSERT INTO talk_speakers VALUES (?, ?)",
        [(doc[0], s) for _, doc in rows for s in json.loads(doc[5])],
    )
    db.executemany("INSERT OR IGNORE INTO vocabulary VALUES (?)", [(w,) for w in _vocabulary(records)])


def update(path: Path, changed: list[dict]) -> None:
    """Replace the talks with these ids, in one transaction (FTS5's documented delete/insert dance)."""
    db = sqlite3.connect(path)
    text = "SELECT d.rowid, d.title, d.speakers, d.tags, d.summary FROM docs d"
    with db:
        for record in changed:
            old = db.execute(f"{text} JOIN talks t ON t.rowid = d.rowid WHERE t.id = ?", (record["id"],)).fetchone()
            if old:
                db.execute(
                    "INSERT INTO talks_fts(talks_fts, rowid, title, speakers, tags, summary) "
                    "VALUES('delete',?,?,?,?,?)",
                    old,
                )
                for table, key in (("talks", "rowid"), ("docs", "rowid"), ("talk_speakers", "talk")):
                    db.execute(f"DELETE FROM {table} WHERE {key} = ?", (old[0],))
            rowid = old[0] if old else db.execute("SELECT coalesce(max(rowid), 0) + 1 FROM talks").fetchone()[0]
            _insert(db, [record], start=rowid)
            new = db.execute(f"{text} WHERE d.rowid = ?", (rowid,)).fetchone()
            db.execute("INSERT INTO talks_fts(rowid, title, speakers, tags, summary) VALUES (?,?,?,?,?)", new)
    db.close()


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


_FACET_SQL = {
    # CROSS JOIN keeps SQLite from scanning every speaker row in GROUP BY order (30 ms at 21k talks)
    "speaker": ("s.speaker", "CROSS JOIN talk_speakers s ON s.talk = t.rowid"),
    "company": ("t.company", ""),
    "event": ("t.event", ""),
    "year": ("t.year", ""),
    "lang": ("t.lang", ""),
}


def _filter_sql(filters: dict[str, list[str]], skip: str | None = None) -> tuple[str, list]:
    clauses, args = [], []
    for name, values in filters.items():
        if name == skip:
            continue
        marks = ",".join("?" * len(values))
        if name == "speaker":
            clauses.append(f"t.rowid IN (SELECT talk FROM talk_speakers WHERE speaker IN ({marks}))")
        else:
            clauses.append(f"t.{name} IN ({marks})")
        args.extend(int(v) if name == "year" and v.isdigit() else v for v in values)
    return (" AND " + " AND ".join(clauses)) if clauses else "", args


class Searcher:
    """An open database answering full /api/search responses."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.db.execute("CREATE TEMP TABLE matches(rowid INTEGER PRIMARY KEY)")

    def close(self) -> None:
        self.db.close()

    def search(self, **params: Any) -> dict:
        started = time.perf_counter()
        filters = filters_of(params)
        page, size = int(params.get("page", 1)), int(params.get("size", 10))
        terms = parse_terms(params.get("q", ""))
        if not terms:
            return self._browse(params, filters, page, size, started)
        match = self._best_match(terms, filters)
        source = "matches m CROSS JOIN talks t ON t.rowid = m.rowid"
        where, args = _filter_sql(filters)
        total = self.db.execute(f"SELECT count(*) FROM {source} WHERE 1{where}", args).fetchone()[0]
        rows = self.db.execute(
            "SELECT t.id, d.title, d.speaker_list, t.company, t.event, t.date, t.year, t.lang, d.url, "
            f"snippet(talks_fts, 3, '{MARK_OPEN}', '{MARK_CLOSE}', '…', 24), rank FROM talks_fts "
            "JOIN talks t ON t.rowid = talks_fts.rowid JOIN docs d ON d.rowid = t.rowid "
            f"WHERE talks_fts MATCH ?{where} "
            "ORDER BY rank LIMIT ? OFFSET ?",
            [match, *args, size, (page - 1) * size],
        ).fetchall()
        hits = [self._hit(row[:9], marked_to_html(row[9]), -row[10]) for row in rows]
        facets = self._facets(source, filters)
        return response(params, total, hits, facets, (time.perf_counter() - started) * 1000)

    def _best_match(self, terms: list[Term], filters: dict) -> str:
        """All words; then all words with typo variants; then any word. Leaves the matches in temp."""
        exact = [self._term(t) for t in terms]
        attempts = [" AND ".join(exact)]
        words = [t for t in terms if t.kind == "word"]
        if words:
            fuzzy = [self._term(t, fuzzy=True) for t in terms]
            attempts.append(" AND ".join(fuzzy))
            if len(terms) > 1:
                attempts.append(" OR ".join(fuzzy))
        where, args = _filter_sql(filters)
        for match in attempts:
            self.db.execute("DELETE FROM matches")
            self.db.execute("INSERT INTO matches SELECT rowid FROM talks_fts WHERE talks_fts MATCH ?", (match,))
            found = self.db.execute(
                f"SELECT 1 FROM matches m JOIN talks t ON t.rowid = m.rowid WHERE 1{where} LIMIT 1", args
            ).fetchone()
            if found:
                return match
        return match

    def _term(self, term: Term, fuzzy: bool = False) -> str:
        if term.kind == "prefix":
            return _quote(term.text) + "*"
        if term.kind == "phrase" or not fuzzy:
            return _quote(term.text)
        candidates = sorted(edits1(fold(term.text)))
        marks = ",".join("?" * len(candidates))
        near = self.db.execute(f"SELECT word FROM vocabulary WHERE word IN ({marks})", candidates).fetchall()
        variants = [term.text] + [w for (w,) in near[:MAX_FUZZY_EXPANSIONS]]
        return "(" + " OR ".join(_quote(v) for v in variants) + ")"

    def _browse(self, params: dict, filters: dict, page: int, size: int, started: float) -> dict:
        where, args = _filter_sql(filters)
        total = self.db.execute(f"SELECT count(*) FROM talks t WHERE 1{where}", args).fetchone()[0]
        rows = self.db.execute(
            "SELECT t.id, d.title, d.speaker_list, t.company, t.event, t.date, t.year, t.lang, d.url, d.summary "
            f"FROM talks t JOIN docs d ON d.rowid = t.rowid WHERE 1{where} ORDER BY t.date DESC, t.sort_title "
            "LIMIT ? OFFSET ?",
            [*args, size, (page - 1) * size],
        ).fetchall()
        hits = [self._hit(row[:9], lead_snippet(row[9]), None) for row in rows]
        facets = self._facets("talks t", filters)
        return response(params, total, hits, facets, (time.perf_counter() - started) * 1000)

    def _facets(self, source: str, filters: dict) -> dict:
        facets = {}
        for name in FACET_NAMES:
            column, join = _FACET_SQL[name]
            where, args = _filter_sql(filters, skip=name)
            rows = self.db.execute(
                f"SELECT {column}, count(*) FROM {source} {join} WHERE {column} IS NOT NULL AND {column} != ''{where} "
                f"GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT {FACET_LIMIT}",
                args,
            ).fetchall()
            facets[name] = [{"value": str(value), "count": count} for value, count in rows]
        return facets

    @staticmethod
    def _hit(row: tuple, snippet: str, score: float | None) -> dict:
        talk_id, title, speakers, company, event, date, year, lang, url = row
        return {
            "id": talk_id,
            "title": title,
            "speakers": json.loads(speakers),
            "company": company,
            "event": event,
            "date": date,
            "year": year,
            "lang": lang,
            "url": url,
            "snippet": snippet,
            "score": score,
        }
