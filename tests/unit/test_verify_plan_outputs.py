"""`mirrors verify` on outputs from `mirrors plan --format outputs`: AMIs not copied yet."""

from __future__ import annotations

from artifact_mirrors import verify_cmd
from artifact_mirrors.aws import Finding, Severity
from artifact_mirrors.spec.load import load_project
from artifact_mirrors.steps import COMPUTED
from tests.conftest import ROOT


def test_an_ami_id_only_a_copy_knows_is_reported_not_copied() -> None:
    project = load_project(ROOT / "mirrors/destinations.yaml", ROOT / "mirrors/releases")
    outputs = {
        "releases": {
            "18.6.6": {
                "channel": "stable",
                "yanked": False,
                "reason": None,
                "images": {},
                "amis": {"aws/us-east-1/oss-x86_64": COMPUTED},
            }
        },
        "floating_tags": {},
    }
    deployed = verify_cmd.parse_outputs(outputs, "plan-outputs.json")
    assert deployed["18.6.6"].amis == ()
    assert deployed["18.6.6"].pending == (("aws", "us-east-1", "oss-x86_64"),)
    expected, notes = verify_cmd.expectations(project, deployed)
    assert expected == []
    assert notes == [
        Finding(
            Severity.ERROR,
            "18.6.6",
            "oss-x86_64",
            "us-east-1",
            "-",
            "deployed",
            "an AMI id in the outputs (aws)",
            "<computed>: not copied yet (outputs from `mirrors plan --format outputs`); put the "
            "copy's id there or run pulumi up",
        )
    ]
