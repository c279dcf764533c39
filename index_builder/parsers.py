"""Content files → Talk records: recap posts, single-talk Markdown, JSON and JSON Lines (optionally gzipped).

``parse_source(key, data)`` is the one entry point. A file that cannot be used at all raises
``ContentError`` with a reason a human can act on; a usable file with a few broken records
returns its talks plus one problem line per broken record. Nothing here touches S3 or the index.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from index_builder.text import (
    anchor,
    detect_language,
    inline_markdown_to_text,
    markdown_to_text,
    normalize_language,
    slug,
    word_set,
)
from talksearch.schema import Talk

#: Biggest content object the builder reads, and the most a gzipped one may expand to.
MAX_SOURCE_BYTES = 64 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024
#: Front matter is metadata; anything bigger is a mistake or an attack on the YAML parser.
MAX_FRONT_MATTER_BYTES = 64 * 1024

MARKDOWN_SUFFIXES = (".md", ".markdown")
JSON_SUFFIXES = (".json", ".json.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")


class ContentError(ValueError):
    """A content file that cannot be indexed; the message says why."""


@dataclass
class ParsedSource:
    talks: list[Talk] = field(default_factory=list)
    #: records or sections that were dropped while the rest of the file was kept
    problems: list[str] = field(default_factory=list)


def is_supported(key: str) -> bool:
    name = key.lower()
    return name.endswith(MARKDOWN_SUFFIXES + JSON_SUFFIXES + JSONL_SUFFIXES)


def parse_source(key: str, data: bytes) -> ParsedSource:
    """The talks in one content object; raises ContentError when the file is unusable."""
    name = key.lower()
    if not is_supported(key):
        raise ContentError("unsupported file type (expected .md, .markdown, .json, .jsonl, optionally .gz)")
    if name.endswith(".gz"):
        data = _gunzip(data)
    if not data.strip():
        raise ContentError("empty file")
    if b"\x00" in data[:8192]:
        raise ContentError("binary content (NUL bytes), not text")
    if name.endswith(JSONL_SUFFIXES):
        return JsonLinesTalkParser().parse(key, data)
    text = _decode(data)
    if name.endswith(JSON_SUFFIXES):
        return JsonTalkParser().parse(key, text)
    front_matter, body = split_front_matter(text)
    if "speaker" in front_matter or "speakers" in front_matter:
        return SingleTalkMarkdownParser().parse(key, front_matter, body)
    return MarkdownRecapParser().parse(key, front_matter, body)


def _gunzip(data: bytes) -> bytes:
    """Decompress, refusing gzip bombs: stop as soon as the output passes the cap."""
    inflater = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header
    try:
        out = inflater.decompress(data, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error as error:
        raise ContentError(f"not a valid gzip file ({error})") from None
    if len(out) > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
        raise ContentError(f"decompresses to more than {MAX_DECOMPRESSED_BYTES:,} bytes (size cap)")
    return out


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = data[error.start : error.start + 1]
        raise ContentError(f"not valid UTF-8 text (byte 0x{bad.hex()} at offset {error.start})") from None


def source_stem(key: str) -> str:
    """The key without its content-type suffixes: ``recaps/devfest.md`` → ``recaps/devfest``."""
    lowered = key.lower()
    for suffix in sorted(MARKDOWN_SUFFIXES + JSON_SUFFIXES + JSONL_SUFFIXES, key=len, reverse=True):
        if lowered.endswith(suffix):
            return key[: -len(suffix)]
    return key


# --- field cleaning shared by every format ---------------------------------------------------------

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?")


def clean_text(value: Any) -> str:
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def clean_list(value: Any) -> list[str]:
    """A list of non-empty strings from a list, or from one comma-separated string."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [text for text in (clean_text(v) for v in value) if text]


def clean_date(value: Any) -> str:
    """``YYYY-MM-DD`` (or ``YYYY-MM`` / ``YYYY`` when that is all there is); "" when unusable."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and 1000 <= value <= 9999:
        return str(value)
    match = _DATE.match(value.strip()) if isinstance(value, str) else None
    return match.group(0) if match else ""


def talk_language(declared: Any, *texts: str) -> str:
    return normalize_language(declared) or detect_language("\n".join(texts))


def unique_id(wanted: str, taken: set[str]) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3`` … when a file derives the same id twice."""
    candidate, n = wanted, 1
    while candidate in taken:
        n += 1
        candidate = f"{wanted}-{n}"
    taken.add(candidate)
    return candidate


# --- front matter ------------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body). YAML is parsed safely: no Python tags, no aliases, a size cap."""
    match = _FRONT_MATTER.match(text)
    if not match:
        if text.startswith("---"):
            raise ContentError("front matter starts with '---' but never ends with a '---' line")
        return {}, text
    raw = match.group(1)
    if len(raw.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        raise ContentError(f"front matter is over {MAX_FRONT_MATTER_BYTES // 1024} KB")
    return load_yaml_mapping(raw), text[match.end() :]


def load_yaml_mapping(raw: str) -> dict[str, Any]:
    try:
        # Aliases are how "billion laughs" documents explode; metadata never needs them.
        for event in yaml.parse(raw, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ContentError("front matter uses YAML aliases (*name), which are not allowed")
        data = yaml.load(raw, Loader=yaml.SafeLoader)  # SafeLoader: !!python/... tags are errors
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ContentError(f"invalid YAML front matter{line}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ContentError("front matter is not a mapping of keys to values")
    return {str(k).lower(): v for k, v in data.items()}


# --- recap posts -----------------------------------------------------------------------------------

_SECTION = re.compile(r"^##[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_TITLE_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
#: Fenced code blocks (``` or ~~~): a ``## Name, Company`` line inside one is code, not a talk.
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]{0,3}\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)
_SUB_HEADING = re.compile(r"^###[ \t]+(.+?)[ \t]*#*[ \t]*$")
_EMPHASISED_LINE = re.compile(r"^(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1$")
_LABELLED_TITLE = re.compile(r"^(?:titre|title|sujet|talk)\s*:\s*(.+)$", re.IGNORECASE)
_HEADING_FORMS = (
    re.compile(r"^(?P<names>.+?)\s*\((?P<org>[^()]+)\)$"),  # Name (Company)
    re.compile(r"^(?P<names>[^,]+?)\s*,\s*(?P<org>.+)$"),  # Name, Company
    re.compile(r"^(?P<names>.+?)\s+[-–—]\s+(?P<org>.+)$"),  # Name - Company, Name — Company
)
_SPEAKER_JOIN = re.compile(r"\s+(?:&|\+|et|and)\s+|\s*&\s*")
_NAME_PARTICLES = word_set("de du des d' da das do dos di del della van von der den ter ten le la bin ibn al el y")
_NAME_TOKEN = re.compile(r"^[^\W\d_][\w'’.\-]*$")


def parse_talk_heading(heading: str) -> tuple[list[str], str] | None:
    """(speakers, company) when a ``## `` heading names people and an organisation, else None.

    ``5 lightning talks``, ``Conclusion`` or ``Questions, réponses`` are not talks: each person's
    name needs at least two words, capitalised apart from particles (``de``, ``van`` …), no digits.
    """
    text = inline_markdown_to_text(heading)
    for form in _HEADING_FORMS:
        match = form.match(text)
        if not match:
            continue
        speakers = [s.strip() for s in _SPEAKER_JOIN.split(match.group("names")) if s.strip()]
        company = match.group("org").strip()
        if speakers and company and len(company) <= 100 and all(_is_person_name(s) for s in speakers):
            return speakers, company
    return None


def _is_person_name(name: str) -> bool:
    words = name.split()
    if not 2 <= len(words) <= 6:
        return False
    for word in words:
        if word.lower() in _NAME_PARTICLES:
            continue
        if not _NAME_TOKEN.match(word) or not word[0].isupper():
            return False
    return sum(w.lower() not in _NAME_PARTICLES for w in words) >= 2


def _outside_code(pattern: re.Pattern[str], body: str) -> list[re.Match[str]]:
    """Matches of a heading pattern that are not inside a fenced code block."""
    fences = [m.span() for m in _FENCE.finditer(body)]
    return [m for m in pattern.finditer(body) if not any(start <= m.start() < end for start, end in fences)]


def talk_from_fields(fields: dict[str, Any], *, talk_id: str, title: str, summary: str, key: str) -> Talk:
    """A talk from the metadata single-talk front matter and JSON records share (same names, same rules)."""
    return Talk(
        id=talk_id,
        title=title,
        speakers=clean_list(fields.get("speakers", fields.get("speaker"))),
        company=clean_text(fields.get("company")),
        event=clean_text(fields.get("event")),
        date=clean_date(fields.get("date")),
        lang=talk_language(fields.get("language") or fields.get("lang"), title, summary),
        tags=clean_list(fields.get("tags")),
        summary=summary,
        url=clean_text(fields.get("url")),
        source=key,
    )


class MarkdownRecapParser:
    """A post that recaps a conference: every ``## Speaker, Company`` section is one talk."""

    def parse(self, key: str, front_matter: dict[str, Any], body: str) -> ParsedSource:
        post_title = clean_text(front_matter.get("title"))
        if not post_title and (heading := _TITLE_HEADING.search(body)):
            post_title = inline_markdown_to_text(heading.group(1))
        event = clean_text(front_matter.get("event")) or post_title
        post_url = clean_text(front_matter.get("url"))
        date = clean_date(front_matter.get("date"))
        tags = clean_list(front_matter.get("tags"))
        declared_lang = front_matter.get("lang") or front_matter.get("language")
        post_lang = talk_language(declared_lang, body)

        sections = _outside_code(_SECTION, body)
        result = ParsedSource()
        taken: set[str] = set()
        stem = source_stem(key)
        for n, section in enumerate(sections):
            heading = section.group(1)
            people = parse_talk_heading(heading)
            if people is None:
                continue
            speakers, company = people
            end = sections[n + 1].start() if n + 1 < len(sections) else len(body)
            title, section_body = _split_talk_title(body[section.end() : end])
            summary = markdown_to_text(section_body)
            if not title:
                title = _title_from_summary(summary) or f"{', '.join(speakers)} ({company})"
            section_anchor = anchor(heading)
            lang = normalize_language(declared_lang) or detect_language(f"{title}\n{summary}") or post_lang
            result.talks.append(
                Talk(
                    id=unique_id(f"{stem}/{section_anchor_id(heading)}", taken),
                    title=title,
                    speakers=speakers,
                    company=company,
                    event=event,
                    date=date,
                    lang=lang,
                    tags=tags,
                    summary=summary,
                    url=f"{post_url}#{section_anchor}" if post_url else "",
                    source=key,
                )
            )
        if not result.talks:
            raise ContentError(
                "no talk sections: a recap needs '## Speaker, Company' headings, "
                "and a single talk needs 'speaker' in its front matter"
            )
        return result


def section_anchor_id(heading: str) -> str:
    return slug(inline_markdown_to_text(heading)) or "talk"


def _split_talk_title(section: str) -> tuple[str, str]:
    """A talk's title when the section opens with one (``### Title``, ``**Title**``, ``Titre : …``)."""
    lines = section.strip("\n").splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        for pattern, group in ((_SUB_HEADING, 1), (_EMPHASISED_LINE, 2), (_LABELLED_TITLE, 1)):
            match = pattern.match(stripped)
            if match:
                return inline_markdown_to_text(match.group(group)), "\n".join(lines[i + 1 :])
        break
    return "", section


def _title_from_summary(summary: str, limit: int = 90) -> str:
    first = summary.split("\n", 1)[0]
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    if len(sentence) <= limit:
        return sentence.rstrip(".")
    return sentence[:limit].rsplit(" ", 1)[0] + "…"


# --- single-talk Markdown ---------------------------------------------------------------------------


class SingleTalkMarkdownParser:
    """One talk per file: ``speaker``/``speakers`` and metadata in front matter, the body is the summary."""

    def parse(self, key: str, front_matter: dict[str, Any], body: str) -> ParsedSource:
        title = clean_text(front_matter.get("title"))
        if not title and (heading := _TITLE_HEADING.search(body)):
            title = inline_markdown_to_text(heading.group(1))
            body = body[: heading.start()] + body[heading.end() :]
        if not title:
            raise ContentError("single talk has no title (front matter 'title' or a '# ' heading)")
        talk_id = clean_text(front_matter.get("id")) or source_stem(key)
        talk = talk_from_fields(front_matter, talk_id=talk_id, title=title, summary=markdown_to_text(body), key=key)
        return ParsedSource(talks=[talk])


# --- JSON and JSON Lines ---------------------------------------------------------------------------


class JsonTalkParser:
    """A JSON array of talk records, ``{"talks": [...]}``, or one record."""

    def parse(self, key: str, text: str) -> ParsedSource:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ContentError(f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
        if isinstance(data, dict) and isinstance(data.get("talks"), list):
            records = data["talks"]
        elif isinstance(data, list):
            records = data
        elif isinstance(data, dict):
            records = [data]
        else:
            raise ContentError("JSON is neither a talk record, a list of them, nor {'talks': [...]}")
        return records_to_talks(key, ((f"record {n}", record) for n, record in enumerate(records, 1)))


class JsonLinesTalkParser:
    """One talk record per line; a broken line is reported and the other lines kept."""

    def parse(self, key: str, data: bytes) -> ParsedSource:
        result = ParsedSource()

        def records():
            for n, raw in enumerate(data.splitlines(), 1):
                if not raw.strip():
                    continue
                try:
                    yield f"line {n}", json.loads(raw)
                except UnicodeDecodeError:
                    result.problems.append(f"line {n}: not valid UTF-8")
                except ValueError as error:
                    result.problems.append(f"line {n}: invalid JSON ({error})")

        records_to_talks(key, records(), result)
        if not result.talks:
            raise ContentError("no valid talk records" + (f" ({result.problems[0]})" if result.problems else ""))
        return result


def records_to_talks(key: str, records, result: ParsedSource | None = None) -> ParsedSource:
    """Talks from (where, record) pairs; a bad record becomes a problem line in ``result``."""
    result = result if result is not None else ParsedSource()
    taken: set[str] = set()
    stem = source_stem(key)
    for where, record in records:
        try:
            result.talks.append(record_to_talk(record, key, stem, taken))
        except ContentError as error:
            result.problems.append(f"{where}: {error}")
    return result


def record_to_talk(record: Any, key: str, stem: str, taken: set[str]) -> Talk:
    if not isinstance(record, dict):
        raise ContentError("not a JSON object")
    title = clean_text(record.get("title"))
    if not title:
        raise ContentError("no title")
    raw_id = record.get("id")
    if isinstance(raw_id, str) and raw_id.strip():
        talk_id = raw_id  # a record's own id is the talk's id, unchanged
        taken.add(talk_id)
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
        talk_id = str(raw_id)
        taken.add(talk_id)
    elif raw_id is None or raw_id == "":
        talk_id = unique_id(f"{stem}/{slug(title) or 'talk'}", taken)
    else:
        raise ContentError(f"id must be a string, not {type(raw_id).__name__}")
    summary = record.get("summary") if isinstance(record.get("summary"), str) else ""
    return talk_from_fields(record, talk_id=talk_id, title=title, summary=summary.strip(), key=key)
