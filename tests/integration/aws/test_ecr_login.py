"""ECR registry credentials from the AWS profile (GetAuthorizationToken), against moto_server."""

from __future__ import annotations

import base64

from artifact_mirrors.aws import AwsClients
from artifact_mirrors.oci.settings import explicit_credentials

HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def test_ecr_password_comes_from_the_profiles_authorization_token(moto: str) -> None:
    props = {
        "repository": f"{HOST}/mirror/teleport",
        "registry_kind": "ecr",
        "credentials": {"source": "aws", "profile": "commercial"},
    }
    creds = explicit_credentials(props, HOST)
    user, password = creds[HOST]
    # What the registry expects is the decoded token's password half, with user AWS.
    ecr = (
        AwsClients("aws", "eu-west-1", profile="commercial")
        .session()
        .client("ecr", region_name="eu-west-1", endpoint_url=moto)
    )
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    expected_user, expected_password = base64.b64decode(token).decode().split(":", 1)
    assert (user, password) == (expected_user, expected_password) == ("AWS", expected_password)
    assert password
