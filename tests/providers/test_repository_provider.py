"""MirrorRepository through the real dynamic-provider server, against a fake Hub/quay API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from components.dynamic.repository import MirrorRepositoryArgs, MirrorRepositoryProvider
from tests.providers.fake_meta_server import FakeRepo, FakeState, fake_meta_server
from tests.providers.harness import (
    UNKNOWN,
    CheckFailure,
    DiffChanges,
    ProviderDriver,
    ProviderError,
    ProviderServer,
    inspect_serialized_provider,
    provider_server,
    reveal,
    urn,
)

HUB_USER, HUB_TOKEN, QUAY_TOKEN = "mirrorbot", "dckr_pat_S3CR3T-hub", "quay-S3CR3T-oauth"
TYPE = "pulumi-python:dynamic/artifact-mirrors:MirrorRepository"
LABEL = "Mirror of public.ecr.aws/gravitational/teleport, published by Teleport."
FULL = "# Mirror\n\nImages here are copied bit for bit from `public.ecr.aws/gravitational`."
HUB_ENV = {"source": "env", "username_env": "DOCKERHUB_USERNAME", "password_env": "DOCKERHUB_TOKEN"}
QUAY_ENV = {"source": "env", "api_token_env": "QUAY_TOKEN"}


@pytest.fixture(scope="module")
def fake() -> FakeState:
    return FakeState(hub_username=HUB_USER, hub_token=HUB_TOKEN, quay_token=QUAY_TOKEN)


@pytest.fixture(scope="module")
def api(fake: FakeState) -> Iterator[str]:
    with fake_meta_server(fake) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    env = {
        "DOCKERHUB_USERNAME": HUB_USER,
        "DOCKERHUB_TOKEN": HUB_TOKEN,
        "QUAY_TOKEN": QUAY_TOKEN,
        "WRONG_TOKEN": "not-the-token",
    }
    with provider_server(env) as running:
        yield running


@pytest.fixture
def driver(server: ProviderServer) -> ProviderDriver:
    return server.driver(MirrorRepositoryProvider())


def args(api: str, kind: str, name: str, **overrides: Any) -> dict[str, Any]:
    base = MirrorRepositoryArgs(
        kind=kind,
        namespace="gravitational",
        name=name,
        description=LABEL,
        full_description=FULL,
        api_base=api,
        credentials=HUB_ENV if kind == "dockerhub" else QUAY_ENV,
    ).props()
    return {**base, **overrides}


def test_dockerhub_lifecycle_with_drift(driver: ProviderDriver, fake: FakeState, api: str) -> None:
    res = urn("teleport-hub", TYPE)
    checked = driver.check(res, None, args(api, "dockerhub", "teleport"))
    assert checked.failures == ()

    created = driver.create(res, checked.inputs)
    assert created.id == "dockerhub/gravitational/teleport"
    assert created.outputs["url"] == f"{api}/r/gravitational/teleport"
    assert created.outputs["description"] == LABEL
    assert fake.hub[("gravitational", "teleport")] == FakeRepo(LABEL, FULL, public=True)

    same = driver.check(res, checked.inputs, args(api, "dockerhub", "teleport"))
    no_change = driver.diff(created.id, res, created.outputs, same.inputs)
    assert no_change.changes is DiffChanges.NONE

    # Someone edits the description on hub.docker.com: the next preview shows an update.
    fake.hub[("gravitational", "teleport")].description = "edited by hand"
    drift = driver.diff(created.id, res, created.outputs, same.inputs)
    assert (drift.changes, drift.replaces) == (DiffChanges.SOME, ())
    repaired = driver.update(created.id, res, created.outputs, same.inputs)
    assert fake.hub[("gravitational", "teleport")].description == LABEL
    assert repaired["description"] == LABEL

    relabelled = driver.check(
        res, same.inputs, args(api, "dockerhub", "teleport", description="Mirror (new label)")
    )
    assert driver.diff(created.id, res, repaired, relabelled.inputs).changes is DiffChanges.SOME
    updated = driver.update(created.id, res, repaired, relabelled.inputs)
    assert updated["description"] == "Mirror (new label)"
    assert fake.hub[("gravitational", "teleport")].description == "Mirror (new label)"

    # delete is a no-op: a public repository is never deleted.
    driver.delete(created.id, res, updated)
    assert ("gravitational", "teleport") in fake.hub


def test_quay_adopts_existing_repository(driver: ProviderDriver, fake: FakeState, api: str) -> None:
    fake.quay[("gravitational", "teleport-ent")] = FakeRepo("old text", public=True)
    res = urn("teleport-ent-quay", TYPE)
    checked = driver.check(res, None, args(api, "quay", "teleport-ent"))
    created = driver.create(res, checked.inputs)
    assert created.outputs["url"] == f"{api}/repository/gravitational/teleport-ent"
    assert fake.quay[("gravitational", "teleport-ent")].description == f"{LABEL}\n\n{FULL}"
    assert driver.diff(created.id, res, created.outputs, checked.inputs).changes is (
        DiffChanges.NONE
    )
    fake.quay[("gravitational", "teleport-ent")].description = "drifted"
    assert driver.diff(created.id, res, created.outputs, checked.inputs).changes is (
        DiffChanges.SOME
    )
    driver.delete(created.id, res, created.outputs)
    assert ("gravitational", "teleport-ent") in fake.quay


def test_quay_creates_missing_repository_and_rename_replaces(
    driver: ProviderDriver, fake: FakeState, api: str
) -> None:
    res = urn("tbot-quay", TYPE)
    checked = driver.check(res, None, args(api, "quay", "tbot"))
    created = driver.create(res, checked.inputs)
    assert fake.quay[("gravitational", "tbot")] == FakeRepo(f"{LABEL}\n\n{FULL}", public=True)
    renamed = driver.check(res, checked.inputs, args(api, "quay", "tbot-distroless"))
    diff = driver.diff(created.id, res, created.outputs, renamed.inputs)
    assert (diff.changes, diff.replaces) == (DiffChanges.SOME, ("name",))


def test_repository_deleted_behind_our_back_shows_as_drift(
    driver: ProviderDriver, fake: FakeState, api: str
) -> None:
    res = urn("gone", TYPE)
    checked = driver.check(res, None, args(api, "dockerhub", "gone"))
    created = driver.create(res, checked.inputs)
    del fake.hub[("gravitational", "gone")]
    assert driver.diff(created.id, res, created.outputs, checked.inputs).changes is (
        DiffChanges.SOME
    )
    driver.update(created.id, res, created.outputs, checked.inputs)
    assert fake.hub[("gravitational", "gone")].description == LABEL


def test_check_failures(driver: ProviderDriver, api: str) -> None:
    res = urn("bad", TYPE)
    too_long = "x" * 101
    checked = driver.check(
        res,
        None,
        args(
            api,
            "dockerhub",
            "bad",
            description=too_long,
            credentials={"source": "env", "username_env": "U"},
        ),
    )
    assert checked.failures == (
        CheckFailure(
            "description", "Docker Hub short description is 101 characters; the limit is 100"
        ),
        CheckFailure(
            "credentials",
            "Docker Hub credentials from env must name password_env (or api_token_env)",
        ),
    )
    gitlab = {**args("http://hub.example", "quay", "bad"), "kind": "gitlab"}
    insecure = driver.check(res, None, gitlab)
    assert insecure.failures == (
        CheckFailure("kind", "kind must be one of dockerhub, quay: 'gitlab'"),
        CheckFailure("api_base", "api_base must be an https:// URL: 'http://hub.example'"),
    )


def test_default_api_base_is_the_public_hub() -> None:
    props = MirrorRepositoryArgs("quay", "gravitational", "teleport", LABEL).props()
    assert props["api_base"] == "https://quay.io"


def test_missing_environment_variable_is_named(driver: ProviderDriver, api: str) -> None:
    env = {**HUB_ENV, "password_env": "UNSET_TOKEN_VARIABLE"}
    with pytest.raises(ProviderError) as caught:
        driver.create(urn("unset", TYPE), args(api, "dockerhub", "unset", credentials=env))
    assert str(caught.value) == (
        "dockerhub credential 'token': environment variable UNSET_TOKEN_VARIABLE is not set"
    )


def test_rejected_credentials_surface_without_the_credential(
    driver: ProviderDriver, api: str
) -> None:
    env = {**HUB_ENV, "password_env": "WRONG_TOKEN"}
    with pytest.raises(ProviderError) as caught:
        driver.create(urn("denied", TYPE), args(api, "dockerhub", "denied", credentials=env))
    assert str(caught.value) == "Docker Hub: login failed: HTTP 401: incorrect username or password"
    assert caught.value.exception_type == "artifact_mirrors.registry_meta.AuthenticationError"
    assert "not-the-token" not in caught.value.details


def test_no_credential_in_provider_inputs_or_outputs(
    driver: ProviderDriver, fake: FakeState, api: str
) -> None:
    info = inspect_serialized_provider(driver.provider_string)
    assert info.globals == ("components.dynamic.repository.MirrorRepositoryProvider",)
    res = urn("clean", TYPE)
    checked = driver.check(res, None, args(api, "dockerhub", "clean"))
    created = driver.create(res, checked.inputs)
    quay_checked = driver.check(res, None, args(api, "quay", "clean"))
    quay_created = driver.create(res, quay_checked.inputs)
    state = json.dumps(
        [
            reveal(x)
            for x in (checked.inputs, created.outputs, quay_checked.inputs, quay_created.outputs)
        ]
    )
    for credential in (HUB_TOKEN, QUAY_TOKEN, fake.hub_jwt):
        assert not info.mentions(credential)
        assert credential not in state
    # The credentials did reach the APIs, read from the environment at call time.
    assert any(r.headers.get("Authorization") == f"Bearer {QUAY_TOKEN}" for r in fake.requests)


def test_unknown_inputs_in_preview_report_a_change_without_a_live_check(
    driver: ProviderDriver, fake: FakeState, api: str
) -> None:
    res = urn("preview", TYPE)
    checked = driver.check(res, None, args(api, "dockerhub", "preview"))
    created = driver.create(res, checked.inputs)
    before = len(fake.requests)
    pending = {**checked.inputs, "description": UNKNOWN}
    assert driver.diff(created.id, res, created.outputs, pending).changes is DiffChanges.SOME
    assert len(fake.requests) == before
