"""Two Terraform providers served from one site (same bucket and prefix), as step plans.

A site has one discovery document, ``/.well-known/terraform.json``, however many providers it
serves (each under its own ``v1/providers/NAMESPACE/TYPE``); before, each provider's registry
destination declared its own, so a second provider on the site was two resources owning one S3
object (and the spec refused the second destination).
"""

from __future__ import annotations

from artifact_mirrors.steps import Op, State

from .conftest import PlanOf, Scenario, counts, deleted

DESTINATIONS = "mirrors/destinations.yaml"
WELL_KNOWN = ".well-known/terraform.json"

SECOND = """\
  - name: teleport-beta
    namespace: gravitational
    type: teleportbeta
    source: https://terraform.releases.teleport.dev
    platforms: [linux/amd64]
    destinations:
      - name: registry
        kind: registry
        bucket: teleport-terraform-mirror
        region: us-east-1
        profile: teleport-terraform-mirrors
      - name: network-mirror
        kind: network-mirror
        bucket: teleport-terraform-mirror
        prefix: network-mirror
        region: us-east-1
        profile: teleport-terraform-mirrors
"""


def add_to_section(text: str, section: str, block: str) -> str:
    """``block`` appended to the top-level list ``section:`` (other sections may follow it)."""
    head, rest = text.split(f"\n{section}:\n", 1)
    lines = rest.split("\n")
    end = next(
        (i for i, line in enumerate(lines) if line and not line.startswith((" ", "#"))),
        len(lines),
    )
    body = "\n".join(lines[:end]).rstrip("\n")
    return f"{head}\n{section}:\n{body}\n{block.rstrip()}\n" + "\n".join(lines[end:])


def second_provider(scenario: Scenario) -> None:
    """A second provider on both of the first one's sites, pinned by 18.6.6 (linux/amd64)."""
    text = (scenario.root / DESTINATIONS).read_text(encoding="utf-8")
    (scenario.root / DESTINATIONS).write_text(
        add_to_section(text, "terraform_providers", SECOND), encoding="utf-8"
    )
    manifest = scenario.root / "mirrors/releases/18.6.6.yaml"
    text = manifest.read_text(encoding="utf-8")
    block = text.split("\nterraform_providers:\n", 1)[1]
    pins = block.split("\n    platforms:\n", 1)[0]  # version, protocols, signing key
    linux = block.split("      linux/amd64:\n", 1)[1].split("      linux/arm64:\n", 1)[0]
    beta = pins.replace("  teleport:\n", "  teleport-beta:\n", 1)
    linux = linux.replace("terraform-provider-teleport-", "terraform-provider-teleportbeta-")
    extra = f"{beta}\n    platforms:\n      linux/amd64:\n{linux}"
    manifest.write_text(add_to_section(text, "terraform_providers", extra), encoding="utf-8")


def well_known(states: list[State]) -> list[State]:
    return [s for s in states if s.name.endswith("/" + WELL_KNOWN)]


def test_a_second_provider_on_the_same_site_shares_its_discovery_document(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    second_provider(scenario)
    new = scenario.render()
    plan = plan_of(base, new)

    # One discovery document for the registry site, still the first provider's resource.
    (doc,) = well_known(new)
    assert (doc.name, doc.inputs["bucket"], doc.inputs["key"]) == (
        f"terraform/teleport@registry/{WELL_KNOWN}",
        "teleport-terraform-mirror",
        WELL_KNOWN,
    )
    assert [s.urn for s in well_known(base)] == [doc.urn]
    assert counts(plan) == {
        # linux/amd64 x (zip, sums, sig) x 2 destinations, its download document and
        # VERSION.json, and the new provider's versions and index.json.
        ("create", "ProviderFile"): 6,
        ("create", "BucketObjectv2"): 4,
        ("create", "aws"): 2,  # its destinations' AWS providers
    }
    by_urn = {s.urn: s for s in new}
    created = {by_urn[s.urn].inputs.get("key") for s in plan.of(Op.create)} - {None}
    assert created == {
        "v1/providers/gravitational/teleportbeta/versions",
        "v1/providers/gravitational/teleportbeta/18.6.6/download/linux/amd64",
        "network-mirror/terraform.releases.teleport.dev/gravitational/teleportbeta/index.json",
        "network-mirror/terraform.releases.teleport.dev/gravitational/teleportbeta/18.6.6.json",
    } | {
        f"{where}terraform-provider-teleportbeta-v18.6.6-linux-amd64-bin.zip{ext}"
        for where in (
            "v1/providers/gravitational/teleportbeta/18.6.6/",
            "network-mirror/terraform.releases.teleport.dev/gravitational/teleportbeta/",
        )
        for ext in ("", ".sums", ".sums.sig")
    }
    assert deleted(plan) == []


def test_the_same_provider_address_twice_on_one_site_is_still_refused(
    scenario: Scenario,
) -> None:
    from artifact_mirrors.spec.errors import SpecErrors
    from artifact_mirrors.spec.load import load_project

    text = (scenario.root / DESTINATIONS).read_text(encoding="utf-8")
    (scenario.root / DESTINATIONS).write_text(
        add_to_section(
            text, "terraform_providers", SECOND.replace("type: teleportbeta", "type: teleport")
        ),
        encoding="utf-8",
    )
    try:
        load_project(scenario.root / DESTINATIONS, scenario.root / "mirrors/releases")
    except SpecErrors as exc:
        lines = str(exc).splitlines()
    else:
        raise AssertionError("the spec was accepted")
    spec = (scenario.root / DESTINATIONS).read_text(encoding="utf-8").splitlines()
    start = spec.index("  - name: teleport-beta")
    registry, network = (
        spec.index(f"      - name: {name}", start) + 1 for name in ("registry", "network-mirror")
    )
    assert lines == [
        f"{scenario.root / DESTINATIONS}:{registry}: "
        "terraform_providers[1].destinations[0].prefix: duplicate destination: "
        "teleport/registry already mirrors gravitational/teleport to this bucket and prefix in "
        "the same layout (got s3://teleport-terraform-mirror). Hint: give each destination its "
        "own prefix",
        f"{scenario.root / DESTINATIONS}:{network + 3}: "
        "terraform_providers[1].destinations[1].prefix: duplicate destination: "
        "teleport/network-mirror already mirrors gravitational/teleport to this bucket and "
        "prefix in the same layout (got s3://teleport-terraform-mirror/network-mirror). Hint: "
        "give each destination its own prefix",
    ]
