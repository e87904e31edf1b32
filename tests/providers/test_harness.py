"""The harness drives a real ``python -m pulumi.dynamic`` server like the engine does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.providers.example_provider import STATE_DIR_ENV, ExampleProvider, LeakyProvider
from tests.providers.harness import (
    PROVIDER_KEY,
    CheckFailure,
    DiffChanges,
    ProviderDriver,
    ProviderError,
    ProviderServer,
    _parse_traceback,
    inspect_serialized_provider,
    is_secret,
    provider_server,
    reveal,
    secret,
    serialized_provider,
    urn,
)


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("example-state")


@pytest.fixture(scope="module")
def server(state_dir: Path) -> Iterator[ProviderServer]:
    with provider_server({STATE_DIR_ENV: str(state_dir)}) as running:
        yield running


@pytest.fixture
def driver(server: ProviderServer) -> ProviderDriver:
    return server.driver(ExampleProvider())


def test_lifecycle_check_create_diff_update_delete(driver: ProviderDriver, state_dir: Path) -> None:
    res = urn("lifecycle")
    checked = driver.check(res, None, {"name": "lifecycle", "value": "v1"})
    assert checked.failures == ()
    assert reveal(checked.inputs[PROVIDER_KEY]) == driver.provider_string

    created = driver.create(res, checked.inputs)
    assert created.id == "lifecycle"
    assert (state_dir / "lifecycle").read_text() == "v1"
    assert created.outputs["value"] == "v1"
    assert created.outputs["length"] == 2

    same = driver.check(res, checked.inputs, {"name": "lifecycle", "value": "v1"})
    assert driver.diff(created.id, res, created.outputs, same.inputs).changes is DiffChanges.NONE

    changed = driver.check(res, checked.inputs, {"name": "lifecycle", "value": "v22"})
    diff = driver.diff(created.id, res, created.outputs, changed.inputs, old_inputs=checked.inputs)
    assert diff.changes is DiffChanges.SOME
    assert diff.replaces == ()

    renamed = driver.check(res, checked.inputs, {"name": "other", "value": "v1"})
    assert driver.diff(created.id, res, created.outputs, renamed.inputs).replaces == ("name",)

    updated = driver.update(created.id, res, created.outputs, changed.inputs)
    assert updated["value"] == "v22"
    assert updated["length"] == 3
    assert (state_dir / "lifecycle").read_text() == "v22"

    driver.delete(created.id, res, updated, old_inputs=changed.inputs)
    assert not (state_dir / "lifecycle").exists()


def test_check_failures_are_returned(driver: ProviderDriver) -> None:
    checked = driver.check(urn("empty"), None, {"name": "empty", "value": ""})
    assert checked.failures == (CheckFailure("value", "value must be a non-empty string"),)


def test_error_in_create_surfaces_with_its_exact_message(
    driver: ProviderDriver, state_dir: Path
) -> None:
    with pytest.raises(ProviderError) as caught:
        driver.create(urn("boom"), {"name": "boom", "value": "boom"})
    assert str(caught.value) == "create failed: value 'boom' is rejected"
    assert caught.value.exception_type == "RuntimeError"
    assert caught.value.method == "Create"
    assert not (state_dir / "boom").exists()


def test_secrets_stay_secret(driver: ProviderDriver, state_dir: Path) -> None:
    res = urn("secretive")
    checked = driver.check(res, None, {"name": "secretive", "value": secret("s3cret"), "n": 1})
    assert is_secret(checked.inputs["value"])
    assert not is_secret(checked.inputs["name"])

    created = driver.create(res, checked.inputs)
    # The provider received the plain value (dynamic providers do not accept secrets) ...
    assert (state_dir / "secretive").read_text() == "s3cret"
    # ... and the engine re-marks the same-named output secret (annotateSecrets).
    assert created.outputs["value"] == secret("s3cret")
    # An output the provider marked secret itself stays secret.
    assert is_secret(created.outputs["digest"])
    assert not is_secret(created.outputs["length"])
    # pulumi.dynamic.Resource makes __provider a secret by default.
    assert is_secret(created.outputs[PROVIDER_KEY])
    driver.delete(created.id, res, created.outputs)


def test_serialized_provider_is_pickled_by_reference() -> None:
    info = inspect_serialized_provider(serialized_provider(ExampleProvider()))
    assert info.globals == ("tests.providers.example_provider.ExampleProvider",)
    assert not info.mentions("hunter2")


def test_inspection_finds_a_captured_credential() -> None:
    info = inspect_serialized_provider(serialized_provider(LeakyProvider("hunter2")))
    assert info.mentions("hunter2")
    assert "password" in info.strings


def test_server_process_is_stopped_at_exit(state_dir: Path) -> None:
    with provider_server({STATE_DIR_ENV: str(state_dir)}) as running:
        assert running.process.poll() is None
    assert running.process.poll() is not None


def test_parse_traceback_takes_the_last_exception_and_multiline_messages() -> None:
    details = (
        "Traceback (most recent call last):\n"
        '  File "a.py", line 1, in f\n'
        "    raise KeyError('x')\n"
        "KeyError: 'x'\n"
        "\n"
        "During handling of the above exception, another exception occurred:\n"
        "\n"
        "Traceback (most recent call last):\n"
        '  File "b.py", line 2, in g\n'
        "    raise mod.Err('two\\nlines')\n"
        "    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "mod.Err: first line\n"
        "second: line\n"
    )
    assert _parse_traceback(details) == ("mod.Err", "first line\nsecond: line")
    assert _parse_traceback("Traceback (most recent call last):\nValueError\n") == (
        "ValueError",
        "",
    )
    assert _parse_traceback("plain gRPC details") == ("", "plain gRPC details")


def test_driver_accepts_a_provider_string_from_state(server: ProviderServer) -> None:
    # State holds only the pickle; by-reference pickling means today's class code runs.
    stored = serialized_provider(ExampleProvider())
    driver = ProviderDriver(server, provider_string=stored)
    checked = driver.check(urn("from-state"), None, {"name": "from-state", "value": ""})
    assert checked.failures == (CheckFailure("value", "value must be a non-empty string"),)
    with pytest.raises(ValueError) as caught:
        ProviderDriver(server, ExampleProvider(), provider_string=stored)
    assert str(caught.value) == "pass exactly one of provider or provider_string"
