"""What the mock run (`mirrors plan`, component tests) skips because nothing reads it.

Profiled on 40 releases (13,823 resources, `python -m cProfile -m artifact_mirrors plan`): a
quarter of the run was ``pulumi.runtime.resource._get_stack_trace``. The SDK walks the whole
Python stack for every RegisterResource and turns each frame into a ``file://`` URI
(``pathlib.Path.as_uri``), ~37 frames per resource, so the engine can point at the line that
declared a resource. The mock monitor (``components.mockrun.RecordingMonitor``) never reads
``stackTrace`` or ``sourcePosition``, and nothing the plan reports comes from them, so under mocks
the trace is empty. The real program (`pulumi up`, ``__main__.py``) never enters this context
manager: the engine still gets its source positions there.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc as sdk_rpc
from pulumi.runtime.proto import source_pb2

if TYPE_CHECKING:
    from pulumi import Resource


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


@contextmanager
def declaration_order() -> Iterator[dict[tuple[str, str], int]]:
    """(type, name) -> the order the program declared each resource in, while inside.

    The SDK sends RegisterResource from a thread pool, so the order the mock monitor sees
    varies from run to run among resources that wait on nothing (measured: two plans of the
    shipped spec differed). Resource constructors run in program order and each calls
    ``register_resource`` synchronously; recording that order lets the mock run report
    resources in it, so two plans of the same inputs are byte-identical.
    """
    import pulumi.resource as sdk_resource_module

    order: dict[tuple[str, str], int] = {}
    # pulumi/resource.py imports register_resource by name; Resource.__init__ calls that name.
    original = getattr(sdk_resource_module, "register_resource")  # noqa: B009

    def recording(res: Any, ty: str, name: str, *args: Any, **kwargs: Any) -> None:
        order.setdefault((ty, name), len(order))
        original(res, ty, name, *args, **kwargs)

    setattr(sdk_resource_module, "register_resource", recording)  # noqa: B010
    try:
        yield order
    finally:
        setattr(sdk_resource_module, "register_resource", original)  # noqa: B010


@contextmanager
def without_source_positions() -> Iterator[None]:
    """RegisterResource requests carry no stack trace while inside (mock runs only)."""
    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:  # an SDK without it: nothing to skip
        yield
        return
    sdk_resource._get_stack_trace = _no_stack_trace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original


class Settle:
    """Let every registration declared so far finish before the program declares more.

    The program declares all ~14k resources of 40 releases in one synchronous call, and the SDK
    starts none of their RegisterResource calls until it returns, so every resource's pending
    coroutines, futures and request messages are alive at once (1.2 GB at 40 releases). Called by
    the program after each release under mocks (one instance per run), this pumps the event loop
    (the SDK's own ``_sync_await``, the way it waits for an invoke from synchronous code) until
    the RPCs queued so far, and the output tasks they resolve, are done; drops the finished RPCs
    from the SDK's list, so at most one release is pending; then :func:`release_outputs` of the
    release just declared. Registration order within the run is unchanged: the SDK still
    registers in the order the program declares.
    """

    def __init__(self) -> None:
        self._outer_bound: int | None = None

    def __call__(self, component: Resource | None = None) -> None:
        import asyncio

        from pulumi.runtime import settings
        from pulumi.runtime.sync_await import _sync_await

        manager = settings.SETTINGS.rpc_manager

        async def registered() -> None:
            pending = [rpc for rpc in manager.rpcs if not rpc.done()]
            if pending:
                await asyncio.gather(*pending)
            if component is None:
                return
            # Resolved values reach each Output's own task a loop turn after its RPC; await the
            # tracked ones (what the SDK's wait_for_rpcs awaits at the end of a run).
            with settings.SETTINGS.lock:
                outputs = [task for task in settings.SETTINGS.outputs if not task.done()]
            if outputs:
                await asyncio.gather(*outputs)

        self._trim_padding(asyncio.get_event_loop())
        _sync_await(registered())
        # wait_for_rpcs at the end of the run awaits whatever is left in this list; the finished
        # ones have nothing more to report (a failure is kept in manager.unhandled_exception).
        manager.rpcs[:] = [rpc for rpc in manager.rpcs if not rpc.done()]
        if component is not None:
            release_outputs(component)

    def _trim_padding(self, loop: asyncio.AbstractEventLoop) -> None:
        """Keep the cancelled placeholders ``_sync_await`` leaves in the ready queue bounded.

        The program runs inside one handle of the loop's ``_run_once``, which pops the number of
        handles it counted before that handle ran. ``_sync_await`` (pulumi/runtime/sync_await.py)
        runs the loop from inside it, so afterwards it refills the queue with cancelled handles
        up to the length it found, and that length includes every handle the release just
        scheduled: the padding grew by ~5,800 per release and each call ran all of it again
        (2 million handles at 40 releases, a third of the run). The outer ``_run_once`` never
        needs more than the queue held at the first call of the run, so cancelled handles
        beyond that are dropped; live handles stay, in order.
        """
        ready: deque[asyncio.Handle] = loop._ready  # type: ignore[attr-defined]
        if self._outer_bound is None:
            self._outer_bound = len(ready)
            return
        excess = len(ready) - self._outer_bound
        if excess <= 0:
            return
        kept: deque[asyncio.Handle] = deque()
        for handle in ready:
            if excess > 0 and handle.cancelled():
                excess -= 1
                continue
            kept.append(handle)
        ready.clear()
        ready.extend(kept)


class _OnDemandAttrs(dict[str, Any]):
    """A resource's ``__dict__`` whose output properties become ``Output``s on first read.

    Generated provider classes read an output through ``pulumi.get(self, name)``, which is
    ``self.__dict__.get(name)`` (pulumi/_types.py); the dynamic and component resources read it as
    a plain attribute, which falls back to ``Resource.__getattr__`` (set by
    :func:`outputs_on_demand`) when the dict has no such key.
    """

    __slots__ = ("pending",)

    def __init__(self, attrs: dict[str, Any]) -> None:
        super().__init__(attrs)
        self.pending: dict[str, _PendingOutput] = {}

    def get(self, key: str, default: Any = None) -> Any:
        pending = self.pending.get(key)
        if pending is not None:
            return pending.materialize(self, key)
        return dict.get(self, key, default)


class _PendingOutput:
    """The resolver of one output property no one has read yet: it keeps the resolution.

    The SDK calls a property's resolver with ``(value, is_known, is_secret, deps, failed)``
    (pulumi/runtime/rpc.py resolve_properties); on first read the property gets the SDK's own
    ``Output`` and resolver (``transfer_properties`` for that one key), which is then called
    with what was kept, or later, when the registration resolves.
    """

    __slots__ = ("resolution", "resolve", "resource")

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.resolution: tuple[Any, ...] | None = None
        self.resolve: Callable[..., None] | None = None

    def __call__(self, *resolution: Any) -> None:
        if self.resolve is not None:
            self.resolve(*resolution)
        else:
            self.resolution = resolution

    def materialize(self, attrs: _OnDemandAttrs, key: str) -> Any:
        # custom=False: the SDK skips only ``urn`` then; a custom resource's ``id`` is never
        # pending (_transfer_on_demand leaves it to the SDK), a component's may be.
        resolve = _transfer_properties(self.resource, {key: None}, False)[key]
        del attrs.pending[key]
        if self.resolution is not None:
            resolve(*self.resolution)
        else:
            self.resolve = resolve
        return dict.__getitem__(attrs, key)


_transfer_properties = sdk_rpc.transfer_properties


def _transfer_on_demand(res: Resource, props: Any, custom: bool) -> dict[str, Any]:
    """``rpc.transfer_properties`` without creating any Output: one pending resolver per key."""
    attrs = res.__dict__
    if not isinstance(attrs, _OnDemandAttrs):
        attrs = _OnDemandAttrs(attrs)
        res.__dict__ = attrs
    resolvers: dict[str, Any] = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # the SDK's own, as in transfer_properties
        # The SDK's transfer replaces whatever the constructor left under that name; so does
        # the first read here (a pending name is never also a plain attribute).
        dict.pop(attrs, name, None)
        resolvers[name] = attrs.pending[name] = _PendingOutput(res)
    return resolvers


def _pending_attribute(self: Resource, name: str) -> Any:
    attrs = self.__dict__
    if isinstance(attrs, _OnDemandAttrs) and name in attrs.pending:
        return attrs.pending[name].materialize(attrs, name)
    raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


@contextmanager
def outputs_on_demand() -> Iterator[None]:
    """Output properties become ``Output``s when the program reads them, not at registration.

    For every registered resource the SDK makes one ``Output`` per output property
    (``transfer_properties``: four futures, a task awaiting them, a tracking callback), and
    resolves each when the registration returns: a pulumi-aws ``AmiCopy`` has 36, and at 40
    releases that was ~240,000 Outputs, a third of the run (measured: 39.6 s -> ~27 s, the
    plan byte-identical). The program reads a handful (an AMI copy's ``root_snapshot_id``, an
    ImageTag's ``digest``, a transfer's ``image_id``); the mock monitor records registrations
    from the requests, never from these Outputs. While inside, a property's resolver keeps its
    resolution and the SDK's ``Output`` is made on first read, resolved the same way. Mock runs
    only: the real program (``__main__.py``) never enters this.
    """
    import pulumi

    if "__getattr__" in vars(pulumi.Resource):  # an SDK that has its own: leave it alone
        yield
        return
    sdk_rpc.transfer_properties = _transfer_on_demand
    setattr(pulumi.Resource, "__getattr__", _pending_attribute)  # noqa: B010
    try:
        yield
    finally:
        sdk_rpc.transfer_properties = _transfer_properties
        delattr(pulumi.Resource, "__getattr__")


# What the program still reads from a registered resource: ``urn`` (depends_on of later
# resources, e.g. floating tags) and ``id`` (an AMI copy's id in the exported audit).
KEPT_OUTPUTS = frozenset({"urn", "id"})


def release_outputs(component: Resource) -> int:
    """Drop the resolved output properties of ``component`` and everything under it.

    The SDK gives every output property of a resource its own ``Output`` (a task, its
    coroutine, a context copy, a set of resources), ~47 of them for a pulumi-aws ``AmiCopy``,
    and the resource keeps them as attributes for as long as it lives. The exported audit
    holds each AMI copy's ``id``, so at 40 releases ~4,300 copies kept ~200,000 resolved
    Outputs alive (most of the peak RSS; measured with ``gc.get_objects`` after the run).
    Once a release's registrations are done (``Settle``), its resources' registration is what
    the mock monitor already recorded; nothing reads the other outputs afterwards, so only
    ``urn`` and ``id`` stay. A resolved output is dropped, never a pending one. Mock runs
    only: the real program never calls this. Returns how many were dropped.
    """
    from pulumi.output import Output

    dropped = 0
    todo: list[Resource] = [component]
    while todo:
        res = todo.pop()
        todo.extend(res._childResources)
        attrs = vars(res)
        for key in [k for k, v in attrs.items() if isinstance(v, Output)]:
            if key not in KEPT_OUTPUTS and attrs[key]._data.done():
                del attrs[key]
                dropped += 1
        if isinstance(attrs, _OnDemandAttrs):
            # Never read while the release was declared: their resolutions (and the resources
            # their dependency sets hold) go too.
            for key in [k for k, v in attrs.pending.items() if v.resolution is not None]:
                del attrs.pending[key]
                dropped += 1
    return dropped


@contextmanager
def young_collections_only(threshold: int = 10_000) -> Iterator[None]:
    """Fewer collections of a heap that only grows while the program runs.

    Each resource leaves ~20 futures and tasks behind, most of them in reference cycles with
    their resource, so the collector runs every 700 allocations and, as the heap grows, full
    collections walk all of it: at 40 releases more than half of the mock run was collection
    (measured: 10 releases 7.1 s with the default thresholds, 4.5 s with these, same peak RSS).
    The thresholds only space collections out; cyclic garbage is still collected.
    """
    import gc

    before = gc.get_threshold()
    gc.set_threshold(threshold, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def release_sdk_state() -> None:
    """Drop the SDK's references to the finished run (root stack, tracked outputs, RPC list).

    The records the monitor kept are all the plan needs afterwards; without this the whole
    resource tree (~0.4 GB at 40 releases) stays alive while the plan is built and written.
    """
    import gc

    from pulumi.runtime import settings

    settings.set_root_resource(None)  # type: ignore[arg-type]
    settings.SETTINGS.outputs.clear()
    settings.SETTINGS.rpc_manager.clear()
    gc.collect()
