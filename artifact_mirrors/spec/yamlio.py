"""YAML loading that remembers where every key and item came from.

ruamel.yaml's round-trip loader keeps line/column data on every mapping and sequence
(`CommentedMap.lc`), which is what lets a pydantic error location (a tuple of keys) be turned back
into ``file:line``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

from artifact_mirrors.spec.errors import PathPart, SpecError, SpecErrors


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
        data = file.read_bytes()
    except FileNotFoundError as exc:
        raise _single(
            file,
            None,
            f"cannot read {what}: file not found",
            exc.filename,
            hint="check the path (relative to the project directory)",
        ) from None
    except OSError as exc:
        raise _single(
            file,
            None,
            f"cannot read {what}: {_reason(exc)}",
            str(file),
            hint="check the path and its permissions",
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Say where: a stray latin-1 byte (an editor's "café") is one character in one line.
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _single(
            file,
            line,
            f"cannot read {what}: not UTF-8 text",
            f"byte 0x{data[exc.start]:02x} in column {column}",
            hint="save the file as UTF-8",
        ) from None
    yaml = YAML(typ="rt")
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        raise SpecErrors([yaml_error(file, text, exc)]) from None
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


def yaml_error(file: Path, text: str, exc: MarkedYAMLError) -> SpecError:
    """One located line for a YAML syntax error, in words instead of the parser's
    (``expected <block end>, but found '<block mapping start>'``)."""
    mark = exc.problem_mark
    line = mark.line + 1 if mark is not None else None
    lines = text.splitlines()
    # The offending line as written, without its comment.
    source = lines[line - 1].split(" #")[0].strip() if line and line <= len(lines) else ""
    raw = str(exc.problem or exc.context or "")
    if isinstance(exc, DuplicateKeyError):
        match = re.match(r'found duplicate key "(.*?)"(?: with value|$)', raw, re.S)
        key = match.group(1) if match else source.split(":", 1)[0]
        first = _first_occurrence(lines, exc, key)
        where = f" on line {first}" if first else " above"
        return SpecError(
            file,
            line,
            (),
            "duplicate key",
            key,
            hint=f"'{key}' is already set{where} in the same mapping; keep one of the two",
        )
    for pattern, problem, hint in _YAML_PROBLEMS:
        if re.search(pattern, raw):
            return SpecError(
                file, line, (), f"not valid YAML: {problem}", source, bool(source), hint
            )
    return SpecError(
        file,
        line,
        (),
        f"not valid YAML: {' '.join(raw.split())}",
        source,
        bool(source),
        "check indentation (spaces, the same for every key of a mapping) and quoting",
    )


# ruamel.yaml's problem texts (ruamel/yaml/parser.py, scanner.py) -> what they mean in a
# hand-edited spec.
_YAML_PROBLEMS: tuple[tuple[str, str, str], ...] = (
    (
        r"expected <block end>, but found '<block (mapping|sequence) start>'",
        "this line's indentation does not line up with the keys before it",
        "give every key of one mapping the same indentation (this line or the one above it "
        "is off), and end a key that holds a mapping with ':'",
    ),
    (
        r"expected <block end>, but found",
        "this line is indented differently from the keys before it",
        "indent every key of a mapping by the same number of spaces",
    ),
    (
        r"but found '<stream end>'",
        "the file ends before a value is complete",
        "close every [ and { (or quote a value that starts with one)",
    ),
    (
        r"mapping values are not allowed here",
        "a 'key: value' where a plain value was expected",
        "indent the key like its siblings, or quote a value that contains ': '",
    ),
    (
        r"found character '\\t' that cannot start any token|found a tab character",
        "a tab character",
        "YAML indents with spaces only; replace the tabs",
    ),
    (
        r"could not find expected ':'",
        "a line without 'key:'",
        "end the key with ':', or quote the value of the line above if it goes on",
    ),
    (
        r"found undefined alias|found unhashable key|while scanning a quoted scalar",
        "an unclosed quote or a stray '*' / '&'",
        "close the quote, or quote a value that starts with * or &",
    ),
)


def _first_occurrence(lines: list[str], exc: MarkedYAMLError, key: str) -> int | None:
    """Line of the first ``key:`` in the mapping that holds the duplicate (same column)."""
    mark, start = exc.problem_mark, exc.context_mark
    if mark is None:
        return None
    begin = start.line if start is not None else 0
    indent = " " * mark.column
    key_re = re.compile(rf"^{indent}(?:- )?['\"]?{re.escape(key)}['\"]?\s*:")
    for n in range(begin, mark.line):
        if key_re.match(lines[n]) and not lines[n][mark.column : mark.column + 1].isspace():
            return n + 1
    return None


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
    return SpecErrors([SpecError(file, line, (), problem, got=got, has_value=has_value, hint=hint)])
