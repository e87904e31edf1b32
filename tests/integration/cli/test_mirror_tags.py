"""The tags every mirror carries (set by components/amis.py, checked by `mirrors verify`)."""

from __future__ import annotations

from artifact_mirrors.mirror_tags import mirror_tags
from artifact_mirrors.spec.load import load_project
from tests.conftest import ROOT


def test_same_tags_as_the_pulumi_layer() -> None:
    project = load_project(ROOT / "mirrors/destinations.yaml", ROOT / "mirrors/releases")
    assert project.spec.amis is not None
    names = project.spec.amis.tags
    pairs = [(r, a) for r in project.releases for a in r.amis]
    assert len(pairs) >= 12  # every shipped manifest's AMIs, FIPS and arm64 among them
    mirror_of = {mirror_tags(r, a, names)["mirror-of"] for r, a in pairs}
    assert len(mirror_of) == len(pairs)  # each source AMI is recognisable from its copies
    release, ami = next((r, a) for r, a in pairs if a.fips and a.arch == "arm64")
    assert mirror_tags(release, ami, names) == {
        "Name": ami.name,
        "TeleportVersion": release.name,
        "TeleportEdition": "ent",
        "Architecture": "arm64",
        "TeleportFipsEnabled": "true",
        "mirror-of": f"{ami.id}@{ami.region}",
        "mirror-release": release.name,
        "mirror-edition": "ent-fips-arm64",
    }
