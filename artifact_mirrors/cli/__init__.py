"""The `mirrors` command line: one module per command, shared options and errors in `common`.

Nothing is imported here eagerly, so `python -m artifact_mirrors.cli.copy` (what bench/ times)
loads only the copy command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer


def main() -> None:
    from artifact_mirrors.cli.root import app

    # One name in usage lines and hints, however it was started (`python -m artifact_mirrors`).
    app(prog_name="mirrors")


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        from artifact_mirrors.cli.root import app

        return app
    raise AttributeError(name)
