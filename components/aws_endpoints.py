"""The AWS endpoint override for every ``aws.Provider`` the program creates.

``MIRRORS_AWS_ENDPOINT_URL`` points the library's boto3 clients at one endpoint (a moto_server in
tests and in the ``local`` stack, see ``artifact_mirrors.aws.session``). pulumi-aws does not read
it, so each ``aws.Provider`` gets the same URL as ``endpoints`` for the services the program's
resources call: one place, shared by the AMI partitions' providers
(``components.aws_partition``) and the registries' ECR / ECR Public providers
(``components.images``). Unset (production): no ``endpoints`` at all, so the provider inputs of
an existing stack do not change.
"""

from __future__ import annotations

import pulumi_aws as aws

from artifact_mirrors.aws.session import endpoint_url

# ec2: AMI copies, launch and snapshot permissions, image block public access; ecr / ecrpublic:
# repositories; s3: the GovCloud transfer buckets; sts: the provider's own account check.
SERVICES = ("ec2", "ecr", "ecrpublic", "s3", "sts")


def provider_endpoints(explicit: str | None = None) -> list[aws.ProviderEndpointArgs] | None:
    """``endpoints`` for an ``aws.Provider``: every service in :data:`SERVICES` at the override.

    ``explicit`` wins over ``$MIRRORS_AWS_ENDPOINT_URL``; None when neither is set.
    """
    url = endpoint_url(explicit)
    if not url:
        return None
    return [aws.ProviderEndpointArgs(**dict.fromkeys(SERVICES, url))]
