"""The copy path `pulumi up` runs: every ImageTag of a stack served by one provider process.

Several images sharing base layers go to three mirrors through the real dynamic-provider server,
4 calls at a time as the engine makes them. The registries' access logs are the judges: each
unique blob is read from the source once and written to each mirror exactly once, the other
repositories of a mirror mount it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from artifact_mirrors.oci import RetryPolicy, UnreachableError, copy_image
from artifact_mirrors.oci.client import Registries
from artifact_mirrors.oci.env import INSECURE_ENV
from components.dynamic.image_tag import ImageTagProvider
from tests.integration.oci.access import traffic
from tests.integration.oci.images import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    Pusher,
    dumps,
    push_index,
    push_signature,
    sha256,
)
from tests.integration.oci.servers import RegistryServer, free_port, start_registry
from tests.providers.harness import ProviderServer, provider_server, urn

pytestmark = pytest.mark.registry

TYPE = "pulumi-python:dynamic/artifact-mirrors:ImageTag"
IMAGES = ("teleport", "tbot", "teleport-operator")


class Release:
    """Images of one release in the source registry: {repo: index digest}, unique blobs."""

    def __init__(self, pusher: Pusher) -> None:
        self.indexes: dict[str, str] = {}
        self.blobs: dict[str, int] = {}
        base = {p: os.urandom(300_000) for p in ("amd64", "arm64")}
        for name in IMAGES:
            repo = f"gravitational/{name}"
            children = []
            for arch, layer in base.items():
                cfg = pusher.blob(repo, dumps({"os": "linux", "architecture": arch}), OCI_CONFIG)
                layers = [pusher.blob(repo, data, OCI_LAYER) for data in (layer, os.urandom(9_000))]
                raw = dumps(
                    {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": layers}
                )
                desc = pusher.manifest(repo, sha256(raw), raw, OCI_MANIFEST)
                desc["platform"] = {"os": "linux", "architecture": arch}
                children.append(desc)
                for d in (cfg, *layers):
                    self.blobs[d["digest"]] = d["size"]
            index = push_index(pusher, repo, "18.6.6", children)["digest"]
            sig = push_signature(pusher, repo, index)
            sig_doc = json.loads(pusher.raw_manifest(repo, sig["digest"])[0])
            for d in (sig_doc["config"], *sig_doc["layers"]):
                self.blobs[d["digest"]] = d["size"]
            self.indexes[repo] = index

    @property
    def unique_bytes(self) -> int:
        return sum(self.blobs.values())


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("session")


@pytest.fixture(scope="module")
def source_registry(work: Path) -> Iterator[RegistryServer]:
    server = start_registry(work / "src", access_log=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def release(source_registry: RegistryServer) -> Release:
    pusher = Pusher(source_registry.url)
    try:
        return Release(pusher)
    finally:
        pusher.close()


@pytest.fixture
def mirrors(work: Path) -> Iterator[list[RegistryServer]]:
    servers = [
        start_registry(work / f"m{i}-{os.urandom(4).hex()}", access_log=True) for i in range(3)
    ]
    yield servers
    for s in servers:
        s.stop()
        shutil.rmtree(s.root, ignore_errors=True)


def tag_props(
    source: RegistryServer, repo: str, digest: str, mirror: RegistryServer, dst_repo: str = ""
):
    return {
        "registry": mirror.host,
        "release": "18.6.6",
        "source": f"{source.host}/{repo}@{digest}",
        "repository": f"{mirror.host}/{dst_repo or repo}",
        "tag": "18.6.6",
        "digest": digest,
        "floating": False,
        "published": True,
        "signatures": True,
        "registry_kind": "oci",
        "insecure": True,
        "tls_verify": True,
        "ca_file": None,
        "credentials": {"source": "docker-config"},
        "platforms": None,
        "signature_digests": None,
    }


@pytest.fixture
def server(
    source_registry: RegistryServer, mirrors: list[RegistryServer], tmp_path: Path
) -> Iterator[ProviderServer]:
    env = {INSECURE_ENV: source_registry.host, "DOCKER_CONFIG": str(tmp_path)}
    with provider_server(env) as running:
        yield running


def create_all(server: ProviderServer, props: list[dict[str, Any]]) -> list[Any]:
    """Check + Create every tag, 4 at a time: the engine's concurrency for dynamic resources."""
    drv = server.driver(ImageTagProvider())

    def one(p: dict[str, Any]) -> Any:
        res = urn(f"{p['repository']}:{p['tag']}", TYPE)
        return drv.create(res, drv.check(res, None, p).inputs)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, props))


def test_one_provider_process_reads_each_blob_once_for_every_mirror(
    server: ProviderServer,
    source_registry: RegistryServer,
    release: Release,
    mirrors: list[RegistryServer],
) -> None:
    _, start = traffic(source_registry)
    props = [
        tag_props(source_registry, repo, digest, mirror)
        for mirror in mirrors
        for repo, digest in release.indexes.items()
    ]
    created = create_all(server, props)
    assert [c.outputs["digest"] for c in created] == [p["digest"] for p in props]

    read, after_cold = traffic(source_registry, start)
    # Each unique blob read from the source once, for all 3 mirrors and 9 resources.
    assert sorted(read.blob_digests_served) == sorted(release.blobs)
    assert read.blob_bytes_served == release.unique_bytes
    for mirror in mirrors:
        wrote, _ = traffic(mirror)
        # Written exactly once per mirror; the other repositories mounted the shared layers.
        assert sorted(wrote.committed) == sorted(release.blobs), mirror.host
        assert wrote.mounted >= 2  # the two base layers, into at least one sibling repository
        pusher = Pusher(f"http://{mirror.host}")
        try:
            for repo, digest in release.indexes.items():
                assert pusher.tag_digest(repo, "18.6.6") == digest
        finally:
            pusher.close()

    # A re-run (pulumi up after an interruption) reads no blob again.
    create_all(server, props)
    again, _ = traffic(source_registry, after_cold)
    assert again.blob_bytes_served == 0


def test_copy_to_several_mirrors_reads_the_source_once(
    app: typer.Typer,
    source_registry: RegistryServer,
    release: Release,
    mirrors: list[RegistryServer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    repo, digest = next(iter(release.indexes.items()))
    _, start = traffic(source_registry)
    dsts = [f"{m.host}/{repo}:18.6.6" for m in mirrors]
    flags = [x for s in (source_registry, *mirrors) for x in ("--insecure", s.host)]
    result = CliRunner().invoke(
        app, ["copy", f"{source_registry.host}/{repo}@{digest}", *dsts, *flags, "--json"]
    )
    assert result.exit_code == 0, result.output
    docs = json.loads(result.stdout)
    assert [d["destination"] for d in docs] == dsts
    assert {d["digest"] for d in docs} == {digest}
    read, _ = traffic(source_registry, start)
    # The image's own blobs and its signature's, once each although three mirrors needed them.
    assert len(read.blob_digests_served) == len(set(read.blob_digests_served))
    per_mirror = [sorted(traffic(m)[0].committed) for m in mirrors]
    assert per_mirror[0] == per_mirror[1] == per_mirror[2]
    assert sorted(read.blob_digests_served) == per_mirror[0]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://127.0.0.1:5401", "takes a registry host, not a URL"),
        ("127.0.0.1:5401/v2", "takes a registry host, not a URL"),
        ("127.0.0.1:99999", "port must be a number from 1 to 65535"),
        ("127.0.0.1:", "port must be a number from 1 to 65535"),
    ],
)
def test_insecure_takes_host_and_port_only(app: typer.Typer, value: str, problem: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "copy",
            "127.0.0.1:5401/a@sha256:" + "a" * 64,
            "127.0.0.1:5402/a:1",
            "--insecure",
            value,
        ],
    )
    assert result.exit_code == 2
    assert result.output == (
        f"mirrors copy: --insecure: {problem} (got {value}). "
        "Hint: write HOST:PORT, e.g. --insecure 127.0.0.1:5000\n"
    )


def _closed_port() -> int:
    port = free_port()
    with socket.socket() as s:  # nothing listens there: a connect is refused at once
        assert s.connect_ex(("127.0.0.1", port)) != 0
    return port


def test_unreachable_registries_fail_fast_naming_the_side(
    source_registry: RegistryServer, release: Release, mirrors: list[RegistryServer]
) -> None:
    sleeps: list[float] = []
    dead = f"127.0.0.1:{_closed_port()}"
    repo, digest = next(iter(release.indexes.items()))
    with Registries(
        insecure=[source_registry.host, mirrors[0].host, dead],
        retry=RetryPolicy(initial=0.001, sleep=sleeps.append),
    ) as regs:
        with pytest.raises(UnreachableError) as err:
            copy_image(f"{dead}/{repo}@{digest}", f"{mirrors[0].host}/{repo}", "1", registries=regs)
        assert str(err.value) == (
            f"source registry {dead} is unreachable: connection refused. Hint: check the "
            "source host and port, and that the registry is running"
        )
        with pytest.raises(UnreachableError) as err:
            copy_image(
                f"{source_registry.host}/{repo}@{digest}", f"{dead}/{repo}", "1", registries=regs
            )
        assert str(err.value) == (
            f"destination registry {dead} is unreachable: connection refused. Hint: check the "
            "destination host and port, and that the registry is running"
        )
        # RFC 6761: .invalid never resolves.
        with pytest.raises(UnreachableError) as err:
            copy_image(
                f"{source_registry.host}/{repo}@{digest}",
                "registry.invalid/mirror/app",
                "1",
                registries=regs,
            )
        assert str(err.value) == (
            "destination registry registry.invalid is unreachable: unknown host. Hint: check "
            "the destination host and port, and that the registry is running"
        )
    assert sleeps == []  # not retried


def test_a_change_of_how_the_mirror_is_reached_is_an_update_that_copies_nothing(
    server: ProviderServer,
    source_registry: RegistryServer,
    release: Release,
    mirrors: list[RegistryServer],
) -> None:
    drv = server.driver(ImageTagProvider())
    repo, digest = next(iter(release.indexes.items()))
    before = tag_props(source_registry, repo, digest, mirrors[0])
    res = urn(f"{before['repository']}:18.6.6", TYPE)
    created = drv.create(res, drv.check(res, None, before).inputs)
    after = {**before, "credentials": {"source": "env", "username_env": "U", "password_env": "P"}}
    checked = drv.check(res, before, after).inputs
    diff = drv.diff(created.id, res, created.outputs, checked, old_inputs=before)
    assert (diff.changes.value, diff.replaces) == ("some", ())  # state must not keep stale inputs
    _, start = traffic(source_registry)
    updated = drv.update(created.id, res, created.outputs, checked, old_inputs=before)
    assert traffic(source_registry, start)[0].requests == 0  # nothing read, nothing copied
    assert updated["credentials"] == after["credentials"]
    assert updated["platforms"] == created.outputs["platforms"]
    assert updated["signature_digests"] == created.outputs["signature_digests"]


def test_preview_survives_a_mirror_it_cannot_ask(server: ProviderServer) -> None:
    # ECR Public's token comes from an AWS profile; without one (expired SSO, CI without AWS),
    # the live check falls back to the recorded state instead of failing the whole preview.
    drv = server.driver(ImageTagProvider())
    digest = "sha256:" + "ab" * 32
    props = {
        "registry": "ecr-public",
        "release": "18.6.6",
        "source": f"public.ecr.aws/gravitational/teleport@{digest}",
        "repository": "public.ecr.aws/teleport-mirror/teleport",
        "tag": "18.6.6",
        "digest": digest,
        "floating": False,
        "published": True,
        "signatures": True,
        "registry_kind": "ecr-public",
        "insecure": False,
        "tls_verify": True,
        "ca_file": None,
        "credentials": {"source": "aws", "profile": "no-such-profile"},
    }
    res = urn("ecr-public/teleport:18.6.6", TYPE)
    checked = drv.check(res, props, props).inputs
    outputs = {**checked, "platforms": ["linux/amd64"], "signature_digests": {}}
    diff = drv.diff("public.ecr.aws/teleport-mirror/teleport:18.6.6", res, outputs, checked)
    assert diff.changes.value == "none"
