"""The spec's signature policy where it runs (issue 12): `mirrors release add` refuses to pin,
ImageTag refuses to copy, `mirrors verify --deep` reports every mirror's signature.

Keys and certificates are made here, signatures follow cosign's formats (tests/integration/oci/
signing.py), everything is pushed to real docker-registry servers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from artifact_mirrors.cli import app
from artifact_mirrors.oci import Registries, copy_image
from artifact_mirrors.oci.env import INSECURE_ENV
from artifact_mirrors.oci.signatures import VerifyKey
from artifact_mirrors.spec.model import KeylessPolicy, PolicyKey, VerifyPolicy
from components.dynamic.image_tag import ImageTagProvider
from tests.integration.oci.images import (
    OCI_INDEX,
    Pusher,
    dumps,
    push_image,
    push_signature,
)
from tests.integration.oci.servers import RegistryServer
from tests.integration.oci.signing import Vendor, push_bundle
from tests.integration.oci.sigstore_instance import SigstoreInstance
from tests.providers.harness import ProviderError, ProviderServer, provider_server, urn

pytestmark = pytest.mark.registry

IDENTITY = "https://github.com/vendor/app/.github/workflows/release.yaml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"
MALLORY = "https://github.com/mallory/app/.github/workflows/x.yaml@refs/heads/main"
SPEC = """\
version: 1
labels:
  image_description: templates/image-description.j2
  image_full_description: templates/image-full-description.md.j2
  ami_description: templates/ami-description.j2
defaults:
  image:
    verify:
      required: true
      keys: [keys/cosign.pub]
      keyless:
        - identity: {identity}
          issuer: {issuer}
          trusted_root: keys/trusted_root.json
registries:
  - {{name: mirror-a, kind: oci, host: {dst}, namespace: a, insecure: true}}
  - {{name: mirror-b, kind: oci, host: {dst}, namespace: b, insecure: true}}
images:
  - name: app
    source: {source}
    repository: {repository}
    registries: [mirror-a, mirror-b]
"""


@pytest.fixture
def sigstore() -> SigstoreInstance:
    return SigstoreInstance()


@pytest.fixture
def vendor(project: Path, sigstore: SigstoreInstance) -> Vendor:
    keys = project / "mirrors/keys"
    keys.mkdir()
    # The test instance's Fulcio CA, CT log and Rekor keys: what keyless bundles are verified by.
    (keys / "trusted_root.json").write_text(sigstore.trusted_root())
    return Vendor(keys, "cosign.pub")


@pytest.fixture
def release(
    project: Path,
    vendor: Vendor,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    src_pusher: Pusher,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[], tuple[str, str]]:
    """A spec whose one image requires a signature; each call pushes a fresh source
    repository with release 17.0.1 and returns (source repository, digest)."""

    def make() -> tuple[str, str]:
        repo = f"vendor/{os.urandom(4).hex()}"
        (project / "mirrors/destinations.yaml").write_text(
            SPEC.format(
                identity=IDENTITY,
                issuer=ISSUER,
                dst=dst_registry.host,
                source=f"{src_registry.host}/{repo}",
                repository=repo,
            )
        )
        desc = push_image(src_pusher, repo, "linux/amd64", [os.urandom(256)], ref="17.0.1")
        return repo, str(desc["digest"])

    for manifest in (project / "mirrors/releases").glob("*.yaml"):
        manifest.unlink()
    monkeypatch.setenv(INSECURE_ENV, src_registry.host)
    return make


def test_release_add_pins_a_validly_signed_digest(
    project: Path,
    release: Callable[[], tuple[str, str]],
    src_pusher: Pusher,
    vendor: Vendor,
) -> None:
    repo, digest = release()
    push_bundle(src_pusher, repo, digest, vendor)
    result = CliRunner().invoke(app, ["release", "add", "17.0.1"])
    assert result.exit_code == 0, result.stderr
    assert "signed by cosign.pub (sigstore bundle)" in result.stdout
    assert f"digest: {digest}" in (project / "mirrors/releases/17.0.1.yaml").read_text()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        (
            "unsigned",
            "no signature (no {sig} tag, no sigstore bundle referrer in the referrers API or "
            "the {fallback} tag)",
        ),
        ("wrong key", "no signature verifies with cosign.pub"),
        ("tampered payload", "no signature verifies with cosign.pub"),
        ("another digest", "the signature is for another digest ({other})"),
        (
            "keyless identity",
            "certificate identity https://github.com/mallory/app/.github/workflows/x.yaml@"
            f"refs/heads/main is not the policy's ({IDENTITY})",
        ),
        (
            "keyless issuer",
            f"certificate issuer https://accounts.example.com is not the policy's ({ISSUER})",
        ),
    ],
)
def test_release_add_refuses_to_pin_a_digest_without_a_valid_signature(
    project: Path,
    release: Callable[[], tuple[str, str]],
    src_registry: RegistryServer,
    src_pusher: Pusher,
    vendor: Vendor,
    tmp_path: Path,
    case: str,
    reason: str,
) -> None:
    repo, digest = release()
    other = push_image(src_pusher, repo, "linux/arm64", [os.urandom(64)])["digest"]
    if case == "wrong key":
        push_signature(src_pusher, repo, digest, sign=Vendor(tmp_path, "mallory.pub").sign)
    elif case == "tampered payload":
        push_signature(src_pusher, repo, digest, sign=vendor.sign, tamper=True)
    elif case == "another digest":
        push_signature(src_pusher, repo, digest, sign=vendor.sign, signed_digest=other)
    elif case == "keyless identity":
        signer = Vendor(tmp_path, "ephemeral.pub")
        cert = signer.certificate(
            "https://github.com/mallory/app/.github/workflows/x.yaml@refs/heads/main", ISSUER
        )
        push_bundle(src_pusher, repo, digest, signer, dsse=True, certificate=cert)
    elif case == "keyless issuer":
        signer = Vendor(tmp_path, "ephemeral.pub")
        cert = signer.certificate(IDENTITY, "https://accounts.example.com")
        push_bundle(src_pusher, repo, digest, signer, certificate=cert)
    result = CliRunner().invoke(app, ["release", "add", "17.0.1"])
    source = f"{src_registry.host}/{repo}"
    why = reason.format(
        sig=digest.replace(":", "-") + ".sig", fallback=digest.replace(":", "-"), other=other
    )
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"{source}@{digest}: not validly signed: {why} (image app). Hint: nothing was written; "
        f"the policy requires a signature: `cosign verify --key cosign.pub {source}@{digest}` "
        "shows what the vendor signed\n"
    )
    assert list((project / "mirrors/releases").glob("*.yaml")) == []


# ---- ImageTag, through the real provider server ---------------------------------------------

TYPE = "pulumi-python:dynamic/artifact-mirrors:ImageTag"


@pytest.fixture(scope="module")
def server(src_registry: RegistryServer, dst_registry: RegistryServer) -> Iterator[ProviderServer]:
    with provider_server({INSECURE_ENV: f"{src_registry.host},{dst_registry.host}"}) as running:
        yield running


def _policy(vendor: Vendor, *, required: bool = True) -> dict[str, Any]:
    fingerprint = VerifyKey.from_pem("cosign.pub", vendor.pem).fingerprint
    key = PolicyKey("cosign.pub", vendor.pem.decode(), fingerprint)
    return VerifyPolicy(required, (key,)).props()


def _tag_props(
    src: RegistryServer, dst: RegistryServer, repo: str, digest: str, verify: dict[str, Any]
) -> dict[str, Any]:
    return {
        "registry": "test",
        "release": "17.0.1",
        "source": f"{src.host}/{repo}@{digest}",
        "repository": f"{dst.host}/mirror/{repo}",
        "tag": "17.0.1",
        "digest": digest,
        "floating": False,
        "published": True,
        "signatures": True,
        "registry_kind": "oci",
        "insecure": False,
        "tls_verify": True,
        "ca_file": None,
        "credentials": {"source": "docker-config"},
        "verify": verify,
        "platforms": None,
        "signature_digests": None,
    }


def test_image_tag_copies_a_validly_signed_image_with_its_signatures(
    server: ProviderServer,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    tmp_path: Path,
) -> None:
    vendor = Vendor(tmp_path, "cosign.pub")
    repo = f"vendor/{os.urandom(4).hex()}"
    digest = str(push_image(src_pusher, repo, "linux/amd64", [os.urandom(256)])["digest"])
    sig = push_signature(src_pusher, repo, digest, sign=vendor.sign)["digest"]
    drv = server.driver(ImageTagProvider())
    res = urn(f"test/{repo}:17.0.1", TYPE)
    news = _tag_props(src_registry, dst_registry, repo, digest, _policy(vendor))
    created = drv.create(res, drv.check(res, None, news).inputs)
    assert dst_pusher.tag_digest(f"mirror/{repo}", "17.0.1") == digest
    assert dst_pusher.tag_digest(f"mirror/{repo}", digest.replace(":", "-") + ".sig") == sig
    # The policy is public data in state: the key's PEM and fingerprint, nothing else.
    assert set(created.outputs["verify"]) == {"required", "keys", "keyless"}
    assert created.outputs["verify"]["keys"][0]["pem"] == vendor.pem.decode()


@pytest.mark.parametrize("case", ["unsigned", "wrong key", "another digest"])
def test_image_tag_create_refuses_a_source_without_a_valid_signature(
    server: ProviderServer,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    tmp_path: Path,
    case: str,
) -> None:
    vendor = Vendor(tmp_path, "cosign.pub")
    repo = f"vendor/{os.urandom(4).hex()}"
    digest = str(push_image(src_pusher, repo, "linux/amd64", [os.urandom(256)])["digest"])
    other = str(push_image(src_pusher, repo, "linux/arm64", [os.urandom(64)])["digest"])
    if case == "wrong key":
        push_bundle(src_pusher, repo, digest, Vendor(tmp_path, "mallory.pub"), dsse=True)
        reason = "the bundle's signature verifies with none of cosign.pub"
    elif case == "another digest":
        push_bundle(src_pusher, repo, digest, vendor, signed_digest=other)
        reason = f"the bundle is for another digest ({other})"
    else:
        fallback = digest.replace(":", "-")
        reason = (
            f"no signature (no {fallback}.sig tag, no sigstore bundle referrer in the referrers "
            f"API or the {fallback} tag)"
        )
    drv = server.driver(ImageTagProvider())
    res = urn(f"test/{repo}:17.0.1", TYPE)
    news = _tag_props(src_registry, dst_registry, repo, digest, _policy(vendor))
    with pytest.raises(ProviderError) as err:
        drv.create(res, drv.check(res, None, news).inputs)
    assert str(err.value) == (
        f"{dst_registry.host}/mirror/{repo}:17.0.1: {src_registry.host}/{repo}@{digest}: not "
        f"validly signed: {reason}. Hint: nothing was copied; the image's verify policy requires "
        "a valid signature of this digest at the source"
    )
    # Not the tag, not the manifest, not a blob of it.
    assert dst_pusher.tag_digest(f"mirror/{repo}", "17.0.1") is None
    assert dst_pusher.http.head(f"/v2/mirror/{repo}/manifests/{digest}").status_code == 404
    # A policy that only reports lets the same copy through (verify --deep reports it).
    reported = _tag_props(src_registry, dst_registry, repo, digest, _policy(vendor, required=False))
    drv.create(res, reported)
    assert dst_pusher.tag_digest(f"mirror/{repo}", "17.0.1") == digest


# ---- mirrors verify --deep -------------------------------------------------------------------


def _outputs(project: Path, refs: list[str], digest: str) -> None:
    """What `pulumi stack output --json` prints after `pulumi up` (components/program.py)."""
    release = {
        "channel": "stable",
        "yanked": False,
        "reason": None,
        "images": {ref: digest for ref in refs},
        "amis": {},
        "terraform_providers": {},
    }
    outputs = {"releases": {"17.0.1": release}, "floating_tags": {}, "archived": {}}
    (project / "outputs.json").write_text(json.dumps(outputs), encoding="utf-8")


@pytest.mark.parametrize("how", [".sig", "keyless"])
def test_verify_deep_reports_the_signature_valid_or_invalid_at_every_mirror(
    how: str,
    sigstore: SigstoreInstance,
    project: Path,
    release: Callable[[], tuple[str, str]],
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    registries: Registries,
    vendor: Vendor,
    tmp_path: Path,
) -> None:
    repo, digest = release()
    if how == "keyless":
        _keyless(src_pusher, repo, digest, sigstore, tmp_path)
        signed = f"signed by {IDENTITY} (sigstore bundle)"
    else:
        push_signature(src_pusher, repo, digest, sign=vendor.sign)
        signed = "signed by cosign.pub"
    assert CliRunner().invoke(app, ["release", "add", "17.0.1"]).exit_code == 0
    mirrors = [f"{dst_registry.host}/{ns}/{repo}" for ns in ("a", "b")]
    for mirror in mirrors:  # as ImageTag copies: the image with its signatures
        copy_image(f"{src_registry.host}/{repo}@{digest}", mirror, "17.0.1", registries=registries)
    _outputs(project, [f"{m}:17.0.1" for m in mirrors], digest)
    args = ["verify", "--stack", "prod", "--outputs", "outputs.json", "--images-only", "--deep"]

    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert (result.exit_code, result.stderr) == (0, ""), result.stdout
    doc = json.loads(result.stdout)
    assert doc["findings"] == []
    assert doc["signatures"] == [
        {
            "release": "17.0.1",
            "image": "app",
            "registry": registry,
            "mirror": f"{mirror}@{digest}",
            "valid": True,
            "detail": signed,
            "required": True,
        }
        for registry, mirror in zip(("mirror-a", "mirror-b"), mirrors, strict=True)
    ]
    table = CliRunner().invoke(app, args)
    assert "signatures at the mirrors: 2 valid, 0 invalid" in table.stdout

    # Mirror b altered afterwards: its signature is now someone else's.
    if how == "keyless":
        empty = dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
        dst_pusher.manifest(f"b/{repo}", digest.replace(":", "-"), empty, OCI_INDEX)
        _keyless(dst_pusher, f"b/{repo}", digest, sigstore, tmp_path, identity=MALLORY)
        invalid = f"certificate identity {MALLORY} is not the policy's ({IDENTITY})"
    else:
        push_signature(dst_pusher, f"b/{repo}", digest, sign=Vendor(tmp_path, "mallory.pub").sign)
        invalid = "no signature verifies with cosign.pub"
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [(s["registry"], s["valid"], s["detail"]) for s in doc["signatures"]] == [
        ("mirror-a", True, signed),
        ("mirror-b", False, invalid),
    ]
    errors = [f for f in doc["findings"] if f["severity"] == "error"]
    assert errors == [
        {
            "severity": "error",
            "release": "17.0.1",
            "key": "app",
            "region": "mirror-b",
            "image_id": f"{mirrors[1]}@{digest}",
            "check": "signature",
            "expected": "validly signed (verify policy)",
            "actual": invalid,
            "kind": "image",
        }
    ]


def _keyless(
    p: Pusher, repo: str, digest: str, sigstore: SigstoreInstance, tmp_path: Path, **kw: Any
) -> None:
    """A keyless signature as cosign makes it: an ephemeral key, a certificate from (the test)
    Fulcio for IDENTITY/ISSUER, the signature logged in (the test) Rekor."""
    signer = Vendor(tmp_path, f"ephemeral-{os.urandom(2).hex()}.pub")
    cert = sigstore.issue(signer.key, kw.pop("identity", IDENTITY), kw.pop("issuer", ISSUER))
    der = cert.public_bytes(serialization.Encoding.DER)
    push_bundle(p, repo, digest, signer, certificate=der, log=sigstore, **kw)


def test_release_add_pins_a_valid_keyless_signature(
    project: Path,
    release: Callable[[], tuple[str, str]],
    src_pusher: Pusher,
    sigstore: SigstoreInstance,
    tmp_path: Path,
) -> None:
    repo, digest = release()
    _keyless(src_pusher, repo, digest, sigstore, tmp_path)
    result = CliRunner().invoke(app, ["release", "add", "17.0.1"])
    assert result.exit_code == 0, result.stderr
    assert f"digest: {digest}" in (project / "mirrors/releases/17.0.1.yaml").read_text()
    assert "(sigstore bundle)" in result.stdout


@pytest.mark.parametrize(
    ("case", "why"),
    [
        (
            "not from the trusted Fulcio",
            "failed to build timestamp certificate chain: validation failed: candidates "
            "exhausted: signature does not match",
        ),
        ("tampered signature", "Signature is invalid for input"),
    ],
)
def test_release_add_refuses_keyless_bundles_that_sigstore_rejects(
    project: Path,
    release: Callable[[], tuple[str, str]],
    src_registry: RegistryServer,
    src_pusher: Pusher,
    sigstore: SigstoreInstance,
    tmp_path: Path,
    case: str,
    why: str,
) -> None:
    repo, digest = release()
    if case == "tampered signature":
        _keyless(src_pusher, repo, digest, sigstore, tmp_path, tamper=True)
    else:
        # Same identity and issuer, but another instance's Fulcio, CT log and Rekor.
        _keyless(src_pusher, repo, digest, SigstoreInstance(), tmp_path)
    result = CliRunner().invoke(app, ["release", "add", "17.0.1"])
    source = f"{src_registry.host}/{repo}"
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"{source}@{digest}: not validly signed: the bundle's signature does not verify against "
        f"trusted_root.json ({why}) (image app). Hint: nothing was written; the policy requires "
        f"a signature: `cosign verify --key cosign.pub {source}@{digest}` shows what the vendor "
        "signed\n"
    )
    assert list((project / "mirrors/releases").glob("*.yaml")) == []


def test_image_tag_verifies_keyless_with_the_trusted_root_from_its_inputs(
    server: ProviderServer,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    sigstore: SigstoreInstance,
    tmp_path: Path,
) -> None:
    # The provider process has no spec: identity, issuer and trusted root come with the inputs.
    policy = VerifyPolicy(
        True, keyless=(KeylessPolicy(IDENTITY, ISSUER, "root.json", sigstore.trusted_root()),)
    ).props()
    repo = f"vendor/{os.urandom(4).hex()}"
    digest = str(push_image(src_pusher, repo, "linux/amd64", [os.urandom(256)])["digest"])
    other = str(push_image(src_pusher, repo, "linux/arm64", [os.urandom(64)])["digest"])
    _keyless(src_pusher, repo, digest, sigstore, tmp_path, issuer="https://accounts.example.com")
    _keyless(src_pusher, repo, other, sigstore, tmp_path)
    drv = server.driver(ImageTagProvider())
    res = urn(f"test/{repo}:17.0.1", TYPE)
    with pytest.raises(ProviderError) as err:
        drv.create(res, _tag_props(src_registry, dst_registry, repo, digest, policy))
    assert str(err.value) == (
        f"{dst_registry.host}/mirror/{repo}:17.0.1: {src_registry.host}/{repo}@{digest}: not "
        f"validly signed: certificate issuer https://accounts.example.com is not the policy's "
        f"({ISSUER}). Hint: nothing was copied; the image's verify policy requires a valid "
        "signature of this digest at the source"
    )
    assert dst_pusher.http.head(f"/v2/mirror/{repo}/manifests/{digest}").status_code == 404
    drv.create(res, _tag_props(src_registry, dst_registry, repo, other, policy))
    assert dst_pusher.tag_digest(f"mirror/{repo}", "17.0.1") == other
