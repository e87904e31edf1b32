"""`mirrors release add` against a real moto_server (AMIs) and --from-json (images)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.aws.session import AwsClients
from artifact_mirrors.cli import app
from artifact_mirrors.spec.load import load_project, load_spec
from tests.integration.aws.helpers import make_image, make_release, teleport_tags
from tests.integration.cli.conftest import RELEASES, SPEC

pytestmark = pytest.mark.moto

AMI_HINT = (
    "Hint: check that release 17.0.1 was published to this account and region, and that the tag"
    " names and values (TagNames/TagValues) match the vendor's; AMIs are found by tags, never by"
    " name"
)


def fake_digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(f"17.0.1/{name}".encode()).hexdigest()


def images_json(path: Path, *, skip: str | None = None) -> dict[str, dict[str, object]]:
    """Digests for every image of the spec (platforms as the spec declares them)."""
    spec = load_spec(SPEC)
    assert spec is not None
    data: dict[str, dict[str, object]] = {
        name: {"digest": fake_digest(name), "platforms": list(image.platforms)}
        for name, image in spec.images.items()
        if name != skip
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return data


def add(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["release", "add", *args])
    return result.exit_code, result.stdout, result.stderr


def test_pins_six_amis_by_tags_and_images_from_json(
    aws_project: Path, commercial: AwsClients, runner: CliRunner
) -> None:
    ec2 = commercial.ec2()
    sources = make_release(ec2, "17.0.1")
    make_release(ec2, "17.0.0")  # another release in the same account must not interfere
    images = images_json(aws_project / "images.json")

    code, out, err = add(runner, "17.0.1", "--from-json", "images.json")

    assert (code, err) == (0, "")
    # The written manifest is one `mirrors validate` accepts, with every AMI pinned by id.
    release = load_project(SPEC, RELEASES).release("17.0.1")
    assert release is not None
    assert release.channel == "stable"
    assert not release.yanked
    assert {a.key: a.id for a in release.amis} == {
        label.replace("/", "-"): image_id for label, image_id in sources.items()
    }
    assert {a.region for a in release.amis} == {"us-west-2"}
    assert all(a.name.startswith(f"teleport-{a.edition}-17.0.1-") for a in release.amis)
    assert {n: (i.digest, list(i.platforms)) for n, i in release.images.items()} == {
        n: (e["digest"], e["platforms"]) for n, e in images.items()
    }
    text = (aws_project / RELEASES / "17.0.1.yaml").read_text(encoding="utf-8")
    head = text.splitlines()[:4]
    assert re.fullmatch(
        r"# Release 17\.0\.1, pinned by `mirrors release add` on "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by .+\.",
        head[0],
    ), head[0]
    assert head[1:] == [
        "# Images: from images.json (--from-json).",
        "# AMIs: found by tags TeleportVersion=17.0.1, TeleportEdition, Architecture,"
        " TeleportFipsEnabled in account 123456789012 us-west-2 (never by name).",
        "# Nothing moves by tag after this point: digests and AMI ids are the identity.",
    ]
    assert "platforms: [linux/amd64, linux/arm, linux/arm64]" in text
    # Summary: one row per pinned thing, then where it went and what to do next.
    assert sources["ent-fips/arm64"] in out
    assert fake_digest("teleport-plugin-slack") in out
    assert out.splitlines()[-1] == (
        "wrote mirrors/releases/17.0.1.yaml: 11 images, 6 AMIs. Review with "
        "`mirrors plan --stack prod --release 17.0.1 --format markdown`"
    )


def test_missing_ami_fails_with_the_library_message(
    aws_project: Path, commercial: AwsClients, runner: CliRunner
) -> None:
    ec2 = commercial.ec2()
    for edition, arch, fips in (
        ("oss", "x86_64", False),
        ("oss", "arm64", False),
        ("ent", "x86_64", False),
        ("ent", "arm64", False),
        ("ent", "x86_64", True),
    ):  # no ent-fips arm64 AMI
        make_image(ec2, real_arch=arch, tags=teleport_tags("17.0.1", edition, arch, fips))
    images_json(aws_project / "images.json")

    code, out, err = add(runner, "17.0.1", "--from-json", "images.json")

    assert (code, out) == (1, "")
    assert err == (
        "no AMI in account 123456789012 us-west-2 with TeleportVersion=17.0.1,"
        " TeleportEdition=ent, Architecture=arm64, TeleportFipsEnabled=true. " + AMI_HINT + "\n"
    )
    assert not (aws_project / RELEASES / "17.0.1.yaml").exists()


def test_ambiguous_ami_fails_with_the_library_message(
    aws_project: Path, commercial: AwsClients, runner: CliRunner
) -> None:
    ec2 = commercial.ec2()
    make_release(ec2, "17.0.1")
    extra = make_image(
        ec2, real_arch="x86_64", tags=teleport_tags("17.0.1", "oss", "x86_64", False)
    )
    images_json(aws_project / "images.json")

    code, _, err = add(runner, "17.0.1", "--from-json", "images.json")

    assert code == 1
    assert err.startswith("2 AMIs in account 123456789012 us-west-2 match TeleportVersion=17.0.1,")
    assert extra in err
    assert err.count("\n") == 1  # one line, no traceback


def test_existing_manifest_is_never_overwritten(aws_project: Path, runner: CliRunner) -> None:
    manifest = aws_project / RELEASES / "18.6.6.yaml"
    before = manifest.read_bytes()

    code, out, err = add(runner, "18.6.6", "--from-json", "images.json")

    assert (code, out) == (2, "")
    assert err == (
        "mirrors/releases/18.6.6.yaml: release manifest already exists (got 18.6.6). Hint: a"
        " pinned release is never re-resolved in place: review and edit it by hand, or delete it"
        " and run `mirrors release add` again\n"
    )
    assert manifest.read_bytes() == before


def test_version_with_leading_v_is_bad_input(aws_project: Path, runner: CliRunner) -> None:
    code, _, err = add(runner, "v17.0.1", "--from-json", "images.json")

    assert code == 2
    assert err == (
        "VERSION: not a semantic version (got v17.0.1). Hint: write MAJOR.MINOR.PATCH without a"
        " leading v, e.g. 17.0.1\n"
    )


def test_json_missing_an_image_is_bad_input(aws_project: Path, runner: CliRunner) -> None:
    images_json(aws_project / "images.json", skip="tbot-distroless")

    code, _, err = add(runner, "17.0.1", "--from-json", "images.json")

    assert code == 2
    assert err == (
        "images.json: missing 1 image(s) of the spec (got tbot-distroless). Hint: add an entry"
        " for every image in destinations.yaml\n"
    )


def test_invalid_result_is_not_written(
    aws_project: Path, commercial: AwsClients, runner: CliRunner
) -> None:
    make_release(commercial.ec2(), "17.0.1")
    images_json(aws_project / "images.json")

    code, out, err = add(runner, "17.0.1", "--channel", "Beta", "--from-json", "images.json")

    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "mirrors/releases/17.0.1.yaml: not written: the resolved manifest is invalid",
        "mirrors/releases/17.0.1.yaml:6: channel: not a valid name (got Beta). Hint: use"
        " lowercase letters, digits and single . _ - separators",
    ]
    # Nothing half-written, no staging leftovers.
    assert sorted(p.name for p in (aws_project / RELEASES).iterdir()) == [
        "15.1.6.yaml",
        "16.4.6.yaml",
        "17.5.3.yaml",
        "18.1.2.yaml",
        "18.6.6.yaml",
    ]
