"""The SDK's serialize_provider leaks a pickler wrapper per call (pulumi/pulumi#17803).

With ~1,000 dynamic resources in one program, the next provider with instance state fails to
pickle. Our DynamicResource base restores the pickler after each serialisation.
"""

from __future__ import annotations

import pickle

import pytest
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider

from components.dynamic import restore_pickler
from tests.providers.example_provider import LeakyProvider


class Stateless(ResourceProvider):
    pass


def test_sdk_leak_exists_and_restore_fixes_it() -> None:
    try:
        for _ in range(1200):
            serialize_provider(Stateless())
        # The SDK bug itself: if this stops raising, the workaround can go.
        with pytest.raises(RecursionError):
            serialize_provider(LeakyProvider("x"))
    finally:
        restore_pickler()
    assert serialize_provider(LeakyProvider("x"))
    restore_pickler()


def test_restore_is_idempotent() -> None:
    before = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    restore_pickler()
    restore_pickler()
    serialize_provider(Stateless())
    restore_pickler()
    assert pickle._Pickler._batch_setitems is before  # type: ignore[attr-defined]
