"""A tiny dynamic provider used to exercise the harness (importable, so pickled by reference).

It stores ``value`` in a file ``<EXAMPLE_STATE_DIR>/<name>``; the directory comes from the
environment at call time, like credentials do in the real providers.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime import rpc

STATE_DIR_ENV = "EXAMPLE_STATE_DIR"


def _path(name: str) -> Path:
    return Path(os.environ[STATE_DIR_ENV]) / name


def _outputs(props: dict[str, Any]) -> dict[str, Any]:
    value = str(props["value"])
    outs = {k: v for k, v in props.items() if k != "__provider"}
    outs["length"] = len(value)
    # A provider can mark an output secret itself by returning the wire form of a secret.
    outs["digest"] = rpc.wrap_rpc_secret(hashlib.sha256(value.encode()).hexdigest())
    return outs


class ExampleProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not news.get("value"):
            failures.append(CheckFailure("value", "value must be a non-empty string"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["name"] if olds.get("name") != news.get("name") else []
        changed = replaces or olds.get("value") != news.get("value")
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        if props["value"] == "boom":
            raise RuntimeError("create failed: value 'boom' is rejected")
        _path(props["name"]).write_text(props["value"])
        return CreateResult(props["name"], _outputs(props))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _path(id_).write_text(news["value"])
        return UpdateResult(_outputs(news))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        _path(id_).unlink()


class LeakyProvider(ExampleProvider):
    """Negative control: captures a credential, which the pickle then contains."""

    def __init__(self, password: str) -> None:
        super().__init__()
        self.password = password
