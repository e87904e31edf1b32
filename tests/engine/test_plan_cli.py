"""`mirrors plan --against` and the providers' real Check in `mirrors plan`, on the shipped spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.cli import app
from components import mockrun
from tests.providers.harness import PROJECT_ROOT, ServerDiffer

from .conftest import Scenario
from .test_scenarios import add_release

DOCKERHUB_CREDENTIALS = (
    "credentials: {from: env, username_env: DOCKERHUB_USERNAME, password_env: DOCKERHUB_TOKEN}"
)
QUAY_CREDENTIALS = """    credentials:
      from: env
      username_env: QUAY_USERNAME       # a robot account for pushes
      password_env: QUAY_PASSWORD
      api_token_env: QUAY_API_TOKEN     # an OAuth application token for the description
"""
ESTIMATE = (
    "Offline estimate from the program's inputs and the providers' own Check and Diff "
    "(live drift not seen): `pulumi preview` decides."
)


def mirrors(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def base_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main's plan JSON, as a pull request's check would keep it."""
    out = tmp_path_factory.mktemp("base") / "BASE.json"
    code, _, err = mirrors(
        "plan", "--stack", "prod", "-f", "json", "-o", str(out), "-C", str(PROJECT_ROOT)
    )
    assert (code, err) == (0, "")
    return out


def one_release(scenario: Scenario) -> Scenario:
    """Only 18.6.6: the registries' resources are all there, the render is 5 times faster."""
    for version in ("15.1.6", "16.4.6", "17.5.3", "18.1.2"):
        scenario.remove(f"mirrors/releases/{version}.yaml")
    return scenario


def test_plan_json_carries_the_state_to_diff_against(base_plan: Path) -> None:
    plan = json.loads(base_plan.read_text())
    resources = plan["resources"]
    assert len(resources) == plan["summary"]["resources"]
    tag = next(r for r in resources if r["urn"].endswith("::dockerhub/teleport-distroless:15.1.6"))
    assert sorted(tag) == [
        "custom",
        "depends_on",
        "inputs",
        "parent",
        "property_dependencies",
        "provider",
        "retain_on_delete",
        "type",
        "urn",
    ]
    assert tag["retain_on_delete"] is True
    assert "__provider" not in tag["inputs"]
    row = next(t for t in plan["releases"][0]["image_tags"] if t["urn"] == tag["urn"])
    assert tag["inputs"]["digest"] == row["digest"]
    assert "steps" not in plan


def test_against_a_sixth_release_creates_it_and_moves_floating_tags_only(
    base_plan: Path, scenario: Scenario
) -> None:
    add_release(scenario)
    code, out, err = mirrors(
        "plan",
        "--stack",
        "prod",
        "--against",
        str(base_plan),
        "-f",
        "json",
        "-C",
        str(scenario.root),
    )
    assert (code, err) == (0, "")
    steps = json.loads(out)["steps"]
    base_custom = sum(1 for r in json.loads(base_plan.read_text())["resources"] if r["custom"])
    assert steps["summary"] == {
        # + the Terraform provider's 24 files and 5 documents, + 3 Helm chart tags
        "create": 109 + 29 + 3,
        "update": 99 + 3,  # + its 2 index documents and the CloudFront invalidation
        "replace": 0,
        "forget": 0,
        "delete": 0,
        "same": base_custom - 99 - 3,
    }
    assert steps["estimate"] == ESTIMATE
    assert steps["against"] == {"file": str(base_plan), "stack": "prod"}
    assert {(g["release"], g["destination"]) for g in steps["groups"]} == {
        ("18.6.7", "aws"),
        ("18.6.7", "aws-us-gov"),
        ("18.6.7", "dockerhub"),
        ("18.6.7", "ecr-public"),
        ("18.6.7", "quay"),
        ("floating tags", "dockerhub"),
        ("floating tags", "ecr-public"),
        ("floating tags", "quay"),
        ("18.6.7", "teleport@network-mirror"),
        ("18.6.7", "teleport@registry"),
        ("terraform index", "teleport@network-mirror"),
        ("terraform index", "teleport@registry"),
    }
    floating = [c for c in steps["changes"] if c["release"] == "floating tags"]
    assert {(c["op"], c["kind"], tuple(c["keys"])) for c in floating} == {
        ("update", "ImageTag", ("source", "digest", "release"))
    }

    code, out, err = mirrors(
        "plan", "--stack", "prod", "--against", str(base_plan), "-C", str(scenario.root)
    )
    assert (code, err) == (0, "")
    total = next(line for line in out.splitlines() if line.startswith("│ total "))
    assert [c.strip() for c in total.split("│")[3:8]] == ["141", "102", "0", "0", "0"]
    assert out.endswith(f"{base_custom - 102} resources unchanged. {ESTIMATE}\n")

    code, out, err = mirrors(
        "plan",
        "--stack",
        "prod",
        "--against",
        str(base_plan),
        "-f",
        "markdown",
        "-C",
        str(scenario.root),
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[:5] == [
        f"## Update of stack `prod` from `{base_plan}`",
        "",
        "141 create · 102 update · 0 replace · 0 forget · 0 delete · "
        f"{base_custom - 102} unchanged",
        "",
        f"> {ESTIMATE}",
    ]
    assert "| 18.6.7 | aws | 68 | 0 | 0 | 0 | 0 |" in out
    lines = out.splitlines()
    assert "**Releases this update touches:** 18.6.7" in lines
    assert (
        "> **Public:** 38 AMI launch permissions `group=all` created: those AMI copies become "
        "public." in lines
    )
    assert "- `18`, `18.6`, `latest` -> 18.6.7 (was 18.6.6) on 3 registries x 11 images" in lines
    assert "### 18.6.7 (stable)" in lines
    assert "| 18.6.7 | teleport@registry | 16 | 0 | 0 | 0 | 0 |" in out
    assert "| terraform index | teleport@registry | 0 | 2 | 0 | 0 | 0 |" in out


def test_against_a_file_that_is_not_a_plan_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "BASE.json"
    bad.write_text('{"schema": "something/else"}')
    code, out, err = mirrors(
        "plan", "--stack", "prod", "--against", str(bad), "-C", str(PROJECT_ROOT)
    )
    assert (code, out) == (2, "")
    assert err == (
        f"{bad}: --against: not an artifact-mirrors/plan/v1 plan (got schema something/else). "
        "Hint: pass a plan written by `mirrors plan --stack NAME --format json -o FILE`\n"
    )
    bad.write_text("[1, 2")
    code, _, err = mirrors(
        "plan", "--stack", "prod", "--against", str(bad), "-C", str(PROJECT_ROOT)
    )
    assert code == 2
    assert err.startswith(f"{bad}: --against: not JSON (got ")
    assert len(err.splitlines()) == 1


def test_a_credential_setting_check_rejects_fails_the_plan_at_its_spec_line(
    scenario: Scenario,
) -> None:
    one_release(scenario)
    scenario.edit(
        "mirrors/destinations.yaml",
        DOCKERHUB_CREDENTIALS,
        "credentials: {from: env, password_env: DOCKERHUB_TOKEN}",
    )
    text = (scenario.root / "mirrors/destinations.yaml").read_text()
    line = text[: text.index("credentials: {from: env, password_env")].count("\n") + 1
    code, out, err = mirrors("plan", "--stack", "prod", "-C", str(scenario.root))
    assert (code, out) == (2, "")
    spec = scenario.root / "mirrors/destinations.yaml"
    assert err == (
        f"{spec}:{line}: registries[0].credentials: Docker Hub credentials from env must name "
        "username_env (got from: env). Hint: MirrorRepository's Check rejects "
        "dockerhub/tbot-distroless and 10 more (credentials), so `pulumi preview` would "
        "fail; see 'Spec reference' in README.md\n"
    )


SOURCES = {
    "docker-config": "{from: docker-config}",
    "env": None,  # as shipped
    "stack-config": "{from: stack-config, config_key: REGISTRY}",
}


@pytest.mark.parametrize("registry", ["dockerhub", "quay"])
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_credential_source_passes_check_in_process_and_through_the_server(
    scenario: Scenario, server_differ: ServerDiffer, registry: str, source: str
) -> None:
    one_release(scenario)
    value = SOURCES[source]
    if value is not None:
        value = value.replace("REGISTRY", registry)
        if registry == "dockerhub":
            scenario.edit(
                "mirrors/destinations.yaml", DOCKERHUB_CREDENTIALS, f"credentials: {value}"
            )
        else:
            scenario.edit(
                "mirrors/destinations.yaml", QUAY_CREDENTIALS, f"    credentials: {value}\n"
            )
    resources = mockrun.render(scenario.root, "prod")
    assert mockrun.run_checks(resources) == []
    checked = 0
    for r in resources:
        provider = mockrun.dynamic_provider(r.type)
        if provider is None or not r.name.startswith(f"{registry}/"):
            continue
        response = server_differ.server.driver(provider).check(r.urn, None, r.inputs)
        assert response.failures == (), r.urn
        checked += 1
    assert checked == 11 + 11 + 33  # repositories, 18.6.6's tags, its floating tags
    code, _, err = mirrors("plan", "--stack", "prod", "-C", str(scenario.root))
    assert (code, err) == (0, "")


def test_plan_lists_teleports_charts_at_their_destinations_with_their_digests(
    base_plan: Path,
) -> None:
    from artifact_mirrors.spec.load import load_project

    plan = json.loads(base_plan.read_text())
    project = load_project(
        PROJECT_ROOT / "mirrors/destinations.yaml", PROJECT_ROOT / "mirrors/releases"
    )
    assert plan["summary"]["chart_tags"] == 15  # 3 Helm charts x 5 releases x ECR Public
    for entry in plan["releases"]:
        release = project.release(entry["version"])
        assert release is not None
        assert [(c["repository"], c["tag"], c["digest"]) for c in entry["chart_tags"]] == [
            (
                f"public.ecr.aws/teleport-mirror/charts/{name}",
                entry["version"],
                release.charts[name].digest,
            )
            for name in ("teleport-cluster", "teleport-kube-agent", "teleport-operator")
        ]
        assert {c["action"] for c in entry["chart_tags"]} == {"publish"}
        assert {c["source"] for c in entry["chart_tags"]} == {
            f"https://charts.releases.teleport.dev/{name}-{entry['version']}.tgz"
            for name in ("teleport-cluster", "teleport-kube-agent", "teleport-operator")
        }


def test_every_shipped_stack_plans() -> None:
    """Each stack in stacks/ plans against the shared manifests: a spec that lacks a kind the
    manifests pin (providers, charts) is refused, so staging mirrors every kind prod does."""
    summaries = {}
    for stack in ("prod", "staging"):
        code, out, err = mirrors("plan", "--stack", stack, "-f", "json", "-C", str(PROJECT_ROOT))
        assert (code, err) == (0, ""), stack
        summaries[stack] = json.loads(out)["summary"]
    assert sorted(p.name for p in (PROJECT_ROOT / "stacks").glob("Pulumi.*.yaml")) == [
        "Pulumi.prod.yaml",
        "Pulumi.staging.yaml",
    ]
    assert {
        k: summaries["staging"][k] for k in ("releases", "terraform_objects", "chart_tags")
    } == {
        "releases": 5,
        "terraform_objects": 148,  # the same objects as prod's, in the staging bucket
        "chart_tags": 15,  # 3 charts x 5 releases x ecr-public-staging
    }
