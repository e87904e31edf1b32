from __future__ import annotations

import hashlib
import os

import pytest

from artifact_mirrors.aws.errors import ChecksumMismatchError
from artifact_mirrors.aws.s3_transfer import MiB, ObjectRef, copy_object_across
from artifact_mirrors.aws.session import AwsClients

pytestmark = pytest.mark.moto

PART = 5 * MiB  # S3's minimum part size keeps the test objects small (3 parts)
KEY = "ami-0b9ad8b18c7f2d82e.bin"
SRC = ObjectRef("teleport-ami-store-us-west-2", KEY)
DST = ObjectRef("teleport-ami-restore-us-gov-west-1", KEY)


def _bucket(clients: AwsClients, name: str) -> None:
    clients.s3().create_bucket(
        Bucket=name,
        CreateBucketConfiguration={"LocationConstraint": clients.region},  # type: ignore[typeddict-item]
    )


@pytest.fixture
def payload(commercial: AwsClients, govcloud: AwsClients) -> bytes:
    """A stored-AMI-like object (2 full parts + a short last part) and two empty buckets."""
    _bucket(commercial, SRC.bucket)
    _bucket(govcloud, DST.bucket)
    data = os.urandom(2 * PART + 123_457)
    commercial.s3().put_object(
        Bucket=SRC.bucket,
        Key=SRC.key,
        Body=data,
        # What CreateStoreImageTask records about the AMI.
        Metadata={"ami-name": "teleport-oss-15.1.6-x86_64-20240301-101010UTC"},
        Tagging="ami-owner=146628656107",
    )
    return data


def _read(clients: AwsClients, ref: ObjectRef) -> bytes:
    return clients.s3().get_object(Bucket=ref.bucket, Key=ref.key)["Body"].read()


def _uploads(clients: AwsClients) -> list[str]:
    resp = clients.s3().list_multipart_uploads(Bucket=DST.bucket)
    return [u.get("Key", "") for u in resp.get("Uploads", [])]


def test_copies_across_partitions_then_skips(
    commercial: AwsClients, govcloud: AwsClients, payload: bytes
) -> None:
    # The GovCloud credentials cannot even see the source bucket: only streaming works.
    assert SRC.bucket not in [b["Name"] for b in govcloud.s3().list_buckets()["Buckets"]]
    seen: list[tuple[int, int]] = []

    first = copy_object_across(
        commercial.s3(),
        SRC,
        govcloud.s3(),
        DST,
        part_size=PART,
        metadata={"mirror-of": "ami-0b9ad8b18c7f2d82e@us-west-2"},
        progress=lambda done, total: seen.append((done, total)),
    )

    assert _read(govcloud, DST) == payload
    assert (first.parts, first.uploaded_parts, first.reused_parts, first.skipped) == (
        3,
        3,
        0,
        False,
    )
    assert first.sha256 == hashlib.sha256(payload).hexdigest()
    assert seen == [(PART, len(payload)), (2 * PART, len(payload)), (len(payload), len(payload))]
    head = govcloud.s3().head_object(Bucket=DST.bucket, Key=DST.key)
    assert head["Metadata"]["ami-name"] == "teleport-oss-15.1.6-x86_64-20240301-101010UTC"
    assert head["Metadata"]["mirror-of"] == "ami-0b9ad8b18c7f2d82e@us-west-2"
    assert head["Metadata"]["mirror-source-size"] == str(len(payload))
    tags = govcloud.s3().get_object_tagging(Bucket=DST.bucket, Key=DST.key)["TagSet"]
    assert tags == [{"Key": "ami-owner", "Value": "146628656107"}]

    second = copy_object_across(commercial.s3(), SRC, govcloud.s3(), DST, part_size=PART)

    assert second.skipped is True
    assert second.uploaded_parts == 0


def test_resumes_an_interrupted_upload_and_repairs_bad_parts(
    commercial: AwsClients, govcloud: AwsClients, payload: bytes
) -> None:
    dst_s3 = govcloud.s3()
    upload = dst_s3.create_multipart_upload(
        Bucket=DST.bucket, Key=DST.key, ChecksumAlgorithm="SHA256", Metadata={"x": "y"}
    )["UploadId"]
    dst_s3.upload_part(
        Bucket=DST.bucket, Key=DST.key, UploadId=upload, PartNumber=1, Body=payload[:PART]
    )
    # Part 2 has the right size but wrong bytes (a corrupted earlier attempt).
    dst_s3.upload_part(
        Bucket=DST.bucket, Key=DST.key, UploadId=upload, PartNumber=2, Body=b"\0" * PART
    )

    result = copy_object_across(commercial.s3(), SRC, dst_s3, DST, part_size=PART)

    assert (result.reused_parts, result.uploaded_parts) == (1, 2)
    assert _read(govcloud, DST) == payload
    assert _uploads(govcloud) == []


def test_replaces_a_stale_destination_object(
    commercial: AwsClients, govcloud: AwsClients, payload: bytes
) -> None:
    govcloud.s3().put_object(Bucket=DST.bucket, Key=DST.key, Body=b"an older store of the AMI")

    result = copy_object_across(commercial.s3(), SRC, govcloud.s3(), DST, part_size=PART)

    assert result.skipped is False
    assert _read(govcloud, DST) == payload


def test_source_checksum_mismatch_aborts(
    commercial: AwsClients, govcloud: AwsClients, payload: bytes
) -> None:
    wrong = hashlib.sha256(b"not the payload").hexdigest()
    commercial.s3().put_object(
        Bucket=SRC.bucket, Key=SRC.key, Body=payload, Metadata={"sha256": wrong}
    )

    with pytest.raises(ChecksumMismatchError) as err:
        copy_object_across(commercial.s3(), SRC, govcloud.s3(), DST, part_size=PART)

    assert str(err.value) == (
        f"checksum mismatch for s3://{SRC.bucket}/{KEY}: the source declares sha256 {wrong},"
        f" the bytes read hash to {hashlib.sha256(payload).hexdigest()};"
        f" aborted the upload to s3://{DST.bucket}/{KEY}"
    )
    assert govcloud.s3().list_objects_v2(Bucket=DST.bucket).get("KeyCount") == 0
    assert _uploads(govcloud) == []


def test_matching_declared_checksum_passes(
    commercial: AwsClients, govcloud: AwsClients, payload: bytes
) -> None:
    commercial.s3().put_object(
        Bucket=SRC.bucket,
        Key=SRC.key,
        Body=payload,
        Metadata={"sha256": hashlib.sha256(payload).hexdigest()},
    )

    result = copy_object_across(commercial.s3(), SRC, govcloud.s3(), DST, part_size=PART)

    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert _read(govcloud, DST) == payload
