"""The supported-release window: bad input as located lines, and 40 releases in a 3 x 5 window."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from artifact_mirrors.archive import render_record
from artifact_mirrors.cli import app
from artifact_mirrors.spec.load import load_project
from artifact_mirrors.window import PINNED, YANKED, select
from bench.plan_scale import synthetic_release
from tests.conftest import edit

SPEC = Path("mirrors/destinations.yaml")


def add_window(project: Path, text: str) -> int:
    """Append ``text`` to the spec; return the line it starts on."""
    spec = project / SPEC
    lines = spec.read_text(encoding="utf-8").count("\n")
    with spec.open("a", encoding="utf-8") as fh:
        fh.write(text)
    return lines + 1


def validate() -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate"])
    return result.exit_code, result.stderr


def test_a_window_that_drops_the_newest_release_of_every_major(project: Path) -> None:
    line = add_window(project, "window:\n  majors: 3\n  patches: 0\n")

    assert validate() == (
        2,
        f"mirrors/destinations.yaml:{line + 2}: window.patches: the window would drop the newest "
        "release of every major (got 0). Hint: keep at least 1 release per major (patches: 1 or "
        "more)\n",
    )


def test_a_pinned_release_that_does_not_exist(project: Path) -> None:
    line = add_window(project, "window:\n  majors: 3\n  patches: 5\n  pinned: [16.4.6, 14.0.1]\n")

    assert validate() == (
        2,
        f"mirrors/destinations.yaml:{line + 3}: window.pinned[1]: pinned release has no manifest "
        "(got 14.0.1). Hint: pin a release in mirrors/releases/ (newest: 17.5.3, 18.1.2, 18.6.6) "
        "or remove it\n",
    )


def test_a_pinned_manifest_without_a_window(project: Path) -> None:
    edit(
        project / "mirrors/releases/16.4.6.yaml",
        "channel: stable\n",
        "channel: stable\npinned: true\n",
    )

    code, err = validate()

    assert code == 2
    assert err.endswith(
        ": pinned: pinned has no effect: the spec has no window (got true). Hint: add 'window:' "
        "to destinations.yaml or remove 'pinned:'\n"
    )
    assert err.startswith("mirrors/releases/16.4.6.yaml:")


def test_forty_releases_in_a_window_of_three_majors_by_five_patches(project: Path) -> None:
    releases = project / "mirrors/releases"
    for old in releases.glob("*.yaml"):
        old.unlink()
    images = list(load_project(project / SPEC, releases).spec.images)
    versions = [f"{15 + i // 10}.{i % 10}.{i % 3}" for i in range(40)]  # as bench/plan_scale.py
    for v in versions:
        (releases / f"{v}.yaml").write_text(synthetic_release(v, images), encoding="utf-8")
    edit(releases / "15.9.0.yaml", "channel: stable\n", "channel: stable\npinned: true\n")
    add_window(project, "window: {majors: 3, patches: 5}\n")

    loaded = load_project(project / SPEC, releases)
    chosen = select(loaded.releases, loaded.spec.window)

    # 15 releases (the newest 5 of 16, 17 and 18) plus the pinned one
    assert [r.name for r in chosen.kept] == [
        "15.9.0",
        *("16.5.0", "16.6.1", "16.7.2", "16.8.0", "16.9.1"),
        *("17.5.1", "17.6.2", "17.7.0", "17.8.1", "17.9.2"),
        *("18.5.2", "18.6.0", "18.7.1", "18.8.2", "18.9.0"),
    ]
    assert {v: w for v, w in chosen.why.items() if w != "window"} == {"15.9.0": PINNED}
    assert len(chosen.retired) == 40 - 16

    # Yanking 16.9.1 keeps it (for the unpublish) and does not push a good release out.
    edit(
        releases / "16.9.1.yaml",
        "channel: stable\n",
        "channel: stable\nyanked: true\nreason: recalled\n",
    )
    loaded = load_project(project / SPEC, releases)
    chosen = select(loaded.releases, loaded.spec.window)
    assert [r.name for r in chosen.kept if r.version.major == 16] == [
        "16.4.2", "16.5.0", "16.6.1", "16.7.2", "16.8.0", "16.9.1",
    ]  # fmt: skip
    assert chosen.why["16.9.1"] == YANKED


def test_plan_warns_once_per_retired_release_without_an_archive_record(project: Path) -> None:
    add_window(project, "window: {majors: 3, patches: 1}\n")  # retires 15.1.6 and 18.1.2
    (project / "mirrors/archive").mkdir()
    (project / "mirrors/archive/18.1.2.yaml").write_text(
        render_record("18.1.2", {"channel": "stable", "yanked": False, "images": {}}),
        encoding="utf-8",
    )

    result = CliRunner().invoke(app, ["plan", "--stack", "prod", "--format", "json"])

    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        "warning: release 15.1.6 leaves the supported-release window and has no archive record "
        "(mirrors/archive/15.1.6.yaml): its audit (what it published where) would be lost. "
        "Hint: run `mirrors archive --stack prod` before the update forgets it\n"
    )
    assert json.loads(result.stdout)["summary"]["releases"] == 3


def test_archive_warns_for_a_retired_release_the_stack_does_not_record(project: Path) -> None:
    add_window(project, "window: {majors: 3, patches: 5}\n")  # retires 15.1.6
    (project / "outputs.json").write_text(json.dumps({"releases": {}}), encoding="utf-8")

    result = CliRunner().invoke(app, ["archive", "--stack", "prod", "--outputs", "outputs.json"])

    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        "warning: release 15.1.6 leaves the supported-release window and has no archive record "
        "(mirrors/archive/15.1.6.yaml): its audit (what it published where) would be lost. "
        "Hint: run `mirrors archive --stack prod` before the update forgets it\n"
    )
    assert result.stdout == "1 releases outside the window, 0 archive records written\n"
