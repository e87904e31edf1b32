"""Render verify findings as a rich Table or as markdown (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from artifact_mirrors.aws.types import Finding, Severity

_COLUMNS = ("severity", "release", "key", "region", "image", "check", "expected", "actual")


def _rows(findings: Sequence[Finding]) -> list[tuple[str, ...]]:
    ordered = sorted(
        findings,
        key=lambda f: (f.severity != Severity.ERROR, f.release, f.region, f.key, f.check),
    )
    return [
        (f.severity.value, f.release, f.key, f.region, f.image_id, f.check, f.expected, f.actual)
        for f in ordered
    ]


def summary(findings: Sequence[Finding], checked: int | None = None) -> str:
    """`12 AMIs verified: 2 error(s), 1 warning(s)` (`checked` = number of AMIs looked at)."""
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = len(findings) - errors
    head = "AMIs verified" if checked is None else f"{checked} AMIs verified"
    if not findings:
        return f"{head}: no drift"
    return f"{head}: {errors} error(s), {warnings} warning(s)"


def findings_table(findings: Sequence[Finding], checked: int | None = None) -> Table:
    table = Table(title=summary(findings, checked))
    for column in _COLUMNS:
        table.add_column(column, overflow="fold")
    for row in _rows(findings):
        style = "red" if row[0] == Severity.ERROR.value else "yellow"
        table.add_row(*row, style=style)
    return table


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def findings_markdown(findings: Sequence[Finding], checked: int | None = None) -> str:
    lines = [f"**{summary(findings, checked)}**"]
    if findings:
        lines.append("")
        lines.append("| " + " | ".join(_COLUMNS) + " |")
        lines.append("|" + "---|" * len(_COLUMNS))
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in _rows(findings)]
    return "\n".join(lines) + "\n"
