"""The supported-release window: which releases the Pulumi program keeps, so the stack stays small.

Every release adds about 300 resources; Teleport ships ~50 releases a year. The spec's ``window``
keeps, in the program, the newest ``patches`` releases of each of the newest ``majors`` majors
(semver order, pre-releases count like any release), plus:

- every release marked ``pinned: true`` in its manifest or listed in ``window.pinned``;
- every **yanked** release: a yank is an update the program makes (tags deleted, grants revoked),
  and the revocations must stay in the program, so a yanked release never leaves it; yanking a
  release outside the window brings it back for that reviewed update.

A yanked release does not use up one of a major's ``patches`` places (the window keeps
``patches`` live releases per major), so a yank never pushes a good release out.

A release outside the window leaves the program. All its resources are ``retain_on_delete``, so
the update *forgets* them (the engine drops them from state and leaves them in place: nothing is
unpublished), and floating tags are computed from the kept releases only, so they never point at
a retired one. What was published where is kept in ``mirrors/archive/``
(artifact_mirrors/archive.py) for `mirrors verify` and the audit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import semver

from artifact_mirrors.spec.errors import SpecError
from artifact_mirrors.spec.model import Project, Release, Window
from artifact_mirrors.spec.yamlio import Document

# Why a release is in the program (for `mirrors plan` and messages).
IN_WINDOW = "window"
PINNED = "pinned"
YANKED = "yanked"


@dataclass(frozen=True)
class Selection:
    kept: tuple[Release, ...]  # semver order, oldest first
    retired: tuple[Release, ...]
    why: dict[str, str]  # kept version -> IN_WINDOW | PINNED | YANKED

    def is_kept(self, version: str) -> bool:
        return version in self.why


def select(releases: Sequence[Release], window: Window | None) -> Selection:
    """Split ``releases`` into the ones the program keeps and the retired ones."""
    ordered = sorted(releases, key=lambda r: r.version)
    if window is None:
        return Selection(tuple(ordered), (), {r.name: IN_WINDOW for r in ordered})
    majors = sorted({r.version.major for r in ordered}, reverse=True)[: window.majors]
    why: dict[str, str] = {}
    for major in majors:
        live = [r for r in reversed(ordered) if r.version.major == major and not r.yanked]
        for r in live[: window.patches]:
            why[r.name] = IN_WINDOW
    pins = set(window.pinned)
    for r in ordered:
        if r.name in why:
            continue
        if r.yanked:
            why[r.name] = YANKED
        elif r.pinned or r.name in pins:
            why[r.name] = PINNED
    kept = tuple(r for r in ordered if r.name in why)
    retired = tuple(r for r in ordered if r.name not in why)
    return Selection(kept, retired, why)


def windowed(project: Project) -> Project:
    """The project as the program sees it: only the releases the window keeps."""
    if project.spec.window is None:
        return project
    return replace(project, releases=select(project.releases, project.spec.window).kept)


# ---- located checks (run by spec/load.py) --------------------------------------------------------


def check_window(doc: Document, window: Window) -> list[SpecError]:
    """Problems of the ``window`` section itself."""
    errors: list[SpecError] = []
    if window.patches < 1:
        path = ("window", "patches")
        errors.append(
            SpecError(
                doc.file,
                doc.line_of(path),
                path,
                "the window would drop the newest release of every major",
                window.patches,
                hint="keep at least 1 release per major (patches: 1 or more)",
            )
        )
    for i, pin in enumerate(window.pinned):
        try:
            semver.Version.parse(pin)
        except ValueError:
            at: tuple[str, str, int] = ("window", "pinned", i)
            errors.append(
                SpecError(
                    doc.file,
                    doc.line_of(at),
                    at,
                    "not a semantic version",
                    pin,
                    hint="write MAJOR.MINOR.PATCH without a leading v, e.g. 17.0.1",
                )
            )
    return errors


def check_pins(
    doc: Document | None,
    window: Window | None,
    releases: Iterable[Release],
    pinned_lines: dict[str, tuple[Document, int | None]],
) -> list[SpecError]:
    """Pins that name no manifest, and manifests pinned in a spec that has no window.

    ``pinned_lines``: version -> (its manifest, the line of ``pinned:``) for pinned manifests.
    """
    errors: list[SpecError] = []
    versions = {r.name for r in releases}
    if window is not None and doc is not None:
        for i, pin in enumerate(window.pinned):
            if pin in versions:
                continue
            path: tuple[str, str, int] = ("window", "pinned", i)
            known = ", ".join(sorted(versions, key=semver.Version.parse)[-3:]) or "none"
            errors.append(
                SpecError(
                    doc.file,
                    doc.line_of(path),
                    path,
                    "pinned release has no manifest",
                    pin,
                    hint=f"pin a release in mirrors/releases/ (newest: {known}) or remove it",
                )
            )
    if window is None:
        for _version, (manifest, line) in sorted(pinned_lines.items()):
            errors.append(
                SpecError(
                    manifest.file,
                    line,
                    ("pinned",),
                    "pinned has no effect: the spec has no window",
                    True,
                    hint="add 'window:' to destinations.yaml or remove 'pinned:'",
                )
            )
    return errors
