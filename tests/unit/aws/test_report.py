from __future__ import annotations

from datetime import UTC, datetime, timedelta

from artifact_mirrors.aws.report import findings_markdown, summary
from artifact_mirrors.aws.types import ExpectedAmi, Finding, LaunchPermissions, Severity
from artifact_mirrors.aws.verify import verify_image

EXP = ExpectedAmi(
    "18.6.6",
    "oss/arm64",
    "aws",
    "ap-northeast-1",
    "ami-0e2b67b83755d95a1",
    LaunchPermissions(public=True),
    {"mirror-release": "18.6.6"},
)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_no_findings() -> None:
    assert findings_markdown([], checked=38) == "**38 AMIs verified: no drift**\n"
    assert summary([]) == "AMIs verified: no drift"


def test_errors_sort_before_warnings_and_pipes_are_escaped() -> None:
    warning = Finding(Severity.WARNING, "1", "k", "r", "ami-1", "deprecation", "a", "b")
    error = Finding(Severity.ERROR, "1", "k", "r", "ami-2", "tags", "x=a|b", "x missing")

    text = findings_markdown([warning, error])

    assert text.splitlines()[0] == "**AMIs verified: 1 error(s), 1 warning(s)**"
    assert text.splitlines()[4:] == [
        "| error | ami | 1 | k | r | ami-2 | tags | x=a\\|b | x missing |",
        "| warning | ami | 1 | k | r | ami-1 | deprecation | a | b |",
    ]


def test_verify_image_is_pure() -> None:
    image = {
        "ImageId": EXP.image_id,
        "State": "failed",
        "StateReason": {"Message": "Restore failed"},
        "Public": True,
        "DeprecationTime": (NOW + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "Tags": [{"Key": "mirror-release", "Value": "18.6.6"}],
    }

    findings = verify_image(EXP, image, LaunchPermissions(public=True), NOW, timedelta(days=7))  # type: ignore[arg-type]

    assert [(f.severity, f.check, f.actual) for f in findings] == [
        (Severity.ERROR, "state", "failed Restore failed"),
        (Severity.WARNING, "deprecation", "deprecates at 2026-06-04T00:00:00.000Z"),
    ]
    assert verify_image(EXP, None, None, NOW, timedelta(days=7))[0].actual == "not found"


def test_the_summary_names_every_kind_checked() -> None:
    assert summary([], 8, 30) == "8 AMIs and 30 image tags verified: no drift"
    assert summary([], 8, 30, 12) == (
        "8 AMIs, 30 image tags and 12 provider objects verified: no drift"
    )
    assert summary([], None, None, 12) == "12 provider objects verified: no drift"
