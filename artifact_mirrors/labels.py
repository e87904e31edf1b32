"""Mirror labels: the text every mirror carries so nobody mistakes it for the first-party source.

The RFD: "Mirrors must be clearly labeled as such." Templates are jinja2 files with StrictUndefined,
so a misspelt variable fails `mirrors validate` (with the template's file and line) instead of
rendering an empty string into a public description.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from artifact_mirrors.spec.model import CredentialSource, Image, Labels, Registry, ReleaseAmi

# Docker Hub's short description is limited to 100 characters
# (https://docs.docker.com/docker-hub/repos/settings/#description).
SHORT_DESCRIPTION_LIMIT = 100
# EC2 image descriptions: up to 255 characters
# (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html).
AMI_DESCRIPTION_LIMIT = 255


@lru_cache(maxsize=64)
def _compiled(path: Path, _mtime_ns: int, _size: int) -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(path.parent)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text and markdown, never HTML
        keep_trailing_newline=False,
    )
    return env.get_template(path.name)


def _template(path: Path) -> jinja2.Template:
    # Rendered once per mirror (thousands of times per plan): compile once per file version.
    # Keyed by the absolute path and its mtime/size, so an edited template is never stale.
    try:
        st = path.stat()
    except OSError as exc:
        raise jinja2.TemplateNotFound(str(path)) from exc
    return _compiled(path.resolve(), st.st_mtime_ns, st.st_size)


def image_context(image: Image, registry: Registry) -> dict[str, Any]:
    return {
        "image": {"name": image.name, "source": image.source, "repository": image.repository},
        "registry": {
            "name": registry.name,
            "kind": registry.kind,
            "host": registry.host,
            "namespace": registry.namespace,
        },
        "destination": registry.repository(image.repository),
    }


def ami_context(version: str, channel: str, ami: ReleaseAmi, partition: str) -> dict[str, Any]:
    return {
        "release": {"version": version, "channel": channel},
        "ami": {
            "id": ami.id,
            "name": ami.name,
            "region": ami.region,
            "edition": ami.edition,
            "arch": ami.arch,
            "fips": ami.fips,
            "key": ami.key,
        },
        "partition": partition,
        "source": f"{ami.id}@{ami.region}",
    }


def render(path: Path, context: dict[str, Any]) -> str:
    return _template(path).render(context).strip()


def image_description(labels: Labels, image: Image, registry: Registry) -> str:
    return render(labels.image_description, image_context(image, registry))


def image_full_description(labels: Labels, image: Image, registry: Registry) -> str:
    return render(labels.image_full_description, image_context(image, registry))


def ami_description(
    labels: Labels, version: str, channel: str, ami: ReleaseAmi, partition: str
) -> str:
    return render(labels.ami_description, ami_context(version, channel, ami, partition))


@dataclass(frozen=True)
class TemplateProblem:
    label: str
    file: Path
    line: int | None  # None: the problem is with the spec's reference, not inside the template
    problem: str
    got: object
    hint: str


_SAMPLE_IMAGE = Image("teleport", "example.com/org/teleport", "teleport", (), (), {}, True, None)
_SAMPLE_REGISTRY = Registry(
    "hub", "dockerhub", "docker.io", "org", None, False, True, None, CredentialSource("env")
)
_SAMPLE_AMI = ReleaseAmi(
    "ami-0123456789abcdef0", "teleport-oss-17.0.1-x86_64", "us-west-2", "x86_64", "oss", False
)


def check_templates(labels: Labels) -> list[TemplateProblem]:
    """Render every label with a representative context; report what would fail at deploy time."""
    samples: dict[str, tuple[Path, dict[str, Any], int | None]] = {
        "image_description": (
            labels.image_description,
            image_context(_SAMPLE_IMAGE, _SAMPLE_REGISTRY),
            SHORT_DESCRIPTION_LIMIT,
        ),
        "image_full_description": (
            labels.image_full_description,
            image_context(_SAMPLE_IMAGE, _SAMPLE_REGISTRY),
            None,
        ),
        "ami_description": (
            labels.ami_description,
            ami_context("17.0.1", "stable", _SAMPLE_AMI, "aws"),
            AMI_DESCRIPTION_LIMIT,
        ),
    }
    problems: list[TemplateProblem] = []
    for label, (path, context, limit) in samples.items():
        variables = ", ".join(sorted(context))
        try:
            text = render(path, context)
        except jinja2.TemplateNotFound:
            problems.append(
                TemplateProblem(
                    label,
                    path,
                    None,
                    "template file not found",
                    str(path),
                    "paths are relative to the spec file",
                )
            )
            continue
        except jinja2.TemplateSyntaxError as exc:
            problems.append(
                TemplateProblem(
                    label,
                    path,
                    exc.lineno,
                    f"template syntax error: {exc.message}",
                    exc.source and exc.source.splitlines()[exc.lineno - 1].strip(),
                    "see https://jinja.palletsprojects.com/templates/",
                )
            )
            continue
        except jinja2.UndefinedError as exc:
            problems.append(
                TemplateProblem(
                    label,
                    path,
                    _template_line(exc, path),
                    "template variable does not exist",
                    _undefined_name(exc),
                    f"variables available here: {variables}",
                )
            )
            continue
        if limit is not None and len(text) > limit:
            problems.append(
                TemplateProblem(
                    label,
                    path,
                    1,
                    f"renders longer than {limit} characters",
                    f"{len(text)} characters",
                    "shorten the template",
                )
            )
    return problems


def _template_line(exc: BaseException, path: Path) -> int | None:
    # jinja2 rewrites tracebacks so template frames carry the template's file name and line.
    wanted = path.resolve()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve() == wanted:
            return frame.lineno
    return None


def _undefined_name(exc: jinja2.UndefinedError) -> str:
    # Messages look like "'relese' is undefined" or "'dict object' has no attribute 'vers'".
    msg = exc.message or ""
    if "has no attribute" in msg:
        return msg.rsplit("'", 2)[-2]
    return msg.split("'")[1] if msg.count("'") >= 2 else msg
