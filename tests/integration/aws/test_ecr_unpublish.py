"""A yank unpublishes from ECR with BatchDeleteImage: the real ImageTag provider, real moto_server.

ECR has no tag DELETE in the distribution API, so before this the yank update failed there. The
provider server inherits the moto fixture's environment (MIRRORS_AWS_ENDPOINT_URL, the temporary
shared-credentials file), so the provider reads the registry's profile at call time, as in prod.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from artifact_mirrors.oci import ecr
from components.dynamic.image_tag import ImageTagProvider
from tests.integration.aws.helpers import MOTO_ACCOUNT
from tests.providers.harness import ProviderDriver, ProviderError, provider_server, urn

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

TYPE = "pulumi-python:dynamic/artifact-mirrors:ImageTag"
REGION = "eu-west-1"
HOST = f"{MOTO_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
REPO = "mirror/teleport-distroless"
DIGEST = "sha256:" + "ab" * 32
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:" + "44" * 32,
        },
        "layers": [],
    }
)


@pytest.fixture
def ecr_client(moto: str) -> ECRClient:
    session = boto3.Session(profile_name="commercial")
    client: ECRClient = session.client("ecr", region_name=REGION, endpoint_url=moto)
    client.create_repository(repositoryName=REPO)
    for tag in ("15.1.6", "15.1"):
        client.put_image(repositoryName=REPO, imageManifest=MANIFEST, imageTag=tag)
    return client


@pytest.fixture
def driver(moto: str) -> Iterator[ProviderDriver]:
    # Started per test: the moto fixture's environment is per test too.
    with provider_server() as server:
        yield server.driver(ImageTagProvider())


def tag_props(published: bool, tag: str = "15.1.6", profile: str = "commercial") -> dict[str, Any]:
    return {
        "registry": "ecr",
        "release": "15.1.6",
        "source": f"public.ecr.aws/gravitational/teleport-distroless@{DIGEST}",
        "repository": f"{HOST}/{REPO}",
        "tag": tag,
        "digest": DIGEST,
        "floating": False,
        "published": published,
        "signatures": True,
        "registry_kind": "ecr",
        "insecure": False,
        "tls_verify": True,
        "ca_file": None,
        "credentials": {"source": "aws", "profile": profile},
    }


def tags(client: ECRClient) -> list[str]:
    images = client.describe_images(repositoryName=REPO)["imageDetails"]
    return sorted(t for image in images for t in image.get("imageTags", []))


def test_yank_update_deletes_only_the_release_tag_and_is_idempotent(
    driver: ProviderDriver, ecr_client: ECRClient
) -> None:
    res = urn("ecr/teleport-distroless:15.1.6", TYPE)
    olds = {**tag_props(True), "platforms": ["linux/amd64"], "signature_digests": {}}
    yanked = tag_props(False)
    assert driver.diff(f"{HOST}/{REPO}:15.1.6", res, olds, yanked).changes.value == "some"

    outputs = driver.update(f"{HOST}/{REPO}:15.1.6", res, olds, yanked)
    assert (outputs["published"], outputs["platforms"], outputs["signature_digests"]) == (
        False,
        [],
        {},
    )
    # The floating tag on the same image stays; only the release tag is gone.
    assert tags(ecr_client) == ["15.1"]

    # Again (e.g. `pulumi up` retried, or delete of the yanked resource): the tag is absent.
    again = driver.update(f"{HOST}/{REPO}:15.1.6", res, outputs, yanked)
    assert again["published"] is False
    driver.delete(f"{HOST}/{REPO}:15.1.6", res, again)
    assert tags(ecr_client) == ["15.1"]


def test_yank_in_a_repository_that_does_not_exist_is_a_no_op(driver: ProviderDriver) -> None:
    res = urn("ecr/never-created:15.1.6", TYPE)
    props = {**tag_props(False), "repository": f"{HOST}/mirror/never-created"}
    assert driver.create(res, props).outputs["platforms"] == []


def test_an_unknown_profile_is_a_one_line_error(
    driver: ProviderDriver, ecr_client: ECRClient
) -> None:
    res = urn("ecr/teleport-distroless:15.1.6", TYPE)
    with pytest.raises(ProviderError) as caught:
        driver.create(res, tag_props(False, profile="no-such-profile"))
    assert str(caught.value) == (
        f"{HOST}/{REPO}:15.1.6: ECR {REPO}:15.1.6: BatchDeleteImage failed: "
        "ProfileNotFound: The config profile (no-such-profile) could not be found"
    )
    assert tags(ecr_client) == ["15.1", "15.1.6"]


def test_library_reports_absent_and_deleted(ecr_client: ECRClient) -> None:
    target = ecr.EcrTag.parse("ecr", f"{HOST}/{REPO}", "15.1")
    assert target == ecr.EcrTag("ecr", REGION, REPO, "15.1", registry_id=MOTO_ACCOUNT)
    assert ecr.delete_tag(target, profile="commercial") is True
    assert ecr.delete_tag(target, profile="commercial") is False
    assert tags(ecr_client) == ["15.1.6"]
