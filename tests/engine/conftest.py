"""Scenario fixtures: the shipped Teleport spec rendered once, edited copies, the real server."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from artifact_mirrors.steps import Op, State, StepPlan, plan_steps
from components import mockrun
from tests.providers.harness import PROJECT_ROOT, ServerDiffer, provider_server

STACK = "prod"


def render_states(project: Path) -> list[State]:
    return [r.state() for r in mockrun.render(project, STACK)]


class Scenario:
    """A copy of mirrors/ and stacks/ in a tmp dir whose YAML text a test edits."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copytree(PROJECT_ROOT / "mirrors", root / "mirrors")
        shutil.copytree(PROJECT_ROOT / "stacks", root / "stacks")
        shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")

    def edit(self, rel: str, old: str, new: str) -> None:
        file = self.root / rel
        text = file.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{rel}: {old!r} occurs {text.count(old)} times"
        file.write_text(text.replace(old, new, 1), encoding="utf-8")

    def remove(self, rel: str) -> None:
        (self.root / rel).unlink()

    def render(self) -> list[State]:
        return render_states(self.root)


@pytest.fixture(scope="session")
def base() -> list[State]:
    """The shipped spec and manifests, rendered once for the whole session."""
    return render_states(PROJECT_ROOT)


@pytest.fixture
def scenario(tmp_path: Path) -> Scenario:
    return Scenario(tmp_path / "project")


@pytest.fixture(scope="session")
def server_differ() -> Iterator[ServerDiffer]:
    """The real dynamic-provider server, configured with the whole stack config like the engine."""
    config = mockrun.stack_config(PROJECT_ROOT, STACK)
    with provider_server(config=config) as server:
        yield ServerDiffer(server, mockrun.dynamic_provider, mockrun.offline_decision)


PlanOf = Callable[[list[State], list[State]], StepPlan]


@pytest.fixture
def plan_of(server_differ: ServerDiffer) -> PlanOf:
    """The step plan, decided once in-process and once through the server: both must agree."""

    def run(old: list[State], new: list[State]) -> StepPlan:
        offline = plan_steps(old, new, mockrun.offline_decision)
        served = plan_steps(old, new, server_differ)
        assert served == offline
        return offline

    return run


def kind(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def counts(plan: StepPlan) -> dict[tuple[str, str], int]:
    """(op, resource kind) -> number of provider resources, `same` left out."""
    return dict(Counter((s.op.value, kind(s.type)) for s in plan.changes() if s.custom))


def deleted(plan: StepPlan) -> list[str]:
    """What the update would really delete (forget leaves the resource in place)."""
    return [s.urn for s in plan.of(Op.delete) if s.custom]
