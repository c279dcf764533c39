"""The contracts every part of talksearch agrees on, defined once.

Where things live in S3 (or in a local folder laid out the same way)::

    s3://<content-bucket>/<content-prefix>/          talk summaries: *.md, *.json, *.jsonl, *.jsonl.gz
    s3://<index-bucket>/<index-prefix>/
        manifest.json                                  the one pointer readers follow (conditional writes only)
        versions/<index_version>/index.tar.gz          the packed Whoosh index of one build (the builder's own state)
        versions/<index_version>/search.pack           the same index as a search pack (talksearch.search_pack),
                                                       what the search function reads
        versions/<index_version>/manifest.json         that build's manifest, kept for rollback
        versions/<index_version>/build-state.json.gz   per source: ETag, ids and fingerprints of its talks
                                                       (read by the next incremental build, never by search)

Readers (the search function) only ever read ``manifest.json`` and then the artifact or the
search pack it names, after checking its sha256. Writers (the builder) upload the artifact and its
version manifest first and replace ``manifest.json`` last, with If-Match / If-None-Match,
so a reader never sees a half-published index and two builders never clobber each other.

Where each part finds those locations: the environment variables below, read by ``Locations``
(the rebuild function, the local stack) and ``index_location_from_env`` (the search function).

The search API's contract with its page is here too: facet names, sorts and parameter bounds
(``frontend/js/contracts.js`` is generated from them by ``python -m talksearch.page_contracts``),
and the error shape: every 4xx/5xx body is ``{"message": "..."}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Bump when the Whoosh schema or the analysis changes: the builder then rebuilds in full
#: and the search function refuses artifacts it cannot read.
SCHEMA_VERSION = 3

MANIFEST_NAME = "manifest.json"
VERSIONS_DIR = "versions"
ARTIFACT_NAME = "index.tar.gz"
#: The search pack of a version: the Whoosh index's pickle-free derivative (docs/search-pack.md).
PACK_NAME = "search.pack"
BUILD_STATE_NAME = "build-state.json.gz"
#: The compiled synonym table (shipped glossary + the site's synonyms.txt), one more file of the index
#: directory and so of the artifact; JSON read by ``talksearch.synonyms.SynonymTable.from_json``.
SYNONYMS_NAME = "synonyms.json"
#: The site's synonyms file at the content root (Solr format), read by the builder instead of parsed as talks.
SITE_SYNONYMS_NAME = "synonyms.txt"

#: Environment variables the functions and the local stack share.
ENV_INDEX_BUCKET = "INDEX_BUCKET"
ENV_INDEX_PREFIX = "INDEX_PREFIX"
ENV_CONTENT_BUCKET = "CONTENT_BUCKET"
ENV_CONTENT_PREFIX = "CONTENT_PREFIX"
ENV_REFRESH_SECONDS = "MANIFEST_REFRESH_SECONDS"
ENV_ALLOWED_ORIGINS = "ALLOWED_ORIGINS"
ENV_KEEP_VERSIONS = "KEEP_VERSIONS"
#: The search function (its alias ARN) the builder invokes after publishing, so it loads the new version.
ENV_WARM_FUNCTION = "WARM_SEARCH_FUNCTION"

#: Caps on what readers take from the index prefix (docs/reliability.md, "Caps"): a manifest lists one ETag
#: per content file (about 100 bytes each: 1 MB is 10,000 files), a build state one id and fingerprint per talk.
MAX_MANIFEST_BYTES = 1 << 20
MAX_BUILD_STATE_BYTES = 256 << 20
#: An index unpacked (the 21,713-talk corpus's: about 120 MB in 3 files).
MAX_INDEX_BYTES = 1 << 30
MAX_INDEX_FILES = 1000

DEFAULT_INDEX_PREFIX = "index"
DEFAULT_CONTENT_PREFIX = ""
DEFAULT_KEEP_VERSIONS = 5


def join_key(*parts: str) -> str:
    """Join S3 key parts with single slashes, ignoring empty parts."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def s3_location(bucket: str, prefix: str = "") -> str:
    """``s3://bucket/prefix`` (``s3://bucket`` for the whole bucket), the location form stores take."""
    prefix = prefix.strip("/")
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


@dataclass(frozen=True)
class Locations:
    """Where the content is read from and the index published to, as the functions' environment says."""

    content_bucket: str
    index_bucket: str
    content_prefix: str = DEFAULT_CONTENT_PREFIX
    index_prefix: str = DEFAULT_INDEX_PREFIX

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Locations:
        missing = [name for name in (ENV_CONTENT_BUCKET, ENV_INDEX_BUCKET) if not env.get(name, "").strip()]
        if missing:
            raise RuntimeError(f"the environment variables {', '.join(missing)} must name the buckets")
        return cls(
            content_bucket=env[ENV_CONTENT_BUCKET].strip(),
            index_bucket=env[ENV_INDEX_BUCKET].strip(),
            content_prefix=env.get(ENV_CONTENT_PREFIX, DEFAULT_CONTENT_PREFIX),
            index_prefix=env.get(ENV_INDEX_PREFIX, DEFAULT_INDEX_PREFIX),
        )

    def to_env(self) -> dict[str, str]:
        """The environment variables that give these locations (what template.yaml sets)."""
        return {
            ENV_CONTENT_BUCKET: self.content_bucket,
            ENV_CONTENT_PREFIX: self.content_prefix,
            ENV_INDEX_BUCKET: self.index_bucket,
            ENV_INDEX_PREFIX: self.index_prefix,
        }

    @property
    def content(self) -> str:
        return s3_location(self.content_bucket, self.content_prefix)

    @property
    def index(self) -> str:
        return s3_location(self.index_bucket, self.index_prefix)

    def holds(self, key: str) -> bool:
        """Whether an object key of the content bucket is content (under the prefix, not a folder marker)."""
        prefix = self.content_prefix.strip("/")
        return not key.endswith("/") and (not prefix or key.startswith(prefix + "/"))


def index_location_from_env(env: Mapping[str, str] = os.environ) -> str | None:
    """The index location alone (all the search function is given), or None when INDEX_BUCKET is not set."""
    bucket = env.get(ENV_INDEX_BUCKET, "").strip()
    return s3_location(bucket, env.get(ENV_INDEX_PREFIX, DEFAULT_INDEX_PREFIX)) if bucket else None


def manifest_key(index_prefix: str) -> str:
    return join_key(index_prefix, MANIFEST_NAME)


def version_prefix(index_prefix: str, index_version: str) -> str:
    return join_key(index_prefix, VERSIONS_DIR, index_version)


def artifact_key(index_prefix: str, index_version: str) -> str:
    return join_key(version_prefix(index_prefix, index_version), ARTIFACT_NAME)


def pack_key(index_prefix: str, index_version: str) -> str:
    return join_key(version_prefix(index_prefix, index_version), PACK_NAME)


def version_manifest_key(index_prefix: str, index_version: str) -> str:
    return join_key(version_prefix(index_prefix, index_version), MANIFEST_NAME)


def new_index_version(now: datetime | None = None, suffix: str = "") -> str:
    """A version string that sorts by build time: ``20261126T184800123Z`` plus an optional suffix."""
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"
    return f"{stamp}-{suffix}" if suffix else stamp


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` says about the published index."""

    schema_version: int
    index_version: str
    artifact_key: str
    artifact_sha256: str
    artifact_bytes: int
    talk_count: int
    built_at: str
    #: source object key -> ETag (or content hash for local files): an unchanged listing means
    #: nothing to build. Which talks each source produced is in the version's build state, which
    #: keeps this file small for the readers that poll it.
    sources: dict[str, str] = field(default_factory=dict)
    #: sha256 of the artifact's synonyms.json (glossary + synonyms.txt): a new shipped glossary changes
    #: it without any source changing, and the build is then not "unchanged"
    synonyms_sha256: str = ""
    #: The version's search pack (full key, sha256, bytes); empty in manifests written before the builder
    #: published one, whose readers use the artifact.
    pack_key: str = ""
    pack_sha256: str = ""
    pack_bytes: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        raw: dict[str, Any] = json.loads(data)
        known = {f for f in cls.__dataclass_fields__}
        missing = {"schema_version", "index_version", "artifact_key", "artifact_sha256"} - raw.keys()
        if missing:
            raise ValueError(f"manifest is missing {sorted(missing)}")
        return cls(**{k: v for k, v in raw.items() if k in known})


# --- the search API's contract with its page -------------------------------------------------------------

#: The facets /api/search filters on and counts, in the order answers list them.
FACET_NAMES = ("speaker", "company", "event", "year", "lang")
#: The index field holding each facet's exact values (the builder writes them, the search function reads them).
FACETS = dict(zip(FACET_NAMES, ("f_speaker", "f_company", "f_event", "year", "lang"), strict=True))
#: Multi-valued exact fields (speakers) are indexed as one string joined by this character.
VALUE_SEPARATOR = "\t"
SORTS = ("relevance", "date")
MAX_QUERY_CHARS = 200
MAX_PAGE = 100
MAX_SIZE = 50
DEFAULT_SIZE = 10
MAX_FACET_VALUES = 10
MAX_FACET_VALUE_CHARS = 200
#: What /api/suggest answers: at most this many suggestions, each of one of these kinds.
MAX_SUGGESTIONS = 8
SUGGESTION_KINDS = ("term", "speaker", "title")
MAX_TALK_ID_CHARS = 500

#: What the search function logs about visitors, one JSON record per search and per result opened, read back by
#: ``make stats``: the record's ``visit`` field says which; then ``query``, normalised, and either ``total``,
#: ``page``, ``sort``, ``filters`` with ``filtered`` (how many filter values) and ``took_ms``, or ``talk``.
#: Nothing about who asked: no address, agent or cookie.
VISIT_FIELD = "visit"
VISIT_SEARCH = "search"
VISIT_OPEN = "open"


def error_body(message: str) -> dict[str, str]:
    """The one JSON shape of every API error."""
    return {"message": message}


#: What the builder (after publishing) and the keep-warm schedule send the search function: it loads the
#: published index and answers without running a search. template.yaml's KeepWarm input is this JSON.
WARM_UP_EVENT: dict[str, str] = {"talksearch": "warm-up"}


def is_warm_up_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("talksearch") == WARM_UP_EVENT["talksearch"]
