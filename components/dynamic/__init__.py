"""Dynamic providers: only where no provider resource does the job (see DESIGN.md).

Providers live in importable modules so dill pickles them by reference (code changes apply to
existing stacks), hold no state, and read credentials at call time: nothing secret is captured in
the serialised provider or written to state.
"""

from __future__ import annotations

import pickle
from dataclasses import fields
from typing import Any

import pulumi
from pulumi.dynamic import ResourceProvider

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


def props_of(args: Any) -> dict[str, Any]:
    """A dataclass's fields as resource props, shallow (``asdict`` would deep-copy Outputs)."""
    return {f.name: getattr(args, f.name) for f in fields(args)}
