"""CloudFront invalidation of a provider mirror's index documents, through the real dynamic
provider server against moto_server's CloudFront (create_distribution, create_invalidation,
list_invalidations, get_invalidation).

The inputs are the ones the program registers (components.mockrun renders it); the engine's
part is played as it plays it: Check, then Create on the first update, Diff on the next ones
and Update only when Diff reports a change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from artifact_mirrors.aws.session import AwsClients, endpoint_url
from components import mockrun
from components.dynamic.terraform import CloudFrontInvalidationProvider
from tests.integration.aws.terraform_offline import SPEC, offline_project
from tests.providers.harness import DiffChanges, provider_server, urn

pytestmark = pytest.mark.moto

T_INVALIDATION = "pulumi-python:dynamic/artifact-mirrors:CloudFrontInvalidation"
VERSIONS = "/v1/providers/testvendor/demo/versions"
WELL_KNOWN = "/.well-known/terraform.json"


def cloudfront() -> Any:
    session = AwsClients("aws", "us-east-1", "commercial").session()
    return session.client("cloudfront", endpoint_url=endpoint_url())


def distribution(cf: Any) -> str:
    origin = "tf-mirror.s3.us-west-2.amazonaws.com"
    config = {
        "CallerReference": "mirror-site",
        "Comment": "provider mirror",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "bucket",
                    "DomainName": origin,
                    "OriginPath": "/site",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "bucket",
            "ViewerProtocolPolicy": "https-only",
            "MinTTL": 0,
        },
    }
    return str(cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"])


def invalidations(cf: Any, dist: str) -> list[list[str]]:
    """The paths of every invalidation of ``dist``."""
    listing = cf.list_invalidations(DistributionId=dist)["InvalidationList"]
    out = []
    for item in listing.get("Items", []):
        got = cf.get_invalidation(DistributionId=dist, Id=item["Id"])["Invalidation"]
        out.append(sorted(got["InvalidationBatch"]["Paths"].get("Items", [])))
    return sorted(out, key=len, reverse=True)


def inputs(project: Path) -> dict[str, Any]:
    (r,) = [r for r in mockrun.render(project, "prod") if r.type == T_INVALIDATION]
    return dict(r.inputs)


def test_an_index_change_invalidates_exactly_its_paths_once(tmp_path: Path) -> None:
    cf = cloudfront()
    dist = distribution(cf)
    spec = SPEC.replace(
        "        prefix: site\n        region: us-west-2\n        profile: commercial\n",
        "        prefix: site\n        region: us-west-2\n        profile: commercial\n"
        f"        cloudfront_distribution: {dist}\n",
    )
    project = offline_project(tmp_path / "proj", spec)
    u = urn("terraform/demo@registry/cloudfront-invalidation", T_INVALIDATION)
    with provider_server() as server:
        driver = server.driver(CloudFrontInvalidationProvider())
        first = driver.check(u, None, inputs(project))
        assert first.failures == ()
        created = driver.create(u, first.inputs)
        # The first publish: every watched path (a 404 may be cached from before).
        assert invalidations(cf, dist) == [[WELL_KNOWN, VERSIONS]]
        assert created.outputs["invalidated"] == [WELL_KNOWN, VERSIONS]

        # The same documents again: no change, so the engine calls no Update.
        again = driver.check(u, first.inputs, inputs(project))
        diff = driver.diff(created.id, u, created.outputs, again.inputs, old_inputs=first.inputs)
        assert diff.changes is DiffChanges.NONE
        assert len(invalidations(cf, dist)) == 1

        # A yank changes the versions document only: one invalidation of that path.
        manifest = project / "mirrors/releases/1.1.0.yaml"
        manifest.write_text(
            manifest.read_text().replace(
                "channel: stable\n", "channel: stable\nyanked: true\nreason: recalled\n"
            )
        )
        yanked = driver.check(u, first.inputs, inputs(project))
        diff = driver.diff(created.id, u, created.outputs, yanked.inputs, old_inputs=first.inputs)
        assert diff.changes is DiffChanges.SOME
        assert diff.replaces == ()
        outputs = driver.update(created.id, u, created.outputs, yanked.inputs)
        assert invalidations(cf, dist) == [[WELL_KNOWN, VERSIONS], [VERSIONS]]
        assert outputs["invalidated"] == [VERSIONS]
        assert outputs["invalidation_id"] != created.id
