"""Checks that must fail `pulumi preview`, not half-way through `pulumi up`.

- Credentials: each AMI partition's profile must resolve to credentials, and to the account the
  spec pins (``partitions.*.account``; the providers' ``allowed_account_ids`` would otherwise
  refuse much later). Expired SSO sessions, unknown profiles, missing or refused credentials end
  the preview with one line per partition that says what to run, never a Python traceback.
- Image block public access makes every public AMI grant in a region fail
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/block-public-access-to-amis.html). With
  ``block_public_access: check`` (the default) the program asks each region before registering
  anything and stops with one line per blocked region; ``manage`` declares
  ``aws.ec2.ImageBlockPublicAccess`` instead.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)
from botocore.parsers import ResponseParserError

from artifact_mirrors.aws import AwsMirrorError, clients_for, ensure_public_sharing_allowed
from artifact_mirrors.spec.model import PartitionTarget, Project

# (partition, region, profile) -> None, or raises with the message to show.
RegionCheck = Callable[[str, str, str | None], None]
# (partition, region, profile) -> the account id the credentials belong to (STS).
Identity = Callable[[str, str, str | None], str]

# ClientError codes that mean "these credentials are not accepted" (not a missing resource).
_REFUSED = frozenset(
    {
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "RequestExpired",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)
_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
_DENIED = frozenset({"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"})


def aws_region_check(partition: str, region: str, profile: str | None) -> None:
    ensure_public_sharing_allowed(clients_for(partition, region, profile).ec2(), region)


def aws_identity(partition: str, region: str, profile: str | None) -> str:
    return clients_for(partition, region, profile).account_id()


def _who(partition: str, profile: str | None) -> str:
    return f"{partition} (profile {profile})" if profile else f"{partition} (default credentials)"


def _login_hint(partition: str, profile: str | None) -> str:
    if profile:
        return f"aws sso login --profile {profile}"
    return f"set amis.partitions.{partition}.profile, or AWS_PROFILE, to a profile with credentials"


def credential_problem(
    exc: BaseException, partition: str, profile: str | None, region: str
) -> str | None:
    """One line for a botocore/AWS error that means the credentials cannot be used; None else.

    The botocore message is kept verbatim (it names the profile or the SSO session); the hint
    says what to run. Credentials never appear in these messages: botocore does not put them
    there.
    """
    who = _who(partition, profile)
    login = _login_hint(partition, profile)
    text = str(exc).rstrip(".")  # the line goes on with ". Hint:"
    if isinstance(exc, ProfileNotFound):
        return (
            f"{who}: no credentials: {text}. Hint: add profile {profile} to ~/.aws/config"
            f" (or AWS_CONFIG_FILE), or fix amis.partitions.{partition}.profile"
        )
    if isinstance(exc, SSOError | TokenRetrievalError):
        return f"{who}: SSO session expired or not logged in: {text}. Hint: {login}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return f"{who}: no credentials: {text}. Hint: {login}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "").rstrip(".")
        if code in _EXPIRED:
            return f"{who}: credentials expired: {code}: {message}. Hint: {login}"
        if code in _REFUSED:
            return (
                f"{who}: AWS refused the credentials in {region}: {code}: {message}. Hint: {login}"
            )
        if code in _DENIED:
            return (
                f"{who}: not allowed to call {exc.operation_name} in {region}: {code}: {message}."
                f" Hint: grant the profile's role {exc.operation_name}, or use another profile"
            )
        return f"{who}: AWS {code} in {exc.operation_name} ({region}): {message}"
    if isinstance(exc, BotoCoreError):
        # Anything else botocore raises (unreachable endpoint, bad config): still one line.
        return f"{who}: AWS call failed in {region}: {text}"
    if isinstance(exc, ResponseParserError):
        # Not an AWS answer (a proxy's error page, or a local endpoint that lacks the API, as
        # moto_server lacks image block public access): one line, the start of what came back.
        first = text.splitlines()[0] if text else type(exc).__name__
        return f"{who}: the AWS endpoint for {region} did not answer as AWS does: {first}"
    return None


def _partitions_in_use(project: Project) -> list[PartitionTarget]:
    ami_spec = project.spec.amis
    if ami_spec is None or not any(r.amis for r in project.releases):
        return []
    return list(ami_spec.partitions.values())


def credential_problems(project: Project, identity: Identity) -> tuple[list[str], set[str]]:
    """One line per partition whose credentials fail or belong to the wrong account.

    Returns (problems, partitions that failed), so that later checks skip those partitions
    instead of repeating the same problem once per region. Yanked releases count: revocations
    need the partition's credentials as much as grants do.
    """
    problems: list[str] = []
    failed: set[str] = set()
    for target in _partitions_in_use(project):
        region = target.regions[0]
        try:
            account = identity(target.partition, region, target.profile)
        except Exception as exc:
            line = credential_problem(exc, target.partition, target.profile, region)
            if line is None:
                raise
            problems.append(line)
            failed.add(target.partition)
            continue
        if target.account and account != target.account:
            problems.append(
                f"{_who(target.partition, target.profile)}: the credentials are for account"
                f" {account}, but amis.partitions.{target.partition}.account is {target.account}."
                f" Hint: use a profile of account {target.account}, or fix the spec"
            )
            failed.add(target.partition)
    return problems, failed


def block_public_access_problems(
    project: Project, check: RegionCheck, skip: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    """One message per region where a public grant of a published release would be refused.

    Partitions in ``skip`` (their credentials already failed) are not asked again.
    """
    ami_spec = project.spec.amis
    if ami_spec is None or not any(r.amis and not r.yanked for r in project.releases):
        return []
    problems: list[str] = []
    for target in ami_spec.partitions.values():
        if not target.launch_permissions.public or target.block_public_access != "check":
            continue
        if target.partition in skip:
            continue
        for region in target.regions:
            try:
                check(target.partition, region, target.profile)
            except AwsMirrorError as exc:
                problems.append(str(exc))
            except Exception as exc:
                line = credential_problem(exc, target.partition, target.profile, region)
                if line is None:
                    raise
                problems.append(line)
                break  # the same credentials would fail the same way in every region
    return problems


def preflight_message(project: Project, identity: Identity, check: RegionCheck) -> str | None:
    """Everything that must stop the preview, one line per problem under a headline per kind;
    None when all is well. Block public access is not asked of partitions whose credentials
    already failed."""
    creds, failed = credential_problems(project, identity)
    blocked = block_public_access_problems(project, check, failed)
    parts: list[str] = []
    if creds:
        parts.append("AWS credentials cannot be used:\n" + "\n".join(creds))
    if blocked:
        parts.append("public AMI sharing is blocked:\n" + "\n".join(blocked))
    return "\n".join(parts) or None


def run(
    project: Project, identity: Identity = aws_identity, check: RegionCheck = aws_region_check
) -> None:
    """The program's preflight: raises pulumi.RunError (printed without a traceback)."""
    message = preflight_message(project, identity, check)
    if message is not None:
        raise pulumi.RunError(message)
