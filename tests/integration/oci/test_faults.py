"""Faults injected by a proxy in front of a real registry: retries, fail-fast, tag-last atomicity,
bearer-token scopes, rate-limit header."""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Iterator

import pytest

from artifact_mirrors.oci import (
    CopyResult,
    CredentialStore,
    DigestMismatchError,
    Registries,
    RegistryError,
    copy_image,
    referrers_tag,
    resolve,
)
from artifact_mirrors.oci.client import parse_retry_after
from tests.integration.oci.images import Pusher, SourceImages
from tests.integration.oci.proxy import FaultProxy
from tests.integration.oci.servers import RegistryServer

pytestmark = pytest.mark.registry


@pytest.fixture
def src_proxy(src_registry: RegistryServer) -> Iterator[FaultProxy]:
    p = FaultProxy(src_registry.url)
    yield p
    p.close()


@pytest.fixture
def via_proxy(
    make_registries: Callable[..., Registries], proxy: FaultProxy, src_proxy: FaultProxy
) -> Registries:
    return make_registries(insecure=(proxy.host, src_proxy.host))


def copy_through(
    source: SourceImages,
    src_host: str,
    proxy: FaultProxy,
    regs: Registries,
    repo: str,
    *,
    signatures: bool = True,
) -> CopyResult:
    return copy_image(
        f"{src_host}/src/app@{source.index}",
        f"{proxy.host}/{repo}",
        "1.0",
        registries=regs,
        signatures=signatures,
    )


def test_5xx_retried_then_succeeds(
    source: SourceImages,
    src_registry: RegistryServer,
    proxy: FaultProxy,
    via_proxy: Registries,
    dst_pusher: Pusher,
    repo_name: str,
    sleeps: list[float],
) -> None:
    proxy.fail("HEAD", r"/manifests/", 500, times=2)
    proxy.fail("PUT", r"/manifests/", 503, times=1, code="UNAVAILABLE", message="try later")
    copy_through(source, src_registry.host, proxy, via_proxy, repo_name)
    assert dst_pusher.tag_digest(repo_name, "1.0") == source.index
    assert len(sleeps) == 3
    assert [r for r in proxy.requests if r[2] in (500, 503)] != []


def test_429_honours_retry_after(
    source: SourceImages,
    src_registry: RegistryServer,
    proxy: FaultProxy,
    via_proxy: Registries,
    dst_pusher: Pusher,
    repo_name: str,
    sleeps: list[float],
) -> None:
    proxy.fail(
        "POST",
        r"/blobs/uploads/",
        429,
        times=1,
        code="TOOMANYREQUESTS",
        message="You have reached your pull rate limit.",
        headers={"Retry-After": "7"},
    )
    copy_through(source, src_registry.host, proxy, via_proxy, repo_name, signatures=False)
    assert sleeps == [7.0]
    assert dst_pusher.tag_digest(repo_name, "1.0") == source.index


def test_retry_after_http_date() -> None:
    when = 1_700_000_000.0
    header = email.utils.formatdate(when + 12, usegmt=True)
    assert parse_retry_after(header, now=when) == 12.0
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("soon") is None


def test_connection_resets_retried(
    source: SourceImages,
    src_registry: RegistryServer,
    proxy: FaultProxy,
    src_proxy: FaultProxy,
    via_proxy: Registries,
    dst_pusher: Pusher,
    repo_name: str,
    sleeps: list[float],
) -> None:
    proxy.fail("PATCH", r"/blobs/uploads/", None, times=2)  # reset while uploading
    src_proxy.fail("GET", r"/blobs/sha256:", None, times=1)  # reset while downloading
    result = copy_image(
        f"{src_proxy.host}/src/app@{source.index}",
        f"{proxy.host}/{repo_name}",
        "1.0",
        registries=via_proxy,
        signatures=False,
    )
    assert dst_pusher.tag_digest(repo_name, "1.0") == source.index
    assert len(sleeps) == 3
    # Bytes are counted once per blob that landed, not per attempt.
    first = copy_image(
        f"{src_registry.host}/src/app@{source.index}",
        f"{proxy.host}/{repo_name}-clean",
        "1.0",
        registries=via_proxy,
        signatures=False,
    )
    assert result.bytes_moved == first.bytes_moved


def test_exhausted_retries_name_the_failure(
    source: SourceImages,
    src_registry: RegistryServer,
    proxy: FaultProxy,
    via_proxy: Registries,
    dst_pusher: Pusher,
    repo_name: str,
    sleeps: list[float],
) -> None:
    child = source.children[2]
    proxy.fail("PUT", rf"/manifests/{child}", 500, times=None)
    with pytest.raises(RegistryError) as err:
        copy_through(source, src_registry.host, proxy, via_proxy, repo_name)
    assert str(err.value) == (
        f"copy failed: destination {proxy.host}/{repo_name}@{child}: HTTP 500 Internal Server Error"
    )
    assert len(sleeps) == 3  # attempts=4 in the fixture
    # Tag last: neither the tag nor the index exists on an incomplete image...
    assert dst_pusher.tag_digest(repo_name, "1.0") is None
    assert dst_pusher.tag_digest(repo_name, source.index) is None
    # ...and a re-run completes it.
    proxy.clear()
    copy_through(source, src_registry.host, proxy, via_proxy, repo_name)
    assert dst_pusher.tag_digest(repo_name, "1.0") == source.index


def test_attachments_land_before_the_release_tag(
    source: SourceImages,
    src_registry: RegistryServer,
    proxy: FaultProxy,
    via_proxy: Registries,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    proxy.fail("PUT", r"/manifests/sha256-[0-9a-f]+\.sig$", 403, times=None, code="DENIED",
               message="requested access to the resource is denied")  # fmt: skip
    with pytest.raises(RegistryError):
        copy_through(source, src_registry.host, proxy, via_proxy, repo_name)
    assert dst_pusher.tag_digest(repo_name, source.index) == source.index  # image complete
    assert dst_pusher.tag_digest(repo_name, "1.0") is None  # but not released
    proxy.clear()
    copy_through(source, src_registry.host, proxy, via_proxy, repo_name)
    assert dst_pusher.tag_digest(repo_name, "1.0") == source.index


def test_403_fails_fast_with_the_registry_error(
    source: SourceImages,
    src_registry: RegistryServer,
    proxy: FaultProxy,
    via_proxy: Registries,
    repo_name: str,
    sleeps: list[float],
) -> None:
    proxy.fail("PUT", rf"/manifests/{source.index}$", 403, times=None, code="DENIED",
               message="requested access to the resource is denied")  # fmt: skip
    with pytest.raises(RegistryError) as err:
        copy_through(source, src_registry.host, proxy, via_proxy, repo_name)
    assert str(err.value) == (
        f"copy failed: destination {proxy.host}/{repo_name}@{source.index}: HTTP 403 DENIED: "
        "requested access to the resource is denied"
    )
    assert sleeps == []
    assert [r for r in proxy.requests if r[2] == 403] == [
        ("PUT", f"/v2/{repo_name}/manifests/{source.index}", 403)
    ]


def test_404_source_blob_fails_fast(
    source: SourceImages,
    src_proxy: FaultProxy,
    dst_registry: RegistryServer,
    via_proxy: Registries,
    src_pusher: Pusher,
    repo_name: str,
    sleeps: list[float],
) -> None:
    layer = json.loads(src_pusher.raw_manifest("src/app", source.children[1])[0])["layers"][1]
    src_proxy.fail("GET", rf"/blobs/{layer['digest']}", 404, times=None, code="BLOB_UNKNOWN",
                   message="blob unknown to registry")  # fmt: skip
    with pytest.raises(RegistryError) as err:
        copy_image(
            f"{src_proxy.host}/src/app@{source.index}",
            f"{dst_registry.host}/{repo_name}",
            "1.0",
            registries=via_proxy,
        )
    assert str(err.value) == (
        f"copy failed: source {src_proxy.host}/src/app@{layer['digest']}: HTTP 404 BLOB_UNKNOWN: "
        "blob unknown to registry"
    )
    assert sleeps == []


def test_corrupt_source_blob_aborts_the_upload(
    source: SourceImages,
    src_proxy: FaultProxy,
    dst_registry: RegistryServer,
    via_proxy: Registries,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    layer = json.loads(src_pusher.raw_manifest("src/app", source.children[0])[0])["layers"][3]
    garbage = b"x" * layer["size"]
    src_proxy.fail("GET", rf"/blobs/{layer['digest']}", 200, times=None, body=garbage)
    with pytest.raises(DigestMismatchError) as err:
        copy_image(
            f"{src_proxy.host}/src/app@{source.index}",
            f"{dst_registry.host}/{repo_name}",
            "1.0",
            registries=via_proxy,
        )
    assert str(err.value).startswith(
        f"{src_proxy.host}/src/app@{layer['digest']}: source sent {layer['size']} bytes hashing "
        "to sha256:"
    )
    head = dst_pusher.http.head(f"/v2/{repo_name}/blobs/{layer['digest']}")
    assert head.status_code == 404
    assert dst_pusher.tag_digest(repo_name, "1.0") is None


def test_ratelimit_remaining_surfaced(
    source: SourceImages,
    src_proxy: FaultProxy,
    dst_registry: RegistryServer,
    via_proxy: Registries,
    repo_name: str,
) -> None:
    src_proxy.extra_headers["ratelimit-remaining"] = "76;w=21600"
    result = copy_image(
        f"{src_proxy.host}/src/app@{source.artifact}",
        f"{dst_registry.host}/{repo_name}",
        "1.0",
        registries=via_proxy,
    )
    assert result.ratelimit_remaining == 76


def test_bearer_token_flow_with_mount_scopes(
    source: SourceImages,
    src_proxy: FaultProxy,
    make_registries: Callable[..., Registries],
    src_pusher: Pusher,
    repo_name: str,
) -> None:
    src_proxy.token_auth = ("robot", "s3cret")
    store = CredentialStore({src_proxy.host: ("robot", "s3cret")})
    regs = make_registries(insecure=(src_proxy.host,), credentials=store)
    result = copy_image(
        f"{src_proxy.host}/src/app@{source.index}",
        f"{src_proxy.host}/{repo_name}",
        "1.0",
        registries=regs,
        signatures=False,
    )
    assert result.blobs_mounted > 0 and result.blobs_copied == 0
    assert src_pusher.tag_digest(repo_name, "1.0") == source.index
    # The mount token covers push on the destination and pull on the source repository.
    assert [f"repository:{repo_name}:pull,push", "repository:src/app:pull"] in (
        sorted(s) for s in src_proxy.token_requests
    )
    # Anonymous pull works; anonymous push is refused by the token server (no push grant).
    anon = make_registries(insecure=(src_proxy.host,))
    assert resolve(f"{src_proxy.host}/src/app:1.0", registries=anon) == source.index
    with pytest.raises(RegistryError) as err:
        copy_image(
            f"{src_proxy.host}/src/app@{source.artifact}",
            f"{src_proxy.host}/{repo_name}-anon",
            "a",
            registries=anon,
        )
    # The first push (one of the artifact's two blobs, uploaded concurrently) is refused.
    blobs = json.loads(src_pusher.raw_manifest("src/app", source.artifact)[0])
    assert str(err.value) in {
        f"copy failed: destination {src_proxy.host}/{repo_name}-anon@{d['digest']}: HTTP 401 "
        "UNAUTHORIZED: token needed (no credentials for "
        f"{src_proxy.host}: docker login {src_proxy.host}, or set "
        f"MIRRORS_REGISTRY_AUTH_{src_proxy.host.replace('.', '_').replace(':', '_')}"
        "_USERNAME/_PASSWORD)"
        for d in [blobs["config"], *blobs["layers"]]
    }


def test_source_referrers_api_to_destination_fallback_tag(
    source: SourceImages,
    src_proxy: FaultProxy,
    dst_registry: RegistryServer,
    via_proxy: Registries,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    # The source serves the referrers API (emulated by the proxy, answering for the index).
    sbom_raw, _ = src_pusher.raw_manifest("src/app", source.sbom_referrer)
    listing = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": source.sbom_referrer,
                "size": len(sbom_raw),
                "artifactType": "application/spdx+json",
            }
        ],
    }
    src_proxy.fail("GET", rf"/referrers/{source.index}$", 200, times=None,
                   headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
                   body=json.dumps(listing).encode())  # fmt: skip
    result = copy_image(
        f"{src_proxy.host}/src/app@{source.index}",
        f"{dst_registry.host}/{repo_name}",
        "1.0",
        registries=via_proxy,
    )
    tag = referrers_tag(source.index)
    raw, _ = dst_pusher.raw_manifest(repo_name, tag)
    assert json.loads(raw)["manifests"] == listing["manifests"]
    assert result.signature_digests[tag] == dst_pusher.tag_digest(repo_name, tag)
    assert dst_pusher.raw_manifest(repo_name, source.sbom_referrer)[0] == sbom_raw


def test_destination_with_referrers_api_gets_no_fallback_tag(
    source: SourceImages,
    src_registry: RegistryServer,
    proxy: FaultProxy,
    via_proxy: Registries,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    # The destination acknowledges subjects (OCI-Subject) and serves a referrers API.
    proxy.extra_headers["OCI-Subject"] = source.index
    empty = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": []}  # fmt: skip
    proxy.fail("GET", r"/referrers/", 200, times=None,
               headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
               body=json.dumps(empty).encode())  # fmt: skip
    result = copy_through(source, src_registry.host, proxy, via_proxy, repo_name)
    assert referrers_tag(source.index) not in result.signature_digests
    assert dst_pusher.tag_digest(repo_name, referrers_tag(source.index)) is None
    assert dst_pusher.tag_digest(repo_name, source.sbom_referrer) == source.sbom_referrer


def test_failed_copy_leaves_no_attachment_at_the_destination(
    source: SourceImages,
    src_proxy: FaultProxy,
    dst_registry: RegistryServer,
    via_proxy: Registries,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    # A blob of one platform is gone at the source: the image cannot be completed, so neither
    # its signatures nor its referrers may appear at the mirror (they would vouch for nothing).
    layer = json.loads(src_pusher.raw_manifest("src/app", source.children[1])[0])["layers"][1]
    src_proxy.fail("GET", rf"/blobs/{layer['digest']}", 404, times=None, code="BLOB_UNKNOWN",
                   message="blob unknown to registry")  # fmt: skip
    with pytest.raises(RegistryError):
        copy_image(
            f"{src_proxy.host}/src/app@{source.index}",
            f"{dst_registry.host}/{repo_name}",
            "1.0",
            registries=via_proxy,
        )
    for sig_tag in source.signatures:
        assert dst_pusher.tag_digest(repo_name, sig_tag) is None, sig_tag
    assert dst_pusher.tag_digest(repo_name, referrers_tag(source.index)) is None
    assert dst_pusher.tag_digest(repo_name, source.sbom_referrer) is None
    assert dst_pusher.tag_digest(repo_name, "1.0") is None
    # Re-running finishes the job, attachments included.
    src_proxy.clear()
    result = copy_image(
        f"{src_proxy.host}/src/app@{source.index}",
        f"{dst_registry.host}/{repo_name}",
        "1.0",
        registries=via_proxy,
    )
    assert set(source.signatures) <= set(result.signature_digests)
    assert dst_pusher.tag_digest(repo_name, "1.0") == source.index


def test_manifest_over_4_mib_is_refused_before_it_is_read(
    source: SourceImages,
    src_proxy: FaultProxy,
    dst_registry: RegistryServer,
    via_proxy: Registries,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    huge = b'{"schemaVersion":2,"layers":[' + b" " * (5 << 20) + b"]}"
    src_proxy.fail("GET", rf"/manifests/{source.index}$", 200, times=None, body=huge,
                   headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})  # fmt: skip
    with pytest.raises(RegistryError) as err:
        copy_image(
            f"{src_proxy.host}/src/app@{source.index}",
            f"{dst_registry.host}/{repo_name}",
            "1.0",
            registries=via_proxy,
        )
    assert str(err.value) == (
        f"copy failed: source {src_proxy.host}/src/app@{source.index}: manifest is "
        f"{len(huge):,} bytes, more than registries accept (4,194,304 bytes, distribution's "
        "limit); refusing to read or push it"
    )
    assert dst_pusher.tag_digest(repo_name, "1.0") is None
