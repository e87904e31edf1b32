from __future__ import annotations

from typing import Any

import pytest

from artifact_mirrors.aws.cross_partition import check_store_restore_limits
from artifact_mirrors.aws.errors import StoreRestoreLimitError
from artifact_mirrors.aws.s3_transfer import MiB, effective_part_size

DOC = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ami-store-restore.html"
    "#ami-store-restore-limitations"
)


def _image(**overrides: Any) -> Any:
    image: dict[str, Any] = {
        "ImageId": "ami-0dad0715e47832e55",
        "State": "available",
        "RootDeviceType": "ebs",
        "VirtualizationType": "hvm",
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-1", "VolumeSize": 8}},
            {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        ],
    }
    image.update(overrides)
    return image


def _message(image: Any, allow_encrypted: bool = False) -> str:
    with pytest.raises(StoreRestoreLimitError) as err:
        check_store_restore_limits(image, "us-east-1", allow_encrypted)
    return str(err.value)


def test_a_normal_ebs_ami_passes() -> None:
    check_store_restore_limits(_image(), "us-east-1")


def test_instance_store() -> None:
    assert _message(_image(RootDeviceType="instance-store")) == (
        "AMI ami-0dad0715e47832e55 in us-east-1 is instance-store-backed: only EBS-backed AMIs"
        " can be stored with CreateStoreImageTask, so it cannot be transferred to another"
        f" partition ({DOC})"
    )


def test_paravirtual() -> None:
    assert _message(_image(VirtualizationType="paravirtual")) == (
        "AMI ami-0dad0715e47832e55 in us-east-1 is paravirtual (PV): CreateStoreImageTask does"
        f" not support PV AMIs ({DOC})"
    )


def test_too_large() -> None:
    mappings = [
        {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-1", "VolumeSize": 4000}},
        {"DeviceName": "/dev/sdb", "Ebs": {"SnapshotId": "snap-2", "VolumeSize": 1001}},
    ]
    assert _message(_image(BlockDeviceMappings=mappings)) == (
        "AMI ami-0dad0715e47832e55 in us-east-1 has 5001 GB of EBS volumes: CreateStoreImageTask"
        f" stores at most 5,000 GB per AMI (before compression) ({DOC})"
    )


def test_encrypted_needs_opt_in() -> None:
    mappings = [
        {
            "DeviceName": "/dev/xvda",
            "Ebs": {"SnapshotId": "snap-1", "VolumeSize": 8, "Encrypted": True},
        }
    ]
    image = _image(BlockDeviceMappings=mappings)
    assert _message(image) == (
        "AMI ami-0dad0715e47832e55 in us-east-1 has encrypted snapshots (snap-1):"
        " CreateStoreImageTask decrypts them into the S3 object, so both buckets would hold the"
        " disk unencrypted and the restored AMI follows the destination's EBS"
        " encryption-by-default setting. Pass allow_encrypted=True once both buckets enforce"
        f" encryption at rest and block public access ({DOC})"
    )
    check_store_restore_limits(image, "us-east-1", allow_encrypted=True)


def test_pending() -> None:
    assert _message(_image(State="pending")) == (
        "AMI ami-0dad0715e47832e55 in us-east-1 is pending: only an available AMI can be stored"
    )


def test_part_size() -> None:
    assert effective_part_size(100 * MiB) == 64 * MiB
    # 5,000 GB in at most 10,000 parts needs ~477 MiB parts, rounded up to a whole MiB.
    size = 5000 * 1000**3
    part = effective_part_size(size)
    assert part % MiB == 0
    assert -(-size // part) <= 10_000
    with pytest.raises(ValueError, match="below the S3 minimum"):
        effective_part_size(100, part_size=MiB)
