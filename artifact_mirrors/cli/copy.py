"""``mirrors copy SRC DST [DST ...]``: digest-preserving image copies from the command line.

Exit codes: 0 copied (or already up to date), 1 the copy failed, 2 bad input.
Credentials come from the Docker credential store and ``MIRRORS_REGISTRY_AUTH_*`` variables
(see :mod:`artifact_mirrors.oci.auth`); ``COPY_HELP`` says the same to users.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from artifact_mirrors.cli.common import Command, stdout_console

# The OCI engine (httpx and friends, ~70 ms of imports) and rich's progress bars load when a copy
# runs, not when `mirrors` starts for another command or `--help`.
if TYPE_CHECKING:
    from rich.table import Table

    from artifact_mirrors.oci import CopyResult, ProgressEvent, Reference, Registries
    from artifact_mirrors.oci.signatures import VerifyKey

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
# Same as the library's default (artifact_mirrors.oci.copy.DEFAULT_CONCURRENCY), which typer
# needs as a literal before the engine is imported.
DEFAULT_CONCURRENCY = 6


def _bad_input(what: str, problem: str, value: str, hint: str) -> NoReturn:
    typer.echo(f"mirrors copy: {what}: {problem} (got {value}). Hint: {hint}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _failed(message: str) -> NoReturn:
    typer.echo(
        message if message.startswith("copy failed") else f"copy failed: {message}", err=True
    )
    raise typer.Exit(EXIT_FAILED)


def _parse(what: str, value: str) -> Reference:
    from artifact_mirrors.oci import InvalidReference, parse_reference

    try:
        return parse_reference(value)
    except InvalidReference as exc:
        _bad_input(what, exc.problem, exc.value, exc.hint)


def _ca_files(values: list[str], hosts: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for value in values:
        host, sep, path = value.rpartition("=")
        targets = (host,) if sep else hosts
        file = Path(path)
        if not file.is_file():
            _bad_input(
                "--ca-file",
                "no such file",
                value,
                "pass a PEM CA bundle as PATH or HOST:PORT=PATH",
            )
        for h in targets:
            out[h] = file
    return out


class _Bars:
    """Rich progress: bytes and blobs. Callbacks arrive from worker threads; rich locks.

    Only built for a terminal: elsewhere (CI logs, the bench) rich would draw nothing, and the
    copier skips progress events altogether when it has no callback.
    """

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.blobs = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
        )
        # Hidden until the copier announces work: a run with nothing to copy (a warm re-run)
        # shows no bar rather than "0/0 bytes ?".
        self.bytes_task = self.progress.add_task("bytes", total=0, visible=False)
        self.blobs_task = self.blobs.add_task("blobs", total=0, visible=False)

    def __enter__(self) -> _Bars:
        self.progress.start()
        self.blobs.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.blobs.stop()
        self.progress.stop()

    def __call__(self, event: ProgressEvent) -> None:
        if event.bytes_total or event.bytes_done:
            task = self.progress.tasks[0]
            total = (task.total or 0) + event.bytes_total
            self.progress.update(
                self.bytes_task, total=total, advance=event.bytes_done, visible=total > 0
            )
        if event.blobs_total or event.blobs_done:
            task = self.blobs.tasks[0]
            total = (task.total or 0) + event.blobs_total
            self.blobs.update(
                self.blobs_task, total=total, advance=event.blobs_done, visible=total > 0
            )


def _summary(result: CopyResult) -> Table:
    from rich.table import Table

    table = Table(title=f"mirrors copy: {result.destination}", show_header=False)
    table.add_column("what", style="bold", no_wrap=True)
    # Digests are copied out of this table: fold a narrow terminal's line, never cut it.
    table.add_column("value", overflow="fold")
    status = "already up to date" if result.up_to_date else "copied"
    if result.previous_digest:
        status += f" (tag moved from {result.previous_digest})"
    table.add_row("status", status)
    table.add_row("digest", result.digest)
    table.add_row("media type", result.media_type)
    table.add_row("platforms", ", ".join(result.platforms) or "-")
    table.add_row("blobs copied", str(result.blobs_copied))
    table.add_row("blobs mounted", str(result.blobs_mounted))
    table.add_row("blobs skipped", str(result.blobs_skipped))
    table.add_row("bytes moved", f"{result.bytes_moved:,}")
    table.add_row("manifests pushed", str(result.manifests_pushed))
    tag = result.destination.rpartition(":")[2] if "@" not in result.destination else ""
    if tag:
        table.add_row("tag", f"{tag} written" if result.tag_written else f"{tag} already there")
    table.add_row("attachments", str(len(result.signature_digests)))
    if result.ratelimit_remaining is not None:
        table.add_row("rate limit remaining", str(result.ratelimit_remaining))
    return table


def _insecure_hosts(values: list[str]) -> list[str]:
    """``--insecure`` takes HOST[:PORT] as a registry reference names it: no scheme, no path."""
    out: list[str] = []
    for value in values:
        if "://" in value or "/" in value:
            _bad_input(
                "--insecure",
                "takes a registry host, not a URL",
                value,
                "write HOST:PORT, e.g. --insecure 127.0.0.1:5000",
            )
        host, sep, port = value.rpartition(":") if not value.endswith("]") else (value, "", "")
        if not sep:
            host, port = value, ""
        if not host or (sep and not (port.isdigit() and 1 <= int(port) <= 65535)):
            _bad_input(
                "--insecure",
                "port must be a number from 1 to 65535",
                value,
                "write HOST:PORT, e.g. --insecure 127.0.0.1:5000",
            )
        out.append(value)
    return out


COPY_HELP = (
    "Copy an image (every platform, attestation and signature) by digest; the tag moves last."
    "\n\n"
    "Example: mirrors copy public.ecr.aws/gravitational/teleport-distroless:17.0.1"
    " docker.io/example/teleport-distroless quay.io/example/teleport-distroless"
    "\n\n"
    "With several DSTs the copies run in one session: each blob is read from SRC once (a"
    " verified local spool serves the other mirrors) and mounted between repositories of one"
    " registry. A release tag that already points at another digest is never moved (--floating"
    " allows it). --json prints one object for one DST, a list for several."
    "\n\n"
    "Credentials, per registry, read when used and never printed: the Docker credential store"
    " (~/.docker/config.json, credHelpers, credsStore: what `docker login` writes), or"
    " MIRRORS_REGISTRY_AUTH_<HOST>_USERNAME and _PASSWORD (HOST upper-cased, every other"
    " character an underscore: 127.0.0.1:5000 is MIRRORS_REGISTRY_AUTH_127_0_0_1_5000). TLS is"
    " always verified: --ca-file for a private CA, --insecure only for a plain-HTTP registry."
    "\n\n"
    "Exit codes: 0 copied or already up to date, 1 the copy failed (nothing is tagged), 2 bad"
    " input."
)


def copy_command(
    src: Annotated[
        str, typer.Argument(metavar="SRC", help="Source image: REPO:TAG or REPO@DIGEST")
    ],
    dst: Annotated[
        list[str],
        typer.Argument(
            metavar="DST...",
            help="Destination REPO[:TAG] (default: SRC's tag); several mirrors read SRC once",
        ),
    ],
    insecure: Annotated[
        list[str] | None,
        typer.Option("--insecure", metavar="HOST:PORT", help="Plain-HTTP registry (repeatable)"),
    ] = None,
    ca_file: Annotated[
        list[str] | None,
        typer.Option(
            "--ca-file", metavar="[HOST=]PATH", help="CA bundle for a registry (repeatable)"
        ),
    ] = None,
    no_signatures: Annotated[
        bool, typer.Option("--no-signatures", help="Skip cosign tags and referrers")
    ] = False,
    floating: Annotated[
        bool, typer.Option("--floating", help="The tag is floating: it may move")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=32, help="Parallel blob transfers")
    ] = DEFAULT_CONCURRENCY,
    verify_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--verify-key",
            metavar="PEM",
            help="Copy only if SRC's cosign .sig tag holds a signature of its digest that this"
            " public key verifies (repeatable: any key will do); checked before any byte is"
            " written",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    from artifact_mirrors.oci import (
        Copier,
        CopyJob,
        CopySession,
        MirrorError,
        Registries,
        RegistryError,
        Spool,
        TLSVerifyError,
        UnreachableError,
        resolve,
        why_missing,
    )

    src_ref = _parse("SRC", src)
    if src_ref.tag is None and src_ref.digest is None:
        _bad_input(
            "SRC", "reference has no tag or digest", src, "add :TAG or @sha256:DIGEST to SRC"
        )
    dst_refs = [_parse("DST", d) for d in dst]
    for d, ref in zip(dst, dst_refs, strict=True):
        if ref.digest is not None:
            _bad_input("DST", "destination cannot be a digest", d, "write DST as REPO or REPO:TAG")
    hosts = (src_ref.registry, *(r.registry for r in dst_refs))
    keys = _verify_keys(list(verify_key or []))
    plain = _insecure_hosts(list(insecure or []))
    cas = _ca_files(list(ca_file or []), hosts)
    console = Console(stderr=True)
    out = stdout_console()
    jobs = [
        CopyJob(src_ref, r.with_tag(None), r.tag or src_ref.tag, floating, not no_signatures)
        for r in dst_refs
    ]
    results: list[CopyResult] = []
    try:
        with Registries(insecure=plain, ca_files=cas) as regs:
            pinned = src_ref
            if src_ref.digest is None:
                try:
                    digest = resolve(src_ref, registries=regs)
                    if digest is None:
                        problem, hint = why_missing(src_ref, registries=regs)
                        _failed(f"copy failed: source {src_ref}: {problem}. Hint: {hint}")
                except (RegistryError, UnreachableError, TLSVerifyError) as exc:
                    exc.role = exc.role or "source"
                    raise
                pinned = src_ref.with_digest(digest)
            jobs = [CopyJob(pinned, j.dst_repo, j.tag, j.floating, j.signatures) for j in jobs]
            if keys:
                _check_signature(regs, pinned, keys)
            bars = _Bars(console) if console.is_terminal else None
            spool = Spool() if len(jobs) > 1 else None
            with (
                bars or nullcontext(),
                CopySession(concurrency=concurrency, spool=spool) as session,
                Copier(regs, session=session, progress=bars) as copier,
            ):
                results = copier.copy_images(jobs)
    except RegistryError as exc:
        exc.op = "copy"
        _failed(str(exc))
    except MirrorError as exc:
        _failed(str(exc))
    if json_output:
        docs = [r.to_dict() for r in results]
        out.print_json(json.dumps(docs[0] if len(docs) == 1 else docs))
    else:
        for result in results:
            out.print(_summary(result))


def _verify_keys(paths: list[Path]) -> list[VerifyKey]:
    from artifact_mirrors.oci.signatures import KeyFileError, load_key

    keys = []
    for path in paths:
        try:
            keys.append(load_key(path))
        except KeyFileError as exc:
            _bad_input(
                "--verify-key",
                exc.problem,
                str(path),
                "pass the vendor's public key as PEM (cosign.pub)",
            )
    return keys


def _check_signature(regs: Registries, pinned: Reference, keys: list[VerifyKey]) -> None:
    """Before the first byte is written: the source digest must be validly signed."""
    from artifact_mirrors.oci import RegistryError
    from artifact_mirrors.oci.signatures import SignatureError, verify_signature

    assert pinned.digest is not None
    client = regs.client(pinned.registry)
    try:
        verdict = verify_signature(client, pinned.repository, pinned.digest, keys)
    except RegistryError as exc:
        exc.role = exc.role or "source"
        raise
    if not verdict.ok:
        names = " --key ".join(k.name for k in keys)
        _failed(
            f"copy failed: source {SignatureError(pinned.name, verdict)}. Hint: nothing was "
            f"copied; `cosign verify --key {names} {pinned.name}@{pinned.digest}` shows what the "
            "vendor signed"
        )


def register(app: typer.Typer) -> None:
    """Add the ``copy`` command to the ``mirrors`` CLI."""
    app.command("copy", help=COPY_HELP, cls=Command)(copy_command)


def _main() -> None:  # pragma: no cover - `python -m artifact_mirrors.cli.copy copy SRC DST`
    app = typer.Typer(add_completion=False)

    @app.callback()
    def _root() -> None:
        """mirrors (copy command only)."""

    register(app)
    app()


if __name__ == "__main__":  # pragma: no cover
    _main()
