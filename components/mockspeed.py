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

from collections.abc import Iterator
from contextlib import contextmanager

from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


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


def settle() -> None:
    """Let every registration declared so far finish before the program declares more.

    The program declares all ~14k resources of 40 releases in one synchronous call, and the SDK
    starts none of their RegisterResource calls until it returns, so every resource's pending
    coroutines, futures and request messages are alive at once (1.2 GB at 40 releases). Called by
    the program after each release under mocks, this pumps the event loop (the SDK's own
    ``_sync_await``, the way it waits for an invoke from synchronous code) until the RPCs queued
    so far are done, and drops the finished ones from the SDK's list, so at most one release is
    pending. Registration order within the run is unchanged: the SDK still registers in the
    order the program declares.
    """
    import asyncio

    from pulumi.runtime import settings
    from pulumi.runtime.sync_await import _sync_await

    manager = settings.SETTINGS.rpc_manager
    pending = [rpc for rpc in manager.rpcs if not rpc.done()]
    if pending:
        _sync_await(asyncio.gather(*pending))
    # wait_for_rpcs at the end of the run awaits whatever is left in this list; the finished
    # ones have nothing more to report (a failure is kept in manager.unhandled_exception).
    manager.rpcs[:] = [rpc for rpc in manager.rpcs if not rpc.done()]


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
