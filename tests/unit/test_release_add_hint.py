"""`mirrors release add` suggests the plan of the stack that uses the spec it read."""

from __future__ import annotations

from pathlib import Path

from artifact_mirrors.cli.release import review_hint


def test_the_hint_names_the_stack_whose_config_uses_the_spec(project: Path) -> None:
    releases = Path("mirrors/releases")
    assert review_hint(project, Path("mirrors/destinations.yaml"), releases, "17.0.1") == (
        "Review with `mirrors plan --stack prod --release 17.0.1 --format markdown`"
    )
    assert review_hint(project, Path("mirrors/staging.yaml"), releases, "17.0.1") == (
        "Review with `mirrors plan --stack staging --release 17.0.1 --format markdown`"
    )
    (project / "stacks/Pulumi.prod-copy.yaml").write_bytes(
        (project / "stacks/Pulumi.prod.yaml").read_bytes()
    )
    assert review_hint(project, Path("mirrors/destinations.yaml"), releases, "17.0.1") == (
        "Review with `mirrors plan --stack prod --release 17.0.1 --format markdown` "
        "(also stacks prod-copy)"
    )
    assert review_hint(project, Path("other.yaml"), releases, "17.0.1") == (
        "Review with `mirrors plan --stack NAME --release 17.0.1 --format markdown`: no stack in "
        "stacks/ uses other.yaml and mirrors/releases (stacks here: prod, prod-copy, staging)"
    )
