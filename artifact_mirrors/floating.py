"""Floating tags (``17``, ``17.0``, ``latest``): which release each one points at.

A floating tag is a pointer the spec allows to move. It points at the highest release (semver order)
of its channel that carries the image and renders to that tag; yanked releases and pre-releases are
never candidates. A floating tag whose only candidates are yanked is kept and marked unpublished, so
the yank update deletes it from the registry instead of leaving it on a recalled image.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

from artifact_mirrors.spec.model import Image, Release

FLOATING_FIELDS = ("major", "minor")
# https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")


def check_floating_template(template: str) -> str | None:
    """The problem with a floating-tag template, or None when it is usable."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError:
        return "not a valid tag template"
    for f in fields:
        if f not in FLOATING_FIELDS:
            return f"unknown field {{{f}}} in floating tag"
    sample = template.format(major=17, minor=0)
    if not TAG_RE.match(sample):
        return "does not render to a valid OCI tag"
    return None


def render(template: str, release: Release) -> str:
    return template.format(major=release.version.major, minor=release.version.minor)


@dataclass(frozen=True)
class FloatingTag:
    image: str
    tag: str
    release: str  # the release it points at (the newest yanked one when unpublished)
    digest: str
    published: bool


def compute_floating(images: Iterable[Image], releases: Iterable[Release]) -> list[FloatingTag]:
    """Every floating tag of every image, sorted by (image, tag)."""
    ordered = sorted(releases, key=lambda r: r.version)
    result: list[FloatingTag] = []
    for image in images:
        best: dict[str, tuple[Release, bool]] = {}
        for release in ordered:
            if image.name not in release.images or release.prerelease:
                continue
            for template in image.floating_tags.get(release.channel, ()):
                tag = render(template, release)
                current = best.get(tag)
                live = not release.yanked
                # Ascending order: a later live release always wins; a yanked one only replaces
                # another yanked one (so an all-yanked group still names its newest release).
                if current is None or live or not current[1]:
                    best[tag] = (release, live)
        for tag, (release, live) in sorted(best.items()):
            digest = release.images[image.name].digest
            result.append(FloatingTag(image.name, tag, release.name, digest, live))
    return result
