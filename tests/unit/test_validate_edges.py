"""`mirrors validate` on a new user's first mistakes: each is one located line (issue 11)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.cli import app
from artifact_mirrors.spec.errors import SpecError, SpecErrors
from tests.conftest import edit

SPEC = "mirrors/destinations.yaml"
RELEASE = "mirrors/releases/18.6.6.yaml"


def validate() -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["validate"])
    return result.exit_code, result.stderr.splitlines()


def test_typo_under_defaults_image_is_one_line_at_the_defaults_key(project: Path) -> None:
    edit(project / SPEC, "    signatures: true ", "    signaturs: true ")
    assert validate() == (
        2,
        [
            "mirrors/destinations.yaml:16: defaults.image.signaturs: unknown key (got signaturs). "
            "Hint: did you mean 'signatures'? allowed keys here: registries, floating_tags, "
            "signatures, verify"
        ],
    )


def test_bad_value_under_defaults_image_is_reported_once(project: Path) -> None:
    edit(
        project / SPEC, "    registries: [dockerhub, quay, ecr-public]", "    registries: [ecr-pub]"
    )
    assert validate() == (
        2,
        [
            "mirrors/destinations.yaml:15: defaults.image.registries[0]: unknown registry "
            "(got ecr-pub). Hint: did you mean 'ecr-public'? registries defined: dockerhub, quay, "
            "ecr-public"
        ],
    )


def test_errors_are_ordered_by_index_as_numbers() -> None:
    errors = SpecErrors(
        SpecError(Path("f.yaml"), 3, ("images", i, "name"), "bad", "x") for i in (10, 2, 1, 0)
    )
    assert [e.path[1] for e in errors.errors] == [0, 1, 2, 10]


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        pytest.param(
            "    signatures: true ",
            "      signatures: true ",
            "mirrors/destinations.yaml:16: not valid YAML: this line's indentation does not line "
            "up with the keys before it (got signatures: true). Hint: give every key of one "
            "mapping the same indentation (this line or the one above it is off), and end a key "
            "that holds a mapping with ':'",
            id="deeper",
        ),
        pytest.param(
            "  - name: quay",
            " - name: quay",
            "mirrors/destinations.yaml:25: not valid YAML: this line's indentation does not line "
            "up with the keys before it (got - name: quay). Hint: give every key of one mapping "
            "the same indentation (this line or the one above it is off), and end a key that "
            "holds a mapping with ':'",
            id="shallower",
        ),
    ],
)
def test_indentation_mistake_is_one_line_in_words(
    project: Path, old: str, new: str, line: str
) -> None:
    edit(project / SPEC, old, new)
    assert validate() == (2, [line])


def test_a_tab_is_named(project: Path) -> None:
    edit(project / RELEASE, "  teleport-distroless:\n", "\tteleport-distroless:\n")
    assert validate() == (
        2,
        [
            "mirrors/releases/18.6.6.yaml:7: not valid YAML: a tab character (got "
            "teleport-distroless:). Hint: YAML indents with spaces only; replace the tabs"
        ],
    )


def test_duplicate_key_is_one_line_naming_both_lines(project: Path) -> None:
    text = (project / RELEASE).read_text()
    block = text[
        text.index("  teleport-distroless:\n") : text.index("  teleport-distroless-debug:")
    ]
    edit(project / RELEASE, "  tbot-distroless:\n", block + "  tbot-distroless:\n")
    assert validate() == (
        2,
        [
            "mirrors/releases/18.6.6.yaml:25: duplicate key (got teleport-distroless). Hint: "
            "'teleport-distroless' is already set on line 7 in the same mapping; keep one of "
            "the two"
        ],
    )


@pytest.mark.parametrize("value", ["18.6", "18"])
def test_version_read_as_a_number_says_what_a_version_looks_like(project: Path, value: str) -> None:
    edit(project / RELEASE, "version: 18.6.6", f"version: {value}")
    assert validate() == (
        2,
        [
            f"mirrors/releases/18.6.6.yaml:4: version: not a semantic version (got {value}). "
            "Hint: write MAJOR.MINOR.PATCH without a leading v, e.g. 17.0.1"
        ],
    )


def test_latin1_byte_has_its_line(project: Path) -> None:
    path = project / RELEASE
    path.write_bytes(path.read_bytes().replace(b"channel: stable", b"# caf\xe9\nchannel: stable"))
    assert validate() == (
        2,
        [
            "mirrors/releases/18.6.6.yaml:5: cannot read release manifest: not UTF-8 text (got "
            "byte 0xe9 in column 6). Hint: save the file as UTF-8"
        ],
    )


def test_stray_copy_is_blamed_not_the_original(project: Path) -> None:
    shutil.copy(project / RELEASE, project / "mirrors/releases/18.6.6 copy.yaml")
    assert validate() == (
        2,
        [
            "mirrors/releases/18.6.6 copy.yaml:4: version: release already defined in "
            "mirrors/releases/18.6.6.yaml (got 18.6.6). Hint: keep one manifest per release: "
            "delete this copy"
        ],
    )
