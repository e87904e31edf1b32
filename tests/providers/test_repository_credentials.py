"""MirrorRepository's credential sources and its live check, through the real provider server.

Before: the program filled ``credentials_env`` only for ``from: env`` and Check rejected every
other source, so ``pulumi preview`` failed for Docker Hub / quay.io credentials
``from: docker-config`` (the schema's default) or ``from: stack-config``; and any 429/5xx in the
live check of ``diff`` failed the preview.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from artifact_mirrors.spec.model import CredentialSource
from components.dynamic.repository import MirrorRepositoryArgs, MirrorRepositoryProvider
from components.mockrun import render
from tests.conftest import edit
from tests.providers.fake_meta_server import FakeRepo, FakeState, _Handler
from tests.providers.harness import (
    CheckFailure,
    DiffChanges,
    DiffResponse,
    ProviderDriver,
    ProviderError,
    ProviderServer,
    inspect_serialized_provider,
    provider_server,
    reveal,
    urn,
)

HUB_USER, HUB_TOKEN, QUAY_TOKEN = "mirrorbot", "dckr_pat_C0NF1G-hub", "quay-C0NF1G-oauth"
TYPE = "pulumi-python:dynamic/artifact-mirrors:MirrorRepository"
LABEL = "Mirror of public.ecr.aws/gravitational/teleport, published by Teleport."
FULL = "# Mirror\n\nCopied bit for bit."
NO_CHANGE = DiffResponse(DiffChanges.NONE, (), (), False, ())
UPDATE = DiffResponse(DiffChanges.SOME, (), (), False, ())


# ---- a fake hub API that can also fail on purpose ---------------------------------------------


@dataclass
class Faults:
    """(method, path) -> responses to send instead of the fake's own, first one first."""

    queued: dict[tuple[str, str], list[tuple[int, dict[str, str], Any]]] = field(
        default_factory=dict
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self, method: str, path: str, status: int, body: Any, times: int = 1, **headers: str
    ) -> None:
        with self.lock:
            self.queued.setdefault((method, path), []).extend([(status, headers, body)] * times)

    def take(self, method: str, path: str) -> tuple[int, dict[str, str], Any] | None:
        with self.lock:
            queue = self.queued.get((method, path))
            return queue.pop(0) if queue else None


class _FaultyHandler(_Handler):
    faults: Faults

    def _maybe_fail(self) -> None:
        fault = self.faults.take(self.command, self.path)
        if fault is None:
            return self._dispatch()
        self._body()  # read (and record) the request first
        status, headers, body = fault
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        return None

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _maybe_fail


@contextmanager
def faulty_meta_server(state: FakeState, faults: Faults) -> Iterator[str]:
    handler = type("Handler", (_FaultyHandler,), {"state": state, "faults": faults})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def fake() -> FakeState:
    return FakeState(hub_username=HUB_USER, hub_token=HUB_TOKEN, quay_token=QUAY_TOKEN)


@pytest.fixture(scope="module")
def faults() -> Faults:
    return Faults()


@pytest.fixture(scope="module")
def api(fake: FakeState, faults: Faults) -> Iterator[str]:
    with faulty_meta_server(fake, faults) as base_url:
        yield base_url


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any registry credential, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MIRRORS_REGISTRY_AUTH") and k != "DOCKER_CONFIG"
    }
    return {**env, **extra}


@pytest.fixture(scope="module")
def empty_docker_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("empty-docker-config")


@pytest.fixture(scope="module")
def bare(empty_docker_config: Path) -> Iterator[ProviderServer]:
    """No credentials anywhere (a reviewer's machine), env vars for the env-source cases."""
    env = clean_env(
        DOCKER_CONFIG=str(empty_docker_config),
        DOCKERHUB_USERNAME=HUB_USER,
        DOCKERHUB_TOKEN=HUB_TOKEN,
        QUAY_TOKEN=QUAY_TOKEN,
    )
    with provider_server(env, inherit_env=False) as running:
        yield running


def args(api: str, kind: str, name: str, credentials: Mapping[str, str], **kw: Any) -> Any:
    return {
        **MirrorRepositoryArgs(
            kind=kind,
            namespace="gravitational",
            name=name,
            description=LABEL,
            full_description=FULL,
            api_base=api,
            credentials=dict(credentials),
        ).props(),
        **kw,
    }


# ---- Check ------------------------------------------------------------------------------------

SUPPORTED = {
    "dockerhub": [
        CredentialSource("docker-config"),
        CredentialSource("env", username_env="DOCKERHUB_USERNAME", password_env="DOCKERHUB_TOKEN"),
        CredentialSource("env", username_env="DOCKERHUB_USERNAME", api_token_env="DOCKERHUB_PAT"),
        CredentialSource("stack-config", config_key="dockerhubCredentials"),
        CredentialSource("stack-config", config_key="other-project:dockerhub"),
    ],
    "quay": [
        CredentialSource("docker-config"),
        CredentialSource("docker-config", api_token_env="QUAY_API_TOKEN"),
        CredentialSource(
            "env",
            username_env="QUAY_USERNAME",
            password_env="QUAY_PASSWORD",
            api_token_env="QUAY_API_TOKEN",
        ),
        CredentialSource("env", api_token_env="QUAY_API_TOKEN"),
        CredentialSource("env", password_env="QUAY_PASSWORD"),
        CredentialSource("stack-config", config_key="quayCredentials"),
    ],
}
CASES = [(kind, c) for kind, sources in SUPPORTED.items() for c in sources]


@pytest.mark.parametrize(("kind", "source"), CASES, ids=[f"{k}-{c.source}" for k, c in CASES])
def test_check_accepts_every_supported_credential_source(
    bare: ProviderServer, api: str, kind: str, source: CredentialSource
) -> None:
    driver = bare.driver(MirrorRepositoryProvider())
    checked = driver.check(
        urn(f"{kind}/teleport", TYPE), None, args(api, kind, "t", source.names())
    )
    assert checked.failures == ()
    assert checked.inputs["credentials"] == source.names()
    assert checked.inputs["host"] == {"dockerhub": "docker.io", "quay": "quay.io"}[kind]


def test_check_defaults_missing_credentials_to_docker_config(bare: ProviderServer) -> None:
    driver = bare.driver(MirrorRepositoryProvider())
    props = {"kind": "quay", "namespace": "gravitational", "name": "t", "description": LABEL}
    checked = driver.check(urn("quay/t", TYPE), None, props)
    assert checked.failures == ()
    assert checked.inputs["credentials"] == {"source": "docker-config"}
    assert (checked.inputs["api_base"], checked.inputs["host"]) == ("https://quay.io", "quay.io")


@pytest.mark.parametrize(
    ("kind", "credentials", "reason"),
    [
        (
            "dockerhub",
            {"source": "aws", "profile": "teleport-mirrors"},
            "Docker Hub credentials cannot come from 'aws': "
            "use one of docker-config, env, stack-config",
        ),
        (
            "quay",
            {"source": "vault"},
            "quay.io credentials cannot come from 'vault': "
            "use one of docker-config, env, stack-config",
        ),
        (
            "dockerhub",
            {"source": "env"},
            "Docker Hub credentials from env must name username_env and "
            "password_env (or api_token_env)",
        ),
        (
            "quay",
            {"source": "env", "username_env": "QUAY_USERNAME"},
            "quay.io credentials from env must name password_env (or api_token_env)",
        ),
        (
            "quay",
            {"source": "stack-config"},
            "quay.io credentials from stack-config must name config_key",
        ),
    ],
)
def test_check_rejects_a_bad_credential_setting_precisely(
    bare: ProviderServer, api: str, kind: str, credentials: dict[str, str], reason: str
) -> None:
    driver = bare.driver(MirrorRepositoryProvider())
    checked = driver.check(urn("bad", TYPE), None, args(api, kind, "bad", credentials))
    assert checked.failures == (CheckFailure("credentials", reason),)


def test_program_passes_check_with_docker_config_and_stack_config(
    project: Path, bare: ProviderServer
) -> None:
    """The shipped spec, its Docker Hub credentials `from: docker-config` (the schema default)
    and quay's `from: stack-config`: every MirrorRepository the program declares passes Check."""
    spec = project / "mirrors/destinations.yaml"
    edit(
        spec,
        "credentials: {from: env, username_env: DOCKERHUB_USERNAME, password_env: DOCKERHUB_TOKEN}",
        "credentials: {from: docker-config}",
    )
    edit(
        spec,
        """    credentials:
      from: env
      username_env: QUAY_USERNAME       # a robot account for pushes
      password_env: QUAY_PASSWORD
      api_token_env: QUAY_API_TOKEN     # an OAuth application token for the description
""",
        "    credentials: {from: stack-config, config_key: quayCredentials}\n",
    )
    repos = [r for r in render(project, "prod") if r.type == TYPE]
    assert len(repos) == 22
    driver = bare.driver(MirrorRepositoryProvider())
    for r in repos:
        checked = driver.check(r.urn, None, r.inputs)
        assert checked.failures == (), r.urn
    by_kind = {r.inputs["kind"]: r.inputs["credentials"] for r in repos}
    assert by_kind == {
        "dockerhub": {"source": "docker-config"},
        "quay": {"source": "stack-config", "config_key": "quayCredentials"},
    }


# ---- reading the credentials at call time ----------------------------------------------------


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_docker_config_auth_entry_and_credential_helper_end_to_end(
    tmp_path: Path, fake: FakeState, api: str
) -> None:
    """DOCKER_CONFIG with an ``auths`` entry for Docker Hub and a ``credHelpers`` entry for
    quay.io: create, no drift, drift repaired; no credential in state or the provider."""
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "auths": {"https://index.docker.io/v1/": {"auth": _auth(HUB_USER, HUB_TOKEN)}},
                "credHelpers": {"quay.io": "mirrors-test"},
            }
        )
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-mirrors-test"
    helper.write_text(
        "#!/bin/sh\nread server\n"
        'if [ "$server" = quay.io ]; then\n'
        f'  printf \'{{"ServerURL":"quay.io","Username":"$oauthtoken",'
        f'"Secret":"{QUAY_TOKEN}"}}\'\n'
        "else exit 1; fi\n"
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    env = clean_env(DOCKER_CONFIG=str(tmp_path), PATH=f"{bin_dir}:{os.environ['PATH']}")
    docker_config = {"source": "docker-config"}
    with provider_server(env, inherit_env=False) as server:
        driver = server.driver(MirrorRepositoryProvider())
        states = []
        for kind, store in (("dockerhub", fake.hub), ("quay", fake.quay)):
            res = urn(f"{kind}/from-docker-config", TYPE)
            checked = driver.check(res, None, args(api, kind, "from-docker-config", docker_config))
            assert checked.failures == ()
            created = driver.create(res, checked.inputs)
            assert created.id == f"{kind}/gravitational/from-docker-config"
            assert driver.diff(created.id, res, created.outputs, checked.inputs) == NO_CHANGE
            store[("gravitational", "from-docker-config")].description = "edited by hand"
            assert driver.diff(created.id, res, created.outputs, checked.inputs) == UPDATE
            driver.update(created.id, res, created.outputs, checked.inputs)
            states += [checked.inputs, created.outputs]
        assert fake.hub[("gravitational", "from-docker-config")] == FakeRepo(LABEL, FULL)
        assert fake.quay[("gravitational", "from-docker-config")] == FakeRepo(f"{LABEL}\n\n{FULL}")
        text = json.dumps(reveal(states))
        info = inspect_serialized_provider(driver.provider_string)
        for credential in (HUB_TOKEN, QUAY_TOKEN, fake.hub_jwt, _auth(HUB_USER, HUB_TOKEN)):
            assert credential not in text
            assert not info.mentions(credential)


def test_registry_auth_environment_variables(
    empty_docker_config: Path, fake: FakeState, api: str
) -> None:
    env = clean_env(
        DOCKER_CONFIG=str(empty_docker_config),
        MIRRORS_REGISTRY_AUTH_DOCKER_IO_USERNAME=HUB_USER,
        MIRRORS_REGISTRY_AUTH_DOCKER_IO_PASSWORD=HUB_TOKEN,
        MIRRORS_REGISTRY_AUTH_QUAY_IO_USERNAME="$oauthtoken",
        MIRRORS_REGISTRY_AUTH_QUAY_IO_PASSWORD=QUAY_TOKEN,
    )
    with provider_server(env, inherit_env=False) as server:
        driver = server.driver(MirrorRepositoryProvider())
        for kind in ("dockerhub", "quay"):
            props = args(api, kind, "from-mirrors-env", {"source": "docker-config"})
            driver.create(urn(f"{kind}/env", TYPE), props)
    assert fake.hub[("gravitational", "from-mirrors-env")].description == LABEL
    assert fake.quay[("gravitational", "from-mirrors-env")].description == f"{LABEL}\n\n{FULL}"


def test_stack_config_secret_via_configure(
    empty_docker_config: Path, fake: FakeState, api: str
) -> None:
    config = {
        "artifact-mirrors:dockerhubCredentials": f"{HUB_USER}:{HUB_TOKEN}",
        "artifact-mirrors:quayCredentials": f"$oauthtoken:{QUAY_TOKEN}",
    }
    env = clean_env(DOCKER_CONFIG=str(empty_docker_config))
    with provider_server(env, inherit_env=False, config=config) as server:
        driver = server.driver(MirrorRepositoryProvider())
        outputs = []
        for kind, key in (("dockerhub", "dockerhubCredentials"), ("quay", "quayCredentials")):
            creds = {"source": "stack-config", "config_key": key}
            res = urn(f"{kind}/stack-config", TYPE)
            checked = driver.check(res, None, args(api, kind, "from-stack-config", creds))
            created = driver.create(res, checked.inputs)
            assert driver.diff(created.id, res, created.outputs, checked.inputs) == NO_CHANGE
            outputs.append(created.outputs)
        # An unset key is named, with the command that sets it.
        creds = {"source": "stack-config", "config_key": "missingKey"}
        with pytest.raises(ProviderError) as caught:
            driver.create(urn("x", TYPE), args(api, "dockerhub", "x", creds))
        assert str(caught.value) == (
            "credentials for docker.io/gravitational/x: stack config artifact-mirrors:missingKey "
            "is not set to 'username:password' (pulumi config set --secret "
            "artifact-mirrors:missingKey USER:PASSWORD)"
        )
        info = inspect_serialized_provider(driver.provider_string)
    assert fake.hub[("gravitational", "from-stack-config")].description == LABEL
    assert fake.quay[("gravitational", "from-stack-config")].description == f"{LABEL}\n\n{FULL}"
    text = json.dumps(reveal(outputs))
    for credential in (HUB_TOKEN, QUAY_TOKEN):
        assert credential not in text
        assert not info.mentions(credential)


def test_no_stored_credentials_is_a_named_error(bare: ProviderServer, api: str) -> None:
    driver = bare.driver(MirrorRepositoryProvider())
    with pytest.raises(ProviderError) as caught:
        driver.create(urn("x", TYPE), args(api, "quay", "x", {"source": "docker-config"}))
    assert str(caught.value) == (
        "quay credentials for quay.io: none in the Docker credential store "
        "($DOCKER_CONFIG/config.json, default ~/.docker/config.json) or "
        "MIRRORS_REGISTRY_AUTH_QUAY_IO_USERNAME/_PASSWORD"
    )
    assert caught.value.exception_type == "artifact_mirrors.oci.settings.CredentialsMissing"


# ---- diff: input changes are updates; the live check does not fail a preview on 429/5xx -------

HUB_ENV = {"source": "env", "username_env": "DOCKERHUB_USERNAME", "password_env": "DOCKERHUB_TOKEN"}


@pytest.fixture
def created(bare: ProviderServer, api: str) -> tuple[ProviderDriver, str, dict[str, Any]]:
    driver = bare.driver(MirrorRepositoryProvider())
    res = urn("dockerhub/diffs", TYPE)
    checked = driver.check(res, None, args(api, "dockerhub", "diffs", HUB_ENV))
    return driver, res, driver.create(res, checked.inputs).outputs


@pytest.mark.parametrize(
    "change",
    [
        {"credentials": {"source": "docker-config"}},
        {"credentials": {"source": "stack-config", "config_key": "dockerhubCredentials"}},
        {"credentials": {**HUB_ENV, "password_env": "DOCKERHUB_PAT"}},
        {"api_base": "https://hub.example.com"},
        {"host": "registry-1.docker.io"},
        {"kind": "quay"},
    ],
    ids=["docker-config", "stack-config", "other-env-var", "api_base", "host", "kind"],
)
def test_changes_of_credentials_api_base_host_kind_are_updates_not_replacements(
    created: tuple[ProviderDriver, str, dict[str, Any]], change: dict[str, Any]
) -> None:
    driver, res, outputs = created
    news = {**{k: v for k, v in outputs.items() if k != "url"}, **change}
    assert driver.diff("dockerhub/gravitational/diffs", res, outputs, news) == UPDATE


def test_old_state_with_credentials_env_diffs_as_an_update_and_is_rewritten(
    bare: ProviderServer, fake: FakeState, api: str
) -> None:
    driver = bare.driver(MirrorRepositoryProvider())
    res = urn("dockerhub/legacy", TYPE)
    fake.hub[("gravitational", "legacy")] = FakeRepo(LABEL, FULL)
    # State written by the previous version: credentials_env, no credentials, no host.
    legacy = {
        "kind": "dockerhub",
        "namespace": "gravitational",
        "name": "legacy",
        "description": LABEL,
        "full_description": FULL,
        "api_base": api,
        "credentials_env": {"username": "DOCKERHUB_USERNAME", "token": "DOCKERHUB_TOKEN"},
        "url": f"{api}/r/gravitational/legacy",
    }
    checked = driver.check(res, legacy, args(api, "dockerhub", "legacy", HUB_ENV))
    assert checked.failures == ()
    assert driver.diff("dockerhub/gravitational/legacy", res, legacy, checked.inputs) == UPDATE
    updated = driver.update("dockerhub/gravitational/legacy", res, legacy, checked.inputs)
    assert "credentials_env" not in updated
    assert (updated["credentials"], updated["host"]) == (HUB_ENV, "docker.io")
    again = driver.check(res, checked.inputs, args(api, "dockerhub", "legacy", HUB_ENV))
    assert driver.diff("dockerhub/gravitational/legacy", res, updated, again.inputs) == NO_CHANGE


REPO_PATH = "/v2/namespaces/gravitational/repositories/diffs"


@pytest.mark.parametrize(
    ("status", "headers", "attempts"),
    [(429, {"Retry_After": "0"}, 2), (503, {}, 2), (502, {}, 2), (500, {}, 1)],
    ids=["429", "503", "502", "500"],
)
def test_rate_limits_and_server_errors_fall_back_to_the_recorded_state(
    created: tuple[ProviderDriver, str, dict[str, Any]],
    faults: Faults,
    fake: FakeState,
    status: int,
    headers: dict[str, str],
    attempts: int,
) -> None:
    driver, res, outputs = created
    news = {k: v for k, v in outputs.items() if k != "url"}
    # Drift that the live check would see, hidden behind the failure: no change reported.
    fake.hub[("gravitational", "diffs")].description = "edited by hand"
    # 429/502/503/504 are retried (twice in a preview), other 5xx are not.
    faults.add("GET", REPO_PATH, status, {"message": "slow down"}, times=attempts, **headers)
    assert driver.diff("dockerhub/gravitational/diffs", res, outputs, news) == NO_CHANGE
    # Once the hub answers again, the drift shows.
    assert driver.diff("dockerhub/gravitational/diffs", res, outputs, news) == UPDATE


def test_connection_errors_fall_back_to_the_recorded_state(
    created: tuple[ProviderDriver, str, dict[str, Any]],
) -> None:
    driver, res, outputs = created
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens there
    old = {**outputs, "api_base": closed}
    news = {k: v for k, v in old.items() if k != "url"}
    assert driver.diff("dockerhub/gravitational/diffs", res, old, news) == NO_CHANGE


def test_rejected_credentials_in_the_live_check_are_a_clear_error(
    created: tuple[ProviderDriver, str, dict[str, Any]], faults: Faults
) -> None:
    driver, res, outputs = created
    news = {k: v for k, v in outputs.items() if k != "url"}
    faults.add("GET", REPO_PATH, 403, {"message": "insufficient scope"})
    with pytest.raises(ProviderError) as forbidden:
        driver.diff("dockerhub/gravitational/diffs", res, outputs, news)
    assert str(forbidden.value) == (
        "Docker Hub: get repository gravitational/diffs failed: HTTP 403: insufficient scope"
    )
    wrong = {**news, "credentials": {**HUB_ENV, "password_env": "DOCKERHUB_USERNAME"}}
    with pytest.raises(ProviderError) as denied:
        driver.diff("dockerhub/gravitational/diffs", res, {**outputs, **wrong}, wrong)
    assert str(denied.value) == "Docker Hub: login failed: HTTP 401: incorrect username or password"
    assert denied.value.exception_type == "artifact_mirrors.registry_meta.AuthenticationError"
