"""The tags every mirrored AMI carries, computed without Pulumi.

`mirrors verify` checks them and the Pulumi layer (components/amis.py) sets them: one rule for
both, here in the library (which the CLI can import without loading Pulumi).
"""

from __future__ import annotations

from artifact_mirrors.spec.model import Release, ReleaseAmi, TagNames

MIRROR_OF = "mirror-of"
MIRROR_RELEASE = "mirror-release"
MIRROR_EDITION = "mirror-edition"


def mirror_tags(release: Release, ami: ReleaseAmi, tag_names: TagNames) -> dict[str, str]:
    """Tags on every copy: the source's identifying tags (so the same lookup that found the
    source finds its mirrors) plus where it came from. ``mirror-of`` is also how a re-run finds
    a restored GovCloud AMI."""
    return {
        "Name": ami.name,
        tag_names.version: release.name,
        tag_names.edition: ami.edition,
        tag_names.arch: ami.arch,
        tag_names.fips: "true" if ami.fips else "false",
        MIRROR_OF: f"{ami.id}@{ami.region}",
        MIRROR_RELEASE: release.name,
        MIRROR_EDITION: ami.key,
    }
