"""Render verify findings as a rich Table or as markdown (pure functions).

One table for every part of ``mirrors verify``: AMI findings (kind ``ami``: key = edition, where =
region, mirror = AMI id), image findings (kind ``image``: key = image, where = registry,
mirror = repository:tag) and Terraform provider findings (kind ``provider``: key = provider,
where = destination, mirror = s3://bucket/key).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from artifact_mirrors.aws.types import Finding, Severity

_COLUMNS = ("severity", "kind", "release", "key", "where", "mirror", "check", "expected", "actual")


def order(f: Finding) -> tuple[bool, str, str, str, str, str, str]:
    """Errors first, then release, kind, region/registry, key, check, mirror."""
    return (f.severity != Severity.ERROR, f.release, f.kind, f.region, f.key, f.check, f.image_id)


def _rows(findings: Sequence[Finding]) -> list[tuple[str, ...]]:
    return [
        (
            f.severity.value,
            f.kind,
            f.release,
            f.key,
            f.region,
            f.image_id,
            f.check,
            f.expected,
            f.actual,
        )
        for f in sorted(findings, key=order)
    ]


def summary(
    findings: Sequence[Finding],
    checked: int | None = None,
    image_tags: int | None = None,
    provider_objects: int | None = None,
) -> str:
    """`12 AMIs verified: 2 error(s), 1 warning(s)`.

    ``checked`` = number of AMIs looked at, ``image_tags`` = number of image tags looked at,
    ``provider_objects`` = number of Terraform provider mirror objects looked at; a count left as
    None is not mentioned (``8 AMIs and 30 image tags verified: no drift``).
    """
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = len(findings) - errors
    counts = [
        f"{n} {what}"
        for n, what in (
            (checked, "AMIs"),
            (image_tags, "image tags"),
            (provider_objects, "provider objects"),
        )
        if n is not None
    ]
    named = ", ".join(counts[:-1]) + " and " + counts[-1] if len(counts) > 1 else "".join(counts)
    head = f"{named or 'AMIs'} verified"
    if not findings:
        return f"{head}: no drift"
    return f"{head}: {errors} error(s), {warnings} warning(s)"


def findings_table(
    findings: Sequence[Finding],
    checked: int | None = None,
    image_tags: int | None = None,
    provider_objects: int | None = None,
) -> Table:
    table = Table(title=summary(findings, checked, image_tags, provider_objects))
    for column in _COLUMNS:
        table.add_column(column, overflow="fold")
    for row in _rows(findings):
        style = "red" if row[0] == Severity.ERROR.value else "yellow"
        table.add_row(*row, style=style)
    return table


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def findings_markdown(
    findings: Sequence[Finding],
    checked: int | None = None,
    image_tags: int | None = None,
    provider_objects: int | None = None,
) -> str:
    lines = [f"**{summary(findings, checked, image_tags, provider_objects)}**"]
    if findings:
        lines.append("")
        lines.append("| " + " | ".join(_COLUMNS) + " |")
        lines.append("|" + "---|" * len(_COLUMNS))
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in _rows(findings)]
    return "\n".join(lines) + "\n"
