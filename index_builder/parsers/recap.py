"""Recap posts: every top-level ``## Speaker, Company`` section of a Markdown post is one talk.

Sections come from the CommonMark parse, so a heading quoted in fenced or indented code, a list or a
block quote never starts a talk, and setext headings (``Speaker, Company`` over ``---``) do.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from markdown_it.token import Token

from index_builder.parsers.fields import IdAllocator, ParsedSource, clean_list, clean_text, talk_language
from index_builder.parsers.markdown import MAX_HEADING_CHARS, MarkdownDocument, inline_markdown_to_text, inline_text
from index_builder.text import anchor, detect_language, normalize_language, slug, word_set
from talksearch.schema import Talk

_LABELLED_TITLE = re.compile(r"^(?:titre|title|sujet|talk)\s*:\s*(.+)$", re.IGNORECASE)
_HEADING_FORMS = (
    re.compile(r"^(?P<names>.+?)\s*\((?P<org>[^()]+)\)$"),  # Name (Company)
    re.compile(r"^(?P<names>[^,]+?)\s*,\s*(?P<org>.+)$"),  # Name, Company
    re.compile(r"^(?P<names>.+?)\s+[-–—]\s+(?P<org>.+)$"),  # Name - Company, Name — Company
)
_SPEAKER_JOIN = re.compile(r"\s+(?:&|\+|et|and)\s+|\s*&\s*")
_NAME_PARTICLES = word_set("de du des d' da das do dos di del della van von der den ter ten le la bin ibn al el y")
_NAME_TOKEN = re.compile(r"^[^\W\d_][\w'’.\-]*$")
_LINE_BREAKS = ("softbreak", "hardbreak")


def parse_talk_heading(heading: str) -> tuple[list[str], str] | None:
    """(speakers, company) when a ``## `` heading (Markdown) names people and an organisation, else None."""
    return talk_heading_parts(inline_markdown_to_text(heading))


def talk_heading_parts(text: str) -> tuple[list[str], str] | None:
    """(speakers, company) from a heading's plain text.

    ``5 lightning talks``, ``Conclusion`` or ``Questions, réponses`` are not talks: each person's
    name needs at least two words, capitalised apart from particles (``de``, ``van`` …), no digits.
    """
    if len(text) > MAX_HEADING_CHARS:
        return None
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


def first_heading(document: MarkdownDocument, tag: str = "h1") -> tuple[int, str] | None:
    """(token index, text) of the first top-level heading of a level, e.g. a post's ``# Title``."""
    for i in document.top_level_headings(tag):
        return i, inline_text(document.tokens[i + 1].children or [])
    return None


class MarkdownRecapParser:
    """A post that recaps a conference: every ``## Speaker, Company`` section is one talk."""

    def parse(
        self, key: str, front_matter: dict[str, Any], document: MarkdownDocument, *, url: str, date: str, stem: str
    ) -> ParsedSource:
        """The post's talks, under ids ``<stem>/<heading slug>``; none is not an error here (the caller decides)."""
        post_title = clean_text(front_matter.get("title"))
        if not post_title and (heading := first_heading(document)):
            post_title = heading[1]
        event = clean_text(front_matter.get("event")) or post_title
        tags = clean_list(front_matter.get("tags"))
        declared_lang = front_matter.get("lang") or front_matter.get("language")
        post_lang = cache(lambda: talk_language(declared_lang, document.text()))

        tokens = document.tokens
        starts = document.top_level_headings("h2")
        result = ParsedSource()
        for problem in document.problems:
            result.add_problem(problem)
        ids = IdAllocator()
        for n, start in enumerate(starts):
            heading = tokens[start + 1]
            end = starts[n + 1] if n + 1 < len(starts) else len(tokens)
            if len(heading.content) > MAX_HEADING_CHARS:
                result.add_problem(
                    f"the heading at line {document.line_of(heading):,} as a talk (over {MAX_HEADING_CHARS} characters)"
                )
                continue
            heading_text = inline_text(heading.children or [])
            people = talk_heading_parts(heading_text)
            if people is None:
                continue
            speakers, company = people
            title, summary = _title_and_summary(document, start + 3, end)
            if not title:
                title = _title_from_summary(summary) or f"{', '.join(speakers)} ({company})"
            lang = normalize_language(declared_lang) or detect_language(f"{title}\n{summary}") or post_lang()
            section_anchor = anchor(heading_text)
            result.talks.append(
                Talk(
                    id=ids.allocate(f"{stem}/{slug(heading_text) or 'talk'}"),
                    title=title,
                    speakers=speakers,
                    company=company,
                    event=event,
                    date=date,
                    lang=lang,
                    tags=tags,
                    summary=summary,
                    url=f"{url}#{section_anchor}" if url else "",
                    source=key,
                )
            )
        return result.finish()


def _title_and_summary(document: MarkdownDocument, start: int, end: int) -> tuple[str, str]:
    """A talk's title when its section opens with one (``### Title``, ``**Title**``, ``Titre : …``), and the rest."""
    tokens = document.tokens
    if start >= end:
        return "", ""
    opening = tokens[start]
    if opening.type == "heading_open" and opening.tag == "h3":
        return inline_text(tokens[start + 1].children or []), document.text(start + 3, end)
    if opening.type == "paragraph_open" and opening.level == 0:
        children = tokens[start + 1].children or []
        cut = next((i for i, c in enumerate(children) if c.type in _LINE_BREAKS), len(children))
        first_line, rest = children[:cut], children[cut + 1 :]
        title = ""
        if _is_emphasised(first_line):
            title = inline_text(first_line)
        elif labelled := _LABELLED_TITLE.match(inline_text(first_line)):
            title = labelled.group(1).strip()
        if title:
            summary = "\n".join(line for line in (inline_text(rest), document.text(start + 3, end)) if line)
            return title, summary
    return "", document.text(start, end)


def _is_emphasised(children: list[Token]) -> bool:
    """True when a line is one emphasis span from end to end (``**Title**``, ``_Title_``)."""
    children = [c for c in children if not (c.type == "text" and not c.content.strip())]
    if len(children) < 3 or children[0].type not in ("strong_open", "em_open"):
        return False
    opener, closer, depth = children[0].type, children[0].type.replace("_open", "_close"), 0
    for i, child in enumerate(children):
        depth += (child.type == opener) - (child.type == closer)
        if depth == 0:
            return i == len(children) - 1
    return False


def _title_from_summary(summary: str, limit: int = 90) -> str:
    first = summary.split("\n", 1)[0]
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    if len(sentence) <= limit:
        return sentence.rstrip(".")
    return sentence[:limit].rsplit(" ", 1)[0] + "…"
