"""Remove a tag from Amazon ECR or ECR Public: ``BatchDeleteImage``, not the distribution API.

Neither ECR nor ECR Public implements ``DELETE /v2/<name>/manifests/<tag>``; the only way to
remove a tag is the service API's ``BatchDeleteImage`` with ``imageIds=[{"imageTag": TAG}]``,
which removes that tag only (the image goes when its last tag goes):
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchDeleteImage.html and
https://docs.aws.amazon.com/AmazonECRPublic/latest/APIReference/API_BatchDeleteImage.html.

Idempotent: a tag (or repository) that is already gone is not an error. Clients are built per
call from the registry's AWS profile, the way :func:`artifact_mirrors.oci.settings.aws_password`
builds them (credentials resolved by botocore at call time, ``MIRRORS_AWS_ENDPOINT_URL``
honoured), so nothing secret is held.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from artifact_mirrors.oci.errors import MirrorError
from artifact_mirrors.oci.reference import parse_reference
from artifact_mirrors.regions import ECR_PUBLIC_API_REGION

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr_public import ECRPublicClient

KINDS = ("ecr", "ecr-public")
_SERVICE = {"ecr": "ecr", "ecr-public": "ecr-public"}
_NAME = {"ecr": "ECR", "ecr-public": "ECR Public"}


class EcrError(MirrorError):
    """Not an ECR host, or BatchDeleteImage failed for a reason other than "already gone"."""


@dataclass(frozen=True)
class EcrTag:
    """Where one tag lives, in the terms of the ECR / ECR Public API."""

    kind: str  # "ecr" | "ecr-public"
    region: str
    repository_name: str  # ECR: the whole path; ECR Public: the path after the registry alias
    tag: str
    registry_id: str | None = None  # ECR: the account in the host name; ECR Public: default

    @classmethod
    def parse(cls, kind: str, repository: str, tag: str) -> EcrTag:
        """``ACCOUNT.dkr.ecr.REGION.amazonaws.com/ns/app`` or ``public.ecr.aws/ALIAS/app``."""
        if kind not in KINDS:
            raise ValueError(f"not an ECR registry kind: {kind!r}")
        ref = parse_reference(repository)
        if kind == "ecr-public":
            _alias, _, name = ref.repository.partition("/")
            return cls(kind, ECR_PUBLIC_API_REGION, name or ref.repository, tag)
        labels = ref.registry.split(".")
        if len(labels) < 6 or labels[1:3] != ["dkr", "ecr"]:
            raise EcrError(
                f"{ref.registry} is not an ECR registry host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)"
            )
        return cls(kind, labels[3], ref.repository, tag, registry_id=labels[0])

    def describe(self) -> str:
        return f"{_NAME[self.kind]} {self.repository_name}:{self.tag}"


def client_for(target: EcrTag, profile: str | None) -> ECRClient | ECRPublicClient:
    """A fresh ``ecr`` / ``ecr-public`` client for ``target`` (credentials resolved lazily)."""
    import boto3

    from artifact_mirrors.aws.session import client_config, endpoint_url

    session = boto3.Session(profile_name=profile or None)
    client: ECRClient | ECRPublicClient = session.client(  # type: ignore[call-overload]
        _SERVICE[target.kind],
        region_name=target.region,
        endpoint_url=endpoint_url(),  # tests and the local stack point AWS at a moto_server
        config=client_config(),
    )
    return client


def delete_tag(
    target: EcrTag,
    *,
    profile: str | None = None,
    client: ECRClient | ECRPublicClient | None = None,
) -> bool:
    """Remove ``target``'s tag; True when removed, False when it (or its repository) was gone.

    Any other outcome raises :class:`EcrError` with a one-line message naming the
    repository, the tag and AWS's error code.
    """
    request: dict[str, Any] = {
        "repositoryName": target.repository_name,
        "imageIds": [{"imageTag": target.tag}],
    }
    if target.registry_id:
        request["registryId"] = target.registry_id
    where = f"{target.describe()}: BatchDeleteImage failed"
    try:
        api = client if client is not None else client_for(target, profile)
        response = api.batch_delete_image(**request)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or "error"
        if code == "RepositoryNotFoundException":
            return False
        raise EcrError(f"{where}: {code}: {_one_line(error.get('Message'))}") from None
    except BotoCoreError as exc:  # no credentials, unknown profile, endpoint unreachable
        raise EcrError(f"{where}: {type(exc).__name__}: {_one_line(str(exc))}") from None
    for failure in response.get("failures") or []:
        code = str(failure.get("failureCode") or "")
        if code == "ImageNotFound":
            continue
        raise EcrError(f"{where}: {code or 'failure'}: {_one_line(failure.get('failureReason'))}")
    return bool(response.get("imageIds"))


def _one_line(text: object) -> str:
    return " ".join(str(text or "").split()) or "(no message)"
