"""Peer: tantivy (Rust, through the ``tantivy`` package), set up the way its documentation suggests.

Title, speakers, tags and summary analysed with lowercase + ASCII folding (+ English stemming for title and
summary), BM25 boosted title > speakers > tags > summary; an unstemmed ``words`` field for prefixes and typos
(Levenshtein automaton, distance 1); raw fast fields for filters and terms aggregations (facets);
``SnippetGenerator`` for highlights.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import tantivy

from bench.engines import (
    FACET_LIMIT,
    FACET_NAMES,
    MARK_CLOSE,
    MARK_OPEN,
    Term,
    filters_of,
    fold,
    lead_snippet,
    marked_to_html,
    parse_terms,
    response,
)

TEXT_FIELDS = ("title", "speakers", "tags", "summary")
BOOSTS = {"title": 10.0, "speakers": 5.0, "tags": 3.0, "summary": 1.0}
SNIPPET_CHARS = 150
_QUERY_SYNTAX = re.compile(r'["\\]')


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="fold_stem")
    builder.add_text_field("speakers", stored=True, tokenizer_name="fold")
    builder.add_text_field("tags", tokenizer_name="fold")
    builder.add_text_field("summary", stored=True, tokenizer_name="fold_stem")
    builder.add_text_field("words", tokenizer_name="fold")
    for name in FACET_NAMES:
        builder.add_text_field(f"f_{name}", stored=name != "speaker", tokenizer_name="raw", fast=True)
    builder.add_text_field("date", stored=True, tokenizer_name="raw")
    builder.add_integer_field("date_num", fast=True)
    builder.add_text_field("url", stored=True, tokenizer_name="raw")
    return builder.build()


def _register_analyzers(index: tantivy.Index) -> None:
    def base() -> tantivy.TextAnalyzerBuilder:
        return (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold())
        )

    index.register_tokenizer("fold", base().build())
    index.register_tokenizer("fold_stem", base().filter(tantivy.Filter.stemmer("english")).build())


def _document(record: dict) -> tantivy.Document:
    from bench.corpus import day_of, lang_of, year_of

    speakers = [s for s in record.get("speakers", []) if s]
    date = day_of(record)
    doc = tantivy.Document(
        id=record["id"],
        title=record["title"],
        speakers=", ".join(speakers),
        tags=" ".join(record.get("tags", [])),
        summary=record.get("summary", ""),
        words=" ".join([record["title"], *speakers, *record.get("tags", []), record.get("summary", "")]),
        date=date,
        date_num=int(date.replace("-", "") or 0),
        url=record.get("url", ""),
    )
    values = {
        "speaker": speakers,
        "company": [record.get("company", "")],
        "event": [record.get("event", "")],
        "year": [str(year_of(record) or "")],
        "lang": [lang_of(record)],
    }
    for name, items in values.items():
        for item in items:
            if item:
                doc.add_text(f"f_{name}", item)
    return doc


def build(records: list[dict], path: Path) -> None:
    """A fresh index in directory ``path`` holding ``records``."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    index = tantivy.Index(_schema(), path=str(path))
    _register_analyzers(index)
    writer = index.writer(heap_size=200_000_000)
    for record in records:
        writer.add_document(_document(record))
    writer.commit()
    writer.wait_merging_threads()


def update(path: Path, changed: list[dict]) -> None:
    """Delete the changed ids and add their new versions, in one commit."""
    index = tantivy.Index.open(str(path))
    _register_analyzers(index)
    writer = index.writer(heap_size=50_000_000)
    for record in changed:
        writer.delete_documents_by_term("id", record["id"])
        writer.add_document(_document(record))
    writer.commit()
    writer.wait_merging_threads()


class Searcher:
    """An open index answering full /api/search responses."""

    def __init__(self, path: str | Path) -> None:
        self.index = tantivy.Index.open(str(path))
        _register_analyzers(self.index)
        self.schema = self.index.schema
        self.searcher = self.index.searcher()

    def close(self) -> None:
        self.searcher = None

    def search(self, **params: Any) -> dict:
        started = time.perf_counter()
        filters = filters_of(params)
        page, size = int(params.get("page", 1)), int(params.get("size", 10))
        terms = parse_terms(params.get("q", ""))
        text_query = self._best_query(terms, filters) if terms else None
        query = self._with_filters(text_query, filters)
        if text_query is None:
            result = self.searcher.search(
                query, limit=size, offset=(page - 1) * size, order_by_field="date_num", order=tantivy.Order.Desc
            )
        else:
            result = self.searcher.search(query, limit=size, offset=(page - 1) * size)
        snippets = None
        if text_query is not None:
            snippets = tantivy.SnippetGenerator.create(self.searcher, text_query, self.schema, "summary")
            snippets.set_max_num_chars(SNIPPET_CHARS)
        hits = [
            self._hit(address, score if text_query is not None else None, snippets) for score, address in result.hits
        ]
        facets = self._facets(text_query, filters)
        return response(params, result.count, hits, facets, (time.perf_counter() - started) * 1000)

    def _best_query(self, terms: list[Term], filters: dict) -> tantivy.Query:
        """All words; then all words with typo variants; then any word."""
        attempts = [self._all(terms, fuzzy=False)]
        if any(t.kind == "word" for t in terms):
            attempts.append(self._all(terms, fuzzy=True))
            if len(terms) > 1:
                attempts.append(self._all(terms, fuzzy=True, occur=tantivy.Occur.Should))
        for query in attempts:
            if self.searcher.search(self._with_filters(query, filters), limit=1, count=False).hits:
                return query
        return query

    def _all(self, terms: list[Term], fuzzy: bool, occur: tantivy.Occur = tantivy.Occur.Must) -> tantivy.Query:
        return tantivy.Query.boolean_query([(occur, self._term(t, fuzzy)) for t in terms])

    def _term(self, term: Term, fuzzy: bool) -> tantivy.Query:
        if term.kind == "prefix":
            return tantivy.Query.phrase_prefix_query(self.schema, "words", [fold(term.text)])
        text = _QUERY_SYNTAX.sub(" ", term.text)
        exact = self.index.parse_query(f'"{text}"', list(TEXT_FIELDS), field_boosts=BOOSTS)
        if not fuzzy or term.kind == "phrase":
            return exact
        near = tantivy.Query.fuzzy_term_query(self.schema, "words", fold(term.text), distance=1)
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, exact), (tantivy.Occur.Should, near)])

    def _with_filters(self, query: tantivy.Query | None, filters: dict, skip: str | None = None) -> tantivy.Query:
        clauses = [(tantivy.Occur.Must, query or tantivy.Query.all_query())]
        for name, values in filters.items():
            if name != skip:
                clauses.append((tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, f"f_{name}", values)))
        return tantivy.Query.boolean_query(clauses) if len(clauses) > 1 else clauses[0][1]

    def _facets(self, text_query: tantivy.Query | None, filters: dict) -> dict:
        """One terms aggregation for the unfiltered facets, one more per filtered facet (its own filter off)."""
        facets: dict[str, list] = {}
        groups = [(None, [n for n in FACET_NAMES if n not in filters])] + [
            (n, [n]) for n in FACET_NAMES if n in filters
        ]
        for skip, names in groups:
            if not names:
                continue
            spec = {n: {"terms": {"field": f"f_{n}", "size": FACET_LIMIT}} for n in names}
            result = self.searcher.aggregate(self._with_filters(text_query, filters, skip=skip), spec)
            for name in names:
                buckets = result[name]["buckets"]
                facets[name] = [{"value": str(b["key"]), "count": b["doc_count"]} for b in buckets]
        return {name: facets[name] for name in FACET_NAMES}

    def _hit(self, address: tantivy.DocAddress, score: float | None, snippets: tantivy.SnippetGenerator | None) -> dict:
        doc = self.searcher.doc(address)
        fields = doc.to_dict()

        def first(name: str) -> str:
            values = fields.get(name) or [""]
            return values[0]

        speakers = first("speakers")
        year = first("f_year")
        return {
            "id": first("id"),
            "title": first("title"),
            "speakers": speakers.split(", ") if speakers else [],
            "company": first("f_company"),
            "event": first("f_event"),
            "date": first("date"),
            "year": int(year) if year else None,
            "lang": first("f_lang"),
            "url": first("url"),
            "snippet": (snippets and _snippet_html(snippets.snippet_from_doc(doc))) or lead_snippet(first("summary")),
            "score": score,
        }


def _snippet_html(snippet: tantivy.Snippet) -> str:
    """tantivy's highlight ranges are byte offsets into the fragment: mark them, then escape.

    "" when nothing in the summary matched (a title-only or fuzzy hit): the caller shows the lead instead.
    """
    raw = snippet.fragment().encode("utf-8")
    pieces, cursor = [], 0
    for span in snippet.highlighted():
        pieces += [raw[cursor : span.start].decode(), MARK_OPEN, raw[span.start : span.end].decode(), MARK_CLOSE]
        cursor = span.end
    pieces.append(raw[cursor:].decode())
    return marked_to_html("".join(pieces))
