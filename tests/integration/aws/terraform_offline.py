"""An offline provider project: a spec with one provider mirrored to a registry and a network
mirror, and release manifests pinning small real zips (sha256 and h1 as `mirrors release add`
computes them). No source registry runs: for tests of what happens after the pins (the program's
objects, `mirrors verify`, step plans); the signature path is tested in test_terraform_mirror.py.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
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


def zip_name(version: str, platform: str, type_: str = TYPE) -> str:
    return f"terraform-provider-{type_}_{version}_{platform.replace('/', '_')}.zip"


def vendor_files(
    version: str, type_: str = TYPE, sign: Callable[[bytes], bytes] | None = None
) -> dict[str, bytes]:
    """The vendor's zip, sums and signature per platform. Without ``sign`` the signature's bytes
    are a placeholder (release add checked the real one; nothing after it reads them)."""
    out: dict[str, bytes] = {}
    for platform in PLATFORMS:
        name = zip_name(version, platform, type_)
        data = provider_zip(version, platform, type_)
        sums = f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode()
        sig = sign(sums) if sign else b"sig over " + sums
        out |= {name: data, f"{name}.sums": sums, f"{name}.sums.sig": sig}
    return out


def manifest_entry(
    name: str,
    version: str,
    files: dict[str, bytes],
    type_: str = TYPE,
    key: tuple[str, str] = ("420A69F25E02DC19", ARMOR),
) -> list[str]:
    """The lines of one provider under ``terraform_providers:``, as release add pins it."""
    key_id, armor = key
    lines = [
        f"  {name}:",
        f'    version: "{version}"',
        '    protocols: ["5.0"]',
        "    signing_key:",
        f"      id: {key_id}",
        "      ascii_armor: |",
        *("        " + line if line else "" for line in armor.strip().splitlines()),
        "    platforms:",
    ]
    for platform in PLATFORMS:
        zip_ = zip_name(version, platform, type_)
        lines += [
            f"      {platform}:",
            f"        filename: {zip_}",
            f"        url: {SOURCE}/{zip_}",
            f"        sha256: {sha(files[zip_])}",
            f'        h1: "{h1_zip(io.BytesIO(files[zip_]))}"',
            f"        sums_url: {SOURCE}/{zip_}.sums",
            f"        sums_sha256: {sha(files[zip_ + '.sums'])}",
            f"        sums_signature_url: {SOURCE}/{zip_}.sums.sig",
            f"        sums_signature_sha256: {sha(files[zip_ + '.sums.sig'])}",
        ]
    return lines


def manifest(version: str) -> str:
    head = [f"version: {version}", "channel: stable", "terraform_providers:"]
    return "\n".join(head + manifest_entry("demo", version, vendor_files(version))) + "\n"


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
