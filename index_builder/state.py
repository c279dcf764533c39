"""The build state: what each content source produced, kept next to each version for the next build.

For every source: its ETag and size, the id and fingerprint of each talk it produced, its skip
reason or dropped records; where each index file sits in the version's artifact; and what the
files were parsed with. The next
incremental build reads it to skip unchanged sources and re-index only changed talks; the search
function never reads it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass, field, fields

from talksearch.artifact import PackedFile
from talksearch.contracts import BUILD_STATE_NAME, MAX_BUILD_STATE_BYTES, SCHEMA_VERSION, VERSIONS_DIR, join_key
from talksearch.schema import Talk
from talksearch.store import ObjectTooLargeError, Store


@dataclass
class Candidate:
    """A talk a source produced: its id and fingerprint always, the Talk only if parsed this run."""

    id: str
    fingerprint: str
    talk: Talk | None = None


@dataclass
class SourceState:
    etag: str
    size: int
    candidates: list[Candidate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None  # why the whole file was skipped
    parsed: bool = False  # parsed in this run (its Talks are in memory)

    def to_json(self) -> dict:
        return {
            "etag": self.etag,
            "size": self.size,
            "talks": [[c.id, c.fingerprint] for c in self.candidates],
            "problems": self.problems,
            "skipped": self.skipped,
        }

    @classmethod
    def from_json(cls, raw: dict) -> SourceState:
        return cls(
            etag=raw["etag"],
            size=raw["size"],
            candidates=[Candidate(i, f) for i, f in raw["talks"]],
            problems=list(raw.get("problems", [])),
            skipped=raw.get("skipped"),
        )


@dataclass
class BuildState:
    """One version's build state: per source (by object key), per file of its artifact, and the fingerprint
    of the parse settings it was parsed with (``SiteConfig.fingerprint``: another one means every file is
    read again)."""

    sources: dict[str, SourceState]
    artifact_files: dict[str, PackedFile] = field(default_factory=dict)
    parse_settings: str | None = None


_TALK_FIELDS = tuple(f.name for f in fields(Talk))


def fingerprint(talk: Talk) -> str:
    """A short hash of everything a talk shows or is searched by: equal fingerprints, equal documents."""
    data = json.dumps([getattr(talk, name) for name in _TALK_FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(data.encode("utf-8"), digest_size=10).hexdigest()


def read_build_state(store: Store, index_version: str) -> BuildState | None:
    """The version's build state, or None when it was written for another schema version.

    Raises whatever reading or decoding it raises: the caller falls back to a full build.
    """
    key = join_key(VERSIONS_DIR, index_version, BUILD_STATE_NAME)
    raw = json.loads(_gunzip(key, store.read_bytes(key, max_bytes=MAX_BUILD_STATE_BYTES), MAX_BUILD_STATE_BYTES))
    if raw.get("schema_version") != SCHEMA_VERSION:
        return None
    return BuildState(
        sources={key: SourceState.from_json(value) for key, value in raw["sources"].items()},
        artifact_files={name: PackedFile(*numbers) for name, numbers in raw.get("artifact_files", {}).items()},
        parse_settings=raw.get("parse_settings"),
    )


def _gunzip(key: str, data: bytes, max_bytes: int) -> bytes:
    """Decompress a gzip member into at most ``max_bytes``: a small file that inflates to gigabytes is refused
    once ``max_bytes`` are out, never decompressed whole."""
    inflater = zlib.decompressobj(31)  # 31: gzip
    out = inflater.decompress(data, max_bytes + 1)
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise ObjectTooLargeError(f"{key} decompresses to over {max_bytes:,} bytes")
    if not inflater.eof:
        raise ValueError(f"{key} is not a complete gzip file")
    return out


def write_build_state(store: Store, index_version: str, state: BuildState) -> None:
    blob = {
        "schema_version": SCHEMA_VERSION,
        "parse_settings": state.parse_settings,
        "sources": {key: source.to_json() for key, source in state.sources.items()},
        "artifact_files": {name: [f.size, f.offset, f.length] for name, f in state.artifact_files.items()},
    }
    store.write_bytes(
        join_key(VERSIONS_DIR, index_version, BUILD_STATE_NAME),
        gzip.compress(json.dumps(blob, ensure_ascii=False).encode("utf-8"), compresslevel=5),
    )
