"""Sessions and clients per (partition, region), with credentials read at call time.

Nothing here stores credentials: `AwsClients` is a frozen, picklable description (partition,
region, profile name, endpoint override) and every call builds a fresh `boto3.Session`, so
botocore resolves credentials from the profile / environment / instance role when the client is
made. That is what lets a Pulumi dynamic provider (pickled into state) hold an `AwsClients`
without leaking a secret into the state file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from artifact_mirrors.aws.partitions import validate_region

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

ENDPOINT_ENV = "MIRRORS_AWS_ENDPOINT_URL"
"""Points ec2, s3 and sts at one endpoint (moto_server in tests and in the `local` stack)."""

_USER_AGENT = "artifact-mirrors"


def endpoint_url(explicit: str | None = None) -> str | None:
    """The endpoint override: the explicit argument, else $MIRRORS_AWS_ENDPOINT_URL, else None."""
    return explicit or os.environ.get(ENDPOINT_ENV) or None


def session_for(
    partition: str, region: str, profile: str | None, endpoint_url: str | None = None
) -> boto3.Session:
    """A new boto3 session for `region` of `partition` (credentials resolved lazily).

    A boto3 session has no endpoint (it is a client property), so `endpoint_url` is only
    accepted for a uniform call shape: use `clients_for(...)`/`AwsClients`, whose ec2/s3/sts
    clients apply it (or $MIRRORS_AWS_ENDPOINT_URL).
    """
    del endpoint_url
    validate_region(region, partition)
    return boto3.Session(profile_name=profile, region_name=region)


def client_config(*, s3_path_style: bool = False) -> Config:
    """Retry config shared by all clients ("standard" mode retries throttling with backoff)."""
    return Config(
        user_agent_extra=_USER_AGENT,
        retries={"mode": "standard", "max_attempts": 10},
        # moto_server on 127.0.0.1 cannot serve virtual-hosted buckets (<bucket>.127.0.0.1).
        s3={"addressing_style": "path"} if s3_path_style else None,
    )


@dataclass(frozen=True)
class AwsClients:
    """Factory of clients for one (partition, region): picklable, holds no credentials."""

    partition: str
    region: str
    profile: str | None = None
    endpoint_url: str | None = None

    def __post_init__(self) -> None:
        validate_region(self.region, self.partition)

    def session(self) -> boto3.Session:
        return session_for(self.partition, self.region, self.profile)

    def _endpoint(self) -> str | None:
        return endpoint_url(self.endpoint_url)

    def ec2(self) -> EC2Client:
        return self.session().client("ec2", endpoint_url=self._endpoint(), config=client_config())

    def s3(self) -> S3Client:
        endpoint = self._endpoint()
        return self.session().client(
            "s3", endpoint_url=endpoint, config=client_config(s3_path_style=endpoint is not None)
        )

    def sts(self) -> STSClient:
        return self.session().client("sts", endpoint_url=self._endpoint(), config=client_config())

    def account_id(self) -> str:
        """The account the credentials belong to (STS GetCallerIdentity)."""
        return self.sts().get_caller_identity()["Account"]


def clients_for(
    partition: str, region: str, profile: str | None, endpoint_url: str | None = None
) -> AwsClients:
    """Validated `AwsClients` for (partition, region); see `AwsClients`."""
    return AwsClients(
        partition=partition, region=region, profile=profile, endpoint_url=endpoint_url
    )
