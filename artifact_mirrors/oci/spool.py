"""A bounded, verified local spool of blobs keyed by digest: one source read serves every mirror.

Peers read a blob from the source once per destination registry (crane, skopeo, regsync; ggcr's
``remote.MultiWrite`` shares reads only within one repository). Here the first upload of a blob
tees the source stream into a spool file while it uploads; the sha256 of the stream is checked on
the fly, and only a copy whose size and digest matched becomes readable. Other mirrors that need
the same blob meanwhile wait for it and then upload from the spool, so the source is read once.

- Files are anonymous (``tempfile.TemporaryFile``: ``O_TMPFILE`` or unlinked at once), so nothing is
  left on disk whatever ends the process, even the SIGKILL the Pulumi engine may send its plugins;
  readers use ``os.pread`` on the shared descriptor (no shared offset, thread-safe).
- Disk use is bounded (``limit_bytes``, :data:`LIMIT_ENV`): least recently used entries that no one
  is reading are dropped to make room; a blob that cannot fit is streamed without spooling (its
  later mirrors read the source again, which is correct, only slower).
- Memory stays flat: 1 MiB reads, never a whole blob.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

LIMIT_ENV = "MIRRORS_SPOOL_MAX_MB"  # disk budget of the spool in MiB; 0 turns it off
DIR_ENV = "MIRRORS_SPOOL_DIR"  # where spool files live (default: the system temp directory)
DEFAULT_LIMIT_MB = 4096
CHUNK = 1 << 20


@dataclass
class _Entry:
    file: IO[bytes]
    size: int
    readers: int = 0
    last_used: float = field(default_factory=time.monotonic)


class SpoolWriter:
    """Receives the source stream as it is verified; :meth:`verified` makes the copy readable."""

    def __init__(self, file: IO[bytes], size: int) -> None:
        self.file = file
        self.size = size
        self.ok = False
        self.failed = False

    def write(self, chunk: bytes) -> None:
        if self.failed:
            return
        try:
            self.file.write(chunk)
        except OSError:
            self.failed = True  # disk full: the upload goes on, only the spool copy is lost

    def verified(self) -> None:
        """The whole stream hashed to the digest: from now on others may read this copy."""
        if self.failed:
            return
        try:
            self.file.flush()
        except OSError:
            self.failed = True
            return
        self.ok = self.file.tell() == self.size


@dataclass(frozen=True)
class Slot:
    """What :meth:`Spool.acquire` hands out: a verified copy to read, or a writer, or neither."""

    reader: _Entry | None = None
    writer: SpoolWriter | None = None

    def chunks(self) -> Iterator[bytes]:
        assert self.reader is not None
        fd, size, offset = self.reader.file.fileno(), self.reader.size, 0
        while offset < size:
            data = os.pread(fd, min(CHUNK, size - offset), offset)
            if not data:
                raise OSError(f"spool file truncated at {offset} of {size} bytes")
            offset += len(data)
            yield data


def limit_from_env() -> int:
    raw = os.environ.get(LIMIT_ENV, "").strip()
    return (int(raw) if raw.isdigit() else DEFAULT_LIMIT_MB) << 20


class Spool:
    """Thread-safe; one per copy session. ``hits``/``fills`` count reads served and copies made."""

    def __init__(self, limit_bytes: int | None = None, directory: Path | None = None) -> None:
        self.limit = limit_from_env() if limit_bytes is None else limit_bytes
        env_dir = os.environ.get(DIR_ENV)
        self.directory = directory or (Path(env_dir) if env_dir else None)
        self._entries: dict[str, _Entry] = {}
        self._filling: dict[str, Future[bool]] = {}
        self._used = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.fills = 0

    @property
    def used(self) -> int:
        with self._lock:
            return self._used

    @contextmanager
    def acquire(self, digest: str, size: int) -> Iterator[Slot]:
        """A reader of a verified copy if there is one; else, when the blob fits, a writer (the
        caller reads the source and tees it in); else an empty slot (stream, don't spool).
        Waits while another thread is filling the same digest."""
        entry: _Entry | None = None
        fill: Future[bool] | None = None
        while True:
            with self._lock:
                entry = self._entries.get(digest)
                if entry is not None:
                    entry.readers += 1
                    self.hits += 1
                    break
                wait = self._filling.get(digest)
                if wait is None:
                    if self._reserve(size):
                        fill = self._filling[digest] = Future()
                    break
            wait.result()  # the filler's outcome; loop: read its copy, or fill it ourselves
        if entry is not None:
            try:
                yield Slot(reader=entry)
            finally:
                with self._lock:
                    entry.readers -= 1
                    entry.last_used = time.monotonic()
        elif fill is not None:
            yield from self._fill(digest, size, fill)
        else:
            yield Slot()  # does not fit: pass through

    def read_small(self, digest: str, max_size: int) -> bytes | None:
        """The verified bytes of a small spooled blob (an image config), or None."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None or entry.size > max_size:
                return None
            entry.readers += 1
        try:
            return b"".join(Slot(reader=entry).chunks())
        finally:
            with self._lock:
                entry.readers -= 1

    def _fill(self, digest: str, size: int, fill: Future[bool]) -> Iterator[Slot]:
        writer: SpoolWriter | None = None
        try:
            # Lives as long as the entry, not a block: closed on eviction or session close.
            file = tempfile.TemporaryFile(dir=self.directory, prefix="mirrors-spool-")  # noqa: SIM115
            writer = SpoolWriter(file, size)
        except OSError:
            pass
        try:
            yield Slot(writer=writer)
        finally:
            with self._lock:
                del self._filling[digest]
                if writer is not None and writer.ok:
                    self._entries[digest] = _Entry(writer.file, size)
                    self.fills += 1
                else:
                    self._used -= size
                    if writer is not None:
                        writer.file.close()
            fill.set_result(bool(writer and writer.ok))

    def _reserve(self, size: int) -> bool:
        """Make room for ``size`` bytes (lock held): drop idle entries, oldest first."""
        if size > self.limit:
            return False
        if self._used + size > self.limit:
            idle = sorted((e.last_used, d) for d, e in self._entries.items() if e.readers == 0)
            for _, d in idle:
                if self._used + size <= self.limit:
                    break
                gone = self._entries.pop(d)
                gone.file.close()
                self._used -= gone.size
            if self._used + size > self.limit:
                return False
        self._used += size
        return True

    def close(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                entry.file.close()
            self._entries.clear()
            self._used = 0
