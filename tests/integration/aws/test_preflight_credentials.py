"""The preflight turns credential problems into one line each, and checks the account (7.7).

Real botocore credential resolution against a real moto_server (its STS answers
GetCallerIdentity with account 123456789012 for any key); botocore's Stubber only where moto
cannot produce the error (refused or expired credentials, denied calls).
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest
from botocore.exceptions import UnauthorizedSSOTokenError
from botocore.stub import Stubber

from artifact_mirrors.aws import AwsClients, ensure_public_sharing_allowed
from artifact_mirrors.spec.load import load_project
from artifact_mirrors.spec.model import Project
from components import preflight
from tests.conftest import edit

pytestmark = pytest.mark.moto

MOTO_ACCOUNT = "123456789012"
AWS = "    aws:\n      profile: teleport-mirrors\n"
GOV = "      profile: teleport-govcloud  #"


def no_check(_partition: str, _region: str, _profile: str | None) -> None:
    return None


def spec(project: Path, aws: str = "      profile: commercial\n") -> Project:
    """The shipped spec with the moto fixture's profiles (``aws`` replaces the aws profile)."""
    file = project / "mirrors/destinations.yaml"
    edit(file, AWS, "    aws:\n" + aws)
    edit(file, GOV, "      profile: govcloud  #")
    return load_project(file, project / "mirrors/releases")


def message(project: Project) -> str | None:
    return preflight.preflight_message(project, preflight.aws_identity, no_check)


def test_matching_account_passes(project: Path) -> None:
    proj = spec(project, f'      profile: commercial\n      account: "{MOTO_ACCOUNT}"\n')
    assert message(proj) is None
    preflight.run(proj, check=no_check)  # does not raise


def test_wrong_account_is_one_line_naming_both(project: Path) -> None:
    proj = spec(project, '      profile: commercial\n      account: "210987654321"\n')
    with pytest.raises(pulumi.RunError) as err:
        preflight.run(proj, check=no_check)
    assert str(err.value) == (
        "AWS credentials cannot be used:\n"
        "aws (profile commercial): the credentials are for account 123456789012, but"
        " amis.partitions.aws.account is 210987654321. Hint: use a profile of account"
        " 210987654321, or fix the spec"
    )


def test_unknown_profile(project: Path) -> None:
    proj = spec(project, "      profile: teleport-prod\n")
    assert message(proj) == (
        "AWS credentials cannot be used:\n"
        "aws (profile teleport-prod): no credentials: The config profile (teleport-prod) could"
        " not be found. Hint: add profile teleport-prod to ~/.aws/config (or AWS_CONFIG_FILE),"
        " or fix amis.partitions.aws.profile"
    )


def test_no_credentials_at_all(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to fall back on
    proj = spec(project, "      regions: [us-west-2]\n")
    assert message(proj) == (
        "AWS credentials cannot be used:\n"
        "aws (default credentials): no credentials: Unable to locate credentials. Hint: set"
        " amis.partitions.aws.profile, or AWS_PROFILE, to a profile with credentials"
    )


def test_sso_profile_not_logged_in(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real SSO profile with no cached token (~/.aws/sso/cache is under the test's HOME).
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    config = tmp_path / "sso-config"
    config.write_text(
        "[profile teleport-prod]\n"
        "sso_start_url = https://teleport.awsapps.com/start\n"
        "sso_region = us-east-1\n"
        "sso_account_id = 123456789012\n"
        "sso_role_name = MirrorRelease\n"
        "region = us-east-1\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    proj = spec(project, "      profile: teleport-prod\n")
    assert message(proj) == (
        "AWS credentials cannot be used:\n"
        "aws (profile teleport-prod): SSO session expired or not logged in: Error loading SSO"
        " Token: Token for https://teleport.awsapps.com/start does not exist. Hint: aws sso"
        " login --profile teleport-prod"
    )


def test_expired_sso_session(project: Path) -> None:
    proj = spec(project)

    def identity(partition: str, _region: str, _profile: str | None) -> str:
        if partition == "aws":
            raise UnauthorizedSSOTokenError()
        return MOTO_ACCOUNT

    assert preflight.preflight_message(proj, identity, no_check) == (
        "AWS credentials cannot be used:\n"
        "aws (profile commercial): SSO session expired or not logged in: The SSO session"
        " associated with this profile has expired or is otherwise invalid. To refresh this SSO"
        " session run aws sso login with the corresponding profile. Hint: aws sso login"
        " --profile commercial"
    )


def test_expired_token_from_sts(project: Path) -> None:
    proj = spec(project)
    sts = AwsClients("aws", "us-east-1", "commercial").sts()
    with Stubber(sts) as stub:
        stub.add_client_error(
            "get_caller_identity",
            service_error_code="ExpiredToken",
            service_message="The security token included in the request is expired",
        )

        def identity(partition: str, region: str, profile: str | None) -> str:
            if partition == "aws":
                return sts.get_caller_identity()["Account"]
            return preflight.aws_identity(partition, region, profile)

        assert preflight.preflight_message(proj, identity, no_check) == (
            "AWS credentials cannot be used:\n"
            "aws (profile commercial): credentials expired: ExpiredToken: The security token"
            " included in the request is expired. Hint: aws sso login --profile commercial"
        )


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
            "aws (profile commercial): AWS refused the credentials in ap-northeast-1: AuthFailure:"
            " AWS was not able to validate the provided access credentials. Hint: aws sso login"
            " --profile commercial",
        ),
        (
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
            "aws (profile commercial): not allowed to call GetImageBlockPublicAccessState in"
            " ap-northeast-1: UnauthorizedOperation: You are not authorized to perform this"
            " operation. Hint: grant the profile's role GetImageBlockPublicAccessState, or use"
            " another profile",
        ),
    ],
    ids=["auth-failure", "unauthorized-operation"],
)
def test_refused_block_public_access_check_is_one_line_per_partition(
    project: Path, code: str, text: str, expected: str
) -> None:
    # moto has no image block public access: the Stubber answers GetImageBlockPublicAccessState.
    proj = spec(project)
    ec2 = AwsClients("aws", "ap-northeast-1", "commercial").ec2()
    asked: list[str] = []

    def check(partition: str, region: str, profile: str | None) -> None:
        asked.append(region)
        if partition == "aws":
            ensure_public_sharing_allowed(ec2, region)

    with Stubber(ec2) as stub:
        stub.add_client_error(
            "get_image_block_public_access_state", service_error_code=code, service_message=text
        )
        got = preflight.preflight_message(proj, preflight.aws_identity, check)
    assert got == "public AMI sharing is blocked:\n" + expected
    # Asked once for aws (the same credentials fail everywhere), and every GovCloud region.
    assert asked == ["ap-northeast-1", "us-gov-west-1", "us-gov-east-1"]


def test_the_program_runs_the_preflight_before_registering_anything(project: Path) -> None:
    """`pulumi preview` (the program, online) stops on the account check with one line."""
    from pulumi.runtime import settings

    from artifact_mirrors import naming
    from components import program
    from components.mockrun import PlanMocks, RecordingMonitor

    spec(project, '      profile: commercial\n      account: "210987654321"\n')
    mocks = PlanMocks()
    monitor = RecordingMonitor(mocks)
    settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(mocks, project=naming.PROJECT, stack="prod", preview=True,
                             monitor=monitor)  # fmt: skip
    pulumi.runtime.set_all_config({})

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def _run() -> None:
        program.run(project, offline=False)

    with pytest.raises(pulumi.RunError) as err:
        _run()
    assert str(err.value) == (
        "AWS credentials cannot be used:\n"
        "aws (profile commercial): the credentials are for account 123456789012, but"
        " amis.partitions.aws.account is 210987654321. Hint: use a profile of account"
        " 210987654321, or fix the spec\n"
        # moto_server has no image block public access API: one line, not a traceback.
        "public AMI sharing is blocked:\n"
        "aws-us-gov (profile govcloud): the AWS endpoint for us-gov-west-1 did not answer as AWS"
        " does: Unable to parse response (syntax error: line 1, column 0), invalid XML received."
        " Further retries may succeed:"
    )
    assert monitor.registered == []
