"""Copy one provider file (zip, sums or signature) from the source into S3, bit for bit.

The bytes are streamed from the source into an anonymous temporary file while their sha256 is
computed; only when it equals the pinned sha256 does the upload start, so an object in the mirror
is always the vendor's file (a tampered or truncated download never becomes visible). The upload
sends the bytes as read: no Content-Encoding, nothing re-compressed. The object records the
sha256 in its metadata (``x-amz-meta-sha256``); a file already there with that sha256 is not
copied again, so re-running an interrupted update finishes the job.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from artifact_mirrors.terraform.protocol import SourceError, client_for, stream_to

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SHA256_META = "sha256"


class CopyError(Exception):
    """The file could not be copied: source unreadable, sha256 mismatch, S3 refused."""


@dataclass(frozen=True)
class CopyResult:
    key: str
    sha256: str
    size: int
    copied: bool  # False: already in the mirror with the pinned sha256


def mirrored_sha256(s3: S3Client, bucket: str, key: str) -> str | None:
    """The sha256 recorded on the mirror's object, or None when there is none."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise CopyError(f"s3://{bucket}/{key}: {exc}") from None
    return head.get("Metadata", {}).get(SHA256_META)


def copy_file(
    s3: S3Client,
    *,
    bucket: str,
    key: str,
    source_url: str,
    sha256: str,
    content_type: str,
    ca_file: str | None = None,
) -> CopyResult:
    if mirrored_sha256(s3, bucket, key) == sha256:
        head = s3.head_object(Bucket=bucket, Key=key)
        return CopyResult(key, sha256, int(head.get("ContentLength", 0)), copied=False)
    with tempfile.TemporaryFile() as spool, client_for(ca_file) as client:
        try:
            got = stream_to(client, source_url, spool)
        except SourceError as exc:
            raise CopyError(str(exc)) from None
        if got != sha256:
            raise CopyError(
                f"{source_url}: sha256 {got} is not the pinned {sha256}; nothing was written to "
                f"s3://{bucket}/{key}"
            )
        size = spool.tell()
        spool.seek(0)
        try:
            s3.upload_fileobj(
                spool,
                bucket,
                key,
                ExtraArgs={"ContentType": content_type, "Metadata": {SHA256_META: sha256}},
            )
        except ClientError as exc:
            raise CopyError(f"s3://{bucket}/{key}: {exc}") from None
    return CopyResult(key, sha256, size, copied=True)


def delete_file(s3: S3Client, *, bucket: str, key: str, sha256: str) -> bool:
    """Delete the object if it is the file we mirrored (its recorded sha256); True if deleted."""
    if mirrored_sha256(s3, bucket, key) != sha256:
        return False
    s3.delete_object(Bucket=bucket, Key=key)
    return True
