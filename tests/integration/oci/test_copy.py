"""Copies between real docker-registry servers: identity, skipping, mounts, dedupe, tag safety."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from artifact_mirrors.oci import (
    Copier,
    CopyJob,
    ProgressEvent,
    Registries,
    TagConflictError,
    copy_image,
    cosign_tag,
    referrers_tag,
)
from tests.integration.oci.images import Pusher, SourceImages
from tests.integration.oci.servers import RegistryServer

pytestmark = pytest.mark.registry


def tree_digests(p: Pusher, repo: str, digest: str) -> list[str]:
    """Every manifest digest below (and including) ``digest``."""
    raw, _ = p.raw_manifest(repo, digest)
    doc = json.loads(raw)
    out = [digest]
    for child in doc.get("manifests") or []:
        out += tree_digests(p, repo, child["digest"])
    return out


def blob_set(p: Pusher, repo: str, digest: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in tree_digests(p, repo, digest):
        doc = json.loads(p.raw_manifest(repo, d)[0])
        for desc in [doc.get("config"), *(doc.get("layers") or [])]:
            if desc:
                out[desc["digest"]] = desc["size"]
    return out


def test_multi_arch_index_copied_byte_identical(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    events: list[ProgressEvent] = []
    result = copy_image(
        f"{src_registry.host}/src/app@{source.index}",
        f"{dst_registry.host}/{repo_name}",
        "1.0",
        registries=registries,
        progress=events.append,
    )
    assert result.digest == source.index
    assert result.media_type == "application/vnd.oci.image.index.v1+json"
    assert result.platforms == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    assert dst_pusher.tag_digest(repo_name, "1.0") == source.index
    digests = tree_digests(src_pusher, "src/app", source.index)
    assert source.attestation in digests
    for d in digests:
        assert dst_pusher.raw_manifest(repo_name, d) == src_pusher.raw_manifest("src/app", d)
    blobs = blob_set(src_pusher, "src/app", source.index)
    # Attachments (signatures, SBOM referrer) bring their own blobs; the image's are all there.
    assert result.blobs_copied >= len(blobs)
    assert result.bytes_moved >= sum(blobs.values())
    assert result.blobs_mounted == 0
    assert sum(e.blobs_done for e in events) == sum(e.blobs_total for e in events)
    assert sum(e.bytes_done for e in events) == sum(e.bytes_total for e in events)
    assert sum(e.bytes_done for e in events) == result.bytes_moved


def test_rerun_skips_everything(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    repo_name: str,
) -> None:
    args = (f"{src_registry.host}/src/app@{source.index}", f"{dst_registry.host}/{repo_name}")
    first = copy_image(*args, "1.0", registries=registries)
    assert not first.up_to_date
    again = copy_image(*args, "1.0", registries=registries)
    assert again.up_to_date
    assert (again.bytes_moved, again.blobs_copied, again.blobs_mounted, again.manifests_pushed) == (
        0,
        0,
        0,
        0,
    )
    assert again.signature_digests == first.signature_digests


def test_same_registry_mounts_instead_of_uploading(
    source: SourceImages,
    src_registry: RegistryServer,
    registries: Registries,
    src_pusher: Pusher,
    repo_name: str,
) -> None:
    result = copy_image(
        f"{src_registry.host}/src/app@{source.index}",
        f"{src_registry.host}/{repo_name}",
        "1.0",
        registries=registries,
        signatures=False,
        referrers=False,
    )
    blobs = blob_set(src_pusher, "src/app", source.index)
    assert (result.blobs_copied, result.bytes_moved) == (0, 0)
    assert result.blobs_mounted == len(blobs)
    assert src_pusher.tag_digest(repo_name, "1.0") == source.index


def test_dedupe_and_mount_across_images_in_one_run(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    src_pusher: Pusher,
    repo_name: str,
) -> None:
    src = f"{src_registry.host}/src/app"
    dst = f"{dst_registry.host}/{repo_name}"
    jobs = [
        CopyJob(f"{src}@{source.index}", f"{dst}-a", "1.0", signatures=False),
        CopyJob(f"{src}@{source.docker_list}", f"{dst}-a", "1.0-docker", signatures=False),
        CopyJob(f"{src}@{source.index}", f"{dst}-b", "1.0", signatures=False),
        CopyJob(f"{src}@{source.docker_list}", f"{dst}-b", "1.0-docker", signatures=False),
    ]
    with Copier(registries, concurrency=4) as copier:
        results = copier.copy_images(jobs)
        locations = copier.blob_locations
    needed = blob_set(src_pusher, "src/app", source.index) | blob_set(
        src_pusher, "src/app", source.docker_list
    )
    # Every distinct blob crosses the wire once; the second repository mounts all of them.
    assert sum(r.bytes_moved for r in results) == sum(needed.values())
    assert sum(r.blobs_copied for r in results) == len(needed)
    assert sum(r.blobs_mounted for r in results) == len(needed)
    assert sorted(locations[next(iter(needed))]) == [
        f"{dst_registry.host}/{repo_name}-a",
        f"{dst_registry.host}/{repo_name}-b",
    ]


def test_mount_hints_from_an_earlier_run(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    src_pusher: Pusher,
    repo_name: str,
) -> None:
    src = f"{src_registry.host}/src/app@{source.index}"
    with Copier(registries) as first:
        first.copy_image(src, f"{dst_registry.host}/{repo_name}-a", "1.0", signatures=False)
        hints = first.blob_locations
    with Copier(registries, mount_hints=hints) as second:
        result = second.copy_image(
            src, f"{dst_registry.host}/{repo_name}-b", "1.0", signatures=False
        )
    assert (result.blobs_copied, result.bytes_moved) == (0, 0)
    assert result.blobs_mounted == len(blob_set(src_pusher, "src/app", source.index))


@pytest.mark.parametrize("tag", ["1.0-docker", "nested", "artifact", "nonascii"])
def test_other_manifest_kinds_verbatim(
    tag: str,
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    digest = {
        "1.0-docker": source.docker_list,
        "nested": source.nested,
        "artifact": source.artifact,
        "nonascii": source.nonascii,
    }[tag]
    result = copy_image(
        f"{src_registry.host}/src/app@{digest}",
        f"{dst_registry.host}/{repo_name}",
        tag,
        registries=registries,
    )
    assert dst_pusher.tag_digest(repo_name, tag) == digest
    for d in tree_digests(src_pusher, "src/app", digest):
        assert dst_pusher.raw_manifest(repo_name, d) == src_pusher.raw_manifest("src/app", d)
    expected = {
        "1.0-docker": (
            "application/vnd.docker.distribution.manifest.list.v2+json",
            ["linux/amd64", "linux/arm64"],
        ),
        "nested": (
            "application/vnd.oci.image.index.v1+json",
            ["linux/amd64", "linux/arm64", "linux/s390x"],
        ),
        "artifact": ("application/vnd.oci.image.manifest.v1+json", []),
        "nonascii": ("application/vnd.oci.image.manifest.v1+json", ["linux/amd64"]),
    }[tag]
    assert (result.media_type, result.platforms) == expected
    if tag == "nonascii":
        assert "日本語".encode() in dst_pusher.raw_manifest(repo_name, digest)[0]


def test_release_tag_never_moves(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    src = f"{src_registry.host}/src/app"
    dst = f"{dst_registry.host}/{repo_name}"
    copy_image(f"{src}@{source.index}", dst, "17.0.1", registries=registries, signatures=False)
    with pytest.raises(TagConflictError) as err:
        copy_image(f"{src}@{source.docker_list}", dst, "17.0.1", registries=registries)
    assert str(err.value) == (
        f"tag {dst}:17.0.1 already points at {source.index}, refusing to move it to "
        f"{source.docker_list} (release tags never move; mark the tag floating to allow it)"
    )
    assert dst_pusher.tag_digest(repo_name, "17.0.1") == source.index


def test_floating_tag_moves(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    src = f"{src_registry.host}/src/app"
    dst = f"{dst_registry.host}/{repo_name}"
    copy_image(f"{src}@{source.index}", dst, "17", registries=registries, floating=True)
    moved = copy_image(
        f"{src}@{source.docker_list}", dst, "17", registries=registries, floating=True
    )
    assert moved.previous_digest == source.index
    assert dst_pusher.tag_digest(repo_name, "17") == source.docker_list


def test_signature_tags_and_referrers_fallback_copied(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    result = copy_image(
        f"{src_registry.host}/src/app@{source.index}",
        f"{dst_registry.host}/{repo_name}",
        "1.0",
        registries=registries,
    )
    expected = dict(source.signatures)
    # The source keeps its referrers in the fallback tag; docker-registry 2.8 has no referrers
    # API, so the destination gets the same index under the same tag, byte for byte.
    expected[referrers_tag(source.index)] = source.referrers_index
    assert result.signature_digests == expected
    for tag, digest in expected.items():
        assert dst_pusher.tag_digest(repo_name, tag) == digest
    assert dst_pusher.raw_manifest(repo_name, source.sbom_referrer) == src_pusher.raw_manifest(
        "src/app", source.sbom_referrer
    )
    # The attestation manifest has no signature: absent at the source means absent here.
    assert dst_pusher.tag_digest(repo_name, cosign_tag(source.attestation, "sig")) is None


def test_no_signatures(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    result = copy_image(
        f"{src_registry.host}/src/app@{source.index}",
        f"{dst_registry.host}/{repo_name}",
        "1.0",
        registries=registries,
        signatures=False,
        referrers=False,
    )
    assert result.signature_digests == {}
    assert dst_pusher.tag_digest(repo_name, cosign_tag(source.index, "sig")) is None


def test_skopeo_reads_the_same_bytes(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    src_pusher: Pusher,
    repo_name: str,
) -> None:
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo not found on PATH: apt-get install skopeo (CI installs it)"
    copy_image(
        f"{src_registry.host}/src/app@{source.nonascii}",
        f"{dst_registry.host}/{repo_name}",
        "x",
        registries=registries,
    )
    raw = subprocess.run(
        [
            skopeo,
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"docker://{dst_registry.host}/{repo_name}:x",
        ],
        check=True,
        capture_output=True,
    ).stdout
    assert raw == src_pusher.raw_manifest("src/app", source.nonascii)[0]
