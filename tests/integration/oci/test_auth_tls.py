"""htpasswd + TLS registry: credentials from every source, TLS verification, no secret leaks."""

from __future__ import annotations

import base64
import json
import os
import pickle
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from artifact_mirrors.oci import (
    Credentials,
    CredentialStore,
    Registries,
    RegistryError,
    TLSVerifyError,
    copy_image,
    resolve,
)
from tests.integration.oci.conftest import AUTH_USER
from tests.integration.oci.images import SourceImages
from tests.integration.oci.servers import CertAuthority, RegistryServer

pytestmark = pytest.mark.registry


def copy_to_auth(
    source: SourceImages,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    regs: Registries,
    repo: str,
) -> str | None:
    copy_image(
        f"{src_registry.host}/src/app@{source.index}",
        f"{auth_registry.host}/{repo}",
        "1.0",
        registries=regs,
    )
    return resolve(f"{auth_registry.host}/{repo}:1.0", registries=regs)


def test_docker_config_auths(
    tmp_path: Path,
    source: SourceImages,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    auth_password: str,
    test_ca: CertAuthority,
    make_registries: Callable[..., Registries],
    repo_name: str,
) -> None:
    auth = base64.b64encode(f"{AUTH_USER}:{auth_password}".encode()).decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {f"https://{auth_registry.host}": {"auth": auth}}})
    )
    store = CredentialStore(environ={"DOCKER_CONFIG": str(tmp_path)})
    regs = make_registries(credentials=store, ca_files={auth_registry.host: test_ca.ca_cert})
    assert copy_to_auth(source, src_registry, auth_registry, regs, repo_name) == source.index


def test_credential_helper_on_path(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: SourceImages,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    auth_password: str,
    test_ca: CertAuthority,
    make_registries: Callable[..., Registries],
    repo_name: str,
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    seen = tmp_path / "seen"
    helper = bindir / "docker-credential-test"
    # The helper protocol: `get` with the server URL on stdin, JSON on stdout.
    helper.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 1\nread url\necho "$url" > {seen}\n'
        f'[ "$url" = "{auth_registry.host}" ] || {{ echo "credentials not found"; exit 1; }}\n'
        f'echo \'{{"ServerURL":"\'$url\'","Username":"{AUTH_USER}","Secret":"{auth_password}"}}\'\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {auth_registry.host: "test"}}))
    store = CredentialStore(environ={"DOCKER_CONFIG": str(tmp_path)})
    regs = make_registries(credentials=store, ca_files={auth_registry.host: test_ca.ca_cert})
    assert copy_to_auth(source, src_registry, auth_registry, regs, repo_name) == source.index
    assert seen.read_text().strip() == auth_registry.host


def test_environment_and_explicit_credentials_override_docker_config(
    tmp_path: Path,
    source: SourceImages,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    auth_password: str,
    test_ca: CertAuthority,
    make_registries: Callable[..., Registries],
    repo_name: str,
) -> None:
    wrong = base64.b64encode(f"{AUTH_USER}:wrong".encode()).decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {auth_registry.host: {"auth": wrong}}})
    )
    key = "MIRRORS_REGISTRY_AUTH_" + auth_registry.host.replace(".", "_").replace(":", "_")
    env = {
        "DOCKER_CONFIG": str(tmp_path),
        f"{key}_USERNAME": AUTH_USER,
        f"{key}_PASSWORD": auth_password,
    }
    regs = make_registries(
        credentials=CredentialStore(environ=env), ca_files={auth_registry.host: test_ca.ca_cert}
    )
    assert copy_to_auth(source, src_registry, auth_registry, regs, repo_name) == source.index

    json_env = {
        "DOCKER_CONFIG": str(tmp_path),
        "MIRRORS_REGISTRY_AUTH": json.dumps(
            {auth_registry.host: {"username": AUTH_USER, "password": auth_password}}
        ),
    }
    assert CredentialStore(environ=json_env).lookup(auth_registry.host) == Credentials(
        AUTH_USER, auth_password
    )
    explicit = CredentialStore(
        {auth_registry.host: (AUTH_USER, auth_password)},
        environ={"DOCKER_CONFIG": str(tmp_path)},
    )
    regs = make_registries(credentials=explicit, ca_files={auth_registry.host: test_ca.ca_cert})
    assert copy_to_auth(source, src_registry, auth_registry, regs, repo_name + "-x") == (
        source.index
    )


def test_docker_hub_keys_match_the_api_host(tmp_path: Path) -> None:
    auth = base64.b64encode(b"hubuser:hubtoken").decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}}})
    )
    store = CredentialStore(environ={"DOCKER_CONFIG": str(tmp_path)})
    assert store.lookup("registry-1.docker.io") == Credentials("hubuser", "hubtoken")
    env = {
        "MIRRORS_REGISTRY_AUTH_DOCKER_IO_USERNAME": "u",
        "MIRRORS_REGISTRY_AUTH_DOCKER_IO_PASSWORD": "p",
    }
    assert CredentialStore(environ=env).lookup("registry-1.docker.io") == Credentials("u", "p")


def test_missing_credentials_message(
    source: SourceImages,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    test_ca: CertAuthority,
    make_registries: Callable[..., Registries],
    repo_name: str,
) -> None:
    regs = make_registries(ca_files={auth_registry.host: test_ca.ca_cert})
    with pytest.raises(RegistryError) as err:
        copy_to_auth(source, src_registry, auth_registry, regs, repo_name)
    key = "MIRRORS_REGISTRY_AUTH_" + auth_registry.host.replace(".", "_").replace(":", "_")
    assert str(err.value) == (
        f"copy failed: destination {auth_registry.host}/{repo_name}:1.0: HTTP 401 UNAUTHORIZED: "
        f"authentication required (no credentials for {auth_registry.host}: docker login "
        f"{auth_registry.host}, or set {key}_USERNAME/_PASSWORD)"
    )


def test_wrong_password_fails_without_leaking_it(
    source: SourceImages,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    test_ca: CertAuthority,
    make_registries: Callable[..., Registries],
    repo_name: str,
    sleeps: list[float],
) -> None:
    secret = "not-the-password-123"
    store = CredentialStore({auth_registry.host: (AUTH_USER, secret)})
    regs = make_registries(credentials=store, ca_files={auth_registry.host: test_ca.ca_cert})
    with pytest.raises(RegistryError) as err:
        copy_to_auth(source, src_registry, auth_registry, regs, repo_name)
    assert str(err.value) == (
        f"copy failed: destination {auth_registry.host}/{repo_name}:1.0: HTTP 401 UNAUTHORIZED: "
        "authentication required"
    )
    assert sleeps == []  # 401 is not temporary: no retries
    assert secret not in repr(err.value.__dict__)
    assert secret not in repr(store.lookup(auth_registry.host))
    assert secret not in repr(store)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(Credentials(AUTH_USER, secret))
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(store)


def test_tls_verification_fails_without_the_ca_and_works_with_it(
    tmp_path: Path,
    source: SourceImages,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    auth_password: str,
    test_ca: CertAuthority,
    make_registries: Callable[..., Registries],
    repo_name: str,
    sleeps: list[float],
) -> None:
    store = CredentialStore({auth_registry.host: (AUTH_USER, auth_password)})
    regs = make_registries(credentials=store)
    with pytest.raises(TLSVerifyError) as err:
        copy_to_auth(source, src_registry, auth_registry, regs, repo_name)
    assert str(err.value) == (
        f"TLS verification failed for destination registry {auth_registry.host}: unable to get "
        "local issuer certificate. Hint: pass the registry's CA certificate (mirrors copy "
        "--ca-file HOST=PATH, or tls.ca_file in the spec); TLS is never disabled"
    )
    assert sleeps == []
    regs = make_registries(credentials=store, ca_files={auth_registry.host: test_ca.ca_cert})
    assert copy_to_auth(source, src_registry, auth_registry, regs, repo_name) == source.index


def test_plain_http_to_a_tls_registry_is_explained(
    auth_registry: RegistryServer, make_registries: Callable[..., Registries]
) -> None:
    regs = make_registries(insecure=(auth_registry.host,))
    with pytest.raises(RegistryError) as err:
        resolve(f"{auth_registry.host}/x:1", registries=regs)
    # docker-registry answers plain HTTP on a TLS port with 400 "Client sent an HTTP request to
    # an HTTPS server".
    assert str(err.value) == f"resolve failed: {auth_registry.host}/x:1: HTTP 400 Bad Request"
