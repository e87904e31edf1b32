"""A GovCloud transfer has one deadline of its own (custom_timeouts never reach a dynamic
provider's Create): from the spec, through the program, shared by every wait of the transfer."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.aws.cross_partition import PollSettings, _Ctx
from artifact_mirrors.aws.errors import TransferTimeoutError
from artifact_mirrors.cli import app
from components.mockrun import render
from tests.conftest import ROOT, edit

T_TRANSFER = "pulumi-python:dynamic/artifact-mirrors:AmiTransfer"


def test_every_wait_of_a_transfer_shares_one_deadline() -> None:
    now = [0.0]
    ctx = _Ctx(
        None,
        PollSettings(
            interval=30,
            timeout=100,
            sleep=lambda s: now.__setitem__(0, now[0] + s),
            clock=lambda: now[0],
        ),
    )
    # The store task takes 60 s ...
    assert ctx.wait("the store task", lambda: "stored" if now[0] >= 60 else None) == "stored"
    # ... so the restore has 40 s left, not another 100.
    with pytest.raises(TransferTimeoutError) as err:
        ctx.wait("the restore", lambda: None)
    assert str(err.value) == "timed out after 100s waiting for the restore"
    assert now[0] == 120  # gave up at the first poll past the shared deadline (t=100)


def test_the_spec_deadline_reaches_every_transfer() -> None:
    transfers = [r for r in render(ROOT, "prod") if r.type == T_TRANSFER]
    assert transfers
    assert {r.inputs["timeout_minutes"] for r in transfers} == {360}


def test_a_deadline_too_short_is_a_located_error(project: Path) -> None:
    spec = project / "mirrors/destinations.yaml"
    edit(spec, "        landing_region: us-gov-west-1\n",
         "        landing_region: us-gov-west-1\n        timeout_minutes: 5\n")  # fmt: skip
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 2
    assert result.stderr == (
        "mirrors/destinations.yaml:103: amis.partitions.aws-us-gov.transfer.timeout_minutes: "
        "must be greater than or equal to 10 (got 5). Hint: see 'Spec reference' in README.md\n"
    )
