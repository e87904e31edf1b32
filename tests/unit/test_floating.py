"""Floating tags: semver order, per channel, yanked and pre-releases never win."""

from __future__ import annotations

from pathlib import Path

import pytest
import semver

from artifact_mirrors.floating import check_floating_template, compute_floating
from artifact_mirrors.spec.model import Image, Release, ReleaseImage

IMAGE = Image(
    name="teleport",
    source="public.ecr.aws/gravitational/teleport",
    repository="teleport",
    platforms=(),
    registries=("hub",),
    floating_tags={"stable": ("{major}", "{major}.{minor}", "latest"), "beta": ("beta",)},
    signatures=True,
    description=None,
)


def rel(version: str, channel: str = "stable", yanked: bool = False) -> Release:
    digest = "sha256:" + format(abs(hash(version)), "x").rjust(64, "0")[:64]
    return Release(
        file=Path(f"{version}.yaml"),
        version=semver.Version.parse(version),
        channel=channel,
        yanked=yanked,
        reason="recalled" if yanked else None,
        images={"teleport": ReleaseImage("teleport", digest, ())},
        amis=(),
    )


def pointers(releases: list[Release]) -> dict[str, tuple[str, bool]]:
    return {f.tag: (f.release, f.published) for f in compute_floating([IMAGE], releases)}


def test_highest_semver_wins_not_file_order_or_string_order() -> None:
    releases = [rel("17.10.0"), rel("17.9.3"), rel("16.4.6"), rel("17.2.0")]
    assert pointers(releases) == {
        "16": ("16.4.6", True),
        "16.4": ("16.4.6", True),
        "17": ("17.10.0", True),
        "17.10": ("17.10.0", True),
        "17.2": ("17.2.0", True),
        "17.9": ("17.9.3", True),
        "latest": ("17.10.0", True),
    }


def test_yanked_release_falls_back_to_previous() -> None:
    releases = [rel("17.0.0"), rel("17.0.1", yanked=True)]
    assert pointers(releases)["17.0"] == ("17.0.0", True)
    assert pointers(releases)["latest"] == ("17.0.0", True)


def test_floating_tag_with_only_yanked_candidates_is_unpublished() -> None:
    releases = [rel("16.0.0"), rel("17.0.0", yanked=True), rel("17.0.1", yanked=True)]
    got = pointers(releases)
    assert got["17"] == ("17.0.1", False)
    assert got["latest"] == ("16.0.0", True)


def test_prereleases_and_other_channels_never_move_stable_tags() -> None:
    releases = [rel("17.0.0"), rel("18.0.0-beta.1", channel="stable"), rel("18.0.0", "beta")]
    got = pointers(releases)
    assert got["latest"] == ("17.0.0", True)
    assert "18" not in got
    assert got["beta"] == ("18.0.0", True)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{major}", None),
        ("{major}.{minor}-fips", None),
        ("{patch}", "unknown field {patch} in floating tag"),
        ("{major", "not a valid tag template"),
        ("-{major}", "does not render to a valid OCI tag"),
    ],
)
def test_template_checks(template: str, problem: str | None) -> None:
    assert check_floating_template(template) == problem
