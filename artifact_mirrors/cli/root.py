"""`mirrors`: validate the spec, plan a stack offline, pin releases, verify mirrors, copy images.

Exit codes: 0 ok, 1 the operation failed, 2 bad input (one located line per problem, no traceback).
One module per command in this package; what they share (options, output, error rendering) is in
:mod:`artifact_mirrors.cli.common`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from artifact_mirrors.cli import archive, copy, plan, release, validate, verify
from artifact_mirrors.cli.common import HELP_OPTIONS, Group, version_callback

app = typer.Typer(
    name="mirrors",
    help=(
        "Release-artifact mirroring as code. Copies each release's images (same digests, "
        "signatures kept) and AMIs to the mirrors declared in mirrors/destinations.yaml; the "
        "Pulumi program in this project does it on `pulumi up`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
    context_settings=HELP_OPTIONS,
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Release-artifact mirroring as code."""


for _module in (validate, plan, release, verify, archive, copy):
    _module.register(app)


def main() -> None:
    app()
