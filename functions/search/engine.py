"""The search engine behind /api/search, /api/talks and /api/suggest, usable without Lambda.

``SearchEngine(index_dir).search(**params)`` (or ``SearchEngine(files=PackFiles(data), version=v)``) returns
exactly the /api/search JSON body, so the benchmark (``bench/``) and the relevance evaluation measure what
visitors get.

Per request: parse leniently (``query``), add what the index version's glossary and site synonyms
say a run of typed words also means (``translations``; not with ``exact=1``), turn each word into
weighted field terms (``expansion``), match each clause over raw postings and intersect (``matching``; talks with only
some of the words follow when fewer than a page have them all), filter and count facets over
the unscored match set (``facets``), rank what can reach the page (``scoring``), then read
stored fields and build snippets for the returned page only (``highlight``). A time budget stops
optional work (more clauses, typo corrections) and flags the answer ``partial``. What a dear query
answers (total, facets, its first talks) is kept per version, so asking it again, or for its next
pages, reads and ranks nothing: at 100,000 talks the per-talk caches behind it hold a few words only.
"""

from __future__ import annotations

import gc
import heapq
import logging
import os
import re
import sys
from collections import Counter
from collections.abc import Collection, Iterator
from itertools import islice
from pathlib import Path
from time import perf_counter
from typing import NamedTuple

from functions.search.expansion import Expander
from functions.search.facets import FacetIndex
from functions.search.highlight import Highlighter, Prepared, prepare
from functions.search.lru import LRU, PROCESS_BUDGET, MemoryBudget, resident_bytes, size_of_numbers, size_of_strings
from functions.search.matching import ClauseMatcher, Coordination, Match, match_all, match_any, match_some
from functions.search.params import InvalidParameter, SearchParams
from functions.search.query import Clause, ParsedQuery, parse_query
from functions.search.scoring import Scorer, Scores
from functions.search.snapshot import IndexSnapshot
from functions.search.suggest import Suggester
from functions.search.translations import expand_query, load_table, parse_table
from functions.search.words import folded_words, stem_en, stem_fr
from talksearch.analysis import fold
from talksearch.synonyms import SynonymTable

__all__ = ["InvalidParameter", "SearchEngine"]

#: Milliseconds after which optional work stops and the answer is flagged partial.
ENV_TIME_BUDGET_MS = "SEARCH_TIME_BUDGET_MS"
DEFAULT_TIME_BUDGET_MS = 150
#: "Did you mean" is offered when a query finds fewer talks than this.
FEW_RESULTS = 10
#: When fewer talks than this (a page) have every word, talks with some of the words follow them:
#: docs/relevance.md measured strict AND capping topic recall (honeybee talks that never say "honey").
FILL_BELOW = 10
#: ... taken from the rarest words first, and no more of them than this (see matching.match_some).
FILL_MOST = 2000
RELATED_TALKS = 5
RELATED_TERMS = 12
#: Summaries prepared for snippets (``highlight.prepare``) kept per index version (and by their bytes).
PREPARED_CACHE_SIZE = 2048
#: Answers kept per index version, for queries whose words' field terms hold at least ANSWER_MIN_POSTINGS
#: talks between them (what matching and scoring read: two common words having few talks in common cost
#: as much as a common word), or that many talks pass their filters: the total, the facet counts and the
#: ANSWER_TOP first talks with their scores (about 25 KB each, whatever the query's number of talks:
#: 1,024 hold about 26 MB). The posting lists and per-talk scores behind them are held per talk, so at
#: 100,000 talks their caches hold a few common words only, and every query on the others re-read and
#: re-scored all of their talks (docs/api.md, "At 100,000 talks").
ANSWER_CACHE_SIZE = 1024
#: The answers have a budget of their own, which the version holds out of the per-talk caches' budget (as it
#: holds its files): sharing one, a 20 KB answer worth 50-200 ms lost by recency to the posting lists of the
#: queries after it, and at 100,000 talks 499 of the 583 answers a 700-query pass kept were gone before the
#: pass was asked again (the per-talk caches filled their 374 MB; docs/benchmarks.md, "At 100,000 talks").
#: At most this, and a 32nd of the function's memory (32 MB at 1,024 MB, 4 MB at Lambda's least, 128 MB).
ANSWER_CACHE_BYTES = 32 << 20
ANSWER_MEMORY_SHARE = 1 / 32
ANSWER_MIN_POSTINGS = 2000
ANSWER_TOP = 100


#: Searches between two full collections of the frozen objects too (``_set_aside_survivors``): each walks every
#: cache entry (176 ms at 21.7k talks after make bench's passes), so rarely; what waits for it is ~1.3 small
#: objects a request, about 13,000 at most.
FULL_COLLECTION_EVERY = 10_000
_searches_since_full = 0


def _set_aside_survivors() -> None:
    """Collect what the requests since the last one left in the young generations, then freeze what is alive.

    A request leaves its cache entries (match sets, posting lists, prepared summaries: large containers) in
    the collector's generations, and every later gen-1 or full collection walked them all again: on a first
    pass over the 21.7k pack the collector took 5 to 17 ms at a time, about 100 ms per 700 queries, and most
    of the gap to tantivy at p95/p99. Frozen after the request that made them, they are walked once. What is
    frozen while still in use and later becomes cyclic garbage (the handler's objects of the request in
    flight: about 1.3 objects a request through ``lambda_handler``) is freed by one full collection every
    FULL_COLLECTION_EVERY searches, as at each index swap (``lifecycle._collect_frozen``).
    """
    global _searches_since_full
    _searches_since_full += 1
    if _searches_since_full >= FULL_COLLECTION_EVERY:
        _searches_since_full = 0
        gc.unfreeze()
        gc.collect()
    else:
        gc.collect(1)
    gc.freeze()


class _Answer(NamedTuple):
    """What a query answers, whatever its page: total, facet counts, its first talks in order."""

    total: int
    facets: dict[str, list[dict]]
    best: tuple[int, ...]
    scores: Scores
    #: the talks having every word (what "did you mean" weighs) and the answer's ``matched``
    found: int
    matched: str

    def covers(self, stop: int) -> bool:
        return stop <= len(self.best) or len(self.best) == self.total


class SearchEngine:
    """Answers queries from one opened index version; thread-safe, keep one per version."""

    def __init__(
        self,
        index_dir: str | Path | None = None,
        *,
        version: str = "",
        built_at: str = "",
        time_budget_ms: float | None = None,
        warm: bool = True,
        synonyms: SynonymTable | None = None,
        log: logging.Logger | None = None,
        files=None,
    ) -> None:
        """Over ``files`` (a ``talksearch.search_pack.PackFiles``: the search function's) or the Whoosh index in
        ``index_dir``. ``synonyms``: the table to expand queries with (default: the index's own ``synonyms.json``;
        an index without one, or with one that is refused, is served without expansion, logged on ``log``).

        What the version holds (the memory its opening took, its pack or its files, mapped as queries read
        them, and its kept answers' own budget) is left out of the caches' budget until ``close``."""
        if files is None and index_dir is None:
            raise TypeError("SearchEngine needs an index_dir or files to read the index from")
        PROCESS_BUDGET.make_room()
        resident_before = resident_bytes("RssAnon")
        try:
            self._open(index_dir, version, built_at, warm, synonyms, log, files)
        except BaseException:
            PROCESS_BUDGET.cancel_room()
            raise
        if files is not None:  # the pack was read into memory before: its bytes
            held = files.nbytes
        else:
            held = sum(f.stat().st_size for f in Path(index_dir).iterdir() if f.is_file())
        PROCESS_BUDGET.hold(self, resident_bytes("RssAnon") - resident_before + held + self._answers_budget.limit)
        self.time_budget = (time_budget_ms if time_budget_ms is not None else _budget_from_env()) / 1000.0

    def _open(
        self,
        index_dir: str | Path | None,
        version: str,
        built_at: str,
        warm: bool,
        synonyms: SynonymTable | None,
        log: logging.Logger | None,
        files,
    ) -> None:
        version = version or (Path(index_dir).name if index_dir is not None else "")
        self.snapshot = IndexSnapshot(index_dir, version=version, built_at=built_at, files=files)
        self._files = files
        if synonyms is None:
            in_pack = files is not None
            synonyms = parse_table(files.synonyms(), version, log) if in_pack else load_table(Path(index_dir), log)
        self.synonyms = synonyms
        self.expander = Expander(self.snapshot)
        self.matcher = ClauseMatcher(self.snapshot, self.expander)
        self.scorer = Scorer(self.snapshot)
        self.facets = FacetIndex(self.snapshot)
        self.suggester = Suggester(self.matcher, self.scorer, self.facets)
        self._prepared: LRU[int, Prepared] = LRU(
            PREPARED_CACHE_SIZE, cost=lambda p: size_of_strings(p, (s for s in p if s is not None))
        )
        answer_bytes = min(ANSWER_CACHE_BYTES, int(PROCESS_BUDGET.memory_bytes * ANSWER_MEMORY_SHARE))
        self._answers_budget = MemoryBudget(answer_bytes, share=1.0, runtime_bytes=0, floor=0)
        self._answers: LRU[tuple, _Answer] = LRU(ANSWER_CACHE_SIZE, cost=_answer_bytes, budget=self._answers_budget)
        if warm:
            self.warm()

    def warm(self) -> None:
        """Load the per-talk data and decode the pack's vocabularies now (not in a visitor's request: each first
        ask of a field paid its inflating), and take them out of the cyclic GC's sight.

        ``gc.freeze()`` moves everything alive into the permanent generation: the index's long-lived
        objects are then never walked again by full collections, which otherwise pause requests.
        """
        if self._files is not None:
            self._files.warm()
        self.facets.warm()
        gc.freeze()

    @property
    def version(self) -> str:
        return self.snapshot.version

    def close(self) -> None:
        PROCESS_BUDGET.release(self)
        self.snapshot.close()

    def index_info(self) -> dict:
        return {"version": self.snapshot.version, "built_at": self.snapshot.built_at}

    def health(self) -> dict:
        return {**self.index_info(), "talks": len(self.snapshot.live_docs)}

    # --- /api/search ---------------------------------------------------------------------------
    def search(self, **params: object) -> dict:
        """The /api/search body for q, page, size, sort and the facet filters (raises InvalidParameter)."""
        started = perf_counter()
        deadline = _Deadline(started + self.time_budget)
        request = SearchParams.from_values(**params)
        typed = parse_query(request.q)
        query, expanded = typed, []
        if self.synonyms is not None and not request.exact:
            query, expanded = expand_query(typed, self.synonyms)

        offset = (request.page - 1) * request.size
        stop = offset + request.size
        words = plain_words(typed)
        answered = self._answer(query, request, words, offset, stop, deadline, rankings_only=False)
        assert answered is not None  # rankings_only=False always answers
        total, facets, scores, page_docs, found, matched = answered
        highlighter = self._highlighter(query)
        hits = [self._hit(doc, scores, highlighter) for doc in page_docs]
        did_you_mean = self._did_you_mean(typed, found) if typed.groups and not deadline.passed() else None
        _set_aside_survivors()
        return {
            "query": request.q,
            "total": total,
            "page": request.page,
            "size": request.size,
            "took_ms": round((perf_counter() - started) * 1000.0, 2),
            "hits": hits,
            "facets": facets,
            "did_you_mean": did_you_mean,
            "expanded": [e.to_json() for e in expanded],
            "matched": matched,
            "partial": deadline.missed,
            "index": self.index_info(),
        }

    def keep_answer(self, q: str) -> None:
        """Keep what ``search(q=q)`` would keep as a whole ranking (``kept_answers``), and nothing else: neither its
        page's hits, snippets and "did you mean" nor a query's matching that cannot be kept are worked out, so
        the builder's ~1,200 precomputed queries cost half their ``search`` time."""
        request = SearchParams.from_values(q=q)
        typed = parse_query(request.q)
        query = expand_query(typed, self.synonyms)[0] if self.synonyms is not None and not request.exact else typed
        deadline = _Deadline(perf_counter() + self.time_budget)
        self._answer(query, request, plain_words(typed), 0, request.size, deadline, rankings_only=True)

    def _answer(
        self,
        query: ParsedQuery,
        request: SearchParams,
        words: list[str],
        offset: int,
        stop: int,
        deadline: _Deadline,
        *,
        rankings_only: bool,
    ) -> tuple[int, dict[str, list[dict]], Scores | None, list[int], int, str] | None:
        """(total, facets, the page's scores, the page's talks, found, matched), the answer kept when dear (see
        ``ANSWER_MIN_POSTINGS``); with ``rankings_only``, None for a query whose whole ranking would not be kept,
        once its matching says so.

        ``words``: the plain words typed (proximity applies to them)."""
        key = _answer_key(query, request, words)
        kept = self._kept(key, offset, stop) if key is not None else None
        if kept is not None:
            answer, page_docs = kept
            return answer.total, answer.facets, answer.scores, page_docs, answer.found, answer.matched
        if rankings_only and query.groups:  # the talks matched are some of the terms' talks, counted by their df
            bounds = [self.matcher.postings_at_most(clause) for group in query.groups for clause in group]
            if None not in bounds and sum(bounds) < ANSWER_MIN_POSTINGS:
                return None
        match, coordination = self._match(query, deadline)
        # the talks passing the filters are some of the matched ones: few of them and few postings, nothing kept
        if rankings_only and (
            key is None
            or coordination is not None
            or (match is not None and max(len(match.docs), _postings(match)) < ANSWER_MIN_POSTINGS)
        ):
            return None
        results, facets = self.facets.filter_and_count(self._matching(query, match), request.filters)
        total = len(results)
        # an answer worth keeping is ranked ANSWER_TOP deep: its first pages are prefixes of that ranking
        # (the canonical order: score descending, then talk number); ranked by share of the query
        # (``coordination``), how many talks are scored depends on the page: only that page is kept
        keep = key is not None and not deadline.missed and max(total, _postings(match)) >= ANSWER_MIN_POSTINGS
        deep = keep and coordination is None
        if rankings_only and not deep:
            return None
        depth = max(stop, ANSWER_TOP) if deep else stop
        ranked, scores = self._page(results, match, coordination, request.sort, 0 if deep else offset, depth, words)
        page_docs = ranked[offset:stop] if deep else ranked
        # "finds little" is about the talks with every word, not those added after them
        found = len(coordination.complete) if coordination else total
        matched = coordination.matched(results) if coordination and results else "all"
        if keep:
            best = tuple(ranked)
            answer = _Answer(total, facets, best, {d: scores[d] for d in best} if scores else {}, found, matched)
            self._answers.put(key if deep else (key, offset, stop), answer)
        return total, facets, scores, page_docs, found, matched

    def kept_answers(self) -> Iterator[tuple[tuple, _Answer]]:
        """(key, answer) of every whole ranking kept now: what the builder stores in the pack (``answers``)."""
        return ((key, answer) for key, answer in self._answers.items() if len(key) == 6)  # not (key, offset, stop)

    def _kept(self, key: tuple, offset: int, stop: int) -> tuple[_Answer, list[int]] | None:
        """(the kept answer, the page's talks), when the query's ranking holds the page or the page was kept."""
        ranking = self._answers.get(key)
        if ranking is None and self._files is not None:  # computed at build time (search_pack.answers)
            built = self._files.precomputed_answer(key)
            if built is not None:
                ranking = _Answer(*built)
                self._answers.put(key, ranking)
        if ranking is not None and ranking.covers(stop):
            return ranking, list(ranking.best[offset:stop])
        page = self._answers.get((key, offset, stop))
        return (page, list(page.best)) if page is not None else None

    def _match(self, query: ParsedQuery, deadline: _Deadline) -> tuple[Match | None, Coordination | None]:
        """The talks having every word group of the query (None: it has none), or, when fewer than a page
        have them all, those with some of them, ranked by share of the query (``Coordination``)."""
        if not query.groups:
            return None, None
        groups: list[Match] = []
        for group in query.groups:
            if groups and deadline.passed():
                break
            groups.append(self.matcher.match_group(group))
        match = match_all(groups)
        if len(groups) < 2 or len(match.docs) >= FILL_BELOW:
            return match, None
        coordination = Coordination(groups, match.docs, tuple(_width(g) for g in query.groups[: len(groups)]))
        return (match_some(groups, FILL_BELOW, FILL_MOST) if match.docs else match_any(groups)), coordination

    def _matching(self, query: ParsedQuery, match: Match | None) -> Collection[int] | None:
        """The matched talks within the query's years and without its excluded words (None: every talk)."""
        matching: Collection[int] | None = None if match is None else match.docs
        if query.years:
            in_years = self.facets.talks_with("year", query.years)
            matching = in_years if matching is None else in_years.intersection(matching)
        if query.excluded:
            excluded = frozenset().union(*(self.matcher.excluded_docs(c) for c in query.excluded))
            matching = (self.snapshot.live_docs if matching is None else frozenset(matching)) - excluded
        return matching

    def _page(
        self,
        results: Collection[int],
        match: Match | None,
        coordination: Coordination | None,
        sort: str,
        start: int,
        stop: int,
        words: list[str],
    ) -> tuple[list[int], Scores | None]:
        if start >= len(results):
            return [], None
        if match is not None and sort == "relevance":
            ordered, scores = self.scorer.top(results, match.groups, stop, words=words, coordination=coordination)
            return ordered[start:stop], scores
        page = self._by_date(results, start, stop)
        if match is not None:  # sort=date: still show each hit's score
            return page, self.scorer.score(set(page), match.groups)
        return page, None

    def _by_date(self, results: Collection[int], start: int, stop: int) -> list[int]:
        order = self.snapshot.browse_order
        if results is self.snapshot.live_docs:
            return list(order[start:stop])
        if len(results) * 16 > len(order):  # dense: the page is near the start of the browse order
            members = results if isinstance(results, (set, frozenset)) else set(results)
            return list(islice(filter(members.__contains__, order), start, stop))
        return heapq.nsmallest(stop, results, key=self.snapshot.browse_rank.__getitem__)[start:stop]

    def _hit(self, doc: int, scores: Scores | None, highlighter: Highlighter) -> dict:
        stored = self.snapshot.stored(doc)
        summary = stored.get("summary") or ""
        if summary:
            prepared = self._prepared.get(doc)
            if prepared is None:
                self._prepared.put(doc, prepared := prepare(summary))
        return {
            **_talk_fields(stored),
            "snippet": highlighter.snippet(prepared) if summary else "",
            "score": round(scores[doc], 4) if scores is not None and doc in scores else None,
        }

    def _highlighter(self, query: ParsedQuery) -> Highlighter:
        exact: set[str] = set()
        stems_fr: set[str] = set()
        stems_en: set[str] = set()
        # an expanded run: its typed words and the words of what it also searched (no typo neighbours)
        for part in (p for clause in query.clauses() for p in clause.typed + clause.targets):
            exact.update(part.words)
            stems_fr.update(stem_fr(w) for w in part.words)
            stems_en.update(stem_en(w) for w in part.words)
        for clause in (c for c in query.clauses() if c.kind != "expanded"):
            if clause.kind == "prefix":
                exact.update(self.expander.prefix_expansions(clause.words[0]))
                continue
            exact.update(clause.words)
            if clause.kind in ("word", "phrase"):
                stems_fr.update(stem_fr(w) for w in clause.words)
                stems_en.update(stem_en(w) for w in clause.words)
            if clause.kind == "word":
                exact.update(self.expander.typo_alternatives(clause.words[0]))
        return Highlighter(exact, stems_fr, stems_en)

    def _did_you_mean(self, query: ParsedQuery, total: int) -> str | None:
        corrections: dict[str, str] = {}
        for clause in query.clauses():
            if clause.kind != "word":
                continue
            word = clause.words[0]
            unknown = self.snapshot.doc_frequency("words", word) == 0
            if total >= FEW_RESULTS and not unknown:
                continue
            better = self.expander.correction(word)
            if better:
                corrections[word] = better
        if not corrections:
            return None
        return re.sub(r"\w+", lambda m: corrections.get(fold(m.group()), m.group()), query.text)

    # --- /api/talks/{id} -----------------------------------------------------------------------
    def talk(self, talk_id: str) -> dict | None:
        """The talk with its full summary and up to five related talks, or None when unknown."""
        doc = self.snapshot.doc_for_id(talk_id)
        if doc is None or doc in self.snapshot.deleted:
            return None
        stored = self.snapshot.stored(doc)
        related = [_talk_fields(self.snapshot.stored(d)) for d in self._related(doc, stored)]
        return {
            **_talk_fields(stored),
            "tags": list(stored.get("tag_list") or []),
            "summary": stored.get("summary") or "",
            "related": related,
            "index": self.index_info(),
        }

    def has_talk(self, talk_id: str) -> bool:
        """Whether this version serves the talk (what /api/opened checks before logging an open)."""
        doc = self.snapshot.doc_for_id(talk_id)
        return doc is not None and doc not in self.snapshot.deleted

    def _related(self, doc: int, stored: dict) -> list[int]:
        """More like this: the talk's most distinctive words (tf x idf) as an any-word query."""
        tags = " ".join(stored.get("tag_list") or [])
        text = " ".join([stored.get("title") or "", tags, stored.get("summary") or ""])
        counts = Counter(w for w in folded_words(text[:20_000]) if len(w) > 2 and not w.isdigit())
        weighted = []
        for word, tf in counts.items():
            df = self.snapshot.doc_frequency("words", word)
            if 1 < df < self.snapshot.doc_count * 0.2:
                weighted.append((tf * self.snapshot.idf("words", word), word))
        terms = [("words", word, weight) for weight, word in heapq.nlargest(RELATED_TERMS, weighted)]
        similar = self.matcher.match_terms(terms)
        return self.scorer.top(similar.docs - {doc}, similar.groups, RELATED_TALKS)[0]

    # --- /api/suggest --------------------------------------------------------------------------
    def suggest(self, q: object) -> dict:
        """Up to eight completions of what is being typed: words, speakers and titles."""
        return self.suggester.suggest(q)


class _Deadline:
    """The request's time budget: optional work asks ``passed()``; ``missed`` says whether any was skipped."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.missed = False

    def passed(self) -> bool:
        if perf_counter() > self.at:
            self.missed = True
        return self.missed


def _budget_from_env() -> float:
    raw = os.environ.get(ENV_TIME_BUDGET_MS, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TIME_BUDGET_MS
    except ValueError:
        return DEFAULT_TIME_BUDGET_MS


def _answer_key(query: ParsedQuery, request: SearchParams, words: list[str]) -> tuple | None:
    """What an answer depends on when it is kept: the query's words and years, its filters and its sort
    (None: a listing of every talk, whose facets are kept from warm-up and whose pages are the browse order).

    ``words``: the plain words typed (proximity applies to them)."""
    if not (query.groups or query.years or query.excluded or request.filters):
        return None
    groups = tuple(tuple(_clause_key(c) for c in group) for group in query.groups)
    excluded = tuple(_clause_key(c) for c in query.excluded)
    # a facet's selected values are listed in the order given: kept in it
    filters = tuple(sorted((name, tuple(values)) for name, values in request.filters.items()))
    return tuple(words), groups, excluded, tuple(sorted(query.years)), filters, request.sort


def _postings(match: Match | None) -> int:
    """How many talks the field terms of a match's words hold, counted once per term."""
    if match is None:
        return 0
    terms = {id(data): len(data.frequencies) for group in match.groups for data, _ in group.terms}
    return sum(terms.values())


def _clause_key(clause: Clause) -> tuple:
    typed = tuple(_clause_key(c) for c in clause.typed)
    targets = tuple(_clause_key(c) for c in clause.targets)
    return (clause.kind, tuple(clause.words), clause.field, clause.slop, typed, targets)


def plain_words(query: ParsedQuery) -> list[str]:
    """The query's words typed on their own (no phrase, prefix, field or OR), in order: proximity applies to them."""
    return [group[0].words[0] for group in query.groups if len(group) == 1 and group[0].kind == "word"]


def _width(group: list) -> int:
    """How many plain typed words a query group is: 1 for a word, n for an expanded run of n words, 0 otherwise."""
    if len(group) != 1:
        return 0
    clause = group[0]
    if clause.kind == "word":
        return 1
    if clause.kind == "expanded" and all(c.kind == "word" for c in clause.typed):
        return len(clause.typed)
    return 0


def _talk_fields(stored: dict) -> dict:
    return {
        "id": stored.get("id"),
        "title": stored.get("title") or "",
        "speakers": list(stored.get("speaker_list") or []),
        "company": stored.get("company") or "",
        "event": stored.get("event") or "",
        "date": stored.get("date") or "",
        "year": stored.get("year"),
        "lang": stored.get("lang") or "",
        "url": stored.get("url") or "",
    }


def _answer_bytes(answer: _Answer) -> int:
    """A kept answer: its best talks and their scores, and its facet counts (a small dict per value shown)."""
    rows = [row for shown in answer.facets.values() for row in shown]
    facets = size_of_strings(answer.facets, (row["value"] for row in rows if isinstance(row["value"], str)))
    return (
        size_of_numbers(answer.best)
        + size_of_numbers(answer.scores, 2 * len(answer.scores))
        + facets
        + sum(map(sys.getsizeof, rows))
    )
