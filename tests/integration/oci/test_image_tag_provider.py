"""ImageTag through the real provider server, copying between real docker-registry servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from artifact_mirrors.oci.env import INSECURE_ENV
from components.dynamic.image_tag import ImageTagProvider
from tests.integration.oci.conftest import AUTH_USER
from tests.integration.oci.images import Pusher, SourceImages
from tests.integration.oci.servers import CertAuthority, RegistryServer
from tests.providers.harness import (
    ProviderError,
    ProviderServer,
    inspect_serialized_provider,
    provider_server,
    urn,
)

TYPE = "pulumi-python:dynamic/artifact-mirrors:ImageTag"


@pytest.fixture(scope="module")
def server(
    src_registry: RegistryServer, dst_registry: RegistryServer, auth_password: str
) -> Iterator[ProviderServer]:
    env = {
        INSECURE_ENV: f"{src_registry.host},{dst_registry.host}",
        "TEST_MIRROR_USER": AUTH_USER,
        "TEST_MIRROR_PASSWORD": auth_password,
    }
    with provider_server(env) as running:
        yield running


def props(source: SourceImages, src: RegistryServer, repository: str, tag: str, **kw: Any):
    digest = kw.pop("digest", source.index)
    return {
        "registry": "test",
        "release": tag,
        "source": f"{src.host}/{source.repo}@{digest}",
        "repository": repository,
        "tag": tag,
        "digest": digest,
        "floating": False,
        "published": True,
        "signatures": True,
        "registry_kind": "oci",
        "insecure": False,
        "tls_verify": True,
        "ca_file": None,
        "credentials": {"source": "docker-config"},
        "platforms": None,
        "signature_digests": None,
        **kw,
    }


def test_create_copies_the_whole_index_by_digest_and_diff_sees_drift(
    server: ProviderServer,
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    drv = server.driver(ImageTagProvider())
    res = urn(f"test/{repo_name}:17.0.1", TYPE)
    news = props(source, src_registry, f"{dst_registry.host}/{repo_name}", "17.0.1")
    created = drv.create(res, drv.check(res, None, news).inputs)
    assert created.id == f"{dst_registry.host}/{repo_name}:17.0.1"
    assert dst_pusher.tag_digest(repo_name, "17.0.1") == source.index
    assert sorted(created.outputs["platforms"]) == ["linux/amd64", "linux/arm/v7", "linux/arm64"]
    assert set(source.signatures) <= set(created.outputs["signature_digests"])

    assert drv.diff(created.id, res, created.outputs, news).changes.value == "none"
    # Deleted behind our back: the next preview shows an update, and the update repairs it.
    dst_pusher.http.delete(f"/v2/{repo_name}/manifests/{source.index}").raise_for_status()
    assert drv.diff(created.id, res, created.outputs, news).changes.value == "some"
    drv.update(created.id, res, created.outputs, news)
    assert dst_pusher.tag_digest(repo_name, "17.0.1") == source.index


def test_release_tag_is_never_moved_but_floating_tags_are(
    server: ProviderServer,
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    drv = server.driver(ImageTagProvider())
    repo = f"{dst_registry.host}/{repo_name}"
    first = props(source, src_registry, repo, "17", floating=True)
    res = urn(f"test/{repo_name}:17", TYPE)
    created = drv.create(res, first)
    moved = props(source, src_registry, repo, "17", floating=True, digest=source.docker_list)
    assert drv.diff(created.id, res, created.outputs, moved).changes.value == "some"
    drv.update(created.id, res, created.outputs, moved)
    assert dst_pusher.tag_digest(repo_name, "17") == source.docker_list

    # "17.0.1" already names another digest at the destination: a release tag never moves.
    release = props(source, src_registry, repo, "17.0.1")
    drv.create(urn(f"test/{repo_name}:17.0.1-a", TYPE), release)
    other = props(source, src_registry, repo, "17.0.1", digest=source.docker_list)
    with pytest.raises(ProviderError) as err:
        drv.create(urn(f"test/{repo_name}:17.0.1-b", TYPE), other)
    assert str(err.value).startswith(f"{repo}:17.0.1: ")
    assert source.index in str(err.value) and source.docker_list in str(err.value)
    assert dst_pusher.tag_digest(repo_name, "17.0.1") == source.index


def test_yank_update_deletes_the_tag(
    server: ProviderServer,
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    dst_pusher: Pusher,
    src_pusher: Pusher,
    repo_name: str,
) -> None:
    drv = server.driver(ImageTagProvider())
    repo = f"{dst_registry.host}/{repo_name}"
    res = urn(f"test/{repo_name}:18.0.0", TYPE)
    live = props(source, src_registry, repo, "18.0.0", digest=source.docker_list)
    created = drv.create(res, live)
    yanked = {**live, "published": False}
    assert drv.diff(created.id, res, created.outputs, yanked).changes.value == "some"
    outs = drv.update(created.id, res, created.outputs, yanked)
    assert dst_pusher.tag_digest(repo_name, "18.0.0") is None
    assert outs["platforms"] == []
    assert drv.diff(created.id, res, outs, yanked).changes.value == "none"
    # Deleting a published tag's resource leaves the tag; a yanked one's makes sure it is gone.
    other = urn(f"test/{repo_name}:18.0.1", TYPE)
    kept = drv.create(other, props(source, src_registry, repo, "18.0.1"))
    drv.delete(kept.id, other, kept.outputs)
    assert dst_pusher.tag_digest(repo_name, "18.0.1") == source.index
    # Someone re-pushed the yanked tag (its children are still there); deleting the yanked
    # resource removes it again.
    dst_pusher.manifest(repo_name, "18.0.0", *src_pusher.raw_manifest(source.repo, "1.0-docker"))
    assert dst_pusher.tag_digest(repo_name, "18.0.0") == source.docker_list
    drv.delete(created.id, res, outs)
    assert dst_pusher.tag_digest(repo_name, "18.0.0") is None


def test_credentials_come_from_the_environment_and_stay_out_of_state(
    server: ProviderServer,
    source: SourceImages,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    test_ca: CertAuthority,
    auth_password: str,
    repo_name: str,
) -> None:
    drv = server.driver(ImageTagProvider())
    res = urn(f"auth/{repo_name}:1", TYPE)
    news = props(
        source,
        src_registry,
        f"{auth_registry.host}/{repo_name}",
        "1.0.0",
        credentials={
            "source": "env",
            "username_env": "TEST_MIRROR_USER",
            "password_env": "TEST_MIRROR_PASSWORD",
        },
        ca_file=str(test_ca.ca_cert),
    )
    created = drv.create(res, news)
    assert created.outputs["digest"] == source.index
    assert auth_password not in repr(created.outputs)
    assert not inspect_serialized_provider(drv.provider_string).mentions(auth_password)

    missing = {**news, "credentials": {**news["credentials"], "password_env": "NOPE_UNSET"}}
    with pytest.raises(ProviderError) as err:
        drv.create(urn(f"auth/{repo_name}:2", TYPE), missing)
    assert str(err.value) == (
        f"{auth_registry.host}/{repo_name}:1.0.0: credentials for "
        f"{auth_registry.host}/{repo_name}: environment variable(s) NOPE_UNSET not set"
    )


def test_credentials_from_a_stack_config_secret(
    source: SourceImages,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    test_ca: CertAuthority,
    auth_password: str,
    repo_name: str,
) -> None:
    config = {"artifact-mirrors:testRegistryAuth": f"{AUTH_USER}:{auth_password}"}
    env = {INSECURE_ENV: src_registry.host}
    with provider_server(env, config=config) as running:
        drv = running.driver(ImageTagProvider())
        news = props(
            source,
            src_registry,
            f"{auth_registry.host}/{repo_name}",
            "2.0.0",
            credentials={"source": "stack-config", "config_key": "testRegistryAuth"},
            ca_file=str(test_ca.ca_cert),
        )
        created = drv.create(urn(f"cfg/{repo_name}", TYPE), news)
        assert created.outputs["digest"] == source.index
        assert auth_password not in repr(created.outputs)
        assert not inspect_serialized_provider(drv.provider_string).mentions(auth_password)

        unset = {**news, "credentials": {"source": "stack-config", "config_key": "nope"}}
        with pytest.raises(ProviderError) as err:
            drv.create(urn(f"cfg/{repo_name}-2", TYPE), unset)
        assert str(err.value) == (
            f"{auth_registry.host}/{repo_name}:2.0.0: credentials for "
            f"{auth_registry.host}/{repo_name}: stack config artifact-mirrors:nope is not set to "
            "'username:password' (pulumi config set --secret artifact-mirrors:nope USER:PASSWORD)"
        )
