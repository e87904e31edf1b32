"""Commercial -> GovCloud AMI transfer: CreateStoreImageTask -> S3 -> CreateRestoreImageTask.

`CopyImage` cannot cross partitions, and no single set of credentials can read an `aws` bucket
and write an `aws-us-gov` one, so the object is streamed through this process with the two sets
of credentials (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ami-store-restore.html).

Every step is idempotent, so re-running after a crash continues where it stopped:
(a) an AMI already restored in the destination is found by its `mirror-of=<ami>@<region>` tag
    (set atomically by CreateRestoreImageTask's TagSpecifications) and returned, never restored
    twice; a restore still pending is waited for;
(b) an existing `<ami>.bin` in the source bucket or an in-progress store task is reused;
(c) the object copy resumes an unfinished multipart upload and skips a verified copy;
(d) the restore is tagged, awaited until `available` and re-tagged with the given tags.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from botocore.exceptions import ClientError

from artifact_mirrors.aws.errors import (
    StoreRestoreLimitError,
    TransferError,
    TransferTimeoutError,
)
from artifact_mirrors.aws.s3_transfer import (
    DEFAULT_PART_SIZE,
    ObjectRef,
    copy_object_across,
    head_object_or_none,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import ImageTypeDef, StoreImageTaskResultTypeDef, TagTypeDef
    from mypy_boto3_s3 import S3Client

MIRROR_OF_TAG = "mirror-of"
MAX_STORE_SIZE_GB = 5000
LIMITS_DOC = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ami-store-restore.html"
    "#ami-store-restore-limitations"
)

T = TypeVar("T")


class ClientFactory(Protocol):
    """Makes clients for one (partition, region) with that partition's credentials.

    `artifact_mirrors.aws.session.AwsClients` implements it.
    """

    @property
    def partition(self) -> str: ...

    @property
    def region(self) -> str: ...

    def ec2(self) -> EC2Client: ...

    def s3(self) -> S3Client: ...


@dataclass(frozen=True)
class TransferSource:
    clients: ClientFactory
    image_id: str
    bucket: str


@dataclass(frozen=True)
class TransferDestination:
    clients: ClientFactory
    bucket: str


@dataclass(frozen=True)
class PollSettings:
    """How to wait for store tasks and restores; injectable for tests."""

    interval: float = 30.0
    timeout: float = 12 * 3600.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class TransferEvent:
    """Progress report: stage is one of reuse, preflight, store, copy, restore, done."""

    stage: str
    message: str
    done: int | None = None
    total: int | None = None


ProgressCallback = Callable[[TransferEvent], None]


@dataclass
class _Ctx:
    progress: ProgressCallback | None
    poll: PollSettings
    # One deadline for the whole transfer, from its first wait: every later wait shares it.
    deadline: float | None = None

    def emit(
        self, stage: str, message: str, done: int | None = None, total: int | None = None
    ) -> None:
        if self.progress is not None:
            self.progress(TransferEvent(stage, message, done, total))

    def wait(self, what: str, check: Callable[[], T | None]) -> T:
        if self.deadline is None:
            self.deadline = self.poll.clock() + self.poll.timeout
        deadline = self.deadline
        while True:
            result = check()
            if result is not None:
                return result
            if self.poll.clock() >= deadline:
                raise TransferTimeoutError(
                    f"timed out after {self.poll.timeout:g}s waiting for {what}"
                )
            self.poll.sleep(self.poll.interval)


def mirror_of(image_id: str, region: str) -> str:
    """Value of the `mirror-of` tag: `ami-0123@us-west-2`."""
    return f"{image_id}@{region}"


def _tag_list(tags: Mapping[str, str]) -> list[TagTypeDef]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def check_store_restore_limits(
    image: ImageTypeDef, region: str, allow_encrypted: bool = False
) -> None:
    """Raise StoreRestoreLimitError when AWS's documented limits forbid storing `image`."""
    image_id = image.get("ImageId", "?")
    where = f"AMI {image_id} in {region}"
    if image.get("State") != "available":
        raise StoreRestoreLimitError(
            f"{where} is {image.get('State')}: only an available AMI can be stored"
        )
    root = image.get("RootDeviceType", "")
    if root != "ebs":
        raise StoreRestoreLimitError(
            f"{where} is {root}-backed: only EBS-backed AMIs can be stored with"
            f" CreateStoreImageTask, so it cannot be transferred to another partition"
            f" ({LIMITS_DOC})"
        )
    if image.get("VirtualizationType") == "paravirtual":
        raise StoreRestoreLimitError(
            f"{where} is paravirtual (PV): CreateStoreImageTask does not support PV AMIs"
            f" ({LIMITS_DOC})"
        )
    ebs = [m["Ebs"] for m in image.get("BlockDeviceMappings", []) if "Ebs" in m]
    size = sum(e.get("VolumeSize", 0) for e in ebs)
    if size > MAX_STORE_SIZE_GB:
        raise StoreRestoreLimitError(
            f"{where} has {size} GB of EBS volumes: CreateStoreImageTask stores at most"
            f" {MAX_STORE_SIZE_GB:,} GB per AMI (before compression) ({LIMITS_DOC})"
        )
    encrypted = sorted(e.get("SnapshotId", "?") for e in ebs if e.get("Encrypted"))
    if encrypted and not allow_encrypted:
        raise StoreRestoreLimitError(
            f"{where} has encrypted snapshots ({', '.join(encrypted)}): CreateStoreImageTask"
            f" decrypts them into the S3 object, so both buckets would hold the disk unencrypted"
            f" and the restored AMI follows the destination's EBS encryption-by-default setting."
            f" Pass allow_encrypted=True once both buckets enforce encryption at rest and block"
            f" public access ({LIMITS_DOC})"
        )


def _find_restored(ec2: EC2Client, value: str) -> list[ImageTypeDef]:
    resp = ec2.describe_images(
        Owners=["self"], Filters=[{"Name": f"tag:{MIRROR_OF_TAG}", "Values": [value]}]
    )
    return [i for i in resp.get("Images", []) if i.get("State") not in ("deregistered",)]


def _image_state(ec2: EC2Client, image_id: str) -> ImageTypeDef | None:
    try:
        images = ec2.describe_images(ImageIds=[image_id]).get("Images", [])
    except ClientError as err:
        # Right after CreateRestoreImageTask the new id may not be visible yet (eventual
        # consistency): treat "not found" as still pending.
        if "NotFound" in str(err.response.get("Error", {}).get("Code", "")):
            return None
        raise
    return images[0] if images else None


def _wait_available(ctx: _Ctx, ec2: EC2Client, image_id: str, region: str) -> None:
    def check() -> bool | None:
        image = _image_state(ec2, image_id)
        state = image.get("State") if image else "pending"
        if state == "available":
            return True
        if state in ("failed", "error", "invalid", "deregistered"):
            reason = image.get("StateReason", {}).get("Message", "") if image else ""
            raise TransferError(
                f"restored AMI {image_id} in {region} is {state}: {reason or 'no reason given'};"
                f" deregister it to retry"
            )
        ctx.emit("restore", f"{image_id} in {region} is {state}")
        return None

    ctx.wait(f"AMI {image_id} in {region} to become available", check)


def _latest_task(ec2: EC2Client, image_id: str, bucket: str) -> StoreImageTaskResultTypeDef | None:
    resp = ec2.describe_store_image_tasks(ImageIds=[image_id])
    tasks = [t for t in resp.get("StoreImageTaskResults", []) if t.get("Bucket") == bucket]
    if not tasks:
        return None
    # Tasks are listed newest first, but sort anyway: the newest task is the one that counts.
    epoch = datetime.min.replace(tzinfo=UTC)
    return max(tasks, key=lambda t: t.get("TaskStartTime") or epoch)


def _ensure_stored(ctx: _Ctx, src: TransferSource, ec2: EC2Client, s3: S3Client) -> ObjectRef:
    region = src.clients.region
    ref = ObjectRef(src.bucket, f"{src.image_id}.bin")
    # The object appears in the bucket only once the store task has completed, so its presence
    # means a finished store (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateStoreImageTask.html).
    if head_object_or_none(s3, ref) is not None:
        ctx.emit("store", f"reusing stored object {ref}")
        return ref
    task = _latest_task(ec2, src.image_id, src.bucket)
    if task is not None and task.get("StoreTaskState") == "InProgress":
        ctx.emit("store", f"waiting for the running store task of {src.image_id} into {ref}")
    else:
        key = ec2.create_store_image_task(ImageId=src.image_id, Bucket=src.bucket)["ObjectKey"]
        ref = ObjectRef(src.bucket, key)
        ctx.emit("store", f"storing {src.image_id} ({region}) into {ref}")

    def check() -> ObjectRef | None:
        current = _latest_task(ec2, src.image_id, src.bucket)
        state = current.get("StoreTaskState") if current else "InProgress"
        if current is not None and state == "Completed":
            return ObjectRef(src.bucket, current.get("S3objectKey", ref.key))
        if current is not None and state == "Failed":
            raise TransferError(
                f"store task of {src.image_id} ({region}) into s3://{src.bucket} failed:"
                f" {current.get('StoreTaskFailureReason', 'no reason given')}. The account must own"
                f" the AMI and its snapshots or have them shared directly, and the snapshots must"
                f" exist until the task ends ({LIMITS_DOC})"
            )
        percent = current.get("ProgressPercentage") if current else None
        ctx.emit("store", f"store task of {src.image_id}: {state}", percent, 100)
        return None

    return ctx.wait(f"the store task of {src.image_id} ({region}) into s3://{src.bucket}", check)


def transfer_ami_across_partitions(
    src: TransferSource,
    dst: TransferDestination,
    name: str,
    tags: Mapping[str, str],
    poll: PollSettings | None = None,
    progress: ProgressCallback | None = None,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    allow_encrypted: bool = False,
) -> str:
    """Copy `src.image_id` into dst's partition/region; returns the restored AMI id.

    The restored AMI is named `name` and tagged with `tags` plus `mirror-of=<ami>@<src region>`.
    """
    ctx = _Ctx(progress, poll or PollSettings())
    src_region, dst_region = src.clients.region, dst.clients.region
    if src.clients.partition == dst.clients.partition:
        raise TransferError(
            f"{src_region} and {dst_region} are both in partition {src.clients.partition!r}:"
            f" use CopyImage (aws.ec2.AmiCopy) within a partition"
        )
    value = mirror_of(src.image_id, src_region)
    all_tags = {**tags, MIRROR_OF_TAG: value}
    dst_ec2 = dst.clients.ec2()

    # (a) already restored (or restoring) in the destination?
    existing = _find_restored(dst_ec2, value)
    if len(existing) > 1:
        ids = ", ".join(sorted(i.get("ImageId", "?") for i in existing))
        raise TransferError(
            f"{len(existing)} AMIs in {dst_region} are tagged {MIRROR_OF_TAG}={value}: {ids};"
            f" deregister the extra ones"
        )
    if existing:
        image_id = existing[0].get("ImageId", "")
        ctx.emit("reuse", f"{value} is already restored in {dst_region} as {image_id}")
        _wait_available(ctx, dst_ec2, image_id, dst_region)
        _tag(dst_ec2, image_id, all_tags, existing[0])
        ctx.emit("done", f"{value} -> {image_id} ({dst_region})")
        return image_id

    # Preflight: documented store/restore limits and the unique-name rule, before any work.
    src_ec2 = src.clients.ec2()
    ctx.emit("preflight", f"checking {src.image_id} in {src_region}")
    images = src_ec2.describe_images(ImageIds=[src.image_id]).get("Images", [])
    if not images:
        raise TransferError(f"source AMI {src.image_id} not found in {src_region}")
    check_store_restore_limits(images[0], src_region, allow_encrypted)
    clash = dst_ec2.describe_images(
        Owners=["self"], Filters=[{"Name": "name", "Values": [name]}]
    ).get("Images", [])
    if clash:
        ids = ", ".join(sorted(i.get("ImageId", "?") for i in clash))
        raise TransferError(
            f"an AMI named {name!r} already exists in {dst_region} ({ids}) without tag"
            f" {MIRROR_OF_TAG}={value}; CreateRestoreImageTask needs a name unique in the region"
        )

    # (b) store into the source bucket.
    src_s3 = src.clients.s3()
    stored = _ensure_stored(ctx, src, src_ec2, src_s3)

    # (c) stream the object to the destination partition's bucket.
    target = ObjectRef(dst.bucket, stored.key)
    result = copy_object_across(
        src_s3,
        stored,
        dst.clients.s3(),
        target,
        part_size=part_size,
        metadata={MIRROR_OF_TAG: value},
        progress=lambda done, total: ctx.emit("copy", f"{stored} -> {target}", done, total),
    )
    ctx.emit(
        "copy",
        f"{target}: {'already present' if result.skipped else 'copied'}"
        f" ({result.uploaded_parts} part(s) uploaded, {result.reused_parts} resumed)",
        result.size,
        result.size,
    )

    # (d) restore, tagged at creation so that a crash after this call is still found by (a).
    image_id = dst_ec2.create_restore_image_task(
        Bucket=dst.bucket,
        ObjectKey=target.key,
        Name=name,
        TagSpecifications=[
            {"ResourceType": "image", "Tags": _tag_list(all_tags)},
            {"ResourceType": "snapshot", "Tags": _tag_list(all_tags)},
        ],
    )["ImageId"]
    ctx.emit("restore", f"restoring {target} as {image_id} in {dst_region}")
    _wait_available(ctx, dst_ec2, image_id, dst_region)
    _tag(dst_ec2, image_id, all_tags, None)
    ctx.emit("done", f"{value} -> {image_id} ({dst_region})")
    return image_id


def _tag(
    ec2: EC2Client, image_id: str, tags: Mapping[str, str], image: ImageTypeDef | None
) -> None:
    """Make sure the AMI carries `tags` (no call when an already-described image has them)."""
    if image is not None:
        current = {t.get("Key"): t.get("Value") for t in image.get("Tags", [])}
        if all(current.get(k) == v for k, v in tags.items()):
            return
    ec2.create_tags(Resources=[image_id], Tags=_tag_list(tags))
