"""resolve / describe / delete_tag against a real docker-registry 2.8."""

from __future__ import annotations

import pytest

from artifact_mirrors.oci import (
    DeleteUnsupported,
    InvalidReference,
    Registries,
    RegistryError,
    copy_image,
    delete_tag,
    describe,
    resolve,
)
from tests.integration.oci.images import Pusher, SourceImages
from tests.integration.oci.servers import RegistryServer

pytestmark = pytest.mark.registry


def test_resolve(
    source: SourceImages, src_registry: RegistryServer, registries: Registries
) -> None:
    host = src_registry.host
    assert resolve(f"{host}/src/app:1.0", registries=registries) == source.index
    assert resolve(f"{host}/src/app@{source.index}", registries=registries) == source.index
    assert resolve(f"{host}/src/app:nope", registries=registries) is None
    assert resolve(f"{host}/no/such-repo:1.0", registries=registries) is None
    with pytest.raises(InvalidReference) as err:
        resolve(f"{host}/src/app", registries=registries)
    assert str(err.value) == (
        f"reference has no tag or digest (got {host}/src/app). Hint: add :TAG or @DIGEST"
    )


def test_describe(
    source: SourceImages, src_registry: RegistryServer, registries: Registries
) -> None:
    host = src_registry.host
    d = describe(f"{host}/src/app@{source.index}", registries=registries)
    assert (d.digest, d.media_type, d.platforms, d.artifact_type) == (
        source.index,
        "application/vnd.oci.image.index.v1+json",
        ["linux/amd64", "linux/arm64", "linux/arm/v7"],
        None,
    )
    art = describe(f"{host}/src/app:artifact", registries=registries)
    assert (art.digest, art.platforms, art.artifact_type) == (
        source.artifact,
        [],
        "application/vnd.example.chart.v1",
    )
    single = describe(f"{host}/src/app@{source.children[2]}", registries=registries)
    assert single.platforms == ["linux/arm/v7"]


def test_describe_missing_names_the_reference(
    src_registry: RegistryServer, registries: Registries
) -> None:
    digest = "sha256:" + "0" * 64
    with pytest.raises(RegistryError) as err:
        describe(f"{src_registry.host}/src/app@{digest}", registries=registries)
    assert str(err.value) == (
        f"describe failed: {src_registry.host}/src/app@{digest}: HTTP 404 MANIFEST_UNKNOWN: "
        "manifest unknown"
    )


def test_delete_tag_falls_back_to_digest_on_registry_2_8(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    dst = f"{dst_registry.host}/{repo_name}"
    copy_image(f"{src_registry.host}/src/app@{source.index}", dst, "1.0", registries=registries)
    copy_image(f"{src_registry.host}/src/app@{source.artifact}", dst, "a", registries=registries)
    result = delete_tag(f"{dst}:1.0", registries=registries)
    assert (result.deleted, result.digest, result.method) == (True, source.index, "digest")
    assert dst_pusher.tag_digest(repo_name, "1.0") is None
    assert dst_pusher.tag_digest(repo_name, "a") == source.artifact
    # Signatures are separate manifests: they stay (cosign's own tags, not ours to remove).
    sig = source.index.replace(":", "-") + ".sig"
    assert dst_pusher.tag_digest(repo_name, sig) == source.signatures[sig]
    again = delete_tag(f"{dst}:1.0", registries=registries)
    assert (again.deleted, again.method) == (False, "absent")


def test_delete_tag_refuses_when_another_tag_shares_the_digest(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    registries: Registries,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    dst = f"{dst_registry.host}/{repo_name}"
    src = f"{src_registry.host}/src/app@{source.artifact}"
    copy_image(src, dst, "17.0.1", registries=registries)
    copy_image(src, dst, "17", registries=registries, floating=True)
    with pytest.raises(DeleteUnsupported) as err:
        delete_tag(f"{dst}:17", registries=registries)
    assert str(err.value) == (
        f"cannot delete {dst}:17: {dst_registry.host} cannot delete a tag alone (only a digest, "
        f"which would also remove 17.0.1 pointing at {source.artifact})"
    )
    assert dst_pusher.tag_digest(repo_name, "17") == source.artifact
    # With the managed tags given (17.0.1 is not among them), the caller takes responsibility.
    result = delete_tag(f"{dst}:17", registries=registries, managed_tags=["17", "18"])
    assert result.method == "digest"
    assert dst_pusher.tag_digest(repo_name, "17") is None
