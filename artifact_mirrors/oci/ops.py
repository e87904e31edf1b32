"""One-call operations for the Pulumi layer and the CLI: resolve, describe, delete_tag, copy_image.

Each takes an optional :class:`Registries` (credentials, insecure hosts, CA files, retry policy);
without one a default is built (Docker credential store + environment, TLS verified) and closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from artifact_mirrors.oci.client import Registries
from artifact_mirrors.oci.copy import (
    DEFAULT_CONCURRENCY,
    Copier,
    CopyResult,
    ProgressCallback,
    platforms_of,
)
from artifact_mirrors.oci.errors import InvalidReference, MirrorError, RegistryError
from artifact_mirrors.oci.reference import Reference, parse_reference


@contextmanager
def _registries(registries: Registries | None) -> Iterator[Registries]:
    if registries is not None:
        yield registries
        return
    own = Registries()
    try:
        yield own
    finally:
        own.close()


def _ref(value: str | Reference) -> Reference:
    return value if isinstance(value, Reference) else parse_reference(value)


def resolve(ref: str | Reference, *, registries: Registries | None = None) -> str | None:
    """Digest a tag (or digest) points at, or None if the registry answers 404."""
    r = _ref(ref)
    target = r.digest or r.tag
    if target is None:
        raise InvalidReference("reference has no tag or digest", str(r), "add :TAG or @DIGEST")
    with _registries(registries) as regs:
        try:
            desc = regs.client(r.registry).head_manifest(r.repository, target)
        except RegistryError as exc:
            exc.op = "resolve"
            raise
    return desc.digest if desc else None


def why_missing(ref: str | Reference, *, registries: Registries) -> tuple[str, str]:
    """(problem, hint) for a tag that :func:`resolve` found absent: a HEAD 404 has no body, so
    ask for the repository's tags to tell a missing repository from a missing tag."""
    import difflib

    r = _ref(ref)
    try:
        tags = registries.client(r.registry).list_tags(r.repository)
    except RegistryError as exc:
        if exc.status == 404:  # distribution answers NAME_UNKNOWN for an unknown repository
            return "repository not found", f"check the repository name {r.name}"
        return "tag not found", "check the tag"
    close = difflib.get_close_matches(r.tag or "", tags, n=3)
    if close:
        return "tag not found", f"did you mean {' or '.join(close)}?"
    return "tag not found", f"check the tag; {r.name} has {len(tags)} tags"


@dataclass(frozen=True)
class Description:
    digest: str
    media_type: str
    platforms: list[str] = field(default_factory=list)
    artifact_type: str | None = None
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe(ref: str | Reference, *, registries: Registries | None = None) -> Description:
    """Media type and platforms (``os/arch[/variant]``, attestations excluded) of an image."""
    r = _ref(ref)
    target = r.digest or r.tag
    if target is None:
        raise InvalidReference("reference has no tag or digest", str(r), "add :TAG or @DIGEST")
    with _registries(registries) as regs:
        client = regs.client(r.registry)
        try:
            m = client.get_manifest(r.repository, target)
            plats = platforms_of(client, r.repository, m)
        except RegistryError as exc:
            exc.op = "describe"
            raise
    return Description(
        digest=m.digest,
        media_type=m.media_type,
        platforms=plats,
        artifact_type=None if m.is_index else m.artifact_type,
        size=len(m.raw),
    )


@dataclass(frozen=True)
class DeleteResult:
    deleted: bool
    digest: str | None
    method: str  # "tag", "digest" or "absent"


class DeleteUnsupported(MirrorError):
    """The registry cannot delete the tag alone and deleting the digest would hit other tags."""


def delete_tag(
    ref: str | Reference,
    *,
    registries: Registries | None = None,
    managed_tags: Iterable[str] | None = None,
) -> DeleteResult:
    """Remove a tag. Absent tags are fine (idempotent).

    ``DELETE /v2/<name>/manifests/<tag>`` is tried first (distribution 3, quay, Harbor support it).
    docker-registry 2.8 (with ``storage.delete.enabled: true``) only deletes by digest, and that
    removes the manifest with *every* tag pointing at it. We fall back to deleting by digest only
    when no other tag points at the digest: the tags in ``managed_tags`` if the caller passes them
    (the tags it manages), otherwise every tag of the repository (tags/list). Otherwise
    :class:`DeleteUnsupported` names the tags that would go with it. Docker Hub and ECR do not
    implement DELETE in the distribution API at all (Hub has its own API, ECR BatchDeleteImage);
    their error is surfaced as is.
    """
    r = _ref(ref)
    if r.tag is None or r.digest is not None:
        raise InvalidReference("delete_tag needs REPO:TAG", str(r), "pass a tag, not a digest")
    with _registries(registries) as regs:
        client = regs.client(r.registry)
        try:
            desc = client.head_manifest(r.repository, r.tag)
            if desc is None:
                return DeleteResult(False, None, "absent")
            try:
                client.delete_manifest(r.repository, r.tag)
                return DeleteResult(True, desc.digest, "tag")
            except RegistryError as exc:
                # docker-registry 2.8 parses the tag as a digest and answers 400 DIGEST_INVALID;
                # others answer 405 or UNSUPPORTED. Anything else is a real failure.
                if exc.status != 405 and exc.code not in ("UNSUPPORTED", "DIGEST_INVALID"):
                    raise
            others = (
                list(managed_tags) if managed_tags is not None else client.list_tags(r.repository)
            )
            sharing = sorted(
                t
                for t in others
                if t != r.tag
                and (d := client.head_manifest(r.repository, t)) is not None
                and d.digest == desc.digest
            )
            if sharing:
                raise DeleteUnsupported(
                    f"cannot delete {r}: {r.registry} cannot delete a tag alone (only a digest, "
                    f"which would also remove {', '.join(sharing)} pointing at {desc.digest})"
                )
            client.delete_manifest(r.repository, desc.digest)
            return DeleteResult(True, desc.digest, "digest")
        except RegistryError as exc:
            exc.op = "delete"
            raise


def copy_image(
    src: str | Reference,
    dst_repo: str | Reference,
    tag: str | None,
    *,
    floating: bool = False,
    signatures: bool = True,
    referrers: bool | None = None,
    registries: Registries | None = None,
    progress: ProgressCallback | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    mount_hints: Mapping[str, Iterable[str]] | None = None,
) -> CopyResult:
    """Copy one image by digest (see :meth:`Copier.copy_image`)."""
    with (
        _registries(registries) as regs,
        Copier(regs, concurrency=concurrency, progress=progress, mount_hints=mount_hints) as copier,
    ):
        return copier.copy_image(
            src, dst_repo, tag, floating=floating, signatures=signatures, referrers=referrers
        )
