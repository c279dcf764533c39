"""List content → parse what changed → update or write the index → publish it behind the manifest.

Incremental by default. The previous build's state (every source's ETag and the id and
fingerprint of every talk it produced) travels next to its artifact, so an unchanged source
is never read again, and a changed JSON Lines file of 20,000 talks only re-indexes the talks
whose fingerprint changed. Duplicate ids are resolved the same way in both modes (the talk
from the first source key in sorted order wins, then the first in the file), so an
incremental build gives the same index as a full one.

Publishing: pack → upload the artifact and the build state under a new version → write the
version's manifest → replace ``manifest.json`` with a conditional write. Anything that fails
before that last step leaves the published index untouched.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from index_builder.parsers import MAX_FRONT_MATTER_BYTES, MAX_SOURCE_BYTES, ContentError, SiteConfig, parse_source
from index_builder.parsers.site import ENV_SITE_URL
from index_builder.writer import update_index, write_index
from talksearch.contracts import (
    BUILD_STATE_NAME,
    DEFAULT_KEEP_VERSIONS,
    ENV_KEEP_VERSIONS,
    SCHEMA_VERSION,
    VERSIONS_DIR,
    Manifest,
    join_key,
    new_index_version,
)
from talksearch.schema import Talk
from talksearch.store import (
    LocalStore,
    ManifestConflictError,
    ObjectTooLargeError,
    PackedFile,
    S3Store,
    Store,
    StoredObject,
    StoreError,
    open_store,
    pack_index,
    unpack_index,
)

logger = logging.getLogger("index_builder")

#: A build that keeps fewer than this share of the published talks while the content kept at
#: least this share of its bytes is refused: talks vanished because parsing broke, not because
#: content was removed.
SHRINK_GUARD = 0.5


#: When more than this share of the talks changed, writing a new index is faster than deleting
#: and re-adding them in the previous one.
MAX_INCREMENTAL_SHARE = 0.5

#: Where the builder keeps its local copy of the last published index ("off" to disable).
ENV_BUILD_CACHE = "TALKSEARCH_BUILD_CACHE"

#: The text report lists this many warnings (duplicate ids can be thousands); --json has them all.
MAX_LISTED_WARNINGS = 20


class BuildRefusedError(StoreError):
    """The build finished but must not replace the published index (empty, or lost most talks)."""


@dataclass(frozen=True)
class SkippedSource:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class BuildReport:
    """What a build did; ``published`` says whether readers now see a new index."""

    source: str
    index: str
    status: str = "failed"  # "published", "unchanged" (nothing to do) or "refused"
    message: str = ""
    mode: str = "full"  # "full" or "incremental"
    index_version: str | None = None
    talks_indexed: int = 0
    talks_added: int = 0  # new ids
    talks_changed: int = 0  # ids kept whose content changed (re-indexed)
    talks_removed: int = 0  # ids gone
    sources_listed: int = 0
    sources_parsed: int = 0
    skipped: list[SkippedSource] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    artifact_bytes: int = 0

    @property
    def published(self) -> bool:
        return self.status == "published"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["published"] = self.published
        data["skipped"] = [asdict(s) for s in self.skipped]
        return data

    def format(self) -> str:
        """The end-of-build report for humans."""
        lines = [
            f"{self.status}: {self.message}",
            f"  mode {self.mode}, version {self.index_version or '-'}",
            f"  talks indexed {self.talks_indexed:,} (+{self.talks_added:,} new, "
            f"{self.talks_changed:,} changed, -{self.talks_removed:,} gone)",
            f"  sources listed {self.sources_listed:,}, parsed {self.sources_parsed:,}, skipped {len(self.skipped):,}",
            f"  artifact {self.artifact_bytes / 1e6:.1f} MB, duration {self.duration_seconds:.2f} s",
        ]
        lines += [f"  skipped {s}" for s in self.skipped]
        lines += [f"  warning {w}" for w in self.warnings[:MAX_LISTED_WARNINGS]]
        if len(self.warnings) > MAX_LISTED_WARNINGS:
            lines.append(f"  … and {len(self.warnings) - MAX_LISTED_WARNINGS:,} more warnings (--json lists them all)")
        return "\n".join(lines)


@dataclass
class _Candidate:
    """A talk a source produced: its id and fingerprint always, the Talk only if parsed this run."""

    id: str
    fingerprint: str
    talk: Talk | None = None


@dataclass
class _SourceState:
    etag: str
    size: int
    candidates: list[_Candidate] = field(default_factory=list)
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
    def from_json(cls, raw: dict) -> _SourceState:
        return cls(
            etag=raw["etag"],
            size=raw["size"],
            candidates=[_Candidate(i, f) for i, f in raw["talks"]],
            problems=list(raw.get("problems", [])),
            skipped=raw.get("skipped"),
        )


_TALK_FIELDS = tuple(f.name for f in fields(Talk))


def fingerprint(talk: Talk) -> str:
    """A short hash of everything a talk shows or is searched by: equal fingerprints, equal documents."""
    data = json.dumps([getattr(talk, name) for name in _TALK_FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(data.encode("utf-8"), digest_size=10).hexdigest()


class Progress:
    """One overwritten status line on a terminal; silent in Lambda, CI logs and pipes."""

    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty() and "AWS_LAMBDA_FUNCTION_NAME" not in os.environ
        self.enabled = enabled
        self._last = 0.0

    def __call__(self, message: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.enabled and (force or now - self._last > 0.2):
            self._last = now
            sys.stderr.write(f"\r\033[K{message}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def keep_versions_from_env() -> int:
    raw = os.environ.get(ENV_KEEP_VERSIONS, "")
    return int(raw) if raw.strip().isdigit() and int(raw) > 0 else DEFAULT_KEEP_VERSIONS


def build_and_publish(
    source: str,
    index: str,
    *,
    full: bool = False,
    keep_versions: int | None = None,
    max_source_bytes: int = MAX_SOURCE_BYTES,
    progress: bool | None = None,
    site_url: str | None = None,
) -> BuildReport:
    """Build the index of everything under ``source`` and publish it under ``index``.

    Returns a report whose ``status`` is "published", "unchanged" (content identical to the
    published build) or "refused" (empty result, or most talks lost while content did not
    shrink: the published index is kept). Raises ``ManifestConflictError`` when another build
    published first, and lets storage errors propagate; in every failing case the published
    manifest is untouched. ``site_url`` (default ``$TALKSEARCH_SITE_URL``) is the blog's address for
    talk links, over what the content's ``_config.yml`` or ``hugo.toml`` says.
    """
    started = time.perf_counter()
    report = BuildReport(source=str(source), index=str(index))
    builder = _Build(
        open_store(source),
        open_store(index),
        report,
        keep_versions=keep_versions or keep_versions_from_env(),
        max_source_bytes=max_source_bytes,
        progress=Progress(progress),
        site_url=site_url or os.environ.get(ENV_SITE_URL),
    )
    try:
        builder.run(full=full)
    except BuildRefusedError as refusal:
        logger.warning("build refused: %s", refusal)
    finally:
        builder.progress.done()
        report.duration_seconds = round(time.perf_counter() - started, 3)
    return report


class _Build:
    def __init__(
        self,
        content: Store,
        index: Store,
        report: BuildReport,
        *,
        keep_versions: int,
        max_source_bytes: int,
        progress: Progress,
        site_url: str | None = None,
    ) -> None:
        self.content = content
        self.index = index
        self.report = report
        self.keep_versions = keep_versions
        self.max_source_bytes = max_source_bytes
        self.progress = progress
        self.site_url = site_url
        self.site = SiteConfig()
        self.cache = IndexCache.for_location(index.location)
        #: the previous artifact on local disk and where its files are in it, for pack_index to reuse
        self.previous_files: dict[str, PackedFile] = {}
        self.previous_archive: Path | None = None

    # --- the steps ----------------------------------------------------------------------------
    def run(self, *, full: bool) -> None:
        listing = self._list_content()
        self.report.sources_listed = len(listing)
        read_config = partial(self.content.read_bytes, max_bytes=MAX_FRONT_MATTER_BYTES)
        self.site = SiteConfig.from_files((o.key for o in listing), read_config, site_url=self.site_url)
        self.report.warnings += self.site.problems
        previous, previous_etag = self.index.read_manifest()
        known_state = self._previous_state(previous)  # also read by --full: the shrink guard needs its sizes
        previous_state = None if full else known_state
        if previous_state is not None and previous is not None:
            current_etags = {obj.key: obj.etag for obj in listing}
            if current_etags == previous.sources:
                self.report.mode = "incremental"
                self.report.status = "unchanged"
                self.report.message = "content unchanged since the published build"
                self.report.index_version = previous.index_version
                self.report.talks_indexed = previous.talk_count
                self._report_known_problems(previous_state)
                return

        states = self._collect(listing, previous_state)
        winners = self._resolve_duplicates(states)
        self._guard_against_losses(previous, known_state, states, len(winners))

        with tempfile.TemporaryDirectory(prefix="talksearch-build-") as tmp:
            index_dir = Path(tmp) / "index"
            changes = self._changes(previous_state, winners) if previous_state is not None else None
            if (
                changes is not None
                and previous is not None
                and len(changes[0]) + len(changes[1]) <= MAX_INCREMENTAL_SHARE * len(winners)
                and self._download_previous(previous, index_dir)
            ):
                self.report.mode = "incremental"
                self._update(index_dir, states, winners, *changes)
            else:
                self.report.mode = "full"
                self._write_full(index_dir, states, winners)
            self.report.talks_indexed = len(winners)
            manifest = self._publish(Path(tmp), index_dir, states, previous_etag, len(winners))
            if self.cache is not None:
                self.cache.keep(manifest, index_dir, Path(tmp) / "index.tar.gz")
        self._delete_old_versions()

    def _list_content(self) -> list[StoredObject]:
        self.progress("listing content…", force=True)
        excluded = _nested_index_prefix(self.content, self.index)
        return sorted(
            (obj for obj in self.content.list_objects() if not (excluded is not None and obj.key.startswith(excluded))),
            key=lambda obj: obj.key,
        )

    def _previous_state(self, previous: Manifest | None) -> dict[str, _SourceState] | None:
        """The last build's per-source state, or None when a full build is needed."""
        if previous is None:
            return None
        if previous.schema_version != SCHEMA_VERSION:
            self.report.warnings.append(
                f"schema version changed ({previous.schema_version} → {SCHEMA_VERSION}): full rebuild"
            )
            return None
        key = join_key(VERSIONS_DIR, previous.index_version, BUILD_STATE_NAME)
        try:
            raw = json.loads(gzip.decompress(self.index.read_bytes(key)))
            if raw.get("schema_version") != SCHEMA_VERSION:
                return None
            if raw.get("parse_settings") != self.site.fingerprint:
                self.report.warnings.append("parsing changed (site URL, permalinks, parser): every file read again")
                return None
            self.previous_files = {
                name: PackedFile(*numbers) for name, numbers in raw.get("artifact_files", {}).items()
            }
            return {k: _SourceState.from_json(v) for k, v in raw["sources"].items()}
        except Exception as error:  # any unreadable state only costs a full build
            self.report.warnings.append(f"previous build state unreadable ({error}): full rebuild")
            return None

    def _collect(
        self, listing: list[StoredObject], previous_state: dict[str, _SourceState] | None
    ) -> dict[str, _SourceState]:
        states: dict[str, _SourceState] = {}
        for n, obj in enumerate(listing, 1):
            known = (previous_state or {}).get(obj.key)
            if known is not None and known.etag == obj.etag:
                states[obj.key] = known
            else:
                self.progress(f"parsing {n}/{len(listing)} {obj.key}")
                states[obj.key] = self._parse(obj)
        return states

    def _parse(self, obj: StoredObject) -> _SourceState:
        state = _SourceState(etag=obj.etag, size=obj.size, parsed=True)
        self.report.sources_parsed += 1
        try:
            data = self.content.read_bytes(obj.key, max_bytes=self.max_source_bytes)
            parsed = parse_source(obj.key, data, self.site)
        except ObjectTooLargeError as error:
            state.skipped = f"too large: {error} (to index it, raise --max-file-mb and build with --full)"
        except ContentError as error:
            state.skipped = str(error)
        except Exception as error:  # a parser bug on one file must not stop the build
            logger.exception("unexpected error parsing %s", obj.key)
            state.skipped = f"unexpected error: {type(error).__name__}: {error}"
        else:
            state.candidates = [_Candidate(t.id, fingerprint(t), t) for t in parsed.talks]
            state.problems = parsed.problems
        return state

    def _resolve_duplicates(self, states: dict[str, _SourceState]) -> dict[str, tuple[str, _Candidate]]:
        """id → (source key, candidate); the first source in key order wins, then the first in the file."""
        winners: dict[str, tuple[str, _Candidate]] = {}
        for key in sorted(states):
            state = states[key]
            if state.skipped:
                self.report.skipped.append(SkippedSource(key, state.skipped))
                continue
            for problem in state.problems:
                self.report.warnings.append(f"{key}: skipped {problem}")
            for candidate in state.candidates:
                if candidate.id in winners:
                    kept_from = winners[candidate.id][0]
                    where = "earlier in the same file" if kept_from == key else f"from {kept_from}"
                    self.report.warnings.append(
                        f"{key}: duplicate talk id {candidate.id!r} ignored (kept the one {where})"
                    )
                    continue
                winners[candidate.id] = (key, candidate)
        return winners

    def _report_known_problems(self, previous_state: dict[str, _SourceState]) -> None:
        for key in sorted(previous_state):
            if previous_state[key].skipped:
                self.report.skipped.append(SkippedSource(key, previous_state[key].skipped))

    def _guard_against_losses(
        self,
        previous: Manifest | None,
        previous_state: dict[str, _SourceState] | None,
        states: dict[str, _SourceState],
        talk_count: int,
    ) -> None:
        if talk_count == 0:
            self._refuse("no talks found: refusing to publish an empty index")
        if previous is None or previous.talk_count == 0 or talk_count >= SHRINK_GUARD * previous.talk_count:
            return
        previous_bytes = sum(s.size for s in (previous_state or {}).values()) or None
        current_bytes = sum(s.size for s in states.values())
        if previous_bytes is None or current_bytes >= SHRINK_GUARD * previous_bytes:
            self._refuse(
                f"only {talk_count:,} talks, down from {previous.talk_count:,}, while the content did not shrink "
                "as much: refusing to replace the published index (see skipped files)"
            )

    def _refuse(self, message: str) -> None:
        self.report.status = "refused"
        self.report.message = message
        raise BuildRefusedError(message)

    def _download_previous(self, previous: Manifest, index_dir: Path) -> bool:
        if self.cache is not None and (archive := self.cache.restore(previous, index_dir)):
            self.previous_archive = archive
            return True
        self.progress("downloading the previous index…", force=True)
        try:
            archive = self.index.download_artifact(previous, index_dir.parent / "previous.tar.gz")
            unpack_index(archive, index_dir)
            self.previous_archive = archive
            return True
        except Exception as error:
            self.report.warnings.append(f"previous artifact unusable ({error}): full rebuild")
            shutil.rmtree(index_dir, ignore_errors=True)
            return False

    def _talks_of(self, key: str, states: dict[str, _SourceState], ids: set[str]) -> Iterator[Talk]:
        """The Talk objects of ``ids`` from one source, parsing it now if it was reused unread."""
        state = states[key]
        if not state.parsed:
            fresh = self._parse(StoredObject(key=key, etag=state.etag, size=state.size))
            state.candidates, state.parsed = fresh.candidates, True
        for candidate in state.candidates:
            if candidate.id in ids and candidate.talk is not None:
                ids.discard(candidate.id)
                yield candidate.talk

    def _write_full(
        self, index_dir: Path, states: dict[str, _SourceState], winners: dict[str, tuple[str, _Candidate]]
    ) -> None:
        def talks() -> Iterator[Talk]:
            for key in sorted(states):
                yield from self._talks_of(key, states, {i for i, (k, _) in winners.items() if k == key})

        total = len(winners)
        write_index(talks(), index_dir, progress=lambda n: self.progress(f"indexing {n:,}/{total:,} talks"))
        self.report.talks_added = total

    def _changes(
        self, previous_state: dict[str, _SourceState], winners: dict[str, tuple[str, _Candidate]]
    ) -> tuple[set[str], set[str]]:
        """(ids to delete, ids to add): talks that vanished or changed, talks that appeared or changed."""
        old = self._resolve_silently(previous_state)
        new = {talk_id: (key, c.fingerprint) for talk_id, (key, c) in winners.items()}
        return {i for i in old if old[i] != new.get(i)}, {i for i in new if old.get(i) != new[i]}

    def _update(
        self,
        index_dir: Path,
        states: dict[str, _SourceState],
        winners: dict[str, tuple[str, _Candidate]],
        removed: set[str],
        added: set[str],
    ) -> None:
        by_source: dict[str, set[str]] = {}
        for talk_id in added:
            by_source.setdefault(winners[talk_id][0], set()).add(talk_id)
        talks = [t for key in sorted(by_source) for t in self._talks_of(key, states, by_source[key])]
        self.progress(f"updating the index: -{len(removed):,} +{len(talks):,} talks", force=True)
        update_index(index_dir, remove_ids=sorted(removed), add=talks)
        self.report.talks_added = len(added - removed)
        self.report.talks_changed = len(added & removed)
        self.report.talks_removed = len(removed - added)

    @staticmethod
    def _resolve_silently(states: dict[str, _SourceState]) -> dict[str, tuple[str, str]]:
        winners: dict[str, tuple[str, str]] = {}
        for key in sorted(states):
            if not states[key].skipped:
                for candidate in states[key].candidates:
                    winners.setdefault(candidate.id, (key, candidate.fingerprint))
        return winners

    def _publish(
        self, workdir: Path, index_dir: Path, states: dict[str, _SourceState], expected_etag: str | None, count: int
    ) -> Manifest:
        self.progress("packing the index…", force=True)
        archive = workdir / "index.tar.gz"
        reuse = (self.previous_archive, self.previous_files) if self.previous_archive and self.previous_files else None
        packed = pack_index(index_dir, archive, previous=reuse)
        sha256, size = packed.sha256, packed.size
        version = new_index_version(suffix=sha256[:8])
        self.progress(f"uploading {size / 1e6:.1f} MB as version {version}…", force=True)
        artifact_key, _, _ = self.index.upload_artifact(archive, version)
        manifest = Manifest(
            schema_version=SCHEMA_VERSION,
            index_version=version,
            artifact_key=artifact_key,
            artifact_sha256=sha256,
            artifact_bytes=size,
            talk_count=count,
            built_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            sources={key: state.etag for key, state in states.items()},
        )
        state_blob = {
            "schema_version": SCHEMA_VERSION,
            "parse_settings": self.site.fingerprint,
            "sources": {k: s.to_json() for k, s in states.items()},
            "artifact_files": {name: [f.size, f.offset, f.length] for name, f in packed.files.items()},
        }
        self.index.write_bytes(
            join_key(VERSIONS_DIR, version, BUILD_STATE_NAME),
            gzip.compress(json.dumps(state_blob, ensure_ascii=False).encode("utf-8"), compresslevel=5),
        )
        self.index.write_version_manifest(manifest)  # written last: marks the version complete
        try:
            self.index.write_manifest(manifest, expected_etag)
        except ManifestConflictError:
            self.index.delete_version(version)  # nobody points at it; do not leave it behind
            raise
        self.report.status = "published"
        self.report.index_version = version
        self.report.artifact_bytes = size
        self.report.message = f"{count:,} talks published as version {version}"
        return manifest

    def _delete_old_versions(self) -> None:
        """Keep the newest ``keep_versions`` versions, and always the published one."""
        current, _ = self.index.read_manifest()
        versions = self.index.list_versions()
        keep = set(versions[-self.keep_versions :])
        if current is not None:
            keep.add(current.index_version)
        for version in versions:
            if version not in keep:
                self.index.delete_version(version)


class IndexCache:
    """The last published index, unpacked, kept on local disk for the next incremental build.

    A warm Lambda (``/tmp``) or a developer's machine then skips downloading and unpacking the
    previous artifact. An entry is trusted only for the artifact checksum it was made from, and
    files are hard-linked out of it (Whoosh never rewrites a file, it adds new ones), so a build
    cannot alter it. ``TALKSEARCH_BUILD_CACHE`` sets the folder; ``off`` disables the cache.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def for_location(cls, location: str) -> IndexCache | None:
        setting = os.environ.get(ENV_BUILD_CACHE, "")
        if setting.lower() == "off":
            return None
        root = Path(setting) if setting else Path(tempfile.gettempdir()) / "talksearch-build-cache"
        return cls(root / hashlib.sha256(location.encode("utf-8")).hexdigest()[:16])

    def restore(self, manifest: Manifest, index_dir: Path) -> Path | None:
        """Link the cached index into ``index_dir``; returns the cached artifact, or None on a miss."""
        entry = self.directory / manifest.index_version
        try:
            if (self.directory / f"{manifest.index_version}.sha256").read_text() != manifest.artifact_sha256:
                return None
            index_dir.mkdir(parents=True)
            for path in (entry / "index").iterdir():
                _link_or_copy(path, index_dir / path.name)
            return entry / "index.tar.gz"
        except OSError:
            shutil.rmtree(index_dir, ignore_errors=True)
            return None

    def keep(self, manifest: Manifest, index_dir: Path, archive: Path) -> None:
        """Replace the cached entry with the index just published (best effort: a cache is optional)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for old in self.directory.iterdir():
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink(missing_ok=True)
            entry = self.directory / manifest.index_version
            entry.mkdir()
            shutil.move(index_dir, entry / "index")
            shutil.move(archive, entry / "index.tar.gz")
            (self.directory / f"{manifest.index_version}.sha256").write_text(manifest.artifact_sha256)
        except OSError as error:
            logger.warning("could not cache the built index in %s: %s", self.directory, error)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _nested_index_prefix(content: Store, index: Store) -> str | None:
    """The content-relative prefix of the index when it lives inside the content tree (never index it)."""
    if isinstance(content, S3Store) and isinstance(index, S3Store) and content.bucket == index.bucket:
        if not content.prefix:
            return index.prefix + "/" if index.prefix else ""
        if index.prefix.startswith(content.prefix + "/"):
            return index.prefix[len(content.prefix) + 1 :] + "/"
    if isinstance(content, LocalStore) and isinstance(index, LocalStore):
        try:
            inner = index.root.resolve().relative_to(content.root.resolve())
        except ValueError:
            return None
        return "" if str(inner) == "." else inner.as_posix() + "/"
    return None


def rollback(index: str, *, to: str | None = None) -> Manifest:
    """Point the manifest back at an earlier version (default: the one before the published one).

    The target's artifact is downloaded and its sha256 checked first, and the manifest is
    replaced conditionally, like a publish.
    """
    store = open_store(index)
    current, etag = store.read_manifest()
    versions = [v for v in store.list_versions() if store.read_version_manifest(v) is not None]
    if to is None:
        if current is None:
            raise StoreError(f"nothing is published under {store.location}")
        older = [v for v in versions if v < current.index_version]
        if not older:
            raise StoreError(f"no version older than {current.index_version} is kept under {store.location}")
        to = older[-1]
    target = store.read_version_manifest(to)
    if target is None:
        raise StoreError(f"version {to} is not kept under {store.location}; kept: {', '.join(versions) or 'none'}")
    with tempfile.TemporaryDirectory(prefix="talksearch-rollback-") as tmp:
        store.download_artifact(target, Path(tmp) / "index.tar.gz")
    store.write_manifest(target, etag)
    return target
