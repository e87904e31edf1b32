"""A yank on Docker Hub / quay.io reads the same credential sources as MirrorRepository.

Before: ImageTag's unpublish read only ``username_env`` / ``password_env`` from the environment,
so with ``from: docker-config`` (the schema default) or ``from: stack-config`` the yank went
anonymous and failed at login. In process (the public API base is redirected to the fake hub by
patching the module default, which cannot cross into a provider server).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi.dynamic import Config, ConfigureRequest

from components.dynamic import image_tag, repository
from tests.providers.fake_meta_server import FakeRepo, FakeState, fake_meta_server

HUB_USER, HUB_TOKEN, QUAY_TOKEN = "mirrorbot", "dckr_pat_Y4NK-hub", "quay-Y4NK-oauth"
DIGEST = "sha256:" + "ef" * 32


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeState]:
    state = FakeState(hub_username=HUB_USER, hub_token=HUB_TOKEN, quay_token=QUAY_TOKEN)
    with fake_meta_server(state) as api:
        monkeypatch.setitem(repository.DEFAULT_API, "dockerhub", api)
        monkeypatch.setitem(repository.DEFAULT_API, "quay", api)
        for var in ("DOCKER_CONFIG", "MIRRORS_REGISTRY_AUTH"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
        yield state


def yanked(kind: str, credentials: dict[str, str]) -> dict[str, Any]:
    host = {"dockerhub": "docker.io", "quay": "quay.io"}[kind]
    return {
        "registry": kind,
        "release": "15.1.6",
        "source": f"public.ecr.aws/gravitational/teleport@{DIGEST}",
        "repository": f"{host}/gravitational/teleport",
        "tag": "15.1.6",
        "digest": DIGEST,
        "floating": False,
        "published": False,
        "signatures": True,
        "registry_kind": kind,
        "credentials": credentials,
    }


def test_yank_with_docker_config_credentials(fake: FakeState, tmp_path: Path) -> None:
    auth = base64.b64encode(f"{HUB_USER}:{HUB_TOKEN}".encode()).decode()
    quay = base64.b64encode(f"$oauthtoken:{QUAY_TOKEN}".encode()).decode()
    (tmp_path / "config.json").write_text(
        json.dumps(
            {"auths": {"https://index.docker.io/v1/": {"auth": auth}, "quay.io": {"auth": quay}}}
        )
    )
    fake.hub[("gravitational", "teleport")] = FakeRepo(tags={"15.1.6", "15.1"})
    fake.quay[("gravitational", "teleport")] = FakeRepo(tags={"15.1.6", "15.1"})
    provider = image_tag.ImageTagProvider()
    for kind in ("dockerhub", "quay"):
        props = yanked(kind, {"source": "docker-config"})
        assert provider.update("id", props, props).outs == {
            **props,
            "platforms": [],
            "signature_digests": {},
        }
    assert fake.hub[("gravitational", "teleport")].tags == {"15.1"}
    assert fake.quay[("gravitational", "teleport")].tags == {"15.1"}


def test_yank_with_stack_config_credentials(fake: FakeState) -> None:
    fake.hub[("gravitational", "teleport")] = FakeRepo(tags={"15.1.6"})
    provider = image_tag.ImageTagProvider()
    config = {"artifact-mirrors:hub": f"{HUB_USER}:{HUB_TOKEN}"}
    provider.configure(ConfigureRequest(Config(config, "artifact-mirrors")))
    props = yanked("dockerhub", {"source": "stack-config", "config_key": "hub"})
    provider.update("id", props, props)
    assert fake.hub[("gravitational", "teleport")].tags == set()
    # Idempotent: the tag is already gone.
    provider.update("id", props, props)
