from __future__ import annotations

import pickle

import pytest

from artifact_mirrors.aws.errors import InvalidRegionError
from artifact_mirrors.aws.partitions import (
    COMMERCIAL_REGIONS,
    GOVCLOUD_REGIONS,
    arn_prefix,
    partition_of,
    validate_account_id,
    validate_org_arn,
    validate_ou_arn,
    validate_region,
    validate_regions,
)
from artifact_mirrors.aws.session import ENDPOINT_ENV, AwsClients, endpoint_url


def test_region_sets() -> None:
    assert len(COMMERCIAL_REGIONS) == 17
    assert GOVCLOUD_REGIONS == ("us-gov-west-1", "us-gov-east-1")
    assert {partition_of(r) for r in COMMERCIAL_REGIONS} == {"aws"}
    assert {partition_of(r) for r in GOVCLOUD_REGIONS} == {"aws-us-gov"}
    assert arn_prefix("aws-us-gov") == "arn:aws-us-gov"


def test_unknown_region_message() -> None:
    with pytest.raises(InvalidRegionError) as err:
        partition_of("ap-east-1")
    assert str(err.value) == (
        "unknown AWS region 'ap-east-1': expected one of the 17 commercial regions"
        " (ap-northeast-1, ap-northeast-2, ap-northeast-3, ap-south-1, ap-southeast-1,"
        " ap-southeast-2, ca-central-1, eu-central-1, eu-north-1, eu-west-1, eu-west-2,"
        " eu-west-3, sa-east-1, us-east-1, us-east-2, us-west-1, us-west-2)"
        " or GovCloud (us-gov-west-1, us-gov-east-1)"
    )


def test_region_in_wrong_partition() -> None:
    with pytest.raises(InvalidRegionError) as err:
        validate_region("us-gov-east-1", "aws")
    assert str(err.value) == (
        "region 'us-gov-east-1' is in partition 'aws-us-gov', not 'aws'"
        " (GovCloud regions need their own account and credentials)"
    )
    with pytest.raises(InvalidRegionError, match=r"^unknown AWS partition 'aws-cn': expected"):
        validate_region("us-east-1", "aws-cn")


def test_duplicate_regions() -> None:
    assert validate_regions(["us-east-1", "eu-west-1"]) == ["us-east-1", "eu-west-1"]
    with pytest.raises(InvalidRegionError) as err:
        validate_regions(["us-east-1", "us-east-1"])
    assert str(err.value) == "region 'us-east-1' is listed twice"


def test_account_and_org_arns() -> None:
    assert validate_account_id("012345678901") == "012345678901"
    with pytest.raises(InvalidRegionError) as err:
        validate_account_id("12345")
    assert str(err.value) == "invalid AWS account id '12345': expected 12 digits"

    gov_org = "arn:aws-us-gov:organizations::210987654321:organization/o-govorg1234"
    assert validate_org_arn(gov_org, "aws-us-gov") == gov_org
    with pytest.raises(InvalidRegionError) as err:
        validate_org_arn(gov_org, "aws")
    assert str(err.value) == (
        f"organization ARN {gov_org!r} is in partition 'aws-us-gov', but the AMI is in 'aws'"
    )
    with pytest.raises(InvalidRegionError) as err:
        validate_org_arn("o-abc", "aws")
    assert str(err.value) == (
        "invalid organization ARN 'o-abc': expected"
        " arn:aws:organizations::<account>:organization/o-<id>"
    )
    ou = "arn:aws:organizations::210987654321:ou/o-abcdef1234/ou-ab12-cdefgh34"
    assert validate_ou_arn(ou, "aws") == ou
    with pytest.raises(InvalidRegionError, match=r"^invalid organizational unit ARN 'ou-1'"):
        validate_ou_arn("ou-1", "aws")


@pytest.fixture(autouse=True)
def _isolated_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", ENDPOINT_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")


def test_clients_hold_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECRETKEYID00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
    clients = AwsClients("aws-us-gov", "us-gov-east-1", profile=None)
    clients.s3()  # resolving credentials must not store them on the factory

    blob = pickle.dumps(clients)

    assert b"very-secret-value" not in blob
    assert b"AKIASECRETKEYID00001" not in blob
    assert pickle.loads(blob) == clients


def test_clients_reject_region_outside_partition() -> None:
    with pytest.raises(InvalidRegionError, match=r"^region 'us-east-1' is in partition 'aws'"):
        AwsClients("aws-us-gov", "us-east-1")


def test_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:1")
    assert endpoint_url() == "http://127.0.0.1:1"
    assert endpoint_url("http://127.0.0.1:2") == "http://127.0.0.1:2"
    clients = AwsClients("aws", "us-east-1")
    assert clients.ec2().meta.endpoint_url == "http://127.0.0.1:1"
    assert clients.s3().meta.endpoint_url == "http://127.0.0.1:1"
    assert clients.sts().meta.endpoint_url == "http://127.0.0.1:1"
    monkeypatch.delenv(ENDPOINT_ENV)
    assert endpoint_url() is None
    assert AwsClients("aws-us-gov", "us-gov-west-1").ec2().meta.endpoint_url == (
        "https://ec2.us-gov-west-1.amazonaws.com"
    )
