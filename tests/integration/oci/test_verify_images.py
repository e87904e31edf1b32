"""`mirrors verify --images-only` against real docker-registry servers: tags mirrored with the
copier the Pulumi layer uses, then drifted the ways that happen in practice."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.cli import app
from artifact_mirrors.oci import CredentialStore, Registries, copy_image
from artifact_mirrors.oci.env import INSECURE_ENV
from tests.integration.oci.conftest import AUTH_USER
from tests.integration.oci.images import Pusher, SourceImages
from tests.integration.oci.servers import CertAuthority, RegistryServer

SPEC = """\
version: 1
labels:
  image_description: templates/image-description.j2
  image_full_description: templates/image-full-description.md.j2
  ami_description: templates/ami-description.j2
registries:
  - {{name: local, kind: oci, host: {host}, namespace: {namespace}, insecure: true}}
images:
  - name: app
    source: {source}
    registries: [local]
    platforms: [linux/amd64, linux/arm, linux/arm64]
    floating_tags:
      stable: ["{{major}}", "{{major}}.{{minor}}"]
"""
MANIFEST = """\
version: {version}
channel: stable
images:
  app:
    digest: {digest}
    platforms: [{platforms}]
"""
YANKED = "yanked: true\nreason: CVE-2026-0001 in the bundled OpenSSL\n"
HEADER = [
    "",
    "| severity | kind | release | key | where | mirror | check | expected | actual |",
    "|---|---|---|---|---|---|---|---|---|",
]


@dataclass(frozen=True)
class Stack:
    """A project whose spec mirrors one image to the dst registry, two releases pinned."""

    root: Path
    namespace: str  # repository path at the dst registry, without the host
    repository: str  # as the spec and the outputs name it: HOST/NAMESPACE/app
    old: str  # 17.0.0's digest (a Docker manifest list, unsigned)
    new: str  # 17.0.1's digest (an OCI index, every manifest signed)

    def ref(self, tag: str) -> str:
        return f"{self.repository}:{tag}"


@pytest.fixture
def stack(
    project: Path,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    source: SourceImages,
    monkeypatch: pytest.MonkeyPatch,
) -> Stack:
    namespace = f"verify{uuid.uuid4().hex[:10]}"
    (project / "mirrors/destinations.yaml").write_text(
        SPEC.format(
            host=dst_registry.host,
            namespace=namespace,
            source=f"{src_registry.host}/{source.repo}",
        )
    )
    for manifest in (project / "mirrors/releases").glob("*.yaml"):
        manifest.unlink()
    # The first-party stand-in speaks plain HTTP; the mirror is `insecure: true` in the spec.
    monkeypatch.setenv(INSECURE_ENV, src_registry.host)
    return Stack(
        project,
        f"{namespace}/app",
        f"{dst_registry.host}/{namespace}/app",
        source.docker_list,
        source.index,
    )


def pin(stack: Stack, *, yanked: bool = False) -> None:
    """Write both release manifests (17.0.0 possibly yanked)."""
    releases = stack.root / "mirrors/releases"
    (releases / "17.0.0.yaml").write_text(
        MANIFEST.format(version="17.0.0", digest=stack.old, platforms="linux/amd64, linux/arm64")
        + (YANKED if yanked else "")
    )
    (releases / "17.0.1.yaml").write_text(
        MANIFEST.format(
            version="17.0.1", digest=stack.new, platforms="linux/amd64, linux/arm/v7, linux/arm64"
        )
    )


def write_outputs(stack: Stack, *, yanked: bool = False) -> None:
    """What `pulumi stack output --json` prints after `pulumi up` (components/program.py)."""

    def release(tag: str, digest: str, is_yanked: bool) -> dict[str, object]:
        return {
            "channel": "stable",
            "yanked": is_yanked,
            "reason": "CVE-2026-0001 in the bundled OpenSSL" if is_yanked else None,
            "images": {stack.ref(tag): digest},
            "amis": {},
            "terraform_providers": {},
        }

    floating = {"release": "17.0.1", "digest": stack.new, "published": "true"}
    outputs = {
        "releases": {
            "17.0.0": release("17.0.0", stack.old, yanked),
            "17.0.1": release("17.0.1", stack.new, False),
        },
        "floating_tags": {stack.ref("17"): floating, stack.ref("17.0"): floating},
        "archived": {},  # no release has left the supported-release window
    }
    (stack.root / "outputs.json").write_text(json.dumps(outputs), encoding="utf-8")


def mirror(
    stack: Stack,
    src_registry: RegistryServer,
    source: SourceImages,
    registries: Registries,
    *,
    release_tags: dict[str, str] | None = None,
    floating_to: str | None = None,
) -> None:
    """Copy as `pulumi up` does: each release tag, then the floating tags (17, 17.0)."""
    src = f"{src_registry.host}/{source.repo}"
    tags = release_tags if release_tags is not None else {"17.0.0": stack.old, "17.0.1": stack.new}
    for tag, digest in tags.items():
        copy_image(f"{src}@{digest}", stack.repository, tag, registries=registries)
    for tag in ("17", "17.0"):
        digest = floating_to or stack.new
        copy_image(f"{src}@{digest}", stack.repository, tag, floating=True, registries=registries)


def verify(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["verify", "--stack", "prod", "--outputs", "outputs.json", "--images-only", *args]
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def mirrored(
    stack: Stack, src_registry: RegistryServer, source: SourceImages, registries: Registries
) -> Stack:
    """Both releases pinned, mirrored and recorded in the outputs: a clean stack."""
    pin(stack)
    mirror(stack, src_registry, source, registries)
    write_outputs(stack)
    return stack


def test_clean_mirror_passes(mirrored: Stack) -> None:
    assert verify("--format", "markdown") == (0, "**4 image tags verified: no drift**\n", "")


def test_clean_mirror_passes_deep(mirrored: Stack) -> None:
    # Every manifest of both trees byte for byte, and the index's and its children's .sig tags.
    assert verify("--format", "markdown", "--deep") == (
        0,
        "**4 image tags verified: no drift**\n",
        "",
    )


def test_tag_deleted_behind_our_back(mirrored: Stack, dst_pusher: Pusher) -> None:
    # docker-registry deletes by digest: 17.0.0 is the only tag on the manifest list.
    dst_pusher.http.delete(f"/v2/{mirrored.namespace}/manifests/{mirrored.old}").raise_for_status()

    code, out, err = verify("--format", "markdown")

    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "**4 image tags verified: 1 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | image | 17.0.0 | app | local | {mirrored.ref('17.0.0')} | tag | {mirrored.old}"
        " | missing |",
    ]


def test_tag_moved_to_another_digest(mirrored: Stack, dst_pusher: Pusher) -> None:
    # Someone pushed 17.0.0's image over 17.0.1 at the mirror.
    raw, media_type = dst_pusher.raw_manifest(mirrored.namespace, "17.0.0")
    dst_pusher.manifest(mirrored.namespace, "17.0.1", raw, media_type)

    code, out, _ = verify("--format", "markdown")

    assert code == 1
    assert out.splitlines() == [
        "**4 image tags verified: 1 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | image | 17.0.1 | app | local | {mirrored.ref('17.0.1')} | tag | {mirrored.new}"
        f" | moved to {mirrored.old} (17.0.0) |",
    ]


def test_moved_tag_in_the_table(mirrored: Stack, dst_pusher: Pusher) -> None:
    raw, media_type = dst_pusher.raw_manifest(mirrored.namespace, "17.0.0")
    dst_pusher.manifest(mirrored.namespace, "17.0.1", raw, media_type)

    code, out, _ = verify()

    assert code == 1
    assert "4 image tags verified: 1 error(s), 0 warning(s)" in out
    # Long cells are folded over several lines: join each column's pieces back together.
    lines = [line for line in out.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in lines]
    columns = ["".join(column) for column in zip(*cells, strict=True)]
    assert columns[:8] == [
        "error",
        "image",
        "17.0.1",
        "app",
        "local",
        mirrored.ref("17.0.1"),
        "tag",
        mirrored.new,
    ]
    # Words wrap at spaces (which the fold drops), digests fold anywhere.
    assert columns[8].replace(" ", "") == f"movedto{mirrored.old}(17.0.0)"


def test_moved_tag_in_json(mirrored: Stack, dst_pusher: Pusher) -> None:
    raw, media_type = dst_pusher.raw_manifest(mirrored.namespace, "17.0.0")
    dst_pusher.manifest(mirrored.namespace, "17.0.1", raw, media_type)

    code, out, _ = verify("--format", "json")

    assert code == 1
    assert json.loads(out) == {
        "schema": "artifact-mirrors/verify/v1",
        "stack": "prod",
        "checked": 0,
        "images_checked": 4,
        "provider_objects_checked": 0,
        "errors": 1,
        "warnings": 0,
        "findings": [
            {
                "severity": "error",
                "release": "17.0.1",
                "key": "app",
                "region": "local",
                "image_id": mirrored.ref("17.0.1"),
                "check": "tag",
                "expected": mirrored.new,
                "actual": f"moved to {mirrored.old} (17.0.0)",
                "kind": "image",
            }
        ],
    }


def test_yanked_release_still_present(
    stack: Stack, src_registry: RegistryServer, source: SourceImages, registries: Registries
) -> None:
    # 17.0.0 was recalled and the update ran, but its tag was not deleted at the mirror.
    pin(stack, yanked=True)
    mirror(stack, src_registry, source, registries)
    write_outputs(stack, yanked=True)

    code, out, _ = verify("--format", "markdown")

    assert code == 1
    assert out.splitlines() == [
        "**4 image tags verified: 1 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | image | 17.0.0 | app | local | {stack.ref('17.0.0')} | yanked | absent"
        f" | present: {stack.old} |",
    ]


def test_yank_not_applied_yet_counts_as_drift(mirrored: Stack) -> None:
    # The manifest says yanked, the stack was not updated: still drift, as for AMIs.
    pin(mirrored, yanked=True)

    code, out, _ = verify("--format", "markdown")

    assert code == 1
    assert out.splitlines()[4] == (
        f"| error | image | 17.0.0 | app | local | {mirrored.ref('17.0.0')} | yanked | absent"
        f" | present: {mirrored.old} |"
    )


def test_floating_tag_left_on_the_previous_release(
    stack: Stack, src_registry: RegistryServer, source: SourceImages, registries: Registries
) -> None:
    # The update that should have moved 17 and 17.0 to 17.0.1 never reached this registry.
    pin(stack)
    mirror(stack, src_registry, source, registries, floating_to=stack.old)
    write_outputs(stack)

    code, out, _ = verify("--format", "markdown")

    assert code == 1
    assert out.splitlines() == [
        "**4 image tags verified: 2 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | image | 17.0.1 | app | local | {stack.ref('17')} | floating | {stack.new}"
        f" | points at {stack.old} (17.0.0) |",
        f"| error | image | 17.0.1 | app | local | {stack.ref('17.0')} | floating | {stack.new}"
        f" | points at {stack.old} (17.0.0) |",
    ]


def test_release_not_deployed_yet_is_a_warning(mirrored: Stack, source: SourceImages) -> None:
    # 17.0.2 was pinned in the repository; `pulumi up` has not run: the outputs lag behind.
    amd64 = source.children[0]
    (mirrored.root / "mirrors/releases/17.0.2.yaml").write_text(
        MANIFEST.format(version="17.0.2", digest=amd64, platforms="linux/amd64")
    )
    outputs = json.loads((mirrored.root / "outputs.json").read_text())
    outputs["releases"]["17.0.2"] = {"yanked": False, "images": {}, "amis": {}}
    (mirrored.root / "outputs.json").write_text(json.dumps(outputs))

    code, out, _ = verify("--format", "markdown")

    assert code == 0
    assert out.splitlines() == [
        "**4 image tags verified: 0 error(s), 3 warning(s)**",
        *HEADER,
        f"| warning | image | 17.0.2 | app | local | {mirrored.ref('17')} | deployed"
        f" | {amd64} (manifests) | {mirrored.new} deployed: run pulumi preview |",
        f"| warning | image | 17.0.2 | app | local | {mirrored.ref('17.0')} | deployed"
        f" | {amd64} (manifests) | {mirrored.new} deployed: run pulumi preview |",
        f"| warning | image | 17.0.2 | app | local | {mirrored.ref('17.0.2')} | deployed"
        " | in stack outputs | not deployed: run pulumi preview |",
    ]


def test_deep_finds_a_signature_missing_at_the_mirror(
    mirrored: Stack, source: SourceImages, dst_pusher: Pusher
) -> None:
    sig_tag = source.index.replace(":", "-") + ".sig"
    sig = source.signatures[sig_tag]
    dst_pusher.http.delete(f"/v2/{mirrored.namespace}/manifests/{sig}").raise_for_status()

    assert verify("--format", "markdown")[0] == 0  # tags alone look fine
    code, out, _ = verify("--format", "markdown", "--deep")

    assert code == 1
    assert out.splitlines() == [
        "**4 image tags verified: 1 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | image | 17.0.1 | app | local | {mirrored.repository}:{sig_tag} | signature"
        f" | {sig} | missing |",
    ]


def test_deep_finds_a_child_manifest_missing_at_the_mirror(
    mirrored: Stack, source: SourceImages, dst_pusher: Pusher
) -> None:
    # A garbage-collected platform: the index still resolves, arm64 no longer pulls.
    child = source.children[1]
    dst_pusher.http.delete(f"/v2/{mirrored.namespace}/manifests/{child}").raise_for_status()

    code, out, _ = verify("--format", "markdown", "--deep")

    assert code == 1
    assert out.splitlines() == [
        "**4 image tags verified: 1 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | image | 17.0.1 | app | local | {mirrored.repository}@{child} | manifest"
        " | present | missing |",
    ]


AUTH_SPEC_REGISTRY = (
    "  - {{name: local, kind: oci, host: {host}, namespace: {namespace},"
    " tls: {{ca_file: {ca}}}, credentials: {{from: env, username_env: VERIFY_USER,"
    " password_env: VERIFY_PASSWORD}}}}\n"
)


def test_credentials_and_ca_file_come_from_the_spec(
    stack: Stack,
    src_registry: RegistryServer,
    auth_registry: RegistryServer,
    source: SourceImages,
    test_ca: CertAuthority,
    auth_password: str,
    make_registries: Callable[..., Registries],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The mirror needs a login and speaks TLS with a private CA; the spec names both.
    spec = stack.root / "mirrors/destinations.yaml"
    lines = spec.read_text().splitlines(keepends=True)
    namespace = stack.namespace.split("/")[0]
    lines[6] = AUTH_SPEC_REGISTRY.format(
        host=auth_registry.host, namespace=namespace, ca=test_ca.ca_cert
    )
    spec.write_text("".join(lines))
    auth = Stack(
        stack.root,
        stack.namespace,
        f"{auth_registry.host}/{stack.namespace}",
        stack.old,
        stack.new,
    )
    pin(auth)
    regs = make_registries(
        credentials=CredentialStore({auth_registry.host: (AUTH_USER, auth_password)}),
        ca_files={auth_registry.host: test_ca.ca_cert},
    )
    mirror(auth, src_registry, source, regs)
    write_outputs(auth)
    monkeypatch.setenv("VERIFY_USER", AUTH_USER)
    monkeypatch.setenv("VERIFY_PASSWORD", auth_password)

    assert verify("--format", "markdown") == (0, "**4 image tags verified: no drift**\n", "")

    # Without them verify reads anonymously (what users of a public mirror see): denied here.
    monkeypatch.delenv("VERIFY_PASSWORD")
    host = auth_registry.host
    env_key = host.replace(".", "_").replace(":", "_")
    code, out, _ = verify("--format", "markdown")
    assert code == 1
    assert out.splitlines()[4] == (
        f"| error | image | 17.0.0 | app | local | {auth.ref('17.0.0')} | tag | {auth.old}"
        f" | cannot check: resolve failed: {auth.ref('17.0.0')}: HTTP 401 UNAUTHORIZED:"
        f" authentication required (no credentials for {host}: docker login {host}, or set"
        f" MIRRORS_REGISTRY_AUTH_{env_key}_USERNAME/_PASSWORD) |"
    )


def test_images_only_and_amis_only_exclude_each_other(mirrored: Stack) -> None:
    code, out, err = verify("--amis-only")

    assert (code, out) == (2, "")
    assert err == (
        "--images-only: cannot be combined with --amis-only (got both). Hint: leave both out to"
        " check images and AMIs\n"
    )


def test_bad_reference_in_outputs_is_located(mirrored: Stack) -> None:
    (mirrored.root / "outputs.json").write_text(
        json.dumps({"releases": {"17.0.1": {"images": {"no-tag-here": mirrored.new}}}})
    )

    code, out, err = verify()

    assert (code, out) == (2, "")
    assert err == (
        "outputs.json: releases.17.0.1.images.no-tag-here: not a REPOSITORY:TAG reference"
        " (got no-tag-here). Hint: keys read REPOSITORY:TAG, e.g."
        " docker.io/gravitational/teleport:17.0.1\n"
    )


def test_plan_outputs_are_the_stack_outputs_and_verify_a_copy_without_pulumi(
    stack: Stack, src_registry: RegistryServer, source: SourceImages, registries: Registries
) -> None:
    # `mirrors plan --format outputs` writes exactly what `pulumi stack output --json` would.
    pin(stack)
    plan = CliRunner().invoke(
        app, ["plan", "--stack", "prod", "--format", "outputs", "-o", "plan-outputs.json"]
    )
    assert (plan.exit_code, plan.stdout, plan.stderr) == (0, "", "")
    write_outputs(stack)
    written = json.loads((stack.root / "outputs.json").read_text(encoding="utf-8"))
    planned = json.loads((stack.root / "plan-outputs.json").read_text(encoding="utf-8"))
    assert planned == written

    # Before the copy: every tag missing. After an emergency manual copy: no drift.
    (stack.root / "outputs.json").write_text(json.dumps(planned), encoding="utf-8")
    code, out, _ = verify("--format", "json")
    assert code == 1
    assert json.loads(out)["errors"] == 4
    mirror(stack, src_registry, source, registries)
    assert verify("--format", "markdown") == (0, "**4 image tags verified: no drift**\n", "")
