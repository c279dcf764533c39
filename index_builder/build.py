"""List content → parse what changed → update or write the index → publish it behind the manifest.

Incremental by default. The previous build's state (every source's ETag and the id and
fingerprint of every talk it produced) travels next to its artifact, so an unchanged source
is never read again, and a changed JSON Lines file of 20,000 talks only re-indexes the talks
whose fingerprint changed. Duplicate ids are resolved the same way in both modes (the talk
from the first source key in sorted order wins, then the first in the file), so an
incremental build gives the same index as a full one.

The other stages have their own modules: ``report`` (what a build says), ``state`` (what it
remembers for the next one), ``cache`` (its local copy of the published index), ``publish``
(versions behind the manifest, retention, rollback).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from index_builder.cache import IndexCache
from index_builder.parsers import MAX_FRONT_MATTER_BYTES, MAX_SOURCE_BYTES, ContentError, SiteConfig, parse_source
from index_builder.parsers.site import ENV_SITE_URL
from index_builder.publish import delete_old_versions, publish
from index_builder.report import BuildReport, Progress, SkippedSource
from index_builder.state import BuildState, Candidate, SourceState, fingerprint, read_build_state
from index_builder.synonyms import CompiledSynonyms, compile_synonyms, read_site_synonyms, write_synonyms
from index_builder.writer import update_index, write_index
from talksearch.artifact import PackedFile, download_artifact, unpack_index
from talksearch.contracts import (
    ARTIFACT_NAME,
    DEFAULT_KEEP_VERSIONS,
    ENV_KEEP_VERSIONS,
    PACK_NAME,
    SCHEMA_VERSION,
    SITE_SYNONYMS_NAME,
    SYNONYMS_NAME,
    Manifest,
)
from talksearch.index_files import UnsafeIndexError
from talksearch.index_files.writing import WrittenPostings
from talksearch.schema import Talk
from talksearch.search_pack import MAX_PACK_BYTES
from talksearch.store import (
    LocalStore,
    ObjectTooLargeError,
    S3Store,
    Store,
    StoredObject,
    StoreError,
    download_verified,
    open_store,
)

logger = logging.getLogger("index_builder")

#: A build that keeps fewer than this share of the published talks while the content kept at
#: least this share of its bytes is refused: talks vanished because parsing broke, not because
#: content was removed.
SHRINK_GUARD = 0.5


#: When more than this share of the talks changed, writing a new index is faster than deleting
#: and re-adding them in the previous one.
MAX_INCREMENTAL_SHARE = 0.5


class BuildRefusedError(StoreError):
    """The build finished but must not replace the published index (empty, or lost most talks)."""


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
        #: the previous version's search pack, for the pack writer to keep what the update left unchanged
        self.previous_pack: bytes | memoryview | None = None
        #: a full write's postings, kept in memory for the pack writer (it then unpickles none of them back)
        self.written: WrittenPostings | None = None
        self.synonyms: CompiledSynonyms | None = None

    # --- the steps ----------------------------------------------------------------------------
    def run(self, *, full: bool) -> None:
        listing = self._list_content()
        self.report.sources_listed = len(listing)
        read_config = partial(self.content.read_bytes, max_bytes=MAX_FRONT_MATTER_BYTES)
        self.site = SiteConfig.from_files((o.key for o in listing), read_config, site_url=self.site_url)
        self.report.warnings += self.site.problems
        synonyms_key = SITE_SYNONYMS_NAME if any(o.key == SITE_SYNONYMS_NAME for o in listing) else None
        self.synonyms = compile_synonyms(read_site_synonyms(self.content, synonyms_key))
        self.report.warnings += self.synonyms.problems
        previous, previous_etag = self.index.read_manifest()
        known_state = self._previous_state(previous)  # also read by --full: the shrink guard needs its sizes
        previous_state = None if full else known_state
        if previous_state is not None and previous is not None:
            current_etags = {obj.key: obj.etag for obj in listing}
            # a new shipped glossary changes the table without any content change
            if current_etags == previous.sources and previous.synonyms_sha256 == self.synonyms.sha256:
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
                and self._update_previous(previous, index_dir, states, winners, changes)
            ):
                self.report.mode = "incremental"
                self.previous_pack = self._previous_pack(previous)
            else:
                self.report.mode = "full"
                self._write_full(index_dir, states, winners)
            self.report.talks_indexed = len(winners)
            manifest = self._publish(index_dir, states, previous_etag, len(winners))
            if self.cache is not None:
                self.cache.keep(manifest, index_dir, Path(tmp) / ARTIFACT_NAME, Path(tmp) / PACK_NAME)
        delete_old_versions(self.index, self.keep_versions)

    def _list_content(self) -> list[StoredObject]:
        self.progress("listing content…", force=True)
        excluded = _nested_index_prefix(self.content, self.index)
        return sorted(
            (obj for obj in self.content.list_objects() if not (excluded is not None and obj.key.startswith(excluded))),
            key=lambda obj: obj.key,
        )

    def _previous_state(self, previous: Manifest | None) -> dict[str, SourceState] | None:
        """The last build's per-source state, or None when a full build is needed."""
        if previous is None:
            return None
        if previous.schema_version != SCHEMA_VERSION:
            self.report.warnings.append(
                f"schema version changed ({previous.schema_version} → {SCHEMA_VERSION}): full rebuild"
            )
            return None
        try:
            state = read_build_state(self.index, previous.index_version)
        except Exception as error:  # any unreadable state only costs a full build
            self.report.warnings.append(f"previous build state unreadable ({error}): full rebuild")
            return None
        if state is None:
            return None
        if state.parse_settings != self.site.fingerprint:
            self.report.warnings.append("parsing changed (site URL, permalinks, parser): every file read again")
            return None
        self.previous_files = state.artifact_files
        return state.sources

    def _collect(
        self, listing: list[StoredObject], previous_state: dict[str, SourceState] | None
    ) -> dict[str, SourceState]:
        states: dict[str, SourceState] = {}
        for n, obj in enumerate(listing, 1):
            known = (previous_state or {}).get(obj.key)
            if obj.key == SITE_SYNONYMS_NAME:  # a source of no talks (read by run): listed for its ETag
                states[obj.key] = SourceState(etag=obj.etag, size=obj.size, parsed=True)
            elif known is not None and known.etag == obj.etag:
                states[obj.key] = known
            else:
                self.progress(f"parsing {n}/{len(listing)} {obj.key}")
                states[obj.key] = self._parse(obj)
        return states

    def _parse(self, obj: StoredObject) -> SourceState:
        state = SourceState(etag=obj.etag, size=obj.size, parsed=True)
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
            state.candidates = [Candidate(t.id, fingerprint(t), t) for t in parsed.talks]
            state.problems = parsed.problems
        return state

    def _resolve_duplicates(self, states: dict[str, SourceState]) -> dict[str, tuple[str, Candidate]]:
        """id → (source key, candidate); the first source in key order wins, then the first in the file."""
        winners: dict[str, tuple[str, Candidate]] = {}
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

    def _report_known_problems(self, previous_state: dict[str, SourceState]) -> None:
        for key in sorted(previous_state):
            if previous_state[key].skipped:
                self.report.skipped.append(SkippedSource(key, previous_state[key].skipped))

    def _guard_against_losses(
        self,
        previous: Manifest | None,
        previous_state: dict[str, SourceState] | None,
        states: dict[str, SourceState],
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
            archive = download_artifact(self.index, previous, index_dir.parent / "previous.tar.gz")
            unpack_index(archive, index_dir)
            self.previous_archive = archive
            return True
        except Exception as error:
            self.report.warnings.append(f"previous artifact unusable ({error}): full rebuild")
            shutil.rmtree(index_dir, ignore_errors=True)
            return False

    def _previous_pack(self, previous: Manifest) -> bytes | memoryview | None:
        """The previous version's search pack, from the cache or its download checked against the manifest; None
        (and the index exported whole) when there is none or it cannot be had."""
        if not previous.pack_key:
            return None
        if self.cache is not None and (data := self.cache.pack(previous)) is not None:
            return data
        try:
            return download_verified(
                self.index, previous.pack_key, previous.pack_sha256, previous.pack_bytes, MAX_PACK_BYTES
            )
        except Exception as error:  # it only saves time: without it the pack is exported whole
            self.report.warnings.append(f"previous search pack unusable ({error}): written from the whole index")
            return None

    def _update_previous(
        self,
        previous: Manifest,
        index_dir: Path,
        states: dict[str, SourceState],
        winners: dict[str, tuple[str, Candidate]],
        changes: tuple[set[str], set[str]],
    ) -> bool:
        """Update the previous index in place; False (and nothing of it kept) when it holds a hostile pickle."""
        try:
            self._update(index_dir, states, winners, *changes)
        except UnsafeIndexError as error:
            self.report.warnings.append(f"previous index {previous.index_version} refused ({error}): full rebuild")
            shutil.rmtree(index_dir, ignore_errors=True)
            self.previous_archive, self.previous_files = None, {}  # none of its bytes go into the new artifact
            self.report.talks_added = self.report.talks_changed = self.report.talks_removed = 0
            return False
        return True

    def _talks_of(self, key: str, states: dict[str, SourceState], ids: set[str]) -> Iterator[Talk]:
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
        self, index_dir: Path, states: dict[str, SourceState], winners: dict[str, tuple[str, Candidate]]
    ) -> None:
        by_source: dict[str, set[str]] = {}  # one pass over the winners (per source it cost 4 s at 540 files)
        for talk_id, (key, _) in winners.items():
            by_source.setdefault(key, set()).add(talk_id)

        def talks() -> Iterator[Talk]:
            for key in sorted(states):
                yield from self._talks_of(key, states, by_source.get(key, set()))

        total = len(winners)
        self.written = write_index(
            talks(), index_dir, progress=lambda n: self.progress(f"indexing {n:,}/{total:,} talks")
        )
        self.report.talks_added = total

    def _changes(
        self, previous_state: dict[str, SourceState], winners: dict[str, tuple[str, Candidate]]
    ) -> tuple[set[str], set[str]]:
        """(ids to delete, ids to add): talks that vanished or changed, talks that appeared or changed."""
        old = self._resolve_silently(previous_state)
        new = {talk_id: (key, c.fingerprint) for talk_id, (key, c) in winners.items()}
        return {i for i in old if old[i] != new.get(i)}, {i for i in new if old.get(i) != new[i]}

    def _update(
        self,
        index_dir: Path,
        states: dict[str, SourceState],
        winners: dict[str, tuple[str, Candidate]],
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
    def _resolve_silently(states: dict[str, SourceState]) -> dict[str, tuple[str, str]]:
        winners: dict[str, tuple[str, str]] = {}
        for key in sorted(states):
            if not states[key].skipped:
                for candidate in states[key].candidates:
                    winners.setdefault(candidate.id, (key, candidate.fingerprint))
        return winners

    def _publish(
        self, index_dir: Path, states: dict[str, SourceState], expected_etag: str | None, count: int
    ) -> Manifest:
        if self.synonyms is not None:
            write_synonyms(index_dir, self.synonyms)
        # the previous artifact's members are reused by name and size, which only Whoosh's never
        # rewritten files guarantee: the table is always packed anew
        previous_files = {name: f for name, f in self.previous_files.items() if name != SYNONYMS_NAME}
        reuse = (self.previous_archive, previous_files) if self.previous_archive and previous_files else None
        manifest = publish(
            self.index,
            index_dir,
            BuildState(states, parse_settings=self.site.fingerprint),
            expected_etag=expected_etag,
            talk_count=count,
            previous=reuse,
            progress=self.progress,
            previous_pack=self.previous_pack,
            written=self.written,
        )
        self.report.status = "published"
        self.report.index_version = manifest.index_version
        self.report.artifact_bytes = manifest.artifact_bytes
        self.report.message = f"{count:,} talks published as version {manifest.index_version}"
        return manifest


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
