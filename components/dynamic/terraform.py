"""ProviderFile and CloudFrontInvalidation: the two parts of a provider mirror no pulumi-aws
resource does.

**ProviderFile** is one vendor file (zip, ``.sums``, ``.sums.sig``) in the mirror bucket.
``aws.s3.BucketObjectv2`` uploads a local file or an asset, so it would need the zip on disk at
program time (every preview downloading every release) and would not check the bytes against
the pinned sha256; the copy here is the library's (`artifact_mirrors.terraform.copy`): streamed
from the source, sha256-checked *before* the upload, never re-compressed.

- create/update: copy (skipped when the object is already there with the pinned sha256);
- diff: inputs against state, then the live object's recorded sha256, so a file deleted or
  replaced behind our back is an update in the next preview (a bucket that cannot be asked
  falls back to the recorded state);
- ``published: false`` (a yank with ``yank: delete-files``): the update deletes the object;
- delete: only removes an unpublished file (published files are ``retain_on_delete``).

**CloudFrontInvalidation** invalidates the paths of the index documents whose content changed
(``documents``: site path -> sha256): one CreateInvalidation per update that changes any, none
when nothing changed. pulumi-aws has no invalidation resource (CloudFront invalidations are
one-shot API calls, CreateInvalidation).

Credentials: the AWS profile is named in the inputs and read at call time; nothing secret is
stored or pickled.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from botocore.exceptions import BotoCoreError, ClientError
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ResourceProvider,
    UpdateResult,
)

from artifact_mirrors.aws.session import AwsClients, endpoint_url
from artifact_mirrors.terraform.copy import CopyError, copy_file, delete_file, mirrored_sha256
from components.dynamic import DynamicResource, inputs_then_live, keyed_diff, props_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FILE_REPLACE_KEYS = ("bucket", "key")
FILE_UPDATE_KEYS = ("source_url", "sha256", "content_type", "published", "region", "profile",
                    "ca_file", "release", "platform", "kind")  # fmt: skip
COPY_KEYS = ("source_url", "sha256", "content_type", "published")


@dataclass(frozen=True)
class ProviderFileArgs:
    destination: str  # PROVIDER/DESTINATION of the spec
    release: str
    platform: str
    kind: str  # zip | sums | sig
    bucket: str
    key: str
    region: str
    source_url: str
    sha256: str
    content_type: str
    published: bool
    profile: str | None = None
    ca_file: str | None = None

    def props(self) -> dict[str, Any]:
        return props_of(self)


def _s3(props: dict[str, Any]) -> S3Client:
    return AwsClients("aws", str(props["region"]), props.get("profile")).s3()


def file_diff_inputs(olds: dict[str, Any], news: dict[str, Any]) -> tuple[list[str], list[str]]:
    return keyed_diff(olds, news, FILE_REPLACE_KEYS, FILE_UPDATE_KEYS)


class ProviderFileProvider(ResourceProvider):
    diff_inputs = staticmethod(file_diff_inputs)  # offline, for `mirrors plan --against`

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not str(news.get("source_url", "")).startswith("https://"):
            failures.append(CheckFailure("source_url", "the source must be an https URL"))
        sha = str(news.get("sha256", ""))
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            failures.append(CheckFailure("sha256", "not a sha256 in hex"))
        if news.get("kind") not in ("zip", "sums", "sig"):
            failures.append(CheckFailure("kind", "kind must be zip, sums or sig"))
        return CheckResult(news, failures)

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        where = f"s3://{props['bucket']}/{props['key']}"
        try:
            s3 = _s3(props)
            if props.get("published", True):
                result = copy_file(
                    s3,
                    bucket=props["bucket"],
                    key=props["key"],
                    source_url=props["source_url"],
                    sha256=props["sha256"],
                    content_type=props["content_type"],
                    ca_file=props.get("ca_file"),
                )
                return {**props, "size": result.size}
            delete_file(s3, bucket=props["bucket"], key=props["key"], sha256=props["sha256"])
            return {**props, "size": 0}
        except CopyError as exc:
            raise RuntimeError(str(exc)) from None
        except (BotoCoreError, ClientError) as exc:
            raise RuntimeError(f"{where}: {exc}") from None

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"s3://{props['bucket']}/{props['key']}", self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces, changed = file_diff_inputs(olds, news)
        return inputs_then_live(replaces, changed, news, lambda: self._drifted(news))

    @staticmethod
    def _drifted(news: dict[str, Any]) -> bool:
        """Deleted or replaced behind our back (its recorded sha256 is not the pinned one)."""
        want = news["sha256"] if news.get("published", True) else None
        try:
            live = mirrored_sha256(_s3(news), news["bucket"], news["key"])
        except (CopyError, BotoCoreError, ClientError):
            return False  # cannot ask during a preview: the recorded state stands
        return live != want

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _, changed = file_diff_inputs(olds, news)
        if changed and not any(k in COPY_KEYS for k in changed):
            return UpdateResult({**news, "size": olds.get("size")})
        return UpdateResult(self._apply(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if not props.get("published", True):
            self._apply(props)


_FILE_PROVIDER = ProviderFileProvider()


class ProviderFile(DynamicResource, module="artifact-mirrors", name="ProviderFile"):
    sha256: pulumi.Output[str]
    size: pulumi.Output[int]

    def __init__(
        self, name: str, args: ProviderFileArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_FILE_PROVIDER, name, {**args.props(), "size": None}, opts)


# ---- CloudFront ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloudFrontInvalidationArgs:
    distribution_id: str
    # Site path (``/v1/providers/NS/TYPE/versions``) -> sha256 of the document served there: an
    # update invalidates exactly the paths whose sha256 changed.
    documents: dict[str, str]
    profile: str | None = None

    def props(self) -> dict[str, Any]:
        return props_of(self)


def invalidation_diff_inputs(
    olds: dict[str, Any], news: dict[str, Any]
) -> tuple[list[str], list[str]]:
    # Never a replacement: an invalidation is a one-shot call, there is nothing to replace.
    return keyed_diff(olds, news, (), ("distribution_id", "documents", "profile"))


def changed_paths(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """The paths to invalidate going from ``olds`` to ``news``: every path at a new distribution,
    else those whose document changed (a path dropped is invalidated too: it must stop being
    served from the cache). State written before ``documents`` existed counts as all changed."""
    new_docs: dict[str, str] = dict(news.get("documents") or {})
    old_docs = olds.get("documents")
    if olds.get("distribution_id") != news.get("distribution_id") or not isinstance(old_docs, dict):
        return sorted(new_docs)
    return sorted(
        p for p in new_docs.keys() | old_docs.keys() if new_docs.get(p) != old_docs.get(p)
    )


def _invalidate(props: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    # CloudFront is a global service managed from us-east-1.
    session = AwsClients("aws", "us-east-1", props.get("profile")).session()
    client = session.client("cloudfront", endpoint_url=endpoint_url())
    digest = hashlib.sha256(json.dumps(props["documents"], sort_keys=True).encode()).hexdigest()
    try:
        resp = client.create_invalidation(
            DistributionId=props["distribution_id"],
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": paths},
                # Unique per call: CloudFront answers a repeated CallerReference with the earlier
                # invalidation instead of making a new one (CreateInvalidation, CallerReference:
                # https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_InvalidationBatch.html),
                # and the documents can come back to an earlier state (yank, then un-yank).
                "CallerReference": f"{digest[:32]}-{time.time_ns()}",
            },
        )
    except (BotoCoreError, ClientError) as exc:
        raise RuntimeError(f"CloudFront {props['distribution_id']}: {exc}") from None
    return {**props, "invalidation_id": resp["Invalidation"]["Id"], "invalidated": paths}


class CloudFrontInvalidationProvider(ResourceProvider):
    diff_inputs = staticmethod(invalidation_diff_inputs)  # offline, for `mirrors plan --against`

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not news.get("distribution_id"):
            failures.append(CheckFailure("distribution_id", "a CloudFront distribution id"))
        docs = news.get("documents")
        if not isinstance(docs, dict) or not docs or not all(str(p).startswith("/") for p in docs):
            failures.append(CheckFailure("documents", "site paths (/...) -> sha256"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        # Everything: a 404 for a path may be cached from before the documents existed.
        out = _invalidate(props, sorted(props["documents"]))
        return CreateResult(str(out["invalidation_id"]), out)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        _, changed = invalidation_diff_inputs(olds, news)
        return DiffResult(changes=bool(changed), replaces=[])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        paths = changed_paths(olds, news)
        if not paths:  # the profile only: nothing served changed
            return UpdateResult(
                {**news, "invalidation_id": olds.get("invalidation_id"), "invalidated": []}
            )
        return UpdateResult(_invalidate(news, paths))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        return None  # an invalidation cannot be undone, and need not be


_CF_PROVIDER = CloudFrontInvalidationProvider()


class CloudFrontInvalidation(
    DynamicResource, module="artifact-mirrors", name="CloudFrontInvalidation"
):
    def __init__(
        self,
        name: str,
        args: CloudFrontInvalidationArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {**args.props(), "invalidation_id": None, "invalidated": None}
        super().__init__(_CF_PROVIDER, name, props, opts)
