"""The Whoosh schema: what the builder writes for each talk, and how each field is analysed.

Only Whoosh's own tokenizers and filters are used, over the tables of ``talksearch.analysis``
(the search function analyses queries with those tables alone, without importing this module).

Analysis, in order: split on word characters (so ``l'API`` and ``l’API`` give ``l`` + ``api``),
lowercase, fold accents, drop French/English stop words and elided articles (``l``, ``d``,
``qu`` …) without renumbering positions (phrases must not match across removed words), then
stem. Text is indexed twice, once with the French and once with the English stemmer, so
``conteneurs`` finds ``conteneur`` and ``containers`` finds ``container`` whatever the talk's
language. ``words`` keeps folded, unstemmed forms for prefix, fuzzy and spelling work, which
must never see stems. Word positions are kept only where the search function checks phrases and
proximity (the French-stemmed copies and names): the index is what every cold start downloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.columns import VarBytesColumn
from whoosh.fields import COLUMN, ID, NUMERIC, STORED, TEXT, Schema
from whoosh.support.charset import accent_map

from talksearch.analysis import STEMMERS, STOP_WORDS, TECH_STOP_WORDS, WORD, fold, query_words
from talksearch.contracts import FACETS, SCHEMA_VERSION, VALUE_SEPARATOR

__all__ = [
    "FACETS",
    "SCHEMA_VERSION",
    "STEMMERS",
    "STOP_WORDS",
    "TECH_STOP_WORDS",
    "VALUE_SEPARATOR",
    "Talk",
    "build_schema",
    "fold",
    "query_words",
    "talk_to_document",
]


def _chain(stem_lang: str | None, stop: bool = True):
    chain = RegexTokenizer(WORD.pattern) | LowercaseFilter() | CharsetFilter(accent_map)
    if stop:
        chain = chain | StopFilter(stoplist=STOP_WORDS, minsize=1, renumber=False)
    if stem_lang:
        chain = chain | StemFilter(lang=stem_lang, cachesize=50000)
    return chain


FRENCH = _chain("fr")
ENGLISH = _chain("en")
FOLDED = _chain(None)
NAMES = _chain(None, stop=False)
EXACT_VALUES = RegexTokenizer(r"[^\t]+")


def build_schema() -> Schema:
    """A new Schema instance (Whoosh schemas are mutable; never share one between writers)."""
    return Schema(
        id=ID(stored=True, unique=True),
        source=ID(stored=True),
        # searchable text, French and English stems
        title=TEXT(analyzer=FRENCH, stored=True, phrase=True),
        title_en=TEXT(analyzer=ENGLISH, phrase=False),
        summary=TEXT(analyzer=FRENCH, stored=True, phrase=True),
        summary_en=TEXT(analyzer=ENGLISH, phrase=False),
        tags=TEXT(analyzer=FOLDED, phrase=False),
        # people, organisations, events: folded, never stemmed
        speakers=TEXT(analyzer=NAMES, phrase=True),
        company=TEXT(analyzer=NAMES, stored=True, phrase=True),
        event=TEXT(analyzer=NAMES, stored=True, phrase=True),
        # folded unstemmed vocabulary of everything above: prefix, fuzzy, "did you mean"
        words=TEXT(analyzer=FOLDED, phrase=False),
        # exact values for filters and facets
        f_speaker=TEXT(analyzer=EXACT_VALUES, phrase=False),
        f_company=ID(sortable=True),
        f_event=ID(sortable=True),
        lang=ID(stored=True, sortable=True),
        year=NUMERIC(int, bits=32, stored=True, sortable=True, signed=False),
        date=ID(stored=True, sortable=True),
        # browse order's tie-break: a column only, no terms (nothing searches it)
        sort_title=COLUMN(VarBytesColumn()),
        # speakers again, tab-joined UTF-8, as a column: the search function loads every talk's
        # speakers in ~10 ms from it (reading f_speaker's 13k posting lists takes ~200 ms)
        speaker_values=COLUMN(VarBytesColumn()),
        # display only
        speaker_list=STORED,
        tag_list=STORED,
        url=STORED,
    )


@dataclass
class Talk:
    """One talk, as every parser produces it and the index stores it."""

    id: str
    title: str
    speakers: list[str] = field(default_factory=list)
    company: str = ""
    event: str = ""
    date: str = ""  # ISO YYYY-MM-DD, or "" when unknown
    lang: str = ""  # "fr", "en", another ISO 639-1 code, or "" when unknown
    tags: list[str] = field(default_factory=list)
    summary: str = ""
    url: str = ""
    source: str = ""  # the content object key the talk came from

    @property
    def year(self) -> int | None:
        head = self.date[:4]
        return int(head) if len(head) == 4 and head.isdigit() else None


def _exact(value: str) -> str:
    return " ".join(value.replace(VALUE_SEPARATOR, " ").split())


def talk_to_document(talk: Talk) -> dict:
    """The fields of one Whoosh document for a talk (the only place that maps Talk → index)."""
    speakers = [_exact(s) for s in talk.speakers if _exact(s)]
    speaker_text = ", ".join(speakers)
    tags_text = " ".join(talk.tags)
    doc = {
        "id": talk.id,
        "source": talk.source,
        "title": talk.title,
        "title_en": talk.title,
        "summary": talk.summary,
        "summary_en": talk.summary,
        "tags": tags_text,
        "speakers": speaker_text,
        "company": talk.company,
        "event": talk.event,
        "words": "\n".join((talk.title, speaker_text, talk.company, talk.event, tags_text, talk.summary)),
        "f_speaker": VALUE_SEPARATOR.join(speakers),
        "speaker_values": VALUE_SEPARATOR.join(speakers).encode("utf-8"),
        "f_company": _exact(talk.company),
        "f_event": _exact(talk.event),
        "lang": talk.lang,
        "date": talk.date,
        "sort_title": fold(talk.title).encode("utf-8"),
        "speaker_list": speakers,
        "tag_list": list(talk.tags),
        "url": talk.url,
    }
    if talk.year is not None:
        doc["year"] = talk.year
    # Whoosh rejects empty strings for ID fields used as columns less gracefully than missing ones
    return {k: v for k, v in doc.items() if v != "" or k in ("title", "summary")}
