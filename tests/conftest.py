"""Shared fixtures: a private copy of the project's data (spec, releases, stacks) per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of Pulumi.yaml, mirrors/ and stacks/ that a test may edit; cwd is set to it so
    error messages show the same relative paths a user sees."""
    dst = tmp_path / "proj"
    dst.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", dst / "Pulumi.yaml")
    shutil.copytree(ROOT / "mirrors", dst / "mirrors")
    shutil.copytree(ROOT / "stacks", dst / "stacks")
    monkeypatch.chdir(dst)
    return dst


def edit(path: Path, old: str, new: str) -> None:
    """Replace exactly one occurrence of ``old`` (fails loudly if the fixture data drifted)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")
