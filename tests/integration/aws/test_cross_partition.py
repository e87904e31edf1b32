"""Commercial -> GovCloud transfer: EC2 store/restore calls via Stubber (moto lacks them), the S3
object really streamed between two moto partitions with two sets of credentials."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber

from artifact_mirrors.aws.cross_partition import (
    PollSettings,
    TransferDestination,
    TransferEvent,
    TransferSource,
    transfer_ami_across_partitions,
)
from artifact_mirrors.aws.errors import TransferError, TransferTimeoutError
from artifact_mirrors.aws.s3_transfer import MiB
from artifact_mirrors.aws.session import AwsClients
from tests.integration.aws.helpers import make_image

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.moto

SRC_AMI = "ami-0b9ad8b18c7f2d82e"  # teleport oss 15.1.6 x86_64, us-west-2 (AMIS.md)
MIRROR_OF = f"{SRC_AMI}@us-west-2"
KEY = f"{SRC_AMI}.bin"
SRC_BUCKET = "teleport-ami-store-us-west-2"
DST_BUCKET = "teleport-ami-restore-us-gov-west-1"
NAME = "teleport-oss-15.1.6-x86_64-mirror"
TAGS = {"mirror-release": "15.1.6", "mirror-key": "oss/x86_64"}
RESTORED = "ami-0123456789abcdef0"
NO_WAIT = PollSettings(interval=0, timeout=3600, sleep=lambda _s: None)


@dataclass(frozen=True)
class StubbedEc2:
    """ClientFactory whose EC2 client is stubbed and whose S3 client is real (moto)."""

    base: AwsClients
    client: EC2Client

    @property
    def partition(self) -> str:
        return self.base.partition

    @property
    def region(self) -> str:
        return self.base.region

    def ec2(self) -> EC2Client:
        return self.client

    def s3(self) -> S3Client:
        return self.base.s3()


def _source_image(**overrides: Any) -> dict[str, Any]:
    image: dict[str, Any] = {
        "ImageId": SRC_AMI,
        "Name": "teleport-oss-15.1.6-x86_64-20240301-101010UTC",
        "State": "available",
        "RootDeviceType": "ebs",
        "VirtualizationType": "hvm",
        "Architecture": "x86_64",
        "BlockDeviceMappings": [
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"SnapshotId": "snap-0a1b2c3d4e5f60708", "VolumeSize": 8},
            }
        ],
    }
    image.update(overrides)
    return image


def _all_tags() -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted({**TAGS, "mirror-of": MIRROR_OF}.items())]


def _buckets(commercial: AwsClients, govcloud: AwsClients) -> None:
    for clients, bucket in ((commercial, SRC_BUCKET), (govcloud, DST_BUCKET)):
        clients.s3().create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": clients.region},  # type: ignore[typeddict-item]
        )


def _task(state: str, percent: int) -> dict[str, Any]:
    return {
        "AmiId": SRC_AMI,
        "Bucket": SRC_BUCKET,
        "S3objectKey": KEY,
        "StoreTaskState": state,
        "ProgressPercentage": percent,
        "TaskStartTime": datetime(2026, 6, 1, tzinfo=UTC),
    }


def _expect_no_restore_yet(dst: Stubber) -> None:
    dst.add_response(
        "describe_images",
        {"Images": []},
        {"Owners": ["self"], "Filters": [{"Name": "tag:mirror-of", "Values": [MIRROR_OF]}]},
    )


def _expect_restore(dst: Stubber) -> None:
    dst.add_response(
        "describe_images",
        {"Images": []},
        {"Owners": ["self"], "Filters": [{"Name": "name", "Values": [NAME]}]},
    )
    dst.add_response(
        "create_restore_image_task",
        {"ImageId": RESTORED},
        {
            "Bucket": DST_BUCKET,
            "ObjectKey": KEY,
            "Name": NAME,
            "TagSpecifications": [
                {"ResourceType": "image", "Tags": _all_tags()},
                {"ResourceType": "snapshot", "Tags": _all_tags()},
            ],
        },
    )
    dst.add_client_error(
        "describe_images", "InvalidAMIID.NotFound", expected_params={"ImageIds": [RESTORED]}
    )
    dst.add_response(
        "describe_images",
        {"Images": [{"ImageId": RESTORED, "State": "pending"}]},
        {"ImageIds": [RESTORED]},
    )
    dst.add_response(
        "describe_images",
        {"Images": [{"ImageId": RESTORED, "State": "available"}]},
        {"ImageIds": [RESTORED]},
    )
    dst.add_response("create_tags", {}, {"Resources": [RESTORED], "Tags": _all_tags()})


def test_store_copy_restore(commercial: AwsClients, govcloud: AwsClients) -> None:
    _buckets(commercial, govcloud)
    payload = os.urandom(5 * MiB + 4321)
    src_ec2, dst_ec2 = commercial.ec2(), govcloud.ec2()
    events: list[TransferEvent] = []

    def sleep(_seconds: float) -> None:
        # The store task "finishes" while we wait: AWS writes the object only at completion.
        commercial.s3().put_object(Bucket=SRC_BUCKET, Key=KEY, Body=payload)

    with Stubber(src_ec2) as src, Stubber(dst_ec2) as dst:
        _expect_no_restore_yet(dst)
        src.add_response("describe_images", {"Images": [_source_image()]}, {"ImageIds": [SRC_AMI]})
        src.add_response(
            "describe_store_image_tasks", {"StoreImageTaskResults": []}, {"ImageIds": [SRC_AMI]}
        )
        src.add_response(
            "create_store_image_task",
            {"ObjectKey": KEY},
            {"ImageId": SRC_AMI, "Bucket": SRC_BUCKET},
        )
        src.add_response(
            "describe_store_image_tasks",
            {"StoreImageTaskResults": [_task("InProgress", 40)]},
            {"ImageIds": [SRC_AMI]},
        )
        src.add_response(
            "describe_store_image_tasks",
            {"StoreImageTaskResults": [_task("Completed", 100)]},
            {"ImageIds": [SRC_AMI]},
        )
        _expect_restore(dst)

        restored = transfer_ami_across_partitions(
            TransferSource(StubbedEc2(commercial, src_ec2), SRC_AMI, SRC_BUCKET),
            TransferDestination(StubbedEc2(govcloud, dst_ec2), DST_BUCKET),
            NAME,
            TAGS,
            PollSettings(interval=0, timeout=3600, sleep=sleep),
            events.append,
            part_size=5 * MiB,
        )
        src.assert_no_pending_responses()
        dst.assert_no_pending_responses()

    assert restored == RESTORED
    body = govcloud.s3().get_object(Bucket=DST_BUCKET, Key=KEY)["Body"].read()
    assert body == payload
    assert [e.stage for e in events] == [
        "preflight",
        "store",
        "store",
        "copy",
        "copy",
        "copy",
        "restore",
        "restore",
        "restore",
        "done",
    ]
    assert events[2].done == 40
    assert events[-1].message == f"{MIRROR_OF} -> {RESTORED} (us-gov-west-1)"


def test_reuses_stored_object_and_verified_copy(
    commercial: AwsClients, govcloud: AwsClients
) -> None:
    # A previous run stored and copied the object, then died before CreateRestoreImageTask.
    _buckets(commercial, govcloud)
    payload = os.urandom(1234)
    commercial.s3().put_object(Bucket=SRC_BUCKET, Key=KEY, Body=payload)
    src_ec2, dst_ec2 = commercial.ec2(), govcloud.ec2()
    copies: list[str] = []

    for _run in range(2):
        with Stubber(src_ec2) as src, Stubber(dst_ec2) as dst:
            _expect_no_restore_yet(dst)
            src.add_response(
                "describe_images", {"Images": [_source_image()]}, {"ImageIds": [SRC_AMI]}
            )
            _expect_restore(dst)
            events: list[TransferEvent] = []
            transfer_ami_across_partitions(
                TransferSource(StubbedEc2(commercial, src_ec2), SRC_AMI, SRC_BUCKET),
                TransferDestination(StubbedEc2(govcloud, dst_ec2), DST_BUCKET),
                NAME,
                TAGS,
                NO_WAIT,
                events.append,
            )
            src.assert_no_pending_responses()
            dst.assert_no_pending_responses()
        copies.append(
            next(e.message for e in events if e.stage == "copy" and "part(s)" in e.message)
        )

    target = f"s3://{DST_BUCKET}/{KEY}"
    assert copies == [
        f"{target}: copied (1 part(s) uploaded, 0 resumed)",
        f"{target}: already present (0 part(s) uploaded, 0 resumed)",
    ]


def test_already_restored_ami_is_returned(commercial: AwsClients, govcloud: AwsClients) -> None:
    # Real moto on the destination: the restored AMI is found by its mirror-of tag.
    restored = make_image(govcloud.ec2(), real_arch="x86_64", tags={"mirror-of": MIRROR_OF, **TAGS})
    src_ec2 = commercial.ec2()
    events: list[TransferEvent] = []

    with Stubber(src_ec2) as src:  # no responses: any source call would fail the test
        result = transfer_ami_across_partitions(
            TransferSource(StubbedEc2(commercial, src_ec2), SRC_AMI, SRC_BUCKET),
            TransferDestination(govcloud, DST_BUCKET),
            NAME,
            TAGS,
            NO_WAIT,
            events.append,
        )
        src.assert_no_pending_responses()

    assert result == restored
    assert [(e.stage, e.message) for e in events] == [
        ("reuse", f"{MIRROR_OF} is already restored in us-gov-west-1 as {restored}"),
        ("done", f"{MIRROR_OF} -> {restored} (us-gov-west-1)"),
    ]


def test_already_restored_ami_gets_missing_tags(
    commercial: AwsClients, govcloud: AwsClients
) -> None:
    restored = make_image(govcloud.ec2(), real_arch="x86_64", tags={"mirror-of": MIRROR_OF})

    result = transfer_ami_across_partitions(
        TransferSource(commercial, SRC_AMI, SRC_BUCKET),
        TransferDestination(govcloud, DST_BUCKET),
        NAME,
        TAGS,
        NO_WAIT,
    )

    assert result == restored
    image = govcloud.ec2().describe_images(ImageIds=[restored])["Images"][0]
    assert {t["Key"]: t["Value"] for t in image["Tags"]} == {"mirror-of": MIRROR_OF, **TAGS}


def test_instance_store_ami_fails_before_any_work(
    commercial: AwsClients, govcloud: AwsClients
) -> None:
    src_ec2, dst_ec2 = commercial.ec2(), govcloud.ec2()
    with Stubber(src_ec2) as src, Stubber(dst_ec2) as dst:
        _expect_no_restore_yet(dst)
        src.add_response(
            "describe_images",
            {"Images": [_source_image(RootDeviceType="instance-store")]},
            {"ImageIds": [SRC_AMI]},
        )
        with pytest.raises(TransferError) as err:
            transfer_ami_across_partitions(
                TransferSource(StubbedEc2(commercial, src_ec2), SRC_AMI, SRC_BUCKET),
                TransferDestination(StubbedEc2(govcloud, dst_ec2), DST_BUCKET),
                NAME,
                TAGS,
                NO_WAIT,
            )

    assert str(err.value).startswith(
        f"AMI {SRC_AMI} in us-west-2 is instance-store-backed: only EBS-backed AMIs can be"
        " stored with CreateStoreImageTask"
    )


def test_failed_store_task(commercial: AwsClients, govcloud: AwsClients) -> None:
    _buckets(commercial, govcloud)
    src_ec2, dst_ec2 = commercial.ec2(), govcloud.ec2()
    with Stubber(src_ec2) as src, Stubber(dst_ec2) as dst:
        _expect_no_restore_yet(dst)
        dst.add_response(
            "describe_images",
            {"Images": []},
            {"Owners": ["self"], "Filters": [{"Name": "name", "Values": [NAME]}]},
        )
        src.add_response("describe_images", {"Images": [_source_image()]}, {"ImageIds": [SRC_AMI]})
        # An in-progress task from an earlier run is waited for, not duplicated.
        src.add_response(
            "describe_store_image_tasks",
            {"StoreImageTaskResults": [_task("InProgress", 10)]},
            {"ImageIds": [SRC_AMI]},
        )
        failed = {**_task("Failed", 10), "StoreTaskFailureReason": "Snapshot not accessible"}
        src.add_response(
            "describe_store_image_tasks",
            {"StoreImageTaskResults": [failed]},
            {"ImageIds": [SRC_AMI]},
        )
        with pytest.raises(TransferError) as err:
            transfer_ami_across_partitions(
                TransferSource(StubbedEc2(commercial, src_ec2), SRC_AMI, SRC_BUCKET),
                TransferDestination(StubbedEc2(govcloud, dst_ec2), DST_BUCKET),
                NAME,
                TAGS,
                NO_WAIT,
            )

    assert str(err.value) == (
        f"store task of {SRC_AMI} (us-west-2) into s3://{SRC_BUCKET} failed: Snapshot not"
        " accessible. The account must own the AMI and its snapshots or have them shared"
        " directly, and the snapshots must exist until the task ends"
        " (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ami-store-restore.html"
        "#ami-store-restore-limitations)"
    )


def test_store_timeout(commercial: AwsClients, govcloud: AwsClients) -> None:
    _buckets(commercial, govcloud)
    src_ec2, dst_ec2 = commercial.ec2(), govcloud.ec2()
    clock = iter([0.0, 0.0, 50.0, 100.0])
    with Stubber(src_ec2) as src, Stubber(dst_ec2) as dst:
        _expect_no_restore_yet(dst)
        dst.add_response(
            "describe_images",
            {"Images": []},
            {"Owners": ["self"], "Filters": [{"Name": "name", "Values": [NAME]}]},
        )
        src.add_response("describe_images", {"Images": [_source_image()]}, {"ImageIds": [SRC_AMI]})
        for _ in range(4):  # the first call finds the running task, then 3 polls until t=100
            src.add_response(
                "describe_store_image_tasks",
                {"StoreImageTaskResults": [_task("InProgress", 10)]},
                {"ImageIds": [SRC_AMI]},
            )
        with pytest.raises(TransferTimeoutError) as err:
            transfer_ami_across_partitions(
                TransferSource(StubbedEc2(commercial, src_ec2), SRC_AMI, SRC_BUCKET),
                TransferDestination(StubbedEc2(govcloud, dst_ec2), DST_BUCKET),
                NAME,
                TAGS,
                PollSettings(
                    interval=50, timeout=100, sleep=lambda _s: None, clock=lambda: next(clock)
                ),
            )

    assert str(err.value) == (
        f"timed out after 100s waiting for the store task of {SRC_AMI} (us-west-2)"
        f" into s3://{SRC_BUCKET}"
    )


def test_same_partition_is_refused(commercial: AwsClients) -> None:
    with pytest.raises(TransferError) as err:
        transfer_ami_across_partitions(
            TransferSource(commercial, SRC_AMI, SRC_BUCKET),
            TransferDestination(AwsClients("aws", "us-east-1", "commercial"), DST_BUCKET),
            NAME,
            TAGS,
        )
    assert str(err.value) == (
        "us-west-2 and us-east-1 are both in partition 'aws': use CopyImage (aws.ec2.AmiCopy)"
        " within a partition"
    )
