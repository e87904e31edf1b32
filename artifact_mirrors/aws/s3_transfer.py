"""Copy one S3 object between two accounts/partitions with two sets of credentials.

S3 cannot copy across partitions (CopyObject/UploadPartCopy need one set of credentials that can
read the source and write the destination; an `aws` and an `aws-us-gov` principal never can), so
the bytes flow through this process:

* streamed part by part: at most one part is in memory, never the whole object, no temp file;
* every part is hashed (SHA-256) while read and uploaded with `ChecksumSHA256`, so S3 rejects a
  part corrupted in transit (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html);
* the whole-object SHA-256 is compared with the source's declared one when the source has one
  (user metadata `sha256` or a full-object ChecksumSHA256) before the upload is completed, and
  the completed object's composite checksum is compared with ours;
* resumable: an unfinished multipart upload for the key is continued; its parts are re-read from
  the source and kept only when their checksum (or, when S3 lists none, their MD5 ETag) matches;
* idempotent: a completed destination object with the same size and the source's ETag recorded
  in its metadata (written only by this code, after verification) is left alone.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from artifact_mirrors.aws.errors import ChecksumMismatchError, TransferError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, PartTypeDef

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 64 * MiB
MIN_PART_SIZE = 5 * MiB  # S3: every part but the last is >= 5 MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000

META_SOURCE_ETAG = "mirror-source-etag"
META_SOURCE_SIZE = "mirror-source-size"
META_PART_SIZE = "mirror-part-size"
META_SHA256 = "sha256"  # optional declared whole-object digest (hex) on the source

ProgressFn = Callable[[int, int], None]
"""(bytes done, total bytes)."""


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class CopyResult:
    size: int
    parts: int
    uploaded_parts: int
    reused_parts: int
    skipped: bool
    sha256: str | None  # hex of the whole object; None when skipped


def effective_part_size(size: int, part_size: int = DEFAULT_PART_SIZE) -> int:
    """`part_size`, raised (to a whole MiB) when the object would need more than 10,000 parts."""
    if part_size < MIN_PART_SIZE:
        raise ValueError(f"part size {part_size} is below the S3 minimum of {MIN_PART_SIZE} bytes")
    needed = -(-size // MAX_PARTS)
    needed = -(-needed // MiB) * MiB
    result = max(part_size, needed)
    if result > MAX_PART_SIZE:
        raise TransferError(f"object of {size} bytes is too large for a multipart upload")
    return result


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _is_not_found(err: ClientError) -> bool:
    code = str(err.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


def head_object_or_none(s3: S3Client, ref: ObjectRef) -> dict[str, Any] | None:
    """HeadObject with checksums, or None when the object does not exist."""
    try:
        return dict(s3.head_object(Bucket=ref.bucket, Key=ref.key, ChecksumMode="ENABLED"))
    except ClientError as err:
        if _is_not_found(err):
            return None
        raise


def _declared_sha256(head: Mapping[str, Any]) -> str | None:
    """The whole-object SHA-256 (hex) the source declares, if any.

    A ChecksumSHA256 with a `-N` suffix is a composite over the uploader's parts, not comparable
    with a digest of the bytes, so only a full-object one is used.
    """
    meta = head.get("Metadata", {})
    if META_SHA256 in meta:
        return str(meta[META_SHA256]).lower()
    checksum = head.get("ChecksumSHA256")
    if checksum and "-" not in checksum:
        return base64.b64decode(checksum).hex()
    return None


def _composite_matches(actual: str | None, expected: str) -> bool:
    """Compare a composite checksum `<b64>-<parts>`; some S3 implementations omit `-<parts>`."""
    if actual is None:
        return True  # nothing to compare: per-part checksums were already verified by S3
    return actual == expected or ("-" not in actual and actual == expected.split("-")[0])


def _find_upload(s3: S3Client, ref: ObjectRef) -> str | None:
    """The most recent unfinished multipart upload of exactly `ref.key`, if any."""
    uploads: list[tuple[Any, str]] = []
    paginator = s3.get_paginator("list_multipart_uploads")
    for page in paginator.paginate(Bucket=ref.bucket, Prefix=ref.key):
        for upload in page.get("Uploads", []):
            if upload.get("Key") == ref.key and "UploadId" in upload:
                uploads.append((upload.get("Initiated"), upload["UploadId"]))
    if not uploads:
        return None
    uploads.sort(key=lambda u: (u[0] is not None, u[0]))
    return uploads[-1][1]


def _list_parts(s3: S3Client, ref: ObjectRef, upload_id: str) -> dict[int, PartTypeDef]:
    parts: dict[int, PartTypeDef] = {}
    paginator = s3.get_paginator("list_parts")
    for page in paginator.paginate(Bucket=ref.bucket, Key=ref.key, UploadId=upload_id):
        for part in page.get("Parts", []):
            if "PartNumber" in part:
                parts[part["PartNumber"]] = part
    return parts


def _part_matches(listed: PartTypeDef, length: int, sha256_b64: str, md5_hex: str) -> bool:
    if listed.get("Size") != length:
        return False
    if "ChecksumSHA256" in listed:
        return listed["ChecksumSHA256"] == sha256_b64
    # Without a listed checksum, the ETag of a part is its MD5 (not with SSE-KMS/SSE-C, where
    # the comparison fails and the part is simply uploaded again).
    return listed.get("ETag", "").strip('"') == md5_hex


def copy_object_across(
    src_s3: S3Client,
    src: ObjectRef,
    dst_s3: S3Client,
    dst: ObjectRef,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    metadata: Mapping[str, str] | None = None,
    progress: ProgressFn | None = None,
) -> CopyResult:
    """Stream `src` (read with src_s3's credentials) to `dst` (written with dst_s3's)."""
    src_head = head_object_or_none(src_s3, src)
    if src_head is None:
        raise TransferError(f"source object {src} does not exist")
    size = int(src_head["ContentLength"])
    etag = str(src_head.get("ETag", "")).strip('"')
    if size == 0:
        raise TransferError(f"source object {src} is empty")

    dst_head = head_object_or_none(dst_s3, dst)
    if (
        dst_head is not None
        and int(dst_head["ContentLength"]) == size
        and dst_head.get("Metadata", {}).get(META_SOURCE_ETAG) == etag
        and dst_head.get("ChecksumSHA256")
    ):
        if progress:
            progress(size, size)
        return CopyResult(size, 0, 0, 0, skipped=True, sha256=None)

    psize = effective_part_size(size, part_size)
    n_parts = -(-size // psize)
    upload_id = _find_upload(dst_s3, dst)
    listed: dict[int, PartTypeDef] = {}
    if upload_id is not None:
        listed = _list_parts(dst_s3, dst, upload_id)
    else:
        meta = dict(src_head.get("Metadata", {}))
        meta.update(metadata or {})
        meta.update(
            {META_SOURCE_ETAG: etag, META_SOURCE_SIZE: str(size), META_PART_SIZE: str(psize)}
        )
        tagging = src_s3.get_object_tagging(Bucket=src.bucket, Key=src.key).get("TagSet", [])
        extra: dict[str, Any] = {}
        if tagging:
            # CreateStoreImageTask may put AMI details in object tags; keep them with the bytes.
            extra["Tagging"] = urlencode([(t["Key"], t["Value"]) for t in tagging])
        upload_id = dst_s3.create_multipart_upload(
            Bucket=dst.bucket, Key=dst.key, ChecksumAlgorithm="SHA256", Metadata=meta, **extra
        )["UploadId"]

    whole = hashlib.sha256()
    composite = hashlib.sha256()
    completed: list[CompletedPartTypeDef] = []
    uploaded = reused = 0
    done = 0
    for number in range(1, n_parts + 1):
        start = (number - 1) * psize
        end = min(start + psize, size) - 1
        body = src_s3.get_object(Bucket=src.bucket, Key=src.key, Range=f"bytes={start}-{end}")
        data = body["Body"].read()
        if len(data) != end - start + 1:
            raise TransferError(
                f"short read of {src} part {number}: got {len(data)} bytes, expected"
                f" {end - start + 1}"
            )
        digest = hashlib.sha256(data).digest()
        sha_b64 = _b64(digest)
        whole.update(data)
        composite.update(digest)
        previous = listed.get(number)
        if previous is not None and _part_matches(
            previous, len(data), sha_b64, hashlib.md5(data, usedforsecurity=False).hexdigest()
        ):
            part_etag = previous.get("ETag", "")
            reused += 1
        else:
            resp = dst_s3.upload_part(
                Bucket=dst.bucket,
                Key=dst.key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ContentLength=len(data),
                ChecksumSHA256=sha_b64,
            )
            echoed = resp.get("ChecksumSHA256")
            if echoed is not None and echoed != sha_b64:
                dst_s3.abort_multipart_upload(Bucket=dst.bucket, Key=dst.key, UploadId=upload_id)
                raise ChecksumMismatchError(
                    f"checksum mismatch on {dst} part {number}: sent sha256 {sha_b64},"
                    f" S3 stored {echoed}; aborted the multipart upload"
                )
            part_etag = resp["ETag"]
            uploaded += 1
        completed.append({"PartNumber": number, "ETag": part_etag, "ChecksumSHA256": sha_b64})
        del data  # release the part before reading the next one
        done = end + 1
        if progress:
            progress(done, size)

    actual_hex = whole.hexdigest()
    declared = _declared_sha256(src_head)
    if declared is not None and declared != actual_hex:
        dst_s3.abort_multipart_upload(Bucket=dst.bucket, Key=dst.key, UploadId=upload_id)
        raise ChecksumMismatchError(
            f"checksum mismatch for {src}: the source declares sha256 {declared}, the bytes read"
            f" hash to {actual_hex}; aborted the upload to {dst}"
        )
    dst_s3.complete_multipart_upload(
        Bucket=dst.bucket, Key=dst.key, UploadId=upload_id, MultipartUpload={"Parts": completed}
    )

    final = head_object_or_none(dst_s3, dst)
    expected_composite = f"{_b64(composite.digest())}-{n_parts}"
    problem = None
    if final is None:
        problem = "the completed object is missing"
    elif int(final["ContentLength"]) != size:
        problem = f"size {final['ContentLength']} != source size {size}"
    elif not _composite_matches(final.get("ChecksumSHA256"), expected_composite):
        problem = f"composite sha256 {final.get('ChecksumSHA256')} != {expected_composite}"
    if problem is not None:
        dst_s3.delete_object(Bucket=dst.bucket, Key=dst.key)
        raise ChecksumMismatchError(f"checksum mismatch for {dst}: {problem}; deleted it")
    return CopyResult(size, n_parts, uploaded, reused, skipped=False, sha256=actual_hex)
