"""Content files → Talk records: recap posts, single-talk Markdown, JSON and JSON Lines (optionally gzipped).

``parse_source(key, data, site)`` is the one entry point. A file that cannot be used at all raises
``ContentError`` with a reason a human can act on; a usable file with a few broken records returns
its talks plus one problem line per thing left out. A file that is not content (a layout, a draft, a
README, a blog post without talks) gives no talks and no problem. Nothing here touches S3 or the index.

    key, bytes ─► source: type, gzip, UTF-8 ─┬─ .json, .jsonl ─► records: JsonTalkParser, JsonLinesTalkParser
                                           └─ .md ─► front_matter ─► site: draft? date, URL
                                                  ─► markdown: CommonMark, capped ─┬─► recap: MarkdownRecapParser
                                                                                   └─► single_talk
"""

from __future__ import annotations

from index_builder.parsers.fields import ContentError, ParsedSource
from index_builder.parsers.front_matter import MAX_FRONT_MATTER_BYTES, split_front_matter
from index_builder.parsers.markdown import MAX_MARKDOWN_BYTES, MarkdownDocument
from index_builder.parsers.recap import MarkdownRecapParser, parse_talk_heading
from index_builder.parsers.records import JsonLinesTalkParser, JsonTalkParser
from index_builder.parsers.single_talk import SingleTalkMarkdownParser
from index_builder.parsers.site import SiteConfig
from index_builder.parsers.source import (
    JSON_SUFFIXES,
    JSONL_SUFFIXES,
    MAX_SOURCE_BYTES,
    UNSUPPORTED,
    decode,
    gunzip,
    is_supported,
    source_stem,
)
from talksearch.contracts import SITE_SYNONYMS_NAME

__all__ = [
    "MAX_FRONT_MATTER_BYTES",
    "MAX_SOURCE_BYTES",
    "ContentError",
    "ParsedSource",
    "SiteConfig",
    "is_supported",
    "parse_source",
    "parse_talk_heading",
    "source_stem",
]

NO_TALKS = (
    "no talk sections: a recap needs '## Speaker, Company' headings, "
    "and a single talk needs 'speaker' in its front matter"
)


def parse_source(key: str, data: bytes, site: SiteConfig | None = None) -> ParsedSource:
    """The talks in one content object; raises ContentError when the file is unusable."""
    site = site or SiteConfig()
    if site.is_ignored(key):
        return ParsedSource()
    name = key.lower()
    if not is_supported(key):
        if key.rsplit("/", 1)[-1] == SITE_SYNONYMS_NAME:  # the only such file read, at the root
            raise ContentError(f"{SITE_SYNONYMS_NAME} is read at the content root only; this one is not used")
        raise ContentError(UNSUPPORTED)
    if name.endswith(".gz"):
        data = gunzip(data)
    if not data.strip():
        raise ContentError("empty file")
    if b"\x00" in data[:8192]:
        raise ContentError("binary content (NUL bytes), not text")
    if name.endswith(JSONL_SUFFIXES):
        return JsonLinesTalkParser().parse(key, data, stem=source_stem(key))
    if name.endswith(JSON_SUFFIXES):
        return JsonTalkParser().parse(key, decode(data), stem=source_stem(key))
    if len(data) > MAX_MARKDOWN_BYTES:
        size = f"{MAX_MARKDOWN_BYTES // (1024 * 1024)} MB"
        raise ContentError(f"Markdown over {size}: more than a post (bulk talks belong in JSON Lines)")
    return _parse_markdown(key, decode(data), site)


def _parse_markdown(key: str, text: str, site: SiteConfig) -> ParsedSource:
    front_matter = split_front_matter(text)
    fields = front_matter.fields
    post = site.describe(key, fields)
    if post is None:  # a draft, or published: false
        return ParsedSource()
    document = MarkdownDocument.parse(front_matter.body, first_line=front_matter.body_line)
    where = {"url": post.url, "date": post.date, "stem": source_stem(key)}
    if "speaker" in fields or "speakers" in fields:
        return SingleTalkMarkdownParser().parse(key, fields, document, **where)
    result = MarkdownRecapParser().parse(key, fields, document, **where)
    if not result.talks:
        if post.in_blog:
            return ParsedSource()  # an ordinary blog post or page
        raise ContentError(NO_TALKS)
    return result
