"""Requests a copy makes, counted by proxies in front of both registries (the work behind the
bench/copy_vs_skopeo.py warm numbers): a re-run trusts the tag, probes referrers once."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from artifact_mirrors.oci import Copier, Registries
from tests.integration.oci.images import SourceImages
from tests.integration.oci.proxy import FaultProxy
from tests.integration.oci.servers import RegistryServer

pytestmark = pytest.mark.registry


@pytest.fixture
def src_proxy(src_registry: RegistryServer) -> Iterator[FaultProxy]:
    p = FaultProxy(src_registry.url)
    yield p
    p.close()


def test_warm_rerun_trusts_the_tag_and_probes_referrers_once(
    source: SourceImages,
    proxy: FaultProxy,
    src_proxy: FaultProxy,
    make_registries: Callable[..., Registries],
    repo_name: str,
) -> None:
    src = f"{src_proxy.host}/src/app@{source.index}"
    dst = f"{proxy.host}/{repo_name}"
    with Copier(make_registries(insecure=(proxy.host, src_proxy.host))) as copier:
        copier.copy_image(src, dst, "1.0")
    proxy.clear()
    src_proxy.clear()

    # A fresh run, as a new `mirrors copy` or provider call would be.
    with Copier(make_registries(insecure=(proxy.host, src_proxy.host))) as copier:
        result = copier.copy_image(src, dst, "1.0")

    assert result.up_to_date
    assert result.signature_digests == {
        **source.signatures,
        f"sha256-{source.index.partition(':')[2]}": source.referrers_index,
    }
    # Tag last: the tag naming the digest vouches for the whole tree below it.
    assert (
        "HEAD",
        f"/v2/{repo_name}/manifests/{source.index}",
        200,
    ) not in proxy.requests
    # Nothing is written, and a referrer already there is not read from the source again.
    assert [r[0] for r in proxy.requests if r[0] not in ("HEAD", "GET")] == []
    assert ("GET", f"/v2/src/app/manifests/{source.sbom_referrer}", 200) not in src_proxy.requests
    # docker-registry 2.8 has no referrers API: one probe answers for every subject.
    probes = [r for r in src_proxy.requests if "/referrers/" in r[1]]
    assert probes == [("GET", probes[0][1], 404)]


def test_cli_default_concurrency_is_the_engines() -> None:
    # typer needs the CLI default before the engine is imported, so it is a literal there.
    from artifact_mirrors.cli import copy as cli_copy
    from artifact_mirrors.oci import copy

    assert cli_copy.DEFAULT_CONCURRENCY == copy.DEFAULT_CONCURRENCY
