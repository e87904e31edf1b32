"""One-line, located errors for bad input: ``FILE:LINE: key.path: problem (got VALUE). Hint: …``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PathPart = str | int


def format_path(path: Sequence[PathPart]) -> str:
    """``("images", 0, "digest")`` -> ``images[0].digest``; mapping keys with dots stay readable."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += part if not out else f".{part}"
    return out


def show_value(value: object, limit: int = 80) -> str:
    """A short, YAML-ish rendering of the offending value."""
    if isinstance(value, str):
        text = value if value else "''"
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class SpecError:
    file: Path
    line: int | None
    path: tuple[PathPart, ...]
    problem: str
    got: object = None
    has_value: bool = True
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        path = format_path(self.path)
        text = f"{where}: {path + ': ' if path else ''}{self.problem}"
        if self.has_value:
            text += f" (got {show_value(self.got)})"
        text += "."
        if self.hint:
            text += f" Hint: {self.hint}"
        return text


def _order(e: SpecError) -> tuple[object, ...]:
    # Indexes compare as numbers: images[2] before images[10].
    path = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in e.path)
    return (str(e.file), e.line or 0, path)


class SpecErrors(Exception):
    """Every problem found in the spec and the release manifests, in file and line order."""

    def __init__(self, errors: Iterable[SpecError]) -> None:
        self.errors = sorted(errors, key=_order)
        super().__init__("\n".join(str(e) for e in self.errors))
