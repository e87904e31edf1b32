"""An offline provider project: a spec with one provider mirrored to a registry and a network
mirror, and release manifests pinning small real zips (sha256 and h1 as `mirrors release add`
computes them). No source registry runs: for tests of what happens after the pins (the program's
objects, `mirrors verify`, step plans); the signature path is tested in test_terraform_mirror.py.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from artifact_mirrors.terraform.hashes import h1_zip
from tests.conftest import ROOT
from tests.integration.aws.terraform_fixture import NAMESPACE, TYPE, provider_zip

SOURCE = "https://vendor.test/store"
PLATFORMS = ("darwin/arm64", "linux/amd64")
T_DOC = "aws:s3/bucketObjectv2:BucketObjectv2"
ARMOR = (ROOT / "mirrors/releases/18.6.6.yaml").read_text().split("ascii_armor: |\n", 1)[1]
ARMOR = (
    ARMOR.split("-----END PGP PUBLIC KEY BLOCK-----", 1)[0] + "-----END PGP PUBLIC KEY BLOCK-----"
)
REG = f"site/v1/providers/{NAMESPACE}/{TYPE}"
NET = f"netmirror/terraform.example.test/{NAMESPACE}/{TYPE}"

SPEC = """\
version: 1
labels:
  image_description: templates/image-description.j2
  image_full_description: templates/image-full-description.md.j2
  ami_description: templates/ami-description.j2
terraform_providers:
  - name: demo
    namespace: testvendor
    type: demo
    source: https://vendor.test
    platforms: [darwin/arm64, linux/amd64]
    destinations:
      - name: registry
        kind: registry
        bucket: tf-mirror
        prefix: site
        region: us-west-2
        profile: commercial
      - name: network-mirror
        kind: network-mirror
        bucket: tf-mirror
        prefix: netmirror
        region: us-west-2
        profile: commercial
        hostname: terraform.example.test
"""


def zip_name(version: str, platform: str) -> str:
    return f"terraform-provider-{TYPE}_{version}_{platform.replace('/', '_')}.zip"


def vendor_files(version: str) -> dict[str, bytes]:
    """The vendor's zip, sums and signature per platform (the signature's bytes are not checked
    here: release add did that)."""
    out: dict[str, bytes] = {}
    for platform in PLATFORMS:
        name = zip_name(version, platform)
        data = provider_zip(version, platform)
        sums = f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode()
        out |= {name: data, f"{name}.sums": sums, f"{name}.sums.sig": b"sig over " + sums}
    return out


def manifest(version: str) -> str:
    files = vendor_files(version)
    lines = [
        f"version: {version}",
        "channel: stable",
        "terraform_providers:",
        "  demo:",
        f'    version: "{version}"',
        '    protocols: ["5.0"]',
        "    signing_key:",
        "      id: 420A69F25E02DC19",
        "      ascii_armor: |",
        *("        " + line if line else "" for line in ARMOR.splitlines()),
        "    platforms:",
    ]
    for platform in PLATFORMS:
        name = zip_name(version, platform)
        lines += [
            f"      {platform}:",
            f"        filename: {name}",
            f"        url: {SOURCE}/{name}",
            f"        sha256: {sha(files[name])}",
            f'        h1: "{h1_zip(io.BytesIO(files[name]))}"',
            f"        sums_url: {SOURCE}/{name}.sums",
            f"        sums_sha256: {sha(files[name + '.sums'])}",
            f"        sums_signature_url: {SOURCE}/{name}.sums.sig",
            f"        sums_signature_sha256: {sha(files[name + '.sums.sig'])}",
        ]
    return "\n".join(lines) + "\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def offline_project(
    root: Path, spec: str = SPEC, versions: tuple[str, ...] = ("1.0.0", "1.1.0")
) -> Path:
    (root / "mirrors" / "releases").mkdir(parents=True)
    (root / "stacks").mkdir()
    (root / "mirrors" / "templates").mkdir()
    for name in ("image-description.j2", "image-full-description.md.j2", "ami-description.j2"):
        (root / "mirrors/templates" / name).write_text(
            (ROOT / "mirrors/templates" / name).read_text()
        )
    (root / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (root / "mirrors/destinations.yaml").write_text(spec)
    (root / "stacks/Pulumi.prod.yaml").write_text("config: {}\n")
    for version in versions:
        (root / f"mirrors/releases/{version}.yaml").write_text(manifest(version))
    return root
