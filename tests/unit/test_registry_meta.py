"""Docker Hub / quay.io metadata clients replayed against recorded request/response contracts."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import tenacity

from artifact_mirrors.registry_meta import (
    AuthenticationError,
    DescriptionError,
    DockerHubClient,
    QuayClient,
    RateLimitedError,
    Repository,
    _retry_after_seconds,
    quay_text,
    validate_dockerhub_description,
)

CONTRACTS = Path(__file__).resolve().parents[1] / "providers" / "contracts"
NS, NAME = "gravitational", "teleport-distroless"
LABEL = "Mirror of public.ecr.aws/gravitational/teleport-distroless, published by Teleport."
FULL = "# Mirror\n\nThis repository mirrors `public.ecr.aws/gravitational/teleport-distroless`."
HUB_SECRET = "dckr_pat_CONTRACT_SECRET"
QUAY_SECRET = "quay-oauth-CONTRACT-SECRET"


class Contract:
    """Replays a contract file through httpx.MockTransport, asserting each request exactly."""

    def __init__(self, name: str) -> None:
        self.path = CONTRACTS / f"{name}.json"
        self.interactions: list[dict[str, Any]] = json.loads(self.path.read_text())["interactions"]
        self.position = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert self.position < len(self.interactions), (
            f"unexpected request {request.method} {request.url}"
        )
        expected = self.interactions[self.position]["request"]
        response = self.interactions[self.position]["response"]
        self.position += 1
        assert (request.method, request.url.path) == (expected["method"], expected["path"])
        assert request.url.query.decode() == expected.get("query", "")
        for header, value in expected.get("headers", {}).items():
            assert request.headers.get(header) == value, header
        if "json" in expected:
            assert json.loads(request.content) == expected["json"]
        else:
            assert request.content == b""
        return httpx.Response(
            response["status"],
            headers=response.get("headers", {}),
            json=response.get("json"),
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def assert_done(self) -> None:
        assert self.position == len(self.interactions), "not every recorded request was sent"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def hub(contract: Contract, sleeps: Sleeps, **options: Any) -> DockerHubClient:
    return DockerHubClient(
        "mirrorbot",
        HUB_SECRET,
        "https://hub.test",
        transport=contract.transport(),
        sleep=sleeps,
        **options,
    )


def quay(contract: Contract, sleeps: Sleeps, **options: Any) -> QuayClient:
    return QuayClient(
        QUAY_SECRET, "https://quay.test", transport=contract.transport(), sleep=sleeps, **options
    )


@pytest.fixture
def contract(request: pytest.FixtureRequest) -> Iterator[Contract]:
    replay = Contract(request.param)
    yield replay
    replay.assert_done()


# -- Docker Hub --------------------------------------------------------------------------------


@pytest.mark.parametrize("contract", ["dockerhub_create"], indirect=True)
def test_dockerhub_creates_a_missing_repository(contract: Contract, sleeps: Sleeps) -> None:
    with hub(contract, sleeps) as client:
        result = client.ensure_repository(NS, NAME, LABEL, FULL)
    assert result.created and not result.updated
    assert result.repository == Repository(NS, NAME, LABEL, FULL, is_public=True)


@pytest.mark.parametrize("contract", ["dockerhub_adopt_existing"], indirect=True)
def test_dockerhub_adopts_an_existing_repository_and_sets_its_description(
    contract: Contract, sleeps: Sleeps
) -> None:
    with hub(contract, sleeps) as client:
        result = client.ensure_repository(NS, NAME, LABEL, FULL)
    assert (result.created, result.updated) == (False, True)
    assert result.repository.description == LABEL


@pytest.mark.parametrize("contract", ["dockerhub_up_to_date"], indirect=True)
def test_dockerhub_leaves_a_matching_description_alone(contract: Contract, sleeps: Sleeps) -> None:
    with hub(contract, sleeps) as client:
        result = client.ensure_repository(NS, NAME, LABEL, FULL)
    assert (result.created, result.updated) == (False, False)


@pytest.mark.parametrize("contract", ["dockerhub_auth_failure"], indirect=True)
def test_dockerhub_auth_failure_message(contract: Contract, sleeps: Sleeps) -> None:
    with hub(contract, sleeps) as client, pytest.raises(AuthenticationError) as caught:
        client.ensure_repository(NS, NAME, LABEL, FULL)
    assert str(caught.value) == "Docker Hub: login failed: HTTP 401: incorrect username or password"
    assert HUB_SECRET not in str(caught.value)
    assert caught.value.status == 401


@pytest.mark.parametrize("contract", ["dockerhub_rate_limited"], indirect=True)
def test_dockerhub_429_is_retried_after_retry_after(contract: Contract, sleeps: Sleeps) -> None:
    with hub(contract, sleeps) as client:
        assert client.get_repository(NS, NAME) == Repository(NS, NAME, LABEL, FULL, True)
    assert sleeps == [3.0]


@pytest.mark.parametrize("contract", ["dockerhub_delete_tag"], indirect=True)
def test_dockerhub_delete_tag(contract: Contract, sleeps: Sleeps) -> None:
    with hub(contract, sleeps) as client:
        assert client.delete_tag(NS, NAME, "17.0.1") is True
        assert client.delete_tag(NS, NAME, "17.0.0") is False


def test_dockerhub_short_description_limit_is_checked_before_any_request(sleeps: Sleeps) -> None:
    contract = Contract("dockerhub_auth_failure")
    contract.interactions = []  # any request would fail the replay
    with hub(contract, sleeps) as client, pytest.raises(DescriptionError) as caught:
        client.create_repository(NS, NAME, "x" * 101, "")
    assert str(caught.value) == (
        f"Docker Hub short description is 101 characters; the limit is 100: {'x' * 101!r}"
    )


def test_dockerhub_full_description_limit() -> None:
    validate_dockerhub_description("x" * 100, "y" * 25_000)
    with pytest.raises(DescriptionError) as caught:
        validate_dockerhub_description("ok", "y" * 25_001)
    assert str(caught.value) == (
        "Docker Hub full description is 25001 characters; the limit is 25000"
    )


def test_dockerhub_without_credentials_fails_clearly(sleeps: Sleeps) -> None:
    contract = Contract("dockerhub_create")
    with (
        DockerHubClient(None, None, "https://hub.test", transport=contract.transport()) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.delete_tag(NS, NAME, "1")
    assert (
        str(caught.value) == "Docker Hub: login failed: no response: no username/token configured"
    )
    assert contract.position == 0


# -- quay.io -----------------------------------------------------------------------------------


@pytest.mark.parametrize("contract", ["quay_create"], indirect=True)
def test_quay_creates_a_public_image_repository(contract: Contract, sleeps: Sleeps) -> None:
    with quay(contract, sleeps) as client:
        result = client.ensure_repository(NS, NAME, LABEL, FULL)
    assert result.created
    assert result.repository.description == quay_text(LABEL, FULL)


@pytest.mark.parametrize("contract", ["quay_adopt_existing"], indirect=True)
def test_quay_adopts_an_existing_repository(contract: Contract, sleeps: Sleeps) -> None:
    with quay(contract, sleeps) as client:
        result = client.ensure_repository(NS, NAME, LABEL, FULL)
    assert (result.created, result.updated) == (False, True)


@pytest.mark.parametrize("contract", ["quay_auth_failure"], indirect=True)
def test_quay_auth_failure_message(contract: Contract, sleeps: Sleeps) -> None:
    with quay(contract, sleeps) as client, pytest.raises(AuthenticationError) as caught:
        client.ensure_repository(NS, NAME, LABEL, FULL)
    assert str(caught.value) == (
        "quay.io: create repository gravitational/teleport-distroless failed: "
        "HTTP 401: Invalid OAuth token"
    )
    assert QUAY_SECRET not in str(caught.value)


@pytest.mark.parametrize("contract", ["quay_rate_limited"], indirect=True)
def test_quay_429_retried_with_injected_wait(contract: Contract, sleeps: Sleeps) -> None:
    with quay(contract, sleeps) as client:
        found = client.get_repository(NS, NAME)
    assert found is not None and found.description == quay_text(LABEL, FULL)
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize("contract", ["quay_rate_limited"], indirect=True)
def test_quay_gives_up_when_still_rate_limited(contract: Contract, sleeps: Sleeps) -> None:
    with (
        quay(contract, sleeps, attempts=2, wait=tenacity.wait_fixed(7)) as client,
        pytest.raises(RateLimitedError) as caught,
    ):
        client.get_repository(NS, NAME)
    assert str(caught.value) == (
        "quay.io: get repository gravitational/teleport-distroless failed: "
        "HTTP 429: Too many requests (gave up after 2 attempts)"
    )
    assert sleeps == [7.0]
    contract.position = len(contract.interactions)  # the third (200) answer is never asked for


@pytest.mark.parametrize("contract", ["quay_delete_tag"], indirect=True)
def test_quay_delete_tag(contract: Contract, sleeps: Sleeps) -> None:
    with quay(contract, sleeps) as client:
        assert client.delete_tag(NS, NAME, "17.0.1") is True


# -- helpers -----------------------------------------------------------------------------------


def test_quay_text_joins_label_and_markdown() -> None:
    assert quay_text("label", "# body\n") == "label\n\n# body"
    assert quay_text("label", "") == "label"


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 5, UTC), usegmt=True)
    assert _retry_after_seconds(httpx.Response(429, headers={"retry-after": "4"}), now) == 4.0
    assert _retry_after_seconds(httpx.Response(429, headers={"retry-after": date}), now) == 5.0
    reset = {"x-ratelimit-reset": str(int(now) + 9)}
    assert _retry_after_seconds(httpx.Response(429, headers=reset), now) == 9.0
    assert _retry_after_seconds(httpx.Response(429), now) is None


def test_clients_refuse_pickling_and_hide_credentials() -> None:
    client = QuayClient(QUAY_SECRET, "https://quay.test")
    with pytest.raises(TypeError) as caught:
        pickle.dumps(client)
    assert str(caught.value) == "QuayClient holds credentials and cannot be pickled"
    assert QUAY_SECRET not in repr(client)
    client.close()
