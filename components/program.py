"""The Pulumi program: spec + release manifests -> components. `__main__.py` only calls `run`.

`mirrors plan` runs this same function under Pulumi's mocks, so the plan a reviewer reads is the
program `pulumi up` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi

from artifact_mirrors import naming
from artifact_mirrors.archive import archive_dir, load_archive
from artifact_mirrors.floating import compute_floating
from artifact_mirrors.spec.errors import SpecErrors
from artifact_mirrors.spec.load import load_project
from artifact_mirrors.spec.model import Project, Release
from artifact_mirrors.terraform import layout
from artifact_mirrors.window import windowed
from components import preflight
from components.aws_partition import AwsProviders
from components.images import RegistryMirror, RegistryMirrorArgs
from components.release import ReleaseMirror, ReleaseMirrorArgs
from components.scope import CommercialMirrors, ScopeError, scope_from_config, scoped
from components.terraform import TerraformProviderMirror

CONFIG_NAMESPACE = naming.PROJECT
DEFAULT_SPEC = "mirrors/destinations.yaml"
DEFAULT_RELEASES = "mirrors/releases"


def paths(project_dir: Path, config: pulumi.Config) -> tuple[Path, Path]:
    spec = project_dir / (config.get("spec") or DEFAULT_SPEC)
    releases = project_dir / (config.get("releasesDir") or DEFAULT_RELEASES)
    return spec, releases


def build(
    project: Project,
    commercial: CommercialMirrors | None = None,
    settle: Callable[[pulumi.Resource], None] | None = None,
    listed: Sequence[Release] | None = None,
    archived: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Declare every resource; return the audit record (release -> destination -> digest/AMI).

    ``commercial``: a GovCloud-scoped stack's transfer sources (see components.scope).
    ``archived``: version -> archive record; a release back in the program (re-entering the
    window, or yanked after it left) reads its AMI copies by the recorded ids (components.amis).
    ``settle``: called with each release's component once it is declared (the mock run lets its
    registrations finish there, components.mockspeed.Settle); ``pulumi up`` passes nothing."""
    spec = project.spec
    providers = AwsProviders(spec.amis.partitions if spec.amis else {})
    registries: dict[str, RegistryMirror] = {}
    for reg in spec.registries.values():
        images = tuple(i for i in spec.images.values() if reg.name in i.registries)
        charts = tuple(c for c in spec.charts.values() if reg.name in c.registries)
        if images or charts:
            registries[reg.name] = RegistryMirror(
                naming.registry_mirror(reg.name),
                RegistryMirrorArgs(reg, images, spec.labels, providers, charts),
            )

    terraform = {
        p.name: TerraformProviderMirror(naming.terraform_provider(p.name), p)
        for p in spec.terraform_providers.values()
    }
    releases: dict[str, ReleaseMirror] = {}
    for r in project.releases:
        releases[r.name] = ReleaseMirror(
            naming.release(r.name),
            ReleaseMirrorArgs(
                r,
                spec,
                registries,
                providers,
                commercial,
                terraform,
                archived=(archived or {}).get(r.name),
            ),
        )
        if settle is not None:
            settle(releases[r.name])
    well_known = layout.well_known_owners(spec.terraform_providers.values())
    for name, tf_mirror in terraform.items():
        # ``listed``: also the releases the window retired; their files stay (retained), so the
        # index keeps them installable: leaving the window unpublishes nothing.
        tf_mirror.publish_index(
            listed if listed is not None else project.releases,
            {v: r.terraform[name] for v, r in releases.items() if name in r.terraform},
            well_known,
        )

    floating: dict[str, dict[str, str]] = {}
    for ft in compute_floating(spec.images.values(), project.releases):
        image = spec.images[ft.image]
        release = project.release(ft.release)
        assert release is not None
        for reg_name in image.registries:
            reg = spec.registries[reg_name]
            target = releases[ft.release].image_tags[
                f"{reg.repository(image.repository)}:{ft.release}"
            ]
            registries[reg_name].floating_tag(image, release, ft, [target.tag])
            ref = f"{reg.repository(image.repository)}:{ft.tag}"
            floating[ref] = {
                "release": ft.release,
                "digest": ft.digest,
                "published": "true" if ft.published else "false",
            }
    return {
        "releases": {name: r.audit for name, r in releases.items()},
        "floating_tags": floating,
        "terraform_providers": {
            p.name: {
                d.name: {
                    "kind": d.kind,
                    "bucket": d.bucket,
                    "prefix": d.prefix,
                    "region": d.region,
                    "profile": d.profile,
                }
                for d in p.destinations
            }
            for p in spec.terraform_providers.values()
        },
    }


def run(
    project_dir: Path | None = None,
    *,
    offline: bool = False,
    settle: Callable[[pulumi.Resource], None] | None = None,
    loaded: Project | None = None,
) -> None:
    """The program. ``offline`` (mirrors plan): no AWS calls, so no preflight. ``loaded``: the
    project as the caller loaded it from the spec and releases directory this config names
    (the mock run; loading 40 manifests takes ~1.7 s); ``pulumi up`` loads it here."""
    root = project_dir or Path.cwd()
    config = pulumi.Config(CONFIG_NAMESPACE)
    spec_file, releases_dir = paths(root, config)
    try:
        scope = scope_from_config(config)
        whole = loaded if loaded is not None else load_project(spec_file, releases_dir)
        # Only the releases the supported-release window keeps (artifact_mirrors/window.py);
        # the archive records the ones that left it (artifact_mirrors/archive.py).
        project = windowed(scoped(whole, scope))
        archived = load_archive(archive_dir(releases_dir))
    except SpecErrors as exc:
        # One located line per problem; RunError prints without a Python traceback.
        raise pulumi.RunError(f"invalid mirror spec:\n{exc}") from None
    except ScopeError as exc:
        raise pulumi.RunError(str(exc)) from None
    if not offline:
        # Credentials (and the account they belong to) and block public access, before anything
        # is registered: a preview fails with one line per problem, never a traceback.
        preflight.run(project)
    commercial = None
    if scope.commercial_stack:
        aws = whole.spec.amis.partitions.get("aws") if whole.spec.amis else None
        commercial = CommercialMirrors(scope.commercial_stack, aws, offline=offline)
    audit = build(
        project, commercial, settle, listed=scoped(whole, scope).releases, archived=archived
    )
    pulumi.export("releases", audit["releases"])
    pulumi.export("floating_tags", audit["floating_tags"])
    # Retired releases stay in the audit: what they published where, as archived.
    kept = {r.name for r in project.releases}
    pulumi.export("archived", {v: rec for v, rec in sorted(archived.items()) if v not in kept})
    if audit["terraform_providers"]:
        pulumi.export("terraform_providers", audit["terraform_providers"])
