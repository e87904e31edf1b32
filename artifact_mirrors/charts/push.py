"""Push a built chart artifact: blobs, the manifest by digest, then the tag (never moved).

The same order as the image copier (artifact_mirrors/oci/copy.py): a tag appears only on a
complete artifact, a release tag already naming another digest is refused (crane's no-clobber),
and a re-run finishes what an interrupted one left. Pushes share the process's
:class:`~artifact_mirrors.oci.copy.CopySession`: the chart source is read once per chart version
for every mirror (``session.memo``), and a blob one repository of a registry holds is mounted
into the next instead of uploaded again.
"""

from __future__ import annotations

from dataclasses import dataclass

from artifact_mirrors.charts.artifact import Blob, ChartArtifact
from artifact_mirrors.oci.client import RegistryClient
from artifact_mirrors.oci.copy import Copier
from artifact_mirrors.oci.errors import TagConflictError
from artifact_mirrors.oci.media import Manifest
from artifact_mirrors.oci.reference import parse_reference, validate_tag


@dataclass(frozen=True)
class PushResult:
    destination: str
    digest: str
    blobs_uploaded: int
    blobs_mounted: int
    blobs_present: int
    tag_written: bool


def _holders(copier: Copier, host: str, digest: str) -> list[str]:
    with copier.session.lock:
        return list(copier.session.holders.get((host, digest), []))


def _record(copier: Copier, host: str, digest: str, repo: str) -> None:
    with copier.session.lock:
        holders = copier.session.holders.setdefault((host, digest), [])
        if repo not in holders:
            holders.append(repo)


def _ensure_blob(copier: Copier, client: RegistryClient, repo: str, blob: Blob) -> str:
    digest = blob.digest
    if client.blob_exists(repo, digest):
        _record(copier, client.host, digest, repo)
        return "present"
    location: str | None = None
    for other in _holders(copier, client.host, digest):
        if other == repo:
            continue
        if location is not None:
            client.cancel_upload(repo, location)
        location = client.mount_blob(repo, digest, other)
        if location is None:
            _record(copier, client.host, digest, repo)
            return "mounted"
    for attempt in client.retrying():
        with attempt:
            loc = location or client.start_upload(repo, digest)
            location = None
            try:
                client.upload(repo, loc, digest, len(blob.data), iter([blob.data]))
            except BaseException:
                client.cancel_upload(repo, loc)
                raise
    _record(copier, client.host, digest, repo)
    return "uploaded"


def push_chart(copier: Copier, artifact: ChartArtifact, repository: str, tag: str) -> PushResult:
    """Push ``artifact`` to ``repository`` (``host/path``) and point ``tag`` at it."""
    validate_tag(tag)
    ref = parse_reference(repository)
    client = copier.registries.client(ref.registry)
    repo = ref.repository
    name = f"{ref.name}:{tag}"
    current = client.head_manifest(repo, tag)
    if current is not None and current.digest != artifact.digest:
        raise TagConflictError(name, current.digest, artifact.digest)
    manifest = Manifest(artifact.manifest, artifact.media_type, artifact.digest)
    outcomes = {"present": 0, "mounted": 0, "uploaded": 0}
    tag_written = False
    if current is None:
        for blob in artifact.blobs():
            outcomes[_ensure_blob(copier, client, repo, blob)] += 1
        client.put_manifest(repo, artifact.digest, manifest)
        # Re-check right before tagging: another writer may have raced us.
        again = client.head_manifest(repo, tag)
        if again is not None and again.digest != artifact.digest:
            raise TagConflictError(name, again.digest, artifact.digest)
        client.put_manifest(repo, tag, manifest)
        tag_written = True
    return PushResult(
        destination=name,
        digest=artifact.digest,
        blobs_uploaded=outcomes["uploaded"],
        blobs_mounted=outcomes["mounted"],
        blobs_present=outcomes["present"],
        tag_written=tag_written,
    )
