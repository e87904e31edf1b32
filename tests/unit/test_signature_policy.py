"""The spec's signature policy (``verify:``): per image with defaults, files read and checked at
load time, each problem one located line (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from artifact_mirrors.cli import app
from artifact_mirrors.oci.signatures import VerifyKey
from artifact_mirrors.spec.load import load_spec
from tests.conftest import edit

SPEC = "mirrors/destinations.yaml"
DEFAULTS = "    signatures: true              # cosign .sig/.att/.sbom tags and OCI referrers travel with the image\n"  # noqa: E501
IMAGE = "  - name: tbot-distroless\n    source: public.ecr.aws/gravitational/tbot-distroless\n"


def _pem() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@pytest.fixture
def keys(project: Path) -> Path:
    d = project / "mirrors/keys"
    d.mkdir()
    (d / "cosign.pub").write_bytes(_pem())
    (d / "release.pub").write_bytes(_pem())
    (d / "trusted_root.json").write_text(
        json.dumps({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"})
    )
    return d


def test_defaults_apply_to_every_image_and_an_image_may_override_them(
    project: Path, keys: Path
) -> None:
    edit(
        project / SPEC,
        DEFAULTS,
        DEFAULTS + "    verify: {required: true, keys: [keys/cosign.pub]}\n",
    )
    edit(
        project / SPEC,
        IMAGE,
        IMAGE + "    verify:\n      keys: [keys/release.pub]\n      keyless:\n"
        "        - identity: https://github.com/gravitational/teleport/.github/workflows/"
        "release.yaml@refs/heads/master\n"
        "          issuer: https://token.actions.githubusercontent.com\n"
        "          trusted_root: keys/trusted_root.json\n",
    )
    spec = load_spec(project / SPEC)
    assert spec is not None
    default = spec.images["teleport-distroless"].verify
    own = spec.images["tbot-distroless"].verify
    assert default is not None and own is not None
    fingerprint = VerifyKey.from_pem("x", (keys / "cosign.pub").read_bytes()).fingerprint
    assert [(k.name, k.fingerprint) for k in default.keys] == [("cosign.pub", fingerprint)]
    assert default.required and default.keyless == ()
    # The image's own policy replaces the defaults' whole (not merged key by key).
    assert not own.required
    assert [k.name for k in own.keys] == ["release.pub"]
    assert [(k.issuer, k.trusted_root_name) for k in own.keyless] == [
        ("https://token.actions.githubusercontent.com", "trusted_root.json")
    ]
    assert default.describe() == f"required: key cosign.pub ({fingerprint[:19]})"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        pytest.param(
            "{required: true, keys: [keys/missing.pub]}",
            "mirrors/destinations.yaml:17: defaults.image.verify.keys[0]: key file not found "
            "(got keys/missing.pub). Hint: write the path (relative to the spec) of the vendor's "
            "PEM public key, as `cosign public-key` prints it",
            id="missing-key-file",
        ),
        pytest.param(
            "{required: true, keys: [keys/trusted_root.json]}",
            "mirrors/destinations.yaml:17: defaults.image.verify.keys[0]: not a PEM public key "
            "(expected -----BEGIN PUBLIC KEY-----) (got keys/trusted_root.json). Hint: write the "
            "path (relative to the spec) of the vendor's PEM public key, as `cosign public-key` "
            "prints it",
            id="unparsable-pem",
        ),
        pytest.param(
            "{required: true, keyless: [{identity: ci@example.com, "
            "trusted_root: keys/trusted_root.json}]}",
            "mirrors/destinations.yaml:17: defaults.image.verify.keyless[0]: keyless needs the "
            "OIDC issuer. Hint: add 'issuer:', e.g. https://token.actions.githubusercontent.com",
            id="keyless-without-issuer",
        ),
        pytest.param(
            "{keyless: [{identity: ci@example.com, issuer: accounts.google.com, "
            "trusted_root: keys/trusted_root.json}]}",
            "mirrors/destinations.yaml:17: defaults.image.verify.keyless[0].issuer: not an https "
            "URL (got accounts.google.com). Hint: write the issuer as the certificate names it, "
            "e.g. https://token.actions.githubusercontent.com",
            id="issuer-not-a-url",
        ),
        pytest.param(
            "{keyless: [{identity: ci@example.com, issuer: 'https://accounts.google.com', "
            "trusted_root: keys/cosign.pub}]}",
            "mirrors/destinations.yaml:17: defaults.image.verify.keyless[0].trusted_root: not a "
            "sigstore trusted root (no mediaType application/vnd.dev.sigstore.trustedroot+json) "
            "(got keys/cosign.pub). Hint: write the path (relative to the spec) of sigstore's "
            "trusted_root.json",
            id="not-a-trusted-root",
        ),
        pytest.param(
            "{required: true}",
            "mirrors/destinations.yaml:17: defaults.image.verify.required: a required signature "
            "needs keys or keyless (got true). Hint: add 'keys:' (PEM files) or 'keyless:' "
            "(identity, issuer, trusted_root)",
            id="required-without-keys",
        ),
    ],
)
def test_bad_policy_is_one_located_line_at_the_defaults(
    project: Path, keys: Path, policy: str, message: str
) -> None:
    edit(project / SPEC, DEFAULTS, DEFAULTS + f"    verify: {policy}\n")
    result = CliRunner().invoke(app, ["validate"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == message + "\n"


def test_the_plan_shows_the_policy_per_image(project: Path, keys: Path) -> None:
    edit(
        project / SPEC,
        DEFAULTS,
        DEFAULTS + "    verify: {required: true, keys: [keys/cosign.pub]}\n",
    )
    edit(project / SPEC, IMAGE, IMAGE + "    verify: {keys: [keys/release.pub]}\n")
    fp = {
        name: VerifyKey.from_pem(name, (keys / name).read_bytes()).fingerprint[:19]
        for name in ("cosign.pub", "release.pub")
    }
    result = CliRunner().invoke(app, ["plan", "--stack", "prod", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    policies = {p["source"]: p for p in json.loads(result.stdout)["signature_policies"]}
    assert len(policies) == 11
    assert policies["public.ecr.aws/gravitational/teleport-distroless"] == {
        "source": "public.ecr.aws/gravitational/teleport-distroless",
        "required": True,
        "policy": f"required: key cosign.pub ({fp['cosign.pub']})",
    }
    assert policies["public.ecr.aws/gravitational/tbot-distroless"] == {
        "source": "public.ecr.aws/gravitational/tbot-distroless",
        "required": False,
        "policy": f"reported only: key release.pub ({fp['release.pub']})",
    }
    markdown = CliRunner().invoke(app, ["plan", "--stack", "prod", "--format", "markdown"])
    assert "**Signature policies**: 11 images, 10 required\n" in markdown.stdout
    assert (
        f"| `public.ecr.aws/gravitational/tbot-distroless` | no | reported only: key "
        f"release.pub ({fp['release.pub']}) |" in markdown.stdout
    )
