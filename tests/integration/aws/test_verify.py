from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from botocore.stub import Stubber
from rich.console import Console

from artifact_mirrors.aws.launch_permissions import grant_launch_permissions
from artifact_mirrors.aws.report import findings_markdown, findings_table
from artifact_mirrors.aws.session import AwsClients
from artifact_mirrors.aws.types import ExpectedAmi, Finding, LaunchPermissions, Severity
from artifact_mirrors.aws.verify import verify_mirrored_amis
from tests.integration.aws.helpers import make_image

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

pytestmark = pytest.mark.moto

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WARN = timedelta(days=30)
MIRROR_TAGS = {"mirror-of": "ami-0aabbec463ad7796c@us-east-1", "mirror-release": "17.5.3"}
GOV_ORG = "arn:aws-us-gov:organizations::210987654321:organization/o-govorg1234"
PARTNER = "111122223333"


def _clients(partition: str, region: str) -> EC2Client:
    profile = "govcloud" if partition == "aws-us-gov" else "commercial"
    return AwsClients(partition, region, profile).ec2()


def _mirror(clients: AwsClients, tags: dict[str, str] | None = None) -> str:
    return make_image(clients.ec2(), real_arch="x86_64", tags=MIRROR_TAGS if tags is None else tags)


def _expected(clients: AwsClients, image_id: str, perms: LaunchPermissions) -> ExpectedAmi:
    return ExpectedAmi(
        release="17.5.3",
        key="oss/x86_64",
        partition=clients.partition,
        region=clients.region,
        image_id=image_id,
        launch_permissions=perms,
        tags=MIRROR_TAGS,
    )


def test_matching_mirrors_have_no_findings(govcloud: AwsClients) -> None:
    east = AwsClients("aws", "us-east-1", "commercial")
    public_image = _mirror(east)
    grant_launch_permissions(east.ec2(), public_image, public=True)
    gov_image = _mirror(govcloud)
    grant_launch_permissions(govcloud.ec2(), gov_image, accounts=[PARTNER], orgs=[GOV_ORG])

    findings = verify_mirrored_amis(
        [
            _expected(east, public_image, LaunchPermissions(public=True)),
            _expected(
                govcloud,
                gov_image,
                LaunchPermissions(accounts=frozenset({PARTNER}), orgs=frozenset({GOV_ORG})),
            ),
        ],
        _clients,
        NOW,
        WARN,
    )

    assert findings == []


def test_private_mirror_expected_public_is_drift(commercial: AwsClients) -> None:
    # teleport#4350: AMIs left private in us-east-1/2.
    image = _mirror(commercial)

    findings = verify_mirrored_amis(
        [_expected(commercial, image, LaunchPermissions(public=True))], _clients, NOW, WARN
    )

    assert findings == [
        Finding(
            Severity.ERROR,
            "17.5.3",
            "oss/x86_64",
            "us-west-2",
            image,
            "launch-permissions",
            "public",
            "missing public",
        )
    ]


def test_unexpected_extra_permissions_are_drift(commercial: AwsClients) -> None:
    image = _mirror(commercial)
    grant_launch_permissions(commercial.ec2(), image, public=True, accounts=[PARTNER])

    findings = verify_mirrored_amis(
        [_expected(commercial, image, LaunchPermissions(public=True))], _clients, NOW, WARN
    )

    assert [(f.check, f.expected, f.actual) for f in findings] == [
        ("launch-permissions", "public", f"unexpected account {PARTNER}")
    ]


def test_missing_and_wrong_tags(commercial: AwsClients) -> None:
    image = _mirror(commercial, {"mirror-of": "ami-0000000000000000@us-east-1"})

    findings = verify_mirrored_amis(
        [_expected(commercial, image, LaunchPermissions())], _clients, NOW, WARN
    )

    assert [(f.severity, f.check, f.expected, f.actual) for f in findings] == [
        (
            Severity.ERROR,
            "tags",
            "mirror-of=ami-0aabbec463ad7796c@us-east-1",
            "mirror-of=ami-0000000000000000@us-east-1",
        ),
        (Severity.ERROR, "tags", "mirror-release=17.5.3", "mirror-release missing"),
    ]


def test_not_available_and_missing(commercial: AwsClients) -> None:
    disabled = _mirror(commercial)
    commercial.ec2().disable_image(ImageId=disabled)
    gone = _mirror(commercial)
    commercial.ec2().deregister_image(ImageId=gone)

    findings = verify_mirrored_amis(
        [
            _expected(commercial, disabled, LaunchPermissions()),
            _expected(commercial, gone, LaunchPermissions()),
        ],
        _clients,
        NOW,
        WARN,
    )

    assert [(f.image_id, f.check, f.expected, f.actual) for f in findings] == [
        (disabled, "state", "available", "disabled"),
        (gone, "exists", "exists", "not found"),
    ]


def _stubbed_verify(deprecation_time: str) -> list[Finding]:
    # moto does not implement DeprecationTime: a Stubber returns the DescribeImages result.
    client = AwsClients("aws", "us-east-1", "commercial").ec2()
    image_id = "ami-0aabbec463ad7796c"
    with Stubber(client) as stub:
        stub.add_response(
            "describe_images",
            {
                "Images": [
                    {
                        "ImageId": image_id,
                        "State": "available",
                        "Public": True,
                        "DeprecationTime": deprecation_time,
                        "Tags": [{"Key": k, "Value": v} for k, v in MIRROR_TAGS.items()],
                    }
                ]
            },
            {"Filters": [{"Name": "image-id", "Values": [image_id]}], "IncludeDeprecated": True},
        )
        stub.add_response(
            "describe_image_attribute",
            {"ImageId": image_id, "LaunchPermissions": [{"Group": "all"}]},
            {"ImageId": image_id, "Attribute": "launchPermission"},
        )
        exp = ExpectedAmi(
            "17.5.3",
            "oss/x86_64",
            "aws",
            "us-east-1",
            image_id,
            LaunchPermissions(public=True),
            MIRROR_TAGS,
        )
        findings = verify_mirrored_amis([exp], lambda _p, _r: client, NOW, WARN)
        stub.assert_no_pending_responses()
    return findings


def test_deprecation_soon_is_a_warning() -> None:
    findings = _stubbed_verify("2026-06-20T00:00:00.000Z")
    assert [(f.severity, f.check, f.expected, f.actual) for f in findings] == [
        (
            Severity.WARNING,
            "deprecation",
            "not deprecated within 30d",
            "deprecates at 2026-06-20T00:00:00.000Z",
        )
    ]


def test_deprecated_is_an_error() -> None:
    findings = _stubbed_verify("2026-05-01T00:00:00.000Z")
    assert [(f.severity, f.actual) for f in findings] == [
        (Severity.ERROR, "deprecated since 2026-05-01T00:00:00.000Z")
    ]


def test_deprecation_far_away_is_fine() -> None:
    assert _stubbed_verify("2027-06-01T00:00:00.000Z") == []


def test_findings_render_as_markdown_and_table(commercial: AwsClients) -> None:
    image = _mirror(commercial)
    findings = verify_mirrored_amis(
        [_expected(commercial, image, LaunchPermissions(public=True))], _clients, NOW, WARN
    )

    assert findings_markdown(findings, checked=1) == (
        "**1 AMIs verified: 1 error(s), 0 warning(s)**\n"
        "\n"
        "| severity | kind | release | key | where | mirror | check | expected | actual |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| error | ami | 17.5.3 | oss/x86_64 | us-west-2 | {image} | launch-permissions | public |"
        " missing public |\n"
    )
    table = findings_table(findings, checked=1)
    console = Console(record=True, width=250)
    console.print(table)
    text = console.export_text()
    assert table.row_count == 1
    assert "1 AMIs verified: 1 error(s), 0 warning(s)" in text
    assert f"{image}" in text
    assert "missing public" in text
