"""Builders for realistic Teleport release AMIs in moto."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

MOTO_ACCOUNT = "123456789012"  # moto's default account: plays the vendor's first-party account
ARM64_BASE_AMI = "ami-0e9271c829888680e"  # moto's bundled al2022 arm64 image
X86_BASE_AMI = "ami-04681a1dbd79675a5"  # moto's bundled amzn2 x86_64 image


def teleport_tags(version: str, edition: str, arch: str, fips: bool) -> dict[str, str]:
    """Tags as Teleport's Packer template sets them (assets/aws/single-ami.pkr.hcl)."""
    return {
        "Name": f"teleport-{edition}-{version}-{arch}{'-fips' if fips else ''}",
        "BuildType": "production",
        "BuildTimestamp": "20250101-120000UTC",
        "TeleportVersion": version,
        "TeleportEdition": edition,
        "Architecture": arch,
        "TeleportFipsEnabled": "true" if fips else "false",
    }


def make_image(
    ec2: EC2Client, *, real_arch: str, tags: dict[str, str], name: str | None = None
) -> str:
    """Register an AMI whose real Architecture is `real_arch` (via an instance, as moto needs)."""
    base = ARM64_BASE_AMI if real_arch == "arm64" else X86_BASE_AMI
    instance = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1)["Instances"][0]
    image_name = name or f"{tags.get('Name', 'image')}-{instance['InstanceId']}"
    return ec2.create_image(
        InstanceId=instance["InstanceId"],
        Name=image_name,
        TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )["ImageId"]


def make_release(ec2: EC2Client, version: str) -> dict[str, str]:
    """Teleport's six AMIs of `version`: label (e.g. `ent-fips/arm64`) -> image id."""
    out: dict[str, str] = {}
    for edition, fips in (("oss", False), ("ent", False), ("ent", True)):
        for arch in ("x86_64", "arm64"):
            label = f"{edition}{'-fips' if fips else ''}/{arch}"
            out[label] = make_image(
                ec2, real_arch=arch, tags=teleport_tags(version, edition, arch, fips)
            )
    return out
