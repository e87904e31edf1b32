"""YAML loading that remembers where every key and item came from.

ruamel.yaml's round-trip loader keeps line/column data on every mapping and sequence
(`CommentedMap.lc`), which is what lets a pydantic error location (a tuple of keys) be turned back
into ``file:line``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from artifact_mirrors.spec.errors import PathPart, SpecError


@dataclass
class Document:
    file: Path
    root: Any  # CommentedMap for a valid document

    def line_of(self, path: Sequence[PathPart]) -> int | None:
        """1-based line of the deepest node on ``path`` that exists in the document."""
        node: Any = self.root
        line: int | None = 1
        for part in path:
            if isinstance(node, CommentedMap) and part in node:
                pos = node.lc.data.get(part)
                if pos is not None:
                    # A scalar value sits on its key's value line; nested nodes report their own.
                    line = pos[2] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                pos = node.lc.data.get(part)
                if pos is not None:
                    line = pos[0] + 1
                node = node[part]
            else:
                break
        return line

    def key_line(self, path: Sequence[PathPart]) -> int | None:
        """Line of the key itself (for 'unknown key' errors the value may be far below)."""
        if not path:
            return 1
        parent_line = self.line_of(path[:-1])
        parent: Any = self.root
        for part in path[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                return parent_line
        last = path[-1]
        if isinstance(parent, CommentedMap) and last in parent:
            pos = parent.lc.data.get(last)
            return pos[0] + 1 if pos is not None else parent_line
        return self.line_of(path)


def plain(node: Any) -> Any:
    """Round-trip nodes -> plain dicts/lists/scalars (pydantic's strict mode rejects subclasses)."""
    if isinstance(node, CommentedMap | dict):
        return {str(k) if not isinstance(k, str | int) else k: plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq | list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def load_document(file: Path, *, what: str) -> Document:
    """Read one YAML file; any I/O or syntax problem becomes a located SpecError."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise _single(
            file,
            None,
            f"cannot read {what}: file not found",
            exc.filename,
            hint="check the path (relative to the project directory)",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        hint = (
            "save the file as UTF-8"
            if isinstance(exc, UnicodeDecodeError)
            else ("check the path and its permissions")
        )
        raise _single(
            file, None, f"cannot read {what}: {_reason(exc)}", str(file), hint=hint
        ) from None
    yaml = YAML(typ="rt")
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = f"not valid YAML: {exc.problem or exc.context}"
        raise _single(
            file, line, problem, None, has_value=False, hint="check indentation and quoting"
        ) from None
    if root is None:
        raise _single(
            file,
            1,
            f"{what} is empty",
            None,
            has_value=False,
            hint="see mirrors/destinations.yaml and mirrors/releases/ for examples",
        ) from None
    if not isinstance(root, CommentedMap):
        raise _single(
            file,
            1,
            f"{what} must be a mapping at the top level",
            plain(root),
            hint="start with 'version: …'",
        ) from None
    return Document(file, root)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


def _single(
    file: Path,
    line: int | None,
    problem: str,
    got: object,
    *,
    has_value: bool = True,
    hint: str = "",
) -> Exception:
    from artifact_mirrors.spec.errors import SpecErrors

    return SpecErrors([SpecError(file, line, (), problem, got=got, has_value=has_value, hint=hint)])
