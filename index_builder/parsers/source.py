"""A content object's bytes: its type from its key, gzip with a cap on what it expands to, UTF-8 text."""

from __future__ import annotations

import zlib

from index_builder.parsers.fields import ContentError

#: Biggest content object the builder reads, and the most a gzipped one may expand to.
MAX_SOURCE_BYTES = 64 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024

MARKDOWN_SUFFIXES = (".md", ".markdown")
JSON_SUFFIXES = (".json", ".json.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
UNSUPPORTED = "unsupported file type (expected .md, .markdown, .json, .jsonl, optionally .gz)"


def is_supported(key: str) -> bool:
    return key.lower().endswith(MARKDOWN_SUFFIXES + JSON_SUFFIXES + JSONL_SUFFIXES)


def source_stem(key: str) -> str:
    """The key without its content-type suffixes: ``recaps/devfest.md`` → ``recaps/devfest``."""
    lowered = key.lower()
    for suffix in sorted(MARKDOWN_SUFFIXES + JSON_SUFFIXES + JSONL_SUFFIXES, key=len, reverse=True):
        if lowered.endswith(suffix):
            return key[: -len(suffix)]
    return key


def gunzip(data: bytes) -> bytes:
    """Decompress, refusing gzip bombs: stop as soon as the output passes the cap."""
    inflater = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header
    try:
        out = inflater.decompress(data, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error as error:
        raise ContentError(f"not a valid gzip file ({error})") from None
    if len(out) > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
        raise ContentError(f"decompresses to more than {MAX_DECOMPRESSED_BYTES:,} bytes (size cap)")
    return out


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = data[error.start : error.start + 1]
        raise ContentError(f"not valid UTF-8 text (byte 0x{bad.hex()} at offset {error.start})") from None
