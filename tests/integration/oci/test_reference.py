"""Reference parsing as docker writes references (pure; lives here with the engine's tests)."""

from __future__ import annotations

import pytest

from artifact_mirrors.oci import InvalidReference, Reference, parse_reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("alpine", Reference("registry-1.docker.io", "library/alpine")),
        ("alpine:3.20", Reference("registry-1.docker.io", "library/alpine", "3.20")),
        ("docker.io/alpine", Reference("registry-1.docker.io", "library/alpine")),
        (
            "index.docker.io/gravitational/teleport:17",
            Reference("registry-1.docker.io", "gravitational/teleport", "17"),
        ),
        ("quay.io/org/app:1.2.3", Reference("quay.io", "org/app", "1.2.3")),
        ("localhost/app", Reference("localhost", "app")),
        ("localhost:5000/team/app:v1", Reference("localhost:5000", "team/app", "v1")),
        ("127.0.0.1:5001/team/app@" + D, Reference("127.0.0.1:5001", "team/app", None, D)),
        ("host:5000/a/b:t@" + D, Reference("host:5000", "a/b", "t", D)),
        (
            "public.ecr.aws/gravitational/teleport-distroless:17.0.1",
            Reference("public.ecr.aws", "gravitational/teleport-distroless", "17.0.1"),
        ),
        ("gravitational/teleport", Reference("registry-1.docker.io", "gravitational/teleport")),
    ],
)
def test_parse(value: str, expected: Reference) -> None:
    assert parse_reference(value) == expected


def test_str_round_trip() -> None:
    ref = parse_reference("127.0.0.1:5001/team/app:v1@" + D)
    assert str(ref) == "127.0.0.1:5001/team/app:v1@" + D
    assert ref.target == "@" + D
    assert str(parse_reference("alpine")) == "registry-1.docker.io/library/alpine"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "Team/App",
            "invalid repository name (got Team/App). Hint: repository path components "
            "are lowercase letters, digits and separators . _ __ -",
        ),
        (
            "app@sha256:abc",
            "malformed digest (got sha256:abc). Hint: digests look like sha256:<64 hex>",
        ),
        (
            "app@sha256:" + "A" * 64,
            "sha256 digest must be 64 lowercase hex characters (got "
            "sha256:" + "A" * 64 + "). Hint: copy the digest from `docker buildx imagetools "
            "inspect` or `crane digest`",
        ),
        (
            "app:-bad",
            "invalid tag (got -bad). Hint: tags are 1-128 letters, digits, '_', '.', "
            "'-' (not starting with . or -)",
        ),
        (
            "https://quay.io/app",
            "references have no URL scheme (got https://quay.io/app). Hint: "
            "write [HOST[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. quay.io/org/app:1.2.3",
        ),
    ],
)
def test_invalid(value: str, message: str) -> None:
    with pytest.raises(InvalidReference) as err:
        parse_reference(value)
    assert str(err.value) == message
