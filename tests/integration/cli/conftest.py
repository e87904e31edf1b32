"""Fixtures for the `mirrors release add` / `mirrors verify` tests.

The real moto_server and its per-test reset + credentials come from tests/integration/aws (reused,
not copied). `aws_project` is the `project` copy (tests/conftest.py) edited so its spec points at
moto: the vendor account is moto's default account, the partitions use the `commercial` and
`govcloud` test profiles, and commercial mirrors go to two regions to keep the tests small.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import edit
from tests.integration.aws.conftest import (  # noqa: F401  (pytest fixtures, reused)
    commercial,
    govcloud,
    moto,
    moto_url,
)
from tests.integration.aws.helpers import MOTO_ACCOUNT

SPEC = Path("mirrors/destinations.yaml")
RELEASES = Path("mirrors/releases")
COMMERCIAL_REGIONS = ("us-east-1", "us-west-2")
GOVCLOUD_REGIONS = ("us-gov-west-1", "us-gov-east-1")


@pytest.fixture
def aws_project(project: Path) -> Path:
    spec = project / SPEC
    edit(spec, 'account: "146628656107"', f'account: "{MOTO_ACCOUNT}"')
    edit(spec, "      profile: teleport-mirrors\n", "      profile: commercial\n")
    edit(
        spec,
        "      # regions: default = the 17 regions enabled in every account\n",
        f"      regions: [{', '.join(COMMERCIAL_REGIONS)}]\n",
    )
    edit(spec, "profile: teleport-govcloud", "profile: govcloud")
    # Images and AMIs only: release add would otherwise ask terraform.releases.teleport.dev.
    # The provider half runs against a local registry in tests/integration/aws/
    # test_terraform_mirror.py.
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text.split("\n# Terraform providers:", 1)[0] + "\n", encoding="utf-8")
    for manifest in (project / RELEASES).glob("*.yaml"):
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.split("\nterraform_providers:", 1)[0] + "\n", encoding="utf-8")
    return project


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
