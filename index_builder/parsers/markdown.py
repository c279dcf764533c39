"""Markdown → plain text, through one CommonMark parse (markdown-it-py) whose work is bounded.

markdown-it-py parses in time linear in its input (every nesting is capped at 20 levels), but its
constant is high for lines made of link or emphasis openers: 20 to 30 µs per character, against about
1 µs per byte of prose. So three caps keep the worst file within seconds, each reported, none fatal:
a line is cut at ``MAX_LINE_CHARS``; once a file has spent ``MAX_MARKUP_CHARS`` characters of inline
markup, the rest of its paragraphs are kept as written instead of parsed; a Markdown file over
``MAX_MARKDOWN_BYTES`` is skipped. HTML is not enabled: tags stay literal text, and whoever shows a
summary escapes it (the index never holds trusted markup). docs/index-builder.md has the figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

from index_builder.text import word_set

#: A line longer than this is cut (a pasted log or a broken export, not prose).
MAX_LINE_CHARS = 10_000
#: Inline markup characters parsed per file; the paragraphs after that are kept as written.
MAX_MARKUP_CHARS = 50_000
#: The biggest Markdown file read: a blog post is a few kB; bulk talks belong in JSON Lines.
MAX_MARKDOWN_BYTES = 4 * 1024 * 1024
#: A ``## `` heading longer than this is no speaker line (names are at most six words, a company 100 characters).
MAX_HEADING_CHARS = 300

#: The characters that open inline constructs whose parsing costs the most.
_MARKUP = "[]!*_~`<&\\"

# The core "inline" step is switched off: MarkdownDocument runs it per block, under the markup budget.
_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"]).disable("inline")

_SKIPPED_INLINE = word_set("link_open link_close strong_open strong_close em_open em_close s_open s_close")


@dataclass
class MarkdownDocument:
    """A Markdown body parsed once: its block tokens (inline children filled in) and what the caps left out."""

    tokens: list[Token]
    problems: list[str] = field(default_factory=list)
    first_line: int = 1  # the file's line number of the body's first line

    @classmethod
    def parse(cls, body: str, *, first_line: int = 1) -> MarkdownDocument:
        problems: list[str] = []
        body = _cut_long_lines(body, first_line, problems)
        env: dict = {}
        tokens = _PARSER.parse(body, env)
        budget = MAX_MARKUP_CHARS
        for token in tokens:
            if token.type != "inline":
                continue
            cost = sum(token.content.count(c) for c in _MARKUP)
            if budget >= cost:
                budget -= cost
                token.children = _PARSER.inline.parse(token.content, _PARSER, env, [])
            else:
                if budget >= 0:
                    where = first_line + (token.map[0] if token.map else 0)
                    problems.append(
                        f"Markdown markup from line {where:,} on (over {MAX_MARKUP_CHARS:,} markup characters "
                        "in one file: the rest is kept as written)"
                    )
                    budget = -1
                token.children = [Token("text", "", 0, content=token.content)]
        return cls(tokens, problems, first_line)

    def line_of(self, token: Token) -> int:
        return self.first_line + (token.map[0] if token.map else 0)

    def top_level_headings(self, tag: str) -> list[int]:
        """Indexes of the ``heading_open`` tokens of one level outside lists, quotes and code."""
        return [i for i, t in enumerate(self.tokens) if t.type == "heading_open" and t.tag == tag and t.level == 0]

    def text(self, start: int = 0, end: int | None = None) -> str:
        """The plain text of ``tokens[start:end]``: one line per paragraph, heading, list item or table row."""
        return "\n".join(line for line in block_lines(self.tokens[start:end]) if line)


def _cut_long_lines(body: str, first_line: int, problems: list[str]) -> str:
    lines = body.split("\n")
    if max(map(len, lines), default=0) <= MAX_LINE_CHARS:
        return body
    for n, line in enumerate(lines):
        if len(line) > MAX_LINE_CHARS:
            problems.append(
                f"the end of line {first_line + n:,} ({len(line):,} characters; a line is cut at {MAX_LINE_CHARS:,})"
            )
            lines[n] = line[:MAX_LINE_CHARS]
    return "\n".join(lines)


def block_lines(tokens: Iterable[Token]) -> Iterable[str]:
    row: list[str] | None = None
    for token in tokens:
        if token.type == "inline":
            if row is None:
                yield inline_text(token.children or [])
            else:
                row.append(inline_text(token.children or []))
        elif token.type in ("fence", "code_block"):
            yield from (line.strip() for line in token.content.splitlines() if line.strip())
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            yield " | ".join(cell for cell in row if cell)
            row = None


def inline_text(children: Iterable[Token]) -> str:
    """The words of an inline run: markup dropped, link texts and image descriptions kept."""
    parts: list[str] = []
    for child in children:
        if child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(inline_text(child.children or []))
        elif child.type not in _SKIPPED_INLINE:
            parts.append(child.content)
    return " ".join("".join(parts).split())


def inline_markdown_to_text(text: str) -> str:
    """The words of one line of Markdown (a heading, a title)."""
    return inline_text(_PARSER.inline.parse(text[:MAX_LINE_CHARS], _PARSER, {}, []))


def markdown_to_text(markdown: str) -> str:
    """The readable text of a Markdown fragment: markup removed, one line per paragraph or list item."""
    return MarkdownDocument.parse(markdown).text()
