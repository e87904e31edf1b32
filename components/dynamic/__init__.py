"""Dynamic providers: only where no provider resource does the job (see DESIGN.md).

Providers live in importable modules so dill pickles them by reference (code changes apply to
existing stacks), hold no state, and read credentials at call time: nothing secret is captured in
the serialised provider or written to state.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any

import pulumi
from pulumi.dynamic import Config, ConfigureRequest, DiffResult, ResourceProvider
from pulumi.runtime.rpc import UNKNOWN

# pulumi.dynamic.serialize_provider swaps pickle._Pickler._batch_setitems for a sorting wrapper of
# whatever is there and never puts the original back, so every dynamic resource adds one wrapper
# frame. After ~1,000 dynamic resources in one program (a few releases here), pickling any
# provider with instance state fails with RecursionError (pulumi/pulumi#17803, closed as
# no-repro). Captured at import, before any serialisation, and restored after each one.
_ORIGINAL_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]


def restore_pickler() -> None:
    """Undo the wrapper serialize_provider leaves behind (see above); idempotent."""
    pickle._Pickler._batch_setitems = _ORIGINAL_BATCH_SETITEMS  # type: ignore[attr-defined]


class DynamicResource(pulumi.dynamic.Resource):
    """Base of this project's dynamic resources: pulumi's, minus the pickler leak."""

    def __init__(
        self,
        provider: ResourceProvider,
        name: str,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        try:
            super().__init__(provider, name, props, opts)
        finally:
            restore_pickler()


class StackConfigProvider(ResourceProvider):
    """A provider that reads the stack config (credentials of kind ``from: stack-config``).

    The provider server calls Configure after unpickling the provider (pulumi/pulumi#17673); the
    config is kept on the instance for the calls that follow and never pickled: the serialised
    provider goes into the state, and the config holds secrets.
    """

    _config: Config | None = None

    def configure(self, req: ConfigureRequest) -> None:
        self._config = req.config

    def __getstate__(self) -> dict[str, Any]:
        return {}  # stack config (and the secrets in it) must never reach the serialised provider


def props_of(args: Any) -> dict[str, Any]:
    """A dataclass's fields as resource props, shallow (``asdict`` would deep-copy Outputs)."""
    return {f.name: getattr(args, f.name) for f in fields(args)}


def keyed_diff(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    replace_keys: Sequence[str],
    update_keys: Sequence[str],
) -> tuple[list[str], list[str]]:
    """The inputs-only half of a diff: (properties forcing replacement, properties updated)."""
    replaces = [k for k in replace_keys if olds.get(k) != news.get(k)]
    changed = [k for k in update_keys if olds.get(k) != news.get(k)]
    return replaces, changed


def inputs_then_live(
    replaces: Sequence[str],
    changed: Sequence[str],
    news: Mapping[str, Any],
    drifted: Callable[[], bool],
) -> DiffResult:
    """Diff of a provider that checks the live object (Python dynamic providers have no working
    ``read``, pulumi/pulumi#16175): an input change decides alone; an input not known yet (a
    preview) is a change; otherwise ``drifted()`` asks the live object.

    SDK 3.272's dynamic provider server sends only changes, replaces and deleteBeforeReplace (no
    ``diffs``, no detailed diff; DiffResult has no field for them), so for an input change the
    engine names the properties from its own diff of the inputs, and for drift nothing can be
    named.
    """
    if replaces or changed:
        return DiffResult(changes=True, replaces=list(replaces), delete_before_replace=False)
    if any(v == UNKNOWN for v in news.values()):
        return DiffResult(changes=True, replaces=[], delete_before_replace=False)
    return DiffResult(changes=drifted(), replaces=[], delete_before_replace=False)
