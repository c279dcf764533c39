"""Which index version the warm container serves, and how it moves to the next one.

At most every ``MANIFEST_REFRESH_SECONDS`` the first request to arrive starts a check of the
manifest (one small GET, signed by ``talksearch.s3_get``: this function imports no boto3) in a
background thread and is answered from the current version at once.
When the manifest names a new version, that thread downloads the version's search pack into memory
(``talksearch.store.download_verified``: one GET into one buffer of the manifest's byte count, its
sha256 checked), opens it (``talksearch.search_pack.PackFiles``) and only then swaps it in: no visitor
waits for S3, however slow it is. Nothing is written to /tmp. One check or swap is in flight at a time.
Lambda freezes the container between invocations, so a swap progresses only while some invocation
runs: it completes over the next requests (docs/reliability.md, "The swap off the request path").
A cold container has nothing to answer from and loads the first version inside the request.
Requests already running keep the engine they started with, and a missing, corrupt or unreadable
pack leaves the current version serving (logged as an error, retried at the next check); a pack the
reader refuses at open (``PackError``) is refused, logged, and never tried again, even if a later
manifest names it again. The same goes for a version in which a query meets a damaged section of the
pack (``PackError`` from a read): ``refuse`` goes back to the previous version, if there is one. The
previous version stays open for requests still using it; older ones are dropped.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable
from threading import Lock, Thread

from talksearch.contracts import ENV_REFRESH_SECONDS, SCHEMA_VERSION, Manifest

logger = logging.getLogger(__name__)

DEFAULT_REFRESH_SECONDS = 60.0


def refresh_seconds_from_env() -> float:
    raw = os.environ.get(ENV_REFRESH_SECONDS, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_REFRESH_SECONDS
    except ValueError:
        logger.error("%s=%r is not a number; using %s", ENV_REFRESH_SECONDS, raw, DEFAULT_REFRESH_SECONDS)
        return DEFAULT_REFRESH_SECONDS


class IndexHolder:
    """The current ``SearchEngine`` of one index location, refreshed from its manifest."""

    def __init__(
        self,
        location: str,
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        log: logging.Logger | None = None,
    ) -> None:
        self.location = location
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        #: the function passes its Powertools Logger: these errors then carry the request's correlation id
        self.log = log or logger
        self._store = None
        self._engine = None
        self._previous = None
        self._manifest_etag: str | None = None
        self._next_check = float("-inf")
        #: held while a check or swap is in flight: at most one at a time, released by whoever ran it
        self._lock = Lock()
        #: held only while ``_engine``/``_previous`` change (a swap, a refusal), never across S3 or a load
        self._serving = Lock()
        #: versions refused at load or by a query: never served again, whatever the manifest says
        self._refused: set[str] = set()

    @property
    def store(self):
        if self._store is None:
            from talksearch.store import open_reader

            self._store = open_reader(self.location)
        return self._store

    def engine(self):
        """The engine to answer this request with (None while no index has ever been loaded).

        Cold (no engine yet), the check runs in this request: it has nothing else to answer from, and
        requests arriving meanwhile wait for it. Warm, a due check starts in the background and this
        request gets the current engine at once.
        """
        if self._clock() < self._next_check:
            return self._engine
        if self._engine is None:
            with self._lock:
                if self._engine is None and self._clock() >= self._next_check:
                    self._refresh()
        elif self._lock.acquire(blocking=False):
            try:
                Thread(target=self._refresh_in_background, name="index-swap", daemon=True).start()
            except BaseException:
                self._lock.release()
                raise
        return self._engine

    def wait_for_swap(self, timeout: float) -> bool:
        """True once no check or swap is in flight (False after ``timeout`` seconds): for callers that need a
        check's outcome, such as tests."""
        if not self._lock.acquire(timeout=timeout):
            return False
        self._lock.release()
        return True

    def _refresh_in_background(self) -> None:
        try:
            if self._clock() >= self._next_check:
                self._refresh()
        except Exception:  # _refresh logs what it expects; anything else must not end the thread silently
            self.log.exception("index check failed; still serving %s", self.version)
        finally:
            self._lock.release()

    def refresh(self) -> bool:
        """Check the manifest now, after any check in flight (the builder's warm-up); True when a new version
        was swapped in."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> bool:
        self._next_check = self._clock() + self.refresh_seconds
        try:
            manifest, etag = self.store.read_manifest()
        except Exception:
            self.log.exception("could not read the manifest at %s; still serving %s", self.location, self.version)
            return False
        if manifest is None or etag == self._manifest_etag:
            return False
        if self._engine is not None and manifest.index_version == self._engine.version:
            self._manifest_etag = etag
            return False
        if manifest.index_version in self._refused:
            self._manifest_etag = etag
            return False
        if problem := _unreadable(manifest):
            self.log.error("index %s %s; still serving %s", manifest.index_version, problem, self.version)
            return False
        try:
            engine = self._load(manifest)
        except Exception as error:
            from talksearch.search_pack import PackError

            if not isinstance(error, PackError):
                self.log.exception("could not load index %s; still serving %s", manifest.index_version, self.version)
                return False
            # a hostile pack is not downloaded again
            self._manifest_etag = etag
            self._refused.add(manifest.index_version)
            self.log.error("index %s refused: %s; still serving %s", manifest.index_version, error, self.version)
            return False
        self._swap(engine)
        self._manifest_etag = etag
        self.log.info("serving index %s (%d talks)", engine.version, engine.health()["talks"])
        return True

    @property
    def version(self) -> str | None:
        return self._engine.version if self._engine is not None else None

    def _load(self, manifest: Manifest):
        from functions.search.engine import SearchEngine
        from talksearch.search_pack import MAX_PACK_BYTES, PackFiles
        from talksearch.store import download_verified

        data = download_verified(
            self.store, manifest.pack_key, manifest.pack_sha256, manifest.pack_bytes, MAX_PACK_BYTES
        )
        files = PackFiles(data)
        return SearchEngine(files=files, version=manifest.index_version, built_at=manifest.built_at, log=self.log)

    def refuse(self, engine, error: Exception) -> bool:
        """A query found ``error`` (a ``PackError``) in ``engine``'s pack: never serve its version again,
        and go back to the previous version if there is one (True), else keep serving it (False: there is
        nothing else; only queries reaching the bad piece fail)."""
        with self._serving:
            self._refused.add(engine.version)
            went_back = engine is self._engine and self._previous is not None
            if went_back:  # the refused one stays open, as previous, for the requests still using it
                self._engine, self._previous = self._previous, self._engine
        serving = self.version
        self.log.error("index %s refused by a query: %s; serving %s", engine.version, error, serving)
        return went_back or (serving is not None and serving != engine.version)

    def _swap(self, engine) -> None:
        with self._serving:
            retired, self._previous, self._engine = self._previous, self._engine, engine
        if retired is not None:
            retired.close()
            del retired
            _collect_frozen()


def _unreadable(manifest: Manifest) -> str | None:
    """Why this function cannot open the manifest's version, if it cannot."""
    if manifest.schema_version != SCHEMA_VERSION:
        return f"has schema version {manifest.schema_version}, this function reads {SCHEMA_VERSION}"
    if not manifest.pack_key:
        return "has no search pack (published by a builder from before it wrote one): rebuild the index"
    return None


def _collect_frozen() -> None:
    """Free a retired version's reference cycles, then freeze what is left.

    ``SearchEngine.warm`` freezes everything alive (``gc.freeze``), so that full collections never walk
    the index; but the cyclic collector never frees frozen objects either, and each retired version
    stayed in memory for good (measured: docs/reliability.md, "Memory across index swaps"). One full
    collection per swap, in the thread that already paid for the download.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _return_freed_memory()


def _return_freed_memory() -> None:
    """Give the retired version's freed native memory back to the system (glibc's ``malloc_trim``).

    glibc keeps what Python frees in its arenas, one per thread that allocated, and a retired version
    freed tens of megabytes across them at every swap: without this, the resident memory of a warm
    container grew with every version while Python's own heap stayed flat (docs/reliability.md,
    "Memory across index swaps"). Elsewhere than glibc (musl, macOS) there is nothing to call.
    """
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)
