"""Concurrent first requests to a registry that needs credentials.

Before the client knows a registry's auth scheme, every concurrent request goes out without
credentials and gets a 401; only one of them changes the client's mode. The others must be
retried with credentials too, not fail with 401 (seen as false "cannot check" rows in verify).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from artifact_mirrors.oci import CredentialStore, Registries, copy_image, resolve
from tests.integration.oci.conftest import AUTH_USER
from tests.integration.oci.images import SourceImages
from tests.integration.oci.proxy import FaultProxy
from tests.integration.oci.servers import CertAuthority, RegistryServer

pytestmark = pytest.mark.registry
WORKERS = 8


@pytest.fixture
def token_proxy(src_registry: RegistryServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(src_registry.url)
    proxy.token_auth = ("robot", "s3cret")
    yield proxy
    proxy.close()


def resolve_all(regs: Registries, refs: list[str]) -> list[str | None]:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(lambda ref: resolve(ref, registries=regs), refs))


def test_basic_auth_first_requests_in_parallel(
    source: SourceImages,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    test_ca: CertAuthority,
    auth_password: str,
    make_registries: Callable[..., Registries],
    repo_name: str,
) -> None:
    creds = CredentialStore({auth_registry.host: (AUTH_USER, auth_password)})
    setup = make_registries(credentials=creds, ca_files={auth_registry.host: test_ca.ca_cert})
    copy_image(f"{src_registry.host}/{source.repo}@{source.index}",
               f"{auth_registry.host}/{repo_name}", "1.0", registries=setup)  # fmt: skip
    fresh = make_registries(credentials=creds, ca_files={auth_registry.host: test_ca.ca_cert})
    refs = [f"{auth_registry.host}/{repo_name}:1.0"] * WORKERS
    assert resolve_all(fresh, refs) == [source.index] * WORKERS


def test_bearer_first_requests_in_parallel(
    source: SourceImages,
    token_proxy: FaultProxy,
    make_registries: Callable[..., Registries],
) -> None:
    creds = CredentialStore({token_proxy.host: ("robot", "s3cret")})
    fresh = make_registries(insecure=(token_proxy.host,), credentials=creds)
    refs = [f"{token_proxy.host}/{source.repo}:1.0"] * WORKERS
    assert resolve_all(fresh, refs) == [source.index] * WORKERS
