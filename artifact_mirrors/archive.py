"""The archive: what a release that left the window published where (``mirrors/archive/``).

When a release leaves the supported-release window (artifact_mirrors/window.py) the program stops
declaring it and the stack forgets its resources, so the stack's ``releases`` output no longer
records it. Before that update, `mirrors archive --stack NAME` copies the release's record from
the stack outputs into ``mirrors/archive/<version>.yaml``, in the same pull request.

The record is the release's entry of the ``releases`` output unchanged (components/release.py
``audit``): ``channel``, ``yanked``, ``reason`` and one mapping per artifact kind, destination ->
identity (``images``: ``REPOSITORY:TAG`` -> digest; ``amis``: ``PARTITION/REGION/EDITION`` ->
AMI id; a kind added later, such as charts or providers, is kept the same way without a change
here). `mirrors verify` reads the archive as if the stack still recorded those releases, so an
archived release is still checked, and the stack exports it as ``archived``.

Schema ``artifact-mirrors/archive/v1``::

    schema: artifact-mirrors/archive/v1
    version: 15.1.6
    record: {channel, yanked, reason, images: {...}, amis: {...}, ...}
"""

from __future__ import annotations

from collections.abc import Mapping
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from artifact_mirrors.spec.errors import SpecError, SpecErrors
from artifact_mirrors.spec.yamlio import load_document, plain

SCHEMA = "artifact-mirrors/archive/v1"
HEADER = (
    "# Archived by `mirrors archive`: release {version} left the supported-release window.\n"
    "# Its mirrors are still published (the stack forgot them, retain_on_delete); this record\n"
    "# is what `mirrors verify` checks them against. Do not edit by hand.\n"
)


def archive_dir(releases_dir: Path) -> Path:
    """``mirrors/archive`` beside ``mirrors/releases``."""
    return releases_dir.parent / "archive"


def load_archive(directory: Path) -> dict[str, dict[str, Any]]:
    """version -> record of every ``<version>.yaml`` in ``directory`` (none: empty).

    A file that is not an archive record is a located error (SpecErrors), all files checked.
    """
    if not directory.is_dir():
        return {}
    records: dict[str, dict[str, Any]] = {}
    errors: list[SpecError] = []
    for file in sorted(directory.glob("*.yaml")):
        try:
            doc = load_document(file, what="archive record")
        except SpecErrors as exc:
            errors.extend(exc.errors)
            continue
        data = plain(doc.root)

        def bad(
            path: tuple[str, ...], problem: str, got: object, hint: str, *, at: Any = doc
        ) -> None:
            errors.append(SpecError(at.file, at.line_of(path), path, problem, got, hint=hint))

        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            got = data.get("schema") if isinstance(data, dict) else type(data).__name__
            bad(("schema",), f"not an {SCHEMA} record", got, "write it with `mirrors archive`")
            continue
        version, record = data.get("version"), data.get("record")
        if str(version) != file.stem:
            bad(("version",), f"does not match the file name {file.name}", version, "rename it")
            continue
        if not isinstance(record, dict):
            bad(("record",), "must be a mapping", record, "write it with `mirrors archive`")
            continue
        records[str(version)] = record
    if errors:
        raise SpecErrors(errors)
    return records


def render_record(version: str, record: Mapping[str, Any]) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096  # one destination per line, never folded
    out = StringIO()
    yaml.dump({"schema": SCHEMA, "version": version, "record": _plain_dict(record)}, out)
    return HEADER.format(version=version) + out.getvalue()


def _plain_dict(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain_dict(v) for k, v in sorted(value.items(), key=lambda kv: kv[0])}
    if isinstance(value, list):
        return [_plain_dict(v) for v in value]
    return value


def missing_record_warning(version: str, record_file: Path, stack: str) -> str:
    """The one line `mirrors plan` and `mirrors archive` print for a retired, unarchived release."""
    return (
        f"warning: release {version} leaves the supported-release window and has no archive "
        f"record ({record_file}): its audit (what it published where) would be lost. Hint: run "
        f"`mirrors archive --stack {stack}` before the update forgets it"
    )


def merged_outputs(outputs: Any, archived: Mapping[str, Mapping[str, Any]]) -> Any:
    """The stack outputs with every archived release the ``releases`` output lacks added back.

    What the stack records wins: a release back in the program is checked as it is now.
    """
    if not isinstance(outputs, dict) or not isinstance(outputs.get("releases"), dict):
        return outputs
    releases = dict(outputs["releases"])
    exported = outputs.get("archived")
    extra = dict(exported) if isinstance(exported, dict) else {}
    extra.update(archived)
    for version, record in extra.items():
        releases.setdefault(version, dict(record))
    return {**outputs, "releases": releases}
