"""`mirrors` help and usage errors: flags read without a type, -h, --version, one-line usage
errors (exit 2), and the copy progress bars that stay hidden when there is nothing to copy."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from artifact_mirrors import __version__
from artifact_mirrors.cli import app
from artifact_mirrors.cli.copy import _Bars
from artifact_mirrors.oci import ProgressEvent

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--x"], "mirrors: no such option --x. Hint: mirrors COMMAND --help"),
        (
            ["validate", "--x"],
            "mirrors validate: no such option --x. Hint: mirrors validate --help",
        ),
        (
            ["copy", "--jsn"],
            "mirrors copy: no such option --jsn (did you mean --json?). Hint: mirrors copy --help",
        ),
        (["copy"], "mirrors copy: missing argument 'SRC'. Hint: mirrors copy --help"),
        (["nope"], "mirrors: no such command 'nope'. Hint: mirrors --help lists the commands"),
        (
            ["release", "add", "--bogus"],
            "mirrors release add: no such option --bogus. Hint: mirrors release add --help",
        ),
        (
            ["copy", "a:1", "b", "--concurrency", "99"],
            "mirrors copy: invalid value for '--concurrency': Input should be less than or equal "
            "to 32. Hint: mirrors copy --help",
        ),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], line: str) -> None:
    result = CliRunner().invoke(app, args)
    assert (result.exit_code, result.stderr, result.stdout) == (2, line + "\n", "")


def test_real_process_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "artifact_mirrors", "plan", "--stak", "prod"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert (proc.returncode, proc.stderr) == (
        2,
        "mirrors plan: no such option --stak (did you mean --stack?). Hint: mirrors plan --help\n",
    )


@pytest.mark.parametrize("command", [[], ["validate"], ["plan"], ["verify"], ["release", "add"]])
def test_h_is_help_and_flags_show_no_type(command: list[str]) -> None:
    short = CliRunner().invoke(app, [*command, "-h"], env={"COLUMNS": "120"})
    long = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert short.exit_code == long.exit_code == 0
    assert short.stdout == long.stdout
    assert "Usage: mirrors" in short.stdout
    assert "<bool>" not in short.stdout
    help_row = next(line for line in short.stdout.splitlines() if "--help" in line)
    assert " ".join(help_row.strip("│ ").split()) == "--help -h Show this message and exit."


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"mirrors {__version__}\n")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'\nversion = "{__version__}"\n' in pyproject


def _bars_output(*events: ProgressEvent) -> str:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, color_system=None)
    with _Bars(console) as bars:
        for event in events:
            bars(event)
    return buf.getvalue()


def test_warm_copy_draws_no_empty_bar() -> None:
    """Nothing to copy (every blob already there): no `0/0 bytes ?` bar."""
    assert "bytes" not in _bars_output()
    assert "0/0" not in _bars_output()
    busy = _bars_output(
        ProgressEvent(bytes_total=2_000_000, blobs_total=2),
        ProgressEvent(bytes_done=2_000_000, blobs_done=2),
    )
    assert "2.0/2.0 MB" in busy
    assert "2/2" in busy
