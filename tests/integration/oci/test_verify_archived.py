"""`mirrors verify` on a release that left the supported-release window, against a real
docker-registry: the stack no longer records it, `mirrors archive` kept its record in
mirrors/archive/, and verify still checks its tags."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from artifact_mirrors.cli import app
from artifact_mirrors.oci import Registries
from tests.integration.oci import test_verify_images as plain_verify
from tests.integration.oci.images import Pusher, SourceImages
from tests.integration.oci.servers import RegistryServer
from tests.integration.oci.test_verify_images import HEADER, Stack, mirror, pin, write_outputs

stack = plain_verify.stack  # the fixture: one image, 17.0.0 and 17.0.1, at docker-registry

WINDOW = "window: {majors: 1, patches: 1}\n"  # keeps 17.0.1, retires 17.0.0


def retire_17_0_0(stack: Stack) -> None:
    """The window moves on: `mirrors archive` runs against the old outputs, then `pulumi up`
    forgets 17.0.0, so the new outputs record 17.0.1 only."""
    with (stack.root / "mirrors/destinations.yaml").open("a", encoding="utf-8") as fh:
        fh.write(WINDOW)
    result = CliRunner().invoke(app, ["archive", "--stack", "prod", "--outputs", "outputs.json"])
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "archived 17.0.0 -> mirrors/archive/17.0.0.yaml",
        "1 releases outside the window, 1 archive records written",
    ]
    outputs = json.loads((stack.root / "outputs.json").read_text(encoding="utf-8"))
    del outputs["releases"]["17.0.0"]
    (stack.root / "outputs.json").write_text(json.dumps(outputs), encoding="utf-8")


def verify() -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app,
        [
            "verify",
            "--stack",
            "prod",
            "--outputs",
            "outputs.json",
            "--images-only",
            "-f",
            "markdown",
        ],
    )
    return result.exit_code, result.stdout, result.stderr


def test_archived_release_is_still_verified(
    stack: Stack,
    src_registry: RegistryServer,
    source: SourceImages,
    registries: Registries,
    dst_pusher: Pusher,
) -> None:
    pin(stack)
    mirror(stack, src_registry, source, registries)
    write_outputs(stack)
    retire_17_0_0(stack)
    record = (stack.root / "mirrors/archive/17.0.0.yaml").read_text(encoding="utf-8")
    assert f"\n    {stack.ref('17.0.0')}: {stack.old}\n" in record

    # Clean: 17.0.0 from the archive, 17.0.1 and its floating tags from the stack.
    assert verify() == (0, "**4 image tags verified: no drift**\n", "")

    # The archived release's tag deleted behind our back is drift, though the stack forgot it.
    dst_pusher.http.delete(f"/v2/{stack.namespace}/manifests/{stack.old}").raise_for_status()
    code, out, err = verify()
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "**4 image tags verified: 1 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | image | 17.0.0 | app | local | {stack.ref('17.0.0')} | tag | {stack.old}"
        " | missing |",
    ]


def test_a_broken_archive_record_is_one_located_line(stack: Stack) -> None:
    pin(stack)
    write_outputs(stack)
    archive = stack.root / "mirrors/archive"
    archive.mkdir()
    (archive / "17.0.0.yaml").write_text("schema: something-else\nversion: 17.0.0\n")

    code, out, err = verify()

    assert (code, out) == (2, "")
    assert err == (
        "mirrors/archive/17.0.0.yaml:1: schema: not an artifact-mirrors/archive/v1 record "
        "(got something-else). Hint: write it with `mirrors archive`\n"
    )
    assert Path("mirrors/archive/17.0.0.yaml").is_file()
