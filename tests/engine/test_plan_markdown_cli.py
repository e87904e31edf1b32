"""`mirrors plan --format markdown` on the shipped stack: what a reviewer reads in the PR."""

from __future__ import annotations

from typer.testing import CliRunner

from artifact_mirrors.cli import app
from artifact_mirrors.plan_markdown import LIMIT
from tests.providers.harness import PROJECT_ROOT

from .conftest import Scenario
from .test_scenarios import add_release, yank

SOURCE = "public.ecr.aws/gravitational/teleport-distroless"
DIGEST = "sha256:5869f0edf2d77af3164eedc5a11baa73d04460cb573168fecdcd2dbc57480de0"


def markdown(*args: str) -> str:
    result = CliRunner().invoke(app, ["plan", "--stack", "prod", "-f", "markdown", *args])
    assert (result.exit_code, result.stderr) == (0, "")
    return result.stdout


def test_the_whole_shipped_stack_fits_a_github_comment() -> None:
    text = markdown("-C", str(PROJECT_ROOT))
    assert len(text) < LIMIT
    lines = text.splitlines()
    assert lines[2].startswith("**5 releases** · 165 image tags on 3 registries · ")
    assert lines[4] == (
        "> **Public:** 228 mirrored AMIs shared with every AWS account (launch permission "
        "`group=all`)."
    )
    # The Terraform provider's 148 mirror objects push it over the limit: it folds, says what,
    # and still lists every mirror object and where the floating tags point.
    assert lines[6] == (
        "> **Folded to stay under GitHub's 65,536-character comment limit:** the "
        "per-destination tag tables (each destination tag carries its image's digest); the "
        "object tables of other artifact kinds (counts kept). `mirrors plan --format json` has "
        "everything."
    )
    assert "11 images folded." not in text
    assert f"| teleport-distroless | `{SOURCE}@{DIGEST}` |" in lines
    assert "- `18`, `18.6`, `latest` -> 18.6.6 on 3 registries x 11 images" in lines
    assert "**Terraform providers**: 148 entries (folded)." in lines


def test_one_release_shows_full_digests_sources_and_grouped_floating_tags() -> None:
    text = markdown("--release", "18.6.6", "-C", str(PROJECT_ROOT))
    lines = text.splitlines()
    assert lines[2].startswith("**1 release** (18.6.6) · 33 image tags on 3 registries · ")
    assert f"| `docker.io/gravitational/teleport-distroless:18.6.6` | `{DIGEST}` | publish |" in (
        lines
    )
    assert (
        "| oss-x86_64 | aws | `ami-00b0047f3eada8dfe` in ap-northeast-1, account "
        "`146628656107` | 17 (ap-northeast-1 … us-west-2) | copy | **public** | "
        "`teleport-oss-18.6.6-x86_64-20251104-201530UTC` |" in lines
    )
    floating = text.split("### Floating tags (99)\n\n", 1)[1].split("\n\n", 1)[0]
    assert floating.splitlines() == [
        "- `18`, `latest` -> 18.6.6 (was 18.1.2) on 3 registries x 11 images",
        "- `18.6` -> 18.6.6 (new) on 3 registries x 11 images",
    ]
    # The release's Helm charts, with the manifest digest every mirror will serve.
    assert (
        "| `ecr-public` | `teleport-cluster` | `public.ecr.aws/teleport-mirror/charts/"
        "teleport-cluster` | `18.6.6` | `sha256:"
    ) in text
    # 11 image repositories and the shipped spec's 3 Helm chart repositories
    assert "<summary>ecr-public: 14 repositories</summary>" in lines
    assert (
        "| `public.ecr.aws/teleport-mirror/teleport-distroless` | Official mirror of "
        f"{SOURCE} |" in lines
    )


def test_a_yanked_release_says_where_its_floating_tags_go(scenario: Scenario) -> None:
    yank(scenario, "18.6.6")
    text = markdown("--release", "18.6.6", "-C", str(scenario.root))
    lines = text.splitlines()
    assert "> **Revoked** (a yank): public (38)." in lines
    assert "- `18`, `latest` -> 18.1.2 (was 18.6.6) on 3 registries x 11 images" in lines
    assert (
        "- `18.6`: **deleted** (every candidate release is yanked; last 18.6.6) on 3 registries "
        "x 11 images" in lines
    )


def test_a_stack_too_big_for_a_comment_is_folded_and_says_so(scenario: Scenario) -> None:
    for version in ("18.6.7", "18.6.8", "18.6.9"):
        add_release(scenario, version)
    text = markdown("-C", str(scenario.root))
    assert len(text) < LIMIT
    banner = [line for line in text.splitlines() if line.startswith("> **Folded")]
    assert banner == [
        "> **Folded to stay under GitHub's 65,536-character comment limit:** the "
        "per-destination tag tables (each destination tag carries its image's digest); the "
        "object tables of other artifact kinds (counts kept). `mirrors plan --format json` has "
        "everything."
    ]
    assert "- dockerhub (`docker.io/gravitational/*`): 11 tags `18.6.9`, publish" in text
