"""Key-based cosign signatures checked before `mirrors copy` writes a byte (issue 12, first part).

Keys are ECDSA P-256 pairs made here; signatures follow cosign's SIGNATURE_SPEC (the signature
over the simple-signing payload bytes, base64 in the layer annotation) and are pushed to a real
docker-registry. Every refusal is one line, exit 1, and the destination stays empty.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.integration.oci.images import Pusher, push_image, push_signature
from tests.integration.oci.servers import RegistryServer
from tests.integration.oci.signing import Vendor, push_bundle

pytestmark = pytest.mark.registry


@pytest.fixture
def vendor(tmp_path: Path) -> Vendor:
    return Vendor(tmp_path, "cosign.pub")


@pytest.fixture
def image(src_pusher: Pusher) -> Callable[[], tuple[str, str]]:
    """A fresh single-platform image in its own source repository: (repo, digest)."""

    def make() -> tuple[str, str]:
        repo = f"signed/{os.urandom(4).hex()}"
        desc = push_image(src_pusher, repo, "linux/amd64", [os.urandom(512)], ref="1.0")
        return repo, str(desc["digest"])

    return make


def _copy(
    runner: CliRunner,
    app: typer.Typer,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    repo: str,
    *keys: Path,
) -> tuple[int, str, str]:
    args = ["copy", f"{src_registry.host}/{repo}:1.0", f"{dst_registry.host}/mirror/{repo}"]
    args += ["--insecure", src_registry.host, "--insecure", dst_registry.host]
    for key in keys:
        args += ["--verify-key", str(key)]
    result = runner.invoke(app, args)
    return result.exit_code, result.stdout, result.stderr


def test_a_validly_signed_image_is_copied_with_its_signature(
    app: typer.Typer,
    runner: CliRunner,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    image: Callable[[], tuple[str, str]],
    vendor: Vendor,
    tmp_path: Path,
) -> None:
    repo, digest = image()
    push_signature(src_pusher, repo, digest, sign=vendor.sign)
    other = Vendor(tmp_path, "old.pub")  # any of the keys will do
    code, _, err = _copy(runner, app, src_registry, dst_registry, repo, other.pub, vendor.pub)
    assert (code, err) == (0, "")
    assert dst_pusher.tag_digest(f"mirror/{repo}", "1.0") == digest
    sig_tag = digest.replace(":", "-") + ".sig"
    assert dst_pusher.tag_digest(f"mirror/{repo}", sig_tag) == src_pusher.tag_digest(repo, sig_tag)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        (
            "unsigned",
            "no signature (no {tag} tag, no sigstore bundle referrer in the referrers API or "
            "the {fallback} tag)",
        ),
        ("wrong key", "no signature verifies with cosign.pub"),
        ("tampered payload", "no signature verifies with cosign.pub"),
        ("another digest", "the signature is for another digest ({other})"),
        ("not signed at all", "a signature annotation is not base64"),
    ],
)
def test_a_bad_signature_is_refused_before_any_byte_is_written(
    app: typer.Typer,
    runner: CliRunner,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    image: Callable[[], tuple[str, str]],
    vendor: Vendor,
    tmp_path: Path,
    case: str,
    reason: str,
) -> None:
    repo, digest = image()
    _, other = image()
    if case == "wrong key":
        push_signature(src_pusher, repo, digest, sign=Vendor(tmp_path, "mallory.pub").sign)
    elif case == "tampered payload":
        push_signature(src_pusher, repo, digest, sign=vendor.sign, tamper=True)
    elif case == "another digest":
        push_signature(src_pusher, repo, digest, sign=vendor.sign, signed_digest=other)
    elif case == "not signed at all":
        push_signature(src_pusher, repo, digest)  # random bytes where the signature goes
    code, out, err = _copy(runner, app, src_registry, dst_registry, repo, vendor.pub)
    why = reason.format(
        tag=digest.replace(":", "-") + ".sig", fallback=digest.replace(":", "-"), other=other
    )
    assert (code, out) == (1, "")
    assert err == (
        f"copy failed: source {src_registry.host}/{repo}@{digest}: not validly signed: {why}. "
        f"Hint: nothing was copied; `cosign verify --key {vendor.pub.name} "
        f"{src_registry.host}/{repo}@{digest}` shows what the vendor signed\n"
    )
    # Nothing at the destination: not the image, not a blob of it, not the signature.
    assert dst_pusher.tag_digest(f"mirror/{repo}", "1.0") is None
    assert dst_pusher.http.head(f"/v2/mirror/{repo}/manifests/{digest}").status_code == 404


def test_a_key_file_that_is_not_a_public_key_is_bad_input(
    app: typer.Typer,
    runner: CliRunner,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    key = tmp_path / "cosign.key"
    key.write_text("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    code, out, err = _copy(runner, app, src_registry, dst_registry, "signed/x", key)
    assert (code, out) == (2, "")
    assert err == (
        "mirrors copy: --verify-key: not a PEM public key (expected -----BEGIN PUBLIC KEY-----) "
        f"(got {key}). Hint: pass the vendor's public key as PEM (cosign.pub)\n"
    )


@pytest.mark.parametrize("dsse", [False, True], ids=["message-signature", "dsse"])
def test_a_key_signed_sigstore_bundle_referrer_is_verified_and_copied(
    app: typer.Typer,
    runner: CliRunner,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    image: Callable[[], tuple[str, str]],
    vendor: Vendor,
    dsse: bool,
) -> None:
    repo, digest = image()
    referrer = push_bundle(src_pusher, repo, digest, vendor, dsse=dsse)
    code, _, err = _copy(runner, app, src_registry, dst_registry, repo, vendor.pub)
    assert (code, err) == (0, "")
    assert dst_pusher.tag_digest(f"mirror/{repo}", "1.0") == digest
    # The bundle travels: the mirror's fallback index lists the same referrer.
    fallback = digest.replace(":", "-")
    raw, _ = dst_pusher.raw_manifest(f"mirror/{repo}", fallback)
    assert [m["digest"] for m in json.loads(raw)["manifests"]] == [referrer]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong key", "the bundle's signature verifies with none of cosign.pub"),
        ("tampered message", "the bundle's signature verifies with none of cosign.pub"),
        ("tampered statement", "the bundle's signature verifies with none of cosign.pub"),
        ("another digest", "the bundle is for another digest ({other})"),
        ("statement for another digest", "the bundle is for another digest ({other})"),
    ],
)
def test_a_bad_bundle_is_refused_before_any_byte_is_written(
    app: typer.Typer,
    runner: CliRunner,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    src_pusher: Pusher,
    dst_pusher: Pusher,
    image: Callable[[], tuple[str, str]],
    vendor: Vendor,
    tmp_path: Path,
    case: str,
    reason: str,
) -> None:
    repo, digest = image()
    other = push_image(src_pusher, repo, "linux/arm64", [os.urandom(64)])["digest"]
    if case == "wrong key":
        push_bundle(src_pusher, repo, digest, Vendor(tmp_path, "mallory.pub"))
    elif case == "tampered message":
        push_bundle(src_pusher, repo, digest, vendor, tamper=True)
    elif case == "tampered statement":
        push_bundle(src_pusher, repo, digest, vendor, dsse=True, tamper=True)
    elif case == "another digest":
        push_bundle(src_pusher, repo, digest, vendor, signed_digest=other)
    else:
        push_bundle(src_pusher, repo, digest, vendor, dsse=True, signed_digest=other)
    code, out, err = _copy(runner, app, src_registry, dst_registry, repo, vendor.pub)
    assert (code, out) == (1, "")
    assert err == (
        f"copy failed: source {src_registry.host}/{repo}@{digest}: not validly signed: "
        f"{reason.format(other=other)}. Hint: nothing was copied; `cosign verify --key "
        f"{vendor.pub.name} {src_registry.host}/{repo}@{digest}` shows what the vendor signed\n"
    )
    assert dst_pusher.tag_digest(f"mirror/{repo}", "1.0") is None
    assert dst_pusher.http.head(f"/v2/mirror/{repo}/manifests/{digest}").status_code == 404
