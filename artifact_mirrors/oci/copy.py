"""Digest-preserving image copy.

Anchors: go-containerregistry ``remote.Write``, regclient ``ImageCopy``.

Order of writes, so an interrupted copy never leaves a tag on an incomplete image:

1. blobs (HEAD first; cross-repository mount when possible; otherwise streamed from the source
   through a sha256 check straight into the destination upload, never to disk or whole in memory);
2. child manifests by digest, deepest first, then the index by digest;
3. attachments: cosign ``sha256-<hex>.sig/.att/.sbom`` tags and OCI referrers (or the referrers
   tag-schema fallback ``sha256-<hex>`` where the destination has no referrers API);
4. the release tag, last. Re-running finishes whatever an interrupted run left.

A :class:`Copier` is one "run": it remembers which destination repository holds which blob (to
mount instead of upload) and deduplicates in-flight work, so many images sharing base layers move
each layer once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import httpx

from artifact_mirrors.oci.client import Registries, RegistryClient
from artifact_mirrors.oci.errors import (
    DigestMismatchError,
    InvalidReference,
    RegistryError,
    TagConflictError,
    TemporaryRegistryError,
    TLSVerifyError,
    UnreachableError,
)
from artifact_mirrors.oci.media import (
    IMAGE_CONFIG_TYPES,
    INDEX_TYPES,
    OCI_INDEX,
    Descriptor,
    Manifest,
    digest_of,
)
from artifact_mirrors.oci.reference import Reference, parse_reference, validate_tag
from artifact_mirrors.oci.spool import Slot, Spool, SpoolWriter

log = logging.getLogger(__name__)
_T = TypeVar("_T")

COSIGN_SUFFIXES = ("sig", "att", "sbom")
# Parallel blob transfers, the one default for the Copier, copy_image() (the Pulumi provider) and
# `mirrors copy`. skopeo (containers/image) also copies 6 layers at once. On 2 cores against
# docker-registry, 4, 6 and 8 measured within noise of each other (the copy is bound by the
# registries' CPU, bench/copy_vs_skopeo.py); more only adds connections to real registries.
DEFAULT_CONCURRENCY = 6
# Source manifests kept per session (bytes): a release's manifests are a few hundred KB.
MANIFEST_CACHE_BYTES = 32 << 20


@dataclass(frozen=True)
class ProgressEvent:
    """Deltas reported to a progress callback (from worker threads: keep the callback cheap)."""

    bytes_done: int = 0
    bytes_total: int = 0
    blobs_done: int = 0
    blobs_total: int = 0


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class CopyResult:
    source: str
    destination: str
    digest: str
    media_type: str
    platforms: list[str] = field(default_factory=list)
    signature_digests: dict[str, str] = field(default_factory=dict)
    blobs_copied: int = 0
    blobs_mounted: int = 0
    blobs_skipped: int = 0
    bytes_moved: int = 0
    manifests_pushed: int = 0  # manifests pushed by digest (the tag write is ``tag_written``)
    tag_written: bool = False
    up_to_date: bool = False
    previous_digest: str | None = None
    ratelimit_remaining: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _role(host: str, repository: str | None, src: Reference, dst: Reference) -> str:
    """ "source" or "destination": which side of a copy a failing registry call was on ("" when
    the two sides are the same registry and the call does not say which repository)."""
    sides = {"source": src, "destination": dst}
    hits = [
        role
        for role, ref in sides.items()
        if ref.registry == host and repository in (None, ref.repository)
    ]
    return hits[0] if len(hits) == 1 else ""


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    copied: int = 0
    mounted: int = 0
    skipped: int = 0
    bytes: int = 0
    manifests: int = 0

    def add(self, outcome: str, nbytes: int = 0) -> None:
        with self.lock:
            if outcome == "copied":
                self.copied += 1
                self.bytes += nbytes
            elif outcome == "mounted":
                self.mounted += 1
            elif outcome == "manifest":
                self.manifests += 1
            else:
                self.skipped += 1


@dataclass(frozen=True)
class _Attachment:
    """A cosign tag (``tag`` -> ``digest``) or a subject's referrers ``index`` at the source."""

    subject: str
    tag: str | None = None
    digest: str | None = None
    index: Manifest | None = None
    from_fallback: bool = False


def cosign_tag(digest: str, suffix: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}-{hexpart}.{suffix}"


def referrers_tag(digest: str) -> str:
    """Referrers tag-schema fallback (OCI distribution spec 1.1, "Referrers Tag Schema")."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}-{hexpart}"


def find_referrers(client: RegistryClient, repo: str, digest: str) -> tuple[Manifest | None, bool]:
    """(referrers index, came from the fallback tag) or (None, False) if there are none."""
    index = client.referrers(repo, digest)
    if index is not None:
        return (index if index.children else None), False
    fallback = client.find_manifest(repo, referrers_tag(digest))
    if fallback is not None and fallback.is_index:
        return fallback, True
    return None, False


def _as_ref(value: str | Reference) -> Reference:
    return value if isinstance(value, Reference) else parse_reference(value)


class CopySession:
    """What every copy of one process shares: the provider server's ``ImageTag`` resources (4 at
    a time, one process for the whole stack) or one ``mirrors copy`` with several destinations.

    - blob locations: which repository of a registry holds a digest, so a sibling repository
      mounts it instead of uploading it again;
    - in-flight de-duplication: one upload per (registry, digest) at a time, the others wait and
      mount (or find it present);
    - fan-out (optional :class:`Spool`): a blob read from the source for one mirror is served,
      verified, to the others from a bounded local spool instead of being read again;
    - source manifests and image configs by digest (immutable, small), read once;
    - the bounded worker pools, so concurrent copies share one limit on parallel transfers.
    """

    def __init__(
        self,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        spool: Spool | None = None,
        mount_hints: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.spool = spool
        self.blob_pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="blob")
        # Manifest-level work (attachment lookups) runs in its own pool: it waits on blob futures,
        # and sharing one bounded pool with them could deadlock.
        self.meta_pool = ThreadPoolExecutor(
            max_workers=max(concurrency, 8), thread_name_prefix="meta"
        )
        self.lock = threading.Lock()
        self.blob_futures: dict[tuple[str, str, str], Future[str]] = {}
        self.uploads: dict[tuple[str, str], Future[str]] = {}
        self.holders: dict[tuple[str, str], list[str]] = {}
        self._manifests: dict[tuple[str, str], Manifest] = {}
        self._configs: dict[tuple[str, str], bytes] = {}
        self._memo: dict[tuple[Any, ...], Future[Any]] = {}
        self._manifest_bytes = 0
        self.source_bytes = 0  # blob bytes read from source registries (not from the spool)
        self.add_hints(mount_hints or {})

    def add_hints(self, mount_hints: Mapping[str, Iterable[str]]) -> None:
        with self.lock:
            for digest, names in mount_hints.items():
                for name in names:
                    host, _, repo = name.partition("/")
                    holders = self.holders.setdefault((host, digest), [])
                    if repo not in holders:
                        holders.append(repo)

    def manifest(self, client: RegistryClient, repo: str, digest: str) -> Manifest:
        """A source manifest by digest, read once per registry (content-addressed: any repository
        of the same registry returns the same bytes, or the read fails)."""
        key = (client.host, digest)
        with self.lock:
            cached = self._manifests.get(key)
        if cached is not None:
            return cached
        m = client.get_manifest(repo, digest)
        with self.lock:
            if self._manifest_bytes + len(m.raw) <= MANIFEST_CACHE_BYTES:
                self._manifests[key] = m
                self._manifest_bytes += len(m.raw)
        return m

    def config_blob(self, client: RegistryClient, repo: str, digest: str) -> bytes:
        """An image config by digest (for its platform), read once per registry."""
        key = (client.host, digest)
        with self.lock:
            cached = self._configs.get(key)
        if cached is not None:
            return cached
        # Usually just copied: the spool already holds its verified bytes.
        spooled = self.spool.read_small(digest, 4 << 20) if self.spool else None
        data = spooled if spooled is not None else client.get_blob(repo, digest)
        with self.lock:
            if self._manifest_bytes + len(data) <= MANIFEST_CACHE_BYTES:
                self._configs[key] = data
                self._manifest_bytes += len(data)
        return data

    def memo(self, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
        """``compute()`` once per key for the session's life; concurrent askers wait for it. For
        source lookups that every mirror repeats (attachments of a subject): a session is one
        update, and the source is pinned by digest for its duration."""
        with self.lock:
            fut = self._memo.get(key)
            owner = fut is None
            if fut is None:
                fut = self._memo[key] = Future()
        if owner:
            try:
                fut.set_result(compute())
            except BaseException as exc:
                with self.lock:
                    del self._memo[key]  # not remembered: the next asker tries again
                fut.set_exception(exc)
        result: _T = fut.result()
        return result

    def count_source(self, nbytes: int) -> None:
        with self.lock:
            self.source_bytes += nbytes

    def close(self) -> None:
        self.blob_pool.shutdown(wait=True, cancel_futures=True)
        self.meta_pool.shutdown(wait=True, cancel_futures=True)
        if self.spool is not None:
            self.spool.close()

    def __enter__(self) -> CopySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Copier:
    """Copies images by digest between registries; thread-safe. Copiers that share a
    :class:`CopySession` share its blob locations, in-flight uploads, spool and pools."""

    def __init__(
        self,
        registries: Registries | None = None,
        *,
        session: CopySession | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressCallback | None = None,
        mount_hints: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """``mount_hints`` maps a blob digest to ``host/repository`` names that held it in an
        earlier run; the copier tries to mount from them before uploading."""
        self.registries = registries or Registries()
        self._own_registries = registries is None
        self.progress = progress
        self._own_session = session is None
        if session is None:
            session = CopySession(concurrency=concurrency, mount_hints=mount_hints)
        elif mount_hints:
            session.add_hints(mount_hints)
        self.session = session
        self._blob_pool = session.blob_pool
        self._meta_pool = session.meta_pool
        self._lock = session.lock
        self._blob_futures = session.blob_futures
        self._uploads = session.uploads
        self._holders = session.holders

    def close(self) -> None:
        if self._own_session:
            self.session.close()
        if self._own_registries:
            self.registries.close()

    def __enter__(self) -> Copier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def blob_locations(self) -> dict[str, list[str]]:
        """digest -> ``host/repo`` names holding it: feed back as ``mount_hints`` next run."""
        with self._lock:
            out: dict[str, list[str]] = {}
            for (host, digest), repos in self._holders.items():
                out.setdefault(digest, []).extend(f"{host}/{r}" for r in repos)
            return out

    def _emit(self, **delta: int) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent(**delta))

    # -- public ------------------------------------------------------------------------------
    def copy_image(
        self,
        src: str | Reference,
        dst_repo: str | Reference,
        tag: str | None,
        *,
        floating: bool = False,
        signatures: bool = True,
        referrers: bool | None = None,
    ) -> CopyResult:
        """Copy ``src`` (must carry a digest) to ``dst_repo`` and point ``tag`` at it.

        ``signatures`` copies cosign ``.sig/.att/.sbom`` tags; ``referrers`` (default: same as
        ``signatures``) copies OCI referrers. ``tag=None`` copies by digest only. A tag already
        pointing at another digest is never moved unless ``floating`` (crane's no-clobber); the
        same digest is "already up to date".
        """
        src_ref = _as_ref(src)
        if src_ref.digest is None:
            raise InvalidReference(
                "source must be pinned by digest",
                str(src_ref),
                "resolve the tag first (resolve()) and pass REPO@sha256:...",
            )
        dst_ref = _as_ref(dst_repo)
        if dst_ref.digest is not None:
            raise InvalidReference(
                "destination must be a repository, not a digest", str(dst_ref), "drop @sha256:..."
            )
        if tag is not None:
            validate_tag(tag)
        digest = src_ref.digest
        src_c = self.registries.client(src_ref.registry)
        dst_c = self.registries.client(dst_ref.registry)
        dst_name = f"{dst_ref.name}:{tag}" if tag else f"{dst_ref.name}@{digest}"
        stats = _Stats()
        if referrers is None:
            referrers = signatures
        try:
            return self._copy(
                src_ref,
                dst_ref,
                src_c,
                dst_c,
                digest,
                tag,
                floating,
                signatures,
                referrers,
                stats,
                dst_name,
            )
        except RegistryError as exc:
            exc.op = "copy"
            if not exc.role:
                exc.role = _role(exc.registry, exc.repository, src_ref, dst_ref)
            raise
        except (UnreachableError, TLSVerifyError) as exc:
            if not exc.role:
                exc.role = _role(exc.host, None, src_ref, dst_ref)
            raise

    def copy_images(self, jobs: Sequence[CopyJob]) -> list[CopyResult]:
        """Copy several images concurrently within this run (shared mounts and dedupe)."""
        with ThreadPoolExecutor(max_workers=max(1, min(4, len(jobs)))) as pool:
            futures = [
                pool.submit(
                    self.copy_image,
                    j.src,
                    j.dst_repo,
                    j.tag,
                    floating=j.floating,
                    signatures=j.signatures,
                    referrers=j.referrers,
                )
                for j in jobs
            ]
            return [f.result() for f in futures]

    # -- the copy ----------------------------------------------------------------------------
    def _copy(
        self,
        src_ref: Reference,
        dst_ref: Reference,
        src_c: RegistryClient,
        dst_c: RegistryClient,
        digest: str,
        tag: str | None,
        floating: bool,
        signatures: bool,
        referrers: bool,
        stats: _Stats,
        dst_name: str,
    ) -> CopyResult:
        src_repo, dst_repo = src_ref.repository, dst_ref.repository
        previous: str | None = None
        tag_written = False
        if tag is not None:
            current = dst_c.head_manifest(dst_repo, tag)
            previous = current.digest if current else None
            if previous not in (None, digest) and not floating:
                raise TagConflictError(f"{dst_ref.name}:{tag}", previous or "", digest)

        top = self.session.manifest(src_c, src_repo, digest)
        # Attachments (cosign tags, referrers) are looked up at the source while the image
        # copies, but written only once the image is complete at the destination: a failed copy
        # must not leave a signature pointing at an image that is not there.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="attach") as side:
            found: list[Future[list[_Attachment]]] = []

            def find_attachments(tree: Mapping[str, Manifest | None]) -> None:
                if signatures or referrers:
                    found.append(
                        side.submit(
                            self._find_attachments,
                            src_c,
                            src_repo,
                            list(tree),
                            signatures,
                            referrers,
                        )
                    )

            tree = self._copy_tree(
                src_c,
                src_repo,
                dst_c,
                dst_repo,
                top,
                stats,
                after_walk=find_attachments,
                # Tag last: a tag that already names the digest was written after everything
                # below it, so the tree is complete and need not be asked about again.
                top_present=previous == digest,
            )
            attachments = [a for fut in found for a in fut.result()]
        sig_digests = self._push_attachments(src_c, src_repo, dst_c, dst_repo, attachments, stats)

        if tag is not None and previous != digest:
            # Re-check right before tagging: another writer may have raced us.
            current = dst_c.head_manifest(dst_repo, tag)
            if current is not None and current.digest not in (digest, previous) and not floating:
                raise TagConflictError(f"{dst_ref.name}:{tag}", current.digest, digest)
            dst_c.put_manifest(dst_repo, tag, top)
            # The tag write re-sends the manifest pushed by digest above: not another manifest.
            tag_written = True

        return CopyResult(
            source=str(src_ref),
            destination=dst_name,
            digest=digest,
            media_type=top.media_type,
            platforms=self._platforms(src_c, src_repo, top, tree),
            signature_digests=sig_digests,
            blobs_copied=stats.copied,
            blobs_mounted=stats.mounted,
            blobs_skipped=stats.skipped,
            bytes_moved=stats.bytes,
            manifests_pushed=stats.manifests,
            tag_written=tag_written,
            up_to_date=previous == digest and stats.manifests == 0 and stats.copied == 0,
            previous_digest=previous if previous != digest else None,
            ratelimit_remaining=src_c.ratelimit_remaining
            if src_c.ratelimit_remaining is not None
            else dst_c.ratelimit_remaining,
        )

    def _copy_tree(
        self,
        src_c: RegistryClient,
        src_repo: str,
        dst_c: RegistryClient,
        dst_repo: str,
        top: Manifest,
        stats: _Stats,
        *,
        after_walk: Callable[[Mapping[str, Manifest | None]], None] | None = None,
        top_present: bool = False,
    ) -> dict[str, Manifest | None]:
        """Copy a manifest and everything below it; return every manifest digest below it (with
        the source manifest where it was read). ``top_present``: ``top`` is known to be complete at
        the destination."""
        tree: dict[str, Manifest | None] = {}
        to_push: list[Manifest] = []  # post-order: children before parents
        blobs: dict[str, Descriptor] = {}

        def walk(m: Manifest, parent_present: bool) -> None:
            tree[m.digest] = m
            # Children are pushed before parents, and registries refuse an index whose children
            # are missing, so a manifest present at the destination is complete below it.
            present = parent_present or dst_c.head_manifest(dst_repo, m.digest) is not None
            for child in m.children:
                if child.digest in tree:
                    continue
                if present and child.media_type not in INDEX_TYPES:
                    # Complete already; attachments only need the digest. Nested indexes are
                    # still read for their children's digests.
                    tree[child.digest] = None
                    continue
                walk(self.session.manifest(src_c, src_repo, child.digest), present)
            if present:
                return
            for b in m.blobs:
                blobs.setdefault(b.digest, b)
            to_push.append(m)

        walk(top, top_present)
        if after_walk is not None:
            after_walk(tree)
        self._copy_blobs(src_c, src_repo, dst_c, dst_repo, list(blobs.values()), stats)
        # Children before parents; siblings in parallel. Manifest PUTs wait on nothing, so they
        # can share the blob pool without deadlock.
        levels: dict[str, int] = {}
        for m in to_push:  # post-order: children already have a level
            below = [levels[c.digest] for c in m.children if c.digest in levels]
            levels[m.digest] = 1 + max(below, default=-1)
        for level in sorted(set(levels.values())):
            batch = [m for m in to_push if levels[m.digest] == level]
            futures = [
                self._blob_pool.submit(dst_c.put_manifest, dst_repo, m.digest, m) for m in batch
            ]
            errors = [f.exception() for f in futures]
            for err in errors:
                if err is None:
                    stats.add("manifest")
            for err in errors:
                if err is not None:
                    raise err
        return tree

    # -- blobs -------------------------------------------------------------------------------
    def _copy_blobs(
        self,
        src_c: RegistryClient,
        src_repo: str,
        dst_c: RegistryClient,
        dst_repo: str,
        descs: Sequence[Descriptor],
        stats: _Stats,
    ) -> None:
        unique = list({d.digest: d for d in descs}.values())
        if not unique:
            return
        self._emit(blobs_total=len(unique), bytes_total=sum(b.size for b in unique))
        futures = [
            self._blob_pool.submit(self._ensure_blob, src_c, src_repo, dst_c, dst_repo, b, stats)
            for b in unique
        ]
        # Wait for all before raising: no transfer keeps running behind a failed copy.
        errors = [f.exception() for f in futures]
        for err in errors:
            if err is not None:
                raise err

    def _ensure_blob(
        self,
        src_c: RegistryClient,
        src_repo: str,
        dst_c: RegistryClient,
        dst_repo: str,
        desc: Descriptor,
        stats: _Stats,
    ) -> None:
        key = (dst_c.host, dst_repo, desc.digest)
        with self._lock:
            fut = self._blob_futures.get(key)
            owner = fut is None
            if fut is None:
                fut = self._blob_futures[key] = Future()
        if not owner:
            fut.result()  # same blob, same repository, in this run: someone else did it
            stats.add("skipped")
            self._emit(blobs_done=1, bytes_done=desc.size)
            return
        try:
            outcome = self._transfer(src_c, src_repo, dst_c, dst_repo, desc, stats)
        except BaseException as exc:
            with self._lock:
                del self._blob_futures[key]
            fut.set_exception(exc)
            raise
        self._record_holder(dst_c.host, desc.digest, dst_repo)
        fut.set_result(outcome)

    def _record_holder(self, host: str, digest: str, repo: str) -> None:
        with self._lock:
            holders = self._holders.setdefault((host, digest), [])
            if repo not in holders:
                holders.append(repo)

    def _transfer(
        self,
        src_c: RegistryClient,
        src_repo: str,
        dst_c: RegistryClient,
        dst_repo: str,
        desc: Descriptor,
        stats: _Stats,
    ) -> str:
        digest = desc.digest
        if dst_c.blob_exists(dst_repo, digest):
            stats.add("skipped")
            self._emit(blobs_done=1, bytes_done=desc.size)
            return "skipped"

        # One upload per (destination registry, digest) per run; others wait and mount from it.
        ukey = (dst_c.host, digest)
        with self._lock:
            upload = self._uploads.get(ukey)
            uploader = upload is None
            if upload is None:
                upload = self._uploads[ukey] = Future()
        if not uploader:
            try:
                upload.result()
            except BaseException:
                uploader = True  # the other upload failed; try ourselves
        try:
            location = self._try_mount(src_c, src_repo, dst_c, dst_repo, digest)
            if location is None:
                stats.add("mounted")
                self._emit(blobs_done=1, bytes_done=desc.size)
                outcome = "mounted"
            else:
                self._upload_with_retries(src_c, src_repo, dst_c, dst_repo, desc, location)
                stats.add("copied", desc.size)
                self._emit(blobs_done=1)
                outcome = "copied"
        except BaseException as exc:
            if uploader:
                with self._lock:
                    self._uploads.pop(ukey, None)
                if not upload.done():
                    upload.set_exception(exc)
            raise
        # Record the holder before waking the waiters: they mount from it.
        self._record_holder(dst_c.host, digest, dst_repo)
        if uploader and not upload.done():
            upload.set_result(dst_repo)
        return outcome

    def _try_mount(
        self,
        src_c: RegistryClient,
        src_repo: str,
        dst_c: RegistryClient,
        dst_repo: str,
        digest: str,
    ) -> str | None:
        """Mount from a repository on the destination registry that holds the blob.

        Returns None if mounted, else an upload URL to use: a registry that declines a mount
        answers 202 with an upload session (distribution spec, "Mounting a blob from another
        repository"), which we use instead of opening another.
        """
        candidates: list[str] = []
        if src_c.host == dst_c.host and src_repo != dst_repo:
            candidates.append(src_repo)
        with self._lock:
            candidates += [r for r in self._holders.get((dst_c.host, digest), []) if r != dst_repo]
        location: str | None = None
        for from_repo in dict.fromkeys(candidates):
            if location is not None:
                dst_c.cancel_upload(dst_repo, location)
            location = dst_c.mount_blob(dst_repo, digest, from_repo)
            if location is None:
                return None
        return location if location is not None else dst_c.start_upload(dst_repo, digest)

    def _upload_with_retries(
        self,
        src_c: RegistryClient,
        src_repo: str,
        dst_c: RegistryClient,
        dst_repo: str,
        desc: Descriptor,
        location: str,
    ) -> None:
        # Streams cannot be replayed: a temporary failure restarts the whole transfer (fresh GET,
        # fresh upload session). With a spool, the blob comes from a verified local copy when
        # another mirror already read it, else the source read is teed into the spool.
        first = True
        spool = self.session.spool
        for attempt in dst_c.retrying():
            with attempt:
                loc = location if first else dst_c.start_upload(dst_repo, desc.digest)
                first = False
                try:
                    with (
                        spool.acquire(desc.digest, desc.size) if spool else nullcontext(Slot())
                    ) as slot:
                        if slot.reader is not None:
                            body = self._emitting(slot.chunks())
                            dst_c.upload(dst_repo, loc, desc.digest, desc.size, body)
                        else:
                            with src_c.open_blob(src_repo, desc.digest) as resp:
                                body = self._verified_stream(
                                    resp, desc, src_c.host, src_repo, slot.writer
                                )
                                dst_c.upload(dst_repo, loc, desc.digest, desc.size, body)
                except httpx.TransportError as exc:
                    # A reset while reading the source surfaces here, through the upload body.
                    dst_c.cancel_upload(dst_repo, loc)
                    raise TemporaryRegistryError(
                        registry=src_c.host,
                        repository=src_repo,
                        target=f"@{desc.digest}",
                        status=None,
                        detail=f"connection error: {type(exc).__name__}",
                    ) from exc
                except BaseException:
                    dst_c.cancel_upload(dst_repo, loc)
                    raise

    def _emitting(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            yield chunk
            self._emit(bytes_done=len(chunk))

    def _verified_stream(
        self,
        resp: httpx.Response,
        desc: Descriptor,
        host: str,
        repo: str,
        sink: SpoolWriter | None = None,
    ) -> Iterator[bytes]:
        """Yield the blob, holding back the last chunk until size and digest are verified, so
        a corrupt blob never completes its upload (the request is aborted instead). ``sink``
        receives every chunk and is told when the whole stream verified."""
        algorithm = desc.digest.partition(":")[0]
        hasher = hashlib.new(algorithm)
        seen = 0
        pending: bytes | None = None
        for chunk in resp.iter_bytes():
            hasher.update(chunk)
            seen += len(chunk)
            self.session.count_source(len(chunk))
            if seen > desc.size:
                break
            if sink is not None:
                sink.write(chunk)
            if pending is not None:
                yield pending
                self._emit(bytes_done=len(pending))
            pending = chunk
        actual = f"{algorithm}:{hasher.hexdigest()}"
        if seen != desc.size or actual != desc.digest:
            raise DigestMismatchError(
                f"{host}/{repo}@{desc.digest}: source sent {seen} bytes hashing to {actual}, "
                f"expected {desc.size} bytes"
            )
        if sink is not None:
            sink.verified()
        if pending is not None:
            yield pending
            self._emit(bytes_done=len(pending))

    # -- attachments ---------------------------------------------------------------------------
    def _find_attachments(
        self,
        src_c: RegistryClient,
        src_repo: str,
        subjects: Sequence[str],
        signatures: bool,
        referrers: bool,
    ) -> list[_Attachment]:
        """Cosign tags and referrers of every manifest in ``subjects``, at the source only.

        One task per (subject, cosign suffix) and per subject's referrers in the manifest-level
        pool: mostly HEADs that answer 404, so they go in parallel.
        """

        def one(task: tuple[str, str | None]) -> list[_Attachment]:
            # Every mirror of a session asks the same source the same questions: ask once.
            return self.session.memo(
                ("attachments", src_c.host, src_repo, *task), lambda: look(task)
            )

        def look(task: tuple[str, str | None]) -> list[_Attachment]:
            subject, suffix = task
            if suffix is not None:
                tag = cosign_tag(subject, suffix)
                desc = src_c.head_manifest(src_repo, tag)
                # 404 means no such attachment
                return [] if desc is None else [_Attachment(subject, tag=tag, digest=desc.digest)]
            index, fallback = self._source_referrers(src_c, src_repo, subject)
            if index is None:
                return []
            return [_Attachment(subject, index=index, from_fallback=fallback)]

        tasks: list[tuple[str, str | None]] = []
        if signatures:
            tasks += [(d, suffix) for d in subjects for suffix in COSIGN_SUFFIXES]
        if referrers:
            tasks += [(d, None) for d in subjects]
        return [a for part in self._meta_pool.map(one, tasks) for a in part]

    def _push_attachments(
        self,
        src_c: RegistryClient,
        src_repo: str,
        dst_c: RegistryClient,
        dst_repo: str,
        attachments: Sequence[_Attachment],
        stats: _Stats,
    ) -> dict[str, str]:
        """Write the attachments found (their subjects are complete); returns tag -> digest."""

        def one(a: _Attachment) -> dict[str, str]:
            if a.tag is not None and a.digest is not None:
                self._copy_tagged(src_c, src_repo, dst_c, dst_repo, a.tag, a.digest, stats)
                return {a.tag: a.digest}
            assert a.index is not None
            tag_digest = self._copy_referrers(
                src_c, src_repo, dst_c, dst_repo, a.subject, a.index, a.from_fallback, stats
            )
            return {} if tag_digest is None else {referrers_tag(a.subject): tag_digest}

        copied: dict[str, str] = {}
        for part in self._meta_pool.map(one, attachments):
            copied.update(part)
        return copied

    def _copy_tagged(
        self,
        src_c: RegistryClient,
        src_repo: str,
        dst_c: RegistryClient,
        dst_repo: str,
        tag: str,
        digest: str,
        stats: _Stats,
    ) -> None:
        current = dst_c.head_manifest(dst_repo, tag)
        if current is not None and current.digest == digest:
            return
        m = self.session.manifest(src_c, src_repo, digest)
        self._copy_tree(src_c, src_repo, dst_c, dst_repo, m, stats)
        # Attachment tags follow the source: cosign rewrites .sig when a signature is added.
        dst_c.put_manifest(dst_repo, tag, m)
        stats.add("manifest")

    def _source_referrers(
        self, src_c: RegistryClient, src_repo: str, digest: str
    ) -> tuple[Manifest | None, bool]:
        return find_referrers(src_c, src_repo, digest)

    def _copy_referrers(
        self,
        src_c: RegistryClient,
        src_repo: str,
        dst_c: RegistryClient,
        dst_repo: str,
        subject: str,
        index: Manifest,
        from_fallback: bool,
        stats: _Stats,
    ) -> str | None:
        """Copy referrer manifests; maintain the fallback tag if the destination needs it.

        Returns the fallback tag's digest if one was written or already present.
        """
        subject_headers = True
        for child in index.children:
            if dst_c.head_manifest(dst_repo, child.digest) is not None:
                continue  # present, hence complete (children first): no need to read it
            m = self.session.manifest(src_c, src_repo, child.digest)
            resp = self._push_referrer(src_c, src_repo, dst_c, dst_repo, m, stats)
            # A registry with the referrers API acknowledges the subject (distribution-spec 1.1).
            subject_headers = subject_headers and "OCI-Subject" in resp.headers
        if subject_headers and dst_c.referrers(dst_repo, subject) is not None:
            return None
        tag = referrers_tag(subject)
        existing = dst_c.find_manifest(dst_repo, tag)
        if existing is not None and existing.digest == index.digest:
            return existing.digest
        wanted = index.children
        if existing is not None:
            have = {d.digest for d in existing.children}
            if all(d.digest in have for d in wanted):
                return existing.digest
        if from_fallback and existing is None:
            new = index  # verbatim: same digest as the source's fallback tag
        else:
            # The destination's list merged with ours: the fallback index is ours to build.
            descriptors = list(existing.doc.get("manifests") or []) if existing else []
            known = {d.get("digest") for d in descriptors}
            descriptors += [
                d for d in index.doc.get("manifests") or [] if d.get("digest") not in known
            ]
            raw = json.dumps(
                {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors},
                separators=(",", ":"),
            ).encode()
            new = Manifest(raw=raw, media_type=OCI_INDEX, digest=digest_of(raw))
        dst_c.put_manifest(dst_repo, tag, new)
        stats.add("manifest")
        return new.digest

    def _push_referrer(
        self,
        src_c: RegistryClient,
        src_repo: str,
        dst_c: RegistryClient,
        dst_repo: str,
        m: Manifest,
        stats: _Stats,
    ) -> httpx.Response:
        for child in m.children:
            child_m = self.session.manifest(src_c, src_repo, child.digest)
            self._copy_tree(src_c, src_repo, dst_c, dst_repo, child_m, stats)
        self._copy_blobs(src_c, src_repo, dst_c, dst_repo, m.blobs, stats)
        resp = dst_c.put_manifest(dst_repo, m.digest, m)
        stats.add("manifest")
        return resp

    # -- description -------------------------------------------------------------------------
    def _platforms(
        self,
        src_c: RegistryClient,
        src_repo: str,
        top: Manifest,
        tree: Mapping[str, Manifest | None],
    ) -> list[str]:
        return platforms_of(
            src_c,
            src_repo,
            top,
            {d: m for d, m in tree.items() if m is not None},
            read_config=lambda digest: self.session.config_blob(src_c, src_repo, digest),
            read_manifest=lambda digest: self.session.manifest(src_c, src_repo, digest),
        )


def platforms_of(
    client: RegistryClient,
    repo: str,
    top: Manifest,
    known: Mapping[str, Manifest] | None = None,
    *,
    read_config: Callable[[str], bytes] | None = None,
    read_manifest: Callable[[str], Manifest] | None = None,
) -> list[str]:
    """``os/arch[/variant]`` of every runnable image below ``top`` (attestations excluded)."""
    known = dict(known or {})
    get_config = read_config or (lambda digest: client.get_blob(repo, digest))
    get_manifest = read_manifest or (lambda digest: client.get_manifest(repo, digest))
    out: list[str] = []

    def visit(m: Manifest) -> None:
        if m.is_index:
            for child in m.children:
                if child.is_attestation:
                    continue
                if (
                    child.platform
                    and child.media_type not in (OCI_INDEX,)
                    and not (child.media_type.endswith("manifest.list.v2+json"))
                ):
                    out.append(child.platform)
                    continue
                sub = known.get(child.digest) or get_manifest(child.digest)
                visit(sub)
            return
        cfg = m.config
        if cfg is None or cfg.media_type not in IMAGE_CONFIG_TYPES:
            return  # an artifact (Helm chart, SBOM, signature): no platform
        doc = json.loads(get_config(cfg.digest))
        plat = "/".join(
            str(p) for p in (doc.get("os"), doc.get("architecture"), doc.get("variant")) if p
        )
        if plat:
            out.append(plat)

    visit(top)
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class CopyJob:
    src: str | Reference
    dst_repo: str | Reference
    tag: str | None
    floating: bool = False
    signatures: bool = True
    referrers: bool | None = None
