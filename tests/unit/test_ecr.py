"""ECR Public tag deletion (BatchDeleteImage) with botocore's Stubber: moto has no ecr-public."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from artifact_mirrors.oci import ecr
from components.dynamic import image_tag

DIGEST = "sha256:" + "cd" * 32
REPOSITORY = "public.ecr.aws/gravitational/teleport-distroless"
EXPECTED = {"repositoryName": "teleport-distroless", "imageIds": [{"imageTag": "15.1.6"}]}
TARGET = ecr.EcrTag("ecr-public", "us-east-1", "teleport-distroless", "15.1.6")


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "ecr-public",
        region_name="us-east-1",
        aws_access_key_id="AKIATEST",
        aws_secret_access_key="test-secret",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_parse_ecr_public_and_ecr() -> None:
    assert ecr.EcrTag.parse("ecr-public", REPOSITORY, "15.1.6") == TARGET
    assert ecr.EcrTag.parse(
        "ecr", "123456789012.dkr.ecr.ap-south-1.amazonaws.com/mirror/teleport", "17"
    ) == ecr.EcrTag("ecr", "ap-south-1", "mirror/teleport", "17", registry_id="123456789012")
    with pytest.raises(ecr.EcrError) as caught:
        ecr.EcrTag.parse("ecr", "registry.example.com/mirror/teleport", "17")
    assert str(caught.value) == (
        "registry.example.com is not an ECR registry host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)"
    )


def test_deleted(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "batch_delete_image",
        {"imageIds": [{"imageTag": "15.1.6", "imageDigest": DIGEST}], "failures": []},
        EXPECTED,
    )
    assert ecr.delete_tag(TARGET, client=client) is True


def test_absent_tag_and_absent_repository_are_fine(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "batch_delete_image",
        {
            "failures": [
                {
                    "imageId": {"imageTag": "15.1.6"},
                    "failureCode": "ImageNotFound",
                    "failureReason": "Requested image not found",
                }
            ],
        },
        EXPECTED,
    )
    stubber.add_client_error(
        "batch_delete_image",
        service_error_code="RepositoryNotFoundException",
        service_message="The repository does not exist",
        expected_params=EXPECTED,
    )
    assert ecr.delete_tag(TARGET, client=client) is False
    assert ecr.delete_tag(TARGET, client=client) is False


def test_other_failures_are_one_line_errors(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "batch_delete_image",
        {
            "failures": [
                {
                    "imageId": {"imageTag": "15.1.6"},
                    "failureCode": "KmsError",
                    "failureReason": "KMS key\nis disabled",
                }
            ],
        },
        EXPECTED,
    )
    stubber.add_client_error(
        "batch_delete_image",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform ecr-public:BatchDeleteImage",
        expected_params=EXPECTED,
    )
    with pytest.raises(ecr.EcrError) as kms:
        ecr.delete_tag(TARGET, client=client)
    assert str(kms.value) == (
        "ECR Public teleport-distroless:15.1.6: BatchDeleteImage failed: KmsError: "
        "KMS key is disabled"
    )
    with pytest.raises(ecr.EcrError) as denied:
        ecr.delete_tag(TARGET, client=client)
    assert str(denied.value) == (
        "ECR Public teleport-distroless:15.1.6: BatchDeleteImage failed: AccessDeniedException: "
        "User is not authorized to perform ecr-public:BatchDeleteImage"
    )


def test_image_tag_unpublish_uses_batch_delete_with_the_registry_profile(
    stubbed: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The yank path of the ImageTag provider (in process: a stub cannot cross the server)."""
    client, stubber = stubbed
    asked: list[tuple[ecr.EcrTag, str | None]] = []

    def fake_client(target: ecr.EcrTag, profile: str | None) -> Any:
        asked.append((target, profile))
        return client

    monkeypatch.setattr(ecr, "client_for", fake_client)
    stubber.add_response(
        "batch_delete_image",
        {"imageIds": [{"imageTag": "15.1.6", "imageDigest": DIGEST}], "failures": []},
        EXPECTED,
    )
    props = {
        "repository": REPOSITORY,
        "tag": "15.1.6",
        "digest": DIGEST,
        "published": False,
        "registry_kind": "ecr-public",
        "credentials": {"source": "aws", "profile": "teleport-mirrors"},
    }
    outputs = image_tag.ImageTagProvider().update(f"{REPOSITORY}:15.1.6", props, props).outs
    assert outputs == {**props, "platforms": [], "signature_digests": {}}
    assert asked == [(TARGET, "teleport-mirrors")]
