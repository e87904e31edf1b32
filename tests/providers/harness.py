"""Drive Python dynamic providers through the SDK's real provider server, as the engine does.

The Pulumi CLI launches a dynamic provider with the shim ``pulumi-resource-pulumi-python``, which
runs ``python -u -m pulumi.dynamic <engine-address>``: a gRPC ``ResourceProvider`` server that binds
127.0.0.1 on a free port and prints the port on stdout. :func:`provider_server` starts exactly that
process (``-u`` matters: the server writes the port without flushing) and :class:`ProviderDriver`
sends the requests the engine sends, with the same marshalling rules as the engine's
``sdk/go/common/resource/plugin/provider_plugin.go``:

* ``Configure`` is called first. The Python dynamic provider answers ``acceptSecrets=False``, so the
  engine strips secrets from every property bag it sends (``KeepSecrets: protocol.acceptSecrets``)
  and re-marks an output secret when the input of the same name was secret (``annotateSecrets``).
  The driver does the same, so a test sees what Pulumi state would hold.
* Every property bag carries ``__provider``: the base64 dill pickle produced by
  ``pulumi.dynamic.dynamic.serialize_provider``. ``pulumi.dynamic.Resource`` makes it a secret by
  default (``serialize_as_secret_always``), so the driver does too.
* Diff/Update get ``olds`` = old *outputs* and ``old_inputs`` = old inputs; Delete gets the outputs.

``Read`` is not driven: only ``pulumi refresh`` and ``pulumi import`` call it (in SDK 3.272 the
dynamic provider server does implement Read; pulumi/pulumi#16175 is about import), while
``preview`` and ``up`` only Check and Diff, which is why providers do their live check in ``diff``.
:class:`ServerDiffer` plugs this driver into the step plan (``artifact_mirrors.steps``).

Importing ``pulumi.dynamic.__main__`` in-process hangs (it runs the server at import time), which is
why the server always runs as a subprocess.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import os
import pickletools
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.dynamic import restore_pickler

__all__ = [
    "PROJECT_ROOT",
    "PROVIDER_KEY",
    "UNKNOWN",
    "CheckFailure",
    "CheckRejected",
    "CheckResponse",
    "CreateResponse",
    "DiffChanges",
    "DiffResponse",
    "PickleInfo",
    "ProviderDriver",
    "ProviderError",
    "ProviderServer",
    "ServerDiffer",
    "inspect_serialized_provider",
    "is_secret",
    "provider_server",
    "reveal",
    "secret",
    "serialized_provider",
    "urn",
]

PROVIDER_KEY = "__provider"
UNKNOWN: str = rpc.UNKNOWN
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TYPE = "pulumi-python:dynamic:Resource"

# google.protobuf.Struct; typed as Any because the venv has no types-protobuf stubs.
Struct = Any

_STARTUP_TIMEOUT = 60.0  # seconds; importing pulumi on a slow 2-core CI box takes a few seconds
_CALL_TIMEOUT = 120.0


# ---------------------------------------------------------------------------------------------
# Secrets and values
# ---------------------------------------------------------------------------------------------


def secret(value: Any) -> dict[str, Any]:
    """Wrap ``value`` as a Pulumi secret (the wire form ``{sig: secret-sig, "value": ...}``)."""
    wrapped: dict[str, Any] = rpc.wrap_rpc_secret(value)
    return wrapped


def is_secret(value: Any) -> bool:
    """Whether a decoded property value is marked secret."""
    return bool(rpc.is_rpc_secret(value))


def reveal(value: Any) -> Any:
    """Recursively remove every secret marker (what a provider that rejects secrets receives)."""
    if rpc.is_rpc_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def _contains_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


def _annotate_secrets(outs: dict[str, Any], ins: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's ``annotateSecrets``: an output is secret if its same-named input held one."""
    result = dict(outs)
    for key, in_value in ins.items():
        if key in result and _contains_secret(in_value) and not _contains_secret(result[key]):
            result[key] = secret(result[key])
    return result


def urn(
    name: str,
    type_: str = DEFAULT_TYPE,
    *,
    project: str = "project",
    stack: str = "test",
) -> str:
    """A resource URN as the engine builds it (``urn:pulumi:stack::project::type::name``)."""
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def _urn_parts(resource_urn: str) -> tuple[str, str]:
    """(type, name) of a URN; the engine sends both alongside the URN."""
    parts = resource_urn.split("::")
    if len(parts) < 4:
        raise ValueError(f"not a Pulumi URN: {resource_urn!r}")
    return parts[2].split("$")[-1], parts[3]


def _encode(props: Mapping[str, Any]) -> Struct:
    """Marshal a property bag with the SDK's own ``serialize_properties``."""
    loop = asyncio.new_event_loop()
    try:
        encoded: Struct = loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()
    return encoded


def _decode(struct: Struct, keep_unknowns: bool = False) -> dict[str, Any]:
    decoded = rpc.deserialize_properties(struct, keep_unknowns)
    return dict(decoded) if decoded else {}


# ---------------------------------------------------------------------------------------------
# The serialised provider (``__provider``)
# ---------------------------------------------------------------------------------------------


def serialized_provider(provider: ResourceProvider) -> str:
    """The exact ``__provider`` string ``pulumi.dynamic.Resource`` stores for ``provider``.

    ``Resource.__init__`` calls ``_serialize(True, serialize_provider, provider)`` (dill, recursive,
    sorted dicts, base64); a provider class defined at module level in an importable module is
    pickled by reference (``STACK_GLOBAL module name``), so code changes apply on the next run.
    """
    try:
        value, _contains_secrets = _serialize(True, serialize_provider, provider)
    finally:
        restore_pickler()  # the SDK leaks a pickler wrapper per call (see components.dynamic)
    return str(value)


@dataclass(frozen=True)
class PickleInfo:
    """What a serialised provider contains, for asserting that nothing sensitive was captured."""

    raw: bytes
    """The decoded pickle bytes."""
    strings: tuple[str, ...]
    """Every str/bytes constant in the pickle (attribute names and values)."""
    globals: tuple[str, ...]
    """Every ``module.name`` the pickle references (classes/functions pickled by reference)."""

    def mentions(self, needle: str) -> bool:
        """Whether ``needle`` occurs anywhere: raw bytes (UTF-8 and UTF-16) or a constant."""
        if needle.encode() in self.raw or needle.encode("utf-16-le") in self.raw:
            return True
        return any(needle in s for s in self.strings)


def inspect_serialized_provider(serialized: str) -> PickleInfo:
    """Decode a ``__provider`` string without unpickling it (no code runs)."""
    raw = base64.b64decode(serialized)
    strings: list[str] = []
    globals_: list[str] = []
    pending: list[str] = []  # the last string operands, for STACK_GLOBAL
    for opcode, arg, _pos in pickletools.genops(raw):
        if isinstance(arg, str | bytes | bytearray):
            text = arg if isinstance(arg, str) else bytes(arg).decode("utf-8", "replace")
            if opcode.name == "GLOBAL":  # protocol <= 3: "module name"
                globals_.append(text.replace(" ", ".", 1))
            else:
                strings.append(text)
                pending = [*pending[-1:], text]
        elif opcode.name == "STACK_GLOBAL" and len(pending) == 2:
            globals_.append(f"{pending[0]}.{pending[1]}")
        elif opcode.name != "MEMOIZE":
            pending = []
    return PickleInfo(raw=raw, strings=tuple(strings), globals=tuple(globals_))


# ---------------------------------------------------------------------------------------------
# Responses and errors
# ---------------------------------------------------------------------------------------------


class ProviderError(Exception):
    """A gRPC error from the provider; ``str()`` is the provider's exception message.

    The dynamic provider server aborts with ``traceback.format_exc()`` as the gRPC details, so the
    message is the text after ``ExceptionType: `` on the traceback's final exception line.
    """

    def __init__(self, code: grpc.StatusCode, details: str, method: str) -> None:
        self.code = code
        self.details = details
        self.method = method
        self.exception_type, self.message = _parse_traceback(details)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def _parse_traceback(details: str) -> tuple[str, str]:
    lines = details.rstrip("\n").split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call")]
    if not starts:
        return "", details
    index = starts[-1] + 1
    # Frame lines ("  File ...", source, "    ^^^^") are indented; the exception line is not.
    while index < len(lines) and (lines[index].startswith(" ") or not lines[index]):
        index += 1
    text = "\n".join(lines[index:])
    exc_type, sep, message = text.partition(": ")
    if not sep:
        return text.strip(), ""
    return exc_type, message


class DiffChanges(enum.Enum):
    NONE = "none"
    SOME = "some"
    UNKNOWN = "unknown"


_CHANGES = {
    provider_pb2.DiffResponse.DIFF_NONE: DiffChanges.NONE,
    provider_pb2.DiffResponse.DIFF_SOME: DiffChanges.SOME,
    provider_pb2.DiffResponse.DIFF_UNKNOWN: DiffChanges.UNKNOWN,
}


@dataclass(frozen=True)
class CheckFailure:
    property: str
    reason: str


@dataclass(frozen=True)
class CheckResponse:
    inputs: dict[str, Any]
    """Checked inputs as the engine stores them (``__provider`` included, secrets annotated)."""
    failures: tuple[CheckFailure, ...] = ()


@dataclass(frozen=True)
class DiffResponse:
    changes: DiffChanges
    replaces: tuple[str, ...] = ()
    stables: tuple[str, ...] = ()
    delete_before_replace: bool = False
    diffs: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateResponse:
    id: str
    outputs: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------------


class ProviderDriver:
    """Typed engine-like client for one dynamic provider served by a :class:`ProviderServer`.

    Every property bag gets ``__provider`` (the serialised ``provider``, secret like
    ``pulumi.dynamic.Resource`` makes it) unless it already has one. Returned property bags are
    plain dicts; secret values are ``{sig: ..., "value": ...}`` dicts (see :func:`is_secret`).
    """

    def __init__(
        self,
        server: ProviderServer,
        provider: ResourceProvider | None = None,
        *,
        provider_string: str | None = None,
    ) -> None:
        if provider is not None and provider_string is None:
            provider_string = serialized_provider(provider)
        elif provider is not None or provider_string is None:
            raise ValueError("pass exactly one of provider or provider_string")
        self.server = server
        self.provider_string: str = provider_string
        always = getattr(provider, "serialize_as_secret_always", True)
        self.provider_property: Any = (
            secret(self.provider_string) if always else self.provider_string
        )

    # -- marshalling ---------------------------------------------------------------------------

    def _with_provider(self, props: Mapping[str, Any] | None) -> dict[str, Any]:
        bag = dict(props or {})
        bag.setdefault(PROVIDER_KEY, self.provider_property)
        return bag

    def _marshal(self, props: Mapping[str, Any]) -> Struct:
        # The engine marshals with KeepSecrets=acceptSecrets (False for dynamic providers).
        bag = props if self.server.accept_secrets else reveal(dict(props))
        return _encode(bag)

    def _unmarshal(
        self, struct: Struct, inputs: Mapping[str, Any], keep_unknowns: bool = False
    ) -> dict[str, Any]:
        outs = _decode(struct, keep_unknowns)
        return outs if self.server.accept_secrets else _annotate_secrets(outs, inputs)

    # -- RPCs ----------------------------------------------------------------------------------

    def check(
        self,
        resource_urn: str,
        olds: Mapping[str, Any] | None,
        news: Mapping[str, Any],
        *,
        random_seed: bytes = b"\x00" * 32,
    ) -> CheckResponse:
        """``Check(olds=previous inputs, news=program inputs)``; empty olds on create."""
        type_, name = _urn_parts(resource_urn)
        news_bag = self._with_provider(news)
        olds_bag = dict(olds) if olds else {}
        request = provider_pb2.CheckRequest(
            urn=resource_urn,
            name=name,
            type=type_,
            olds=self._marshal(olds_bag),
            news=self._marshal(news_bag),
            randomSeed=random_seed,
        )
        response = self.server.call("Check", request)
        failures = tuple(CheckFailure(f.property, f.reason) for f in response.failures)
        return CheckResponse(self._unmarshal(response.inputs, news_bag, True), failures)

    def diff(
        self,
        id_: str,
        resource_urn: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        ignore_changes: tuple[str, ...] = (),
    ) -> DiffResponse:
        """``Diff(olds=old outputs, news=new checked inputs, old_inputs)``."""
        type_, name = _urn_parts(resource_urn)
        request = provider_pb2.DiffRequest(
            id=id_,
            urn=resource_urn,
            name=name,
            type=type_,
            olds=self._marshal(self._with_provider(olds)),
            news=self._marshal(self._with_provider(news)),
            old_inputs=self._marshal(self._with_provider(old_inputs or olds)),
            ignoreChanges=list(ignore_changes),
        )
        response = self.server.call("Diff", request)
        return DiffResponse(
            changes=_CHANGES[response.changes],
            replaces=tuple(response.replaces),
            stables=tuple(response.stables),
            delete_before_replace=response.deleteBeforeReplace,
            diffs=tuple(response.diffs),
        )

    def create(
        self, resource_urn: str, props: Mapping[str, Any], *, timeout: float = 0.0
    ) -> CreateResponse:
        """``Create(properties=checked inputs)`` (never called in preview for dynamic providers)."""
        type_, name = _urn_parts(resource_urn)
        bag = self._with_provider(props)
        request = provider_pb2.CreateRequest(
            urn=resource_urn, name=name, type=type_, properties=self._marshal(bag), timeout=timeout
        )
        response = self.server.call("Create", request)
        return CreateResponse(response.id, self._unmarshal(response.properties, bag))

    def update(
        self,
        id_: str,
        resource_urn: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        timeout: float = 0.0,
    ) -> dict[str, Any]:
        """``Update(olds=old outputs, news=new checked inputs)``; returns the new outputs."""
        type_, name = _urn_parts(resource_urn)
        news_bag = self._with_provider(news)
        request = provider_pb2.UpdateRequest(
            id=id_,
            urn=resource_urn,
            name=name,
            type=type_,
            olds=self._marshal(self._with_provider(olds)),
            news=self._marshal(news_bag),
            old_inputs=self._marshal(self._with_provider(old_inputs or olds)),
            timeout=timeout,
        )
        response = self.server.call("Update", request)
        return self._unmarshal(response.properties, news_bag)

    def delete(
        self,
        id_: str,
        resource_urn: str,
        props: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        timeout: float = 0.0,
    ) -> None:
        """``Delete(properties=outputs, old_inputs)``."""
        type_, name = _urn_parts(resource_urn)
        request = provider_pb2.DeleteRequest(
            id=id_,
            urn=resource_urn,
            name=name,
            type=type_,
            properties=self._marshal(self._with_provider(props)),
            old_inputs=self._marshal(self._with_provider(old_inputs or props)),
            timeout=timeout,
        )
        self.server.call("Delete", request)


# ---------------------------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------------------------


class ProviderServer:
    """A running ``python -u -m pulumi.dynamic`` process and a connected ResourceProvider stub."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        stderr_path: Path,
        call_timeout: float,
    ) -> None:
        self.process = process
        self.port = port
        self.stderr_path = stderr_path
        self.call_timeout = call_timeout
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.accept_secrets = False

    def configure(self, config: Mapping[str, Any] | None = None) -> None:
        """The engine's first call: ``Configure`` with the stack config as ``args``."""
        request = provider_pb2.ConfigureRequest(
            args=_encode(dict(config or {})),
            acceptSecrets=True,
            acceptResources=True,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
        )
        response = self.call("Configure", request)
        self.accept_secrets = bool(response.acceptSecrets)

    def call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=self.call_timeout)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            details: str = error.details() or ""
            raise ProviderError(code, details, method) from None

    def driver(self, provider: ResourceProvider) -> ProviderDriver:
        return ProviderDriver(self, provider)

    def stderr(self) -> str:
        """What the server printed on stderr so far (for debugging failures)."""
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _read_port(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    stdout = process.stdout
    lines: queue.Queue[bytes] = queue.Queue()
    reader = threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True)
    reader.start()
    try:
        return lines.get(timeout=timeout).decode().strip()
    except queue.Empty:
        return ""


@contextlib.contextmanager
def provider_server(
    env: Mapping[str, str] | None = None,
    *,
    inherit_env: bool = True,
    cwd: Path | str = PROJECT_ROOT,
    config: Mapping[str, Any] | None = None,
    call_timeout: float = _CALL_TIMEOUT,
) -> Iterator[ProviderServer]:
    """Start the real dynamic provider server, configure it like the engine, stop it at exit.

    ``env`` is added to (or, with ``inherit_env=False``, replaces) this process's environment; the
    provider reads credentials from it at call time. ``cwd`` defaults to the project root so that
    providers pickled by reference (``components.dynamic...``, ``tests.providers...``) import.
    """
    child_env = dict(os.environ) if inherit_env else {}
    child_env.update(env or {})
    pythonpath = [str(cwd), *filter(None, [child_env.get("PYTHONPATH")])]
    child_env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    with tempfile.TemporaryDirectory(prefix="dynprov-") as tmp:
        stderr_path = Path(tmp) / "stderr.log"
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"],
                cwd=str(cwd),
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        port_line = _read_port(process, _STARTUP_TIMEOUT)
        if not port_line.isdigit():
            process.kill()
            process.wait(timeout=10)
            assert process.stdout is not None
            process.stdout.close()
            raise RuntimeError(
                "python -m pulumi.dynamic did not print its port "
                f"(got {port_line!r}); stderr:\n{stderr_path.read_text(errors='replace')}"
            )
        server = ProviderServer(process, int(port_line), stderr_path, call_timeout)
        try:
            server.configure(config)
            yield server
        finally:
            server.close()


# ---------------------------------------------------------------------------------------------
# The step plan's Differ, through the real server
# ---------------------------------------------------------------------------------------------


class CheckRejected(Exception):
    """The provider's Check rejected a resource's inputs (a real preview fails there)."""

    def __init__(self, resource_urn: str, failures: tuple[CheckFailure, ...]) -> None:
        self.urn = resource_urn
        self.failures = failures
        reasons = "; ".join(f"{f.property}: {f.reason}" for f in failures)
        super().__init__(f"{resource_urn}: {reasons}")


def _state_bag(props: Mapping[str, Any]) -> dict[str, Any]:
    """A checked property bag as state holds it for diffing: no ``__provider``, no markers."""
    return {k: reveal(v) for k, v in props.items() if k != PROVIDER_KEY}


class ServerDiffer:
    """``artifact_mirrors.steps.Differ`` that asks the real dynamic-provider server, as the engine.

    For each dynamic resource in both renders: ``Check(olds={}, news=old inputs)`` gives the
    state's inputs, ``Check(olds=those, news=new inputs)`` the new ones (failures raise
    :class:`CheckRejected`), and when they differ, ``Diff``. A Diff whose inputs show no change
    would go live (the drift check), which needs the network: those are decided by the inputs
    alone (``offline`` says so) and counted in ``skipped_live``.
    """

    def __init__(
        self,
        server: ProviderServer,
        provider_for: Any,  # Callable[[str], ResourceProvider | None] (components.mockrun)
        offline: Any,  # the in-process Differ, consulted only to avoid a live check
    ) -> None:
        self.server = server
        self.provider_for = provider_for
        self.offline = offline
        self._drivers: dict[type, ProviderDriver] = {}
        self.checks = 0
        self.diffs = 0
        self.skipped_live = 0

    def _driver(self, provider: ResourceProvider) -> ProviderDriver:
        cls = type(provider)
        if cls not in self._drivers:
            self._drivers[cls] = self.server.driver(provider)
        return self._drivers[cls]

    def __call__(self, old: Any, new: Any) -> Any:
        from artifact_mirrors.steps import Decision

        provider = self.provider_for(new.type)
        if provider is None:
            return None
        driver = self._driver(provider)
        prior = driver.check(new.urn, None, dict(old.inputs))
        checked = driver.check(new.urn, _state_bag(prior.inputs), dict(new.inputs))
        self.checks += 2
        if checked.failures:
            raise CheckRejected(new.urn, checked.failures)
        olds, news = _state_bag(prior.inputs), _state_bag(checked.inputs)
        if olds == news:
            return Decision(changes=False)
        inputs_only = self.offline(old, new)
        if inputs_only is not None and not inputs_only.changes:
            self.skipped_live += 1
            return inputs_only
        response = driver.diff(new.name, new.urn, olds, news, old_inputs=olds)
        self.diffs += 1
        diffs = inputs_only.diffs if inputs_only is not None else tuple(response.diffs)
        return Decision(
            changes=response.changes is not DiffChanges.NONE,
            replaces=response.replaces,
            diffs=diffs,
            delete_before_replace=response.delete_before_replace,
        )
