"""The store table (backends/stores.py) and what each store declares about itself."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from _stores import STORES as TEST_STORES
from taskstate_server.backends import Feature, StoreURLError, has_feature, open_backend
from taskstate_server.backends.base import SharedFeedBackend
from taskstate_server.backends.stores import STORES, store_for_scheme, store_named

NAMES = [s.name for s in STORES]


def test_every_store_is_in_the_tests_table_and_back() -> None:
    assert list(TEST_STORES) == NAMES


def test_a_scheme_names_one_store() -> None:
    schemes = [scheme for s in STORES for scheme in s.schemes]
    assert len(schemes) == len(set(schemes)), schemes
    for store in STORES:
        for scheme in store.schemes:
            assert store_for_scheme(scheme, f"{scheme}://x") is store


@pytest.mark.parametrize("name", NAMES)
def test_the_class_declares_what_it_can_do(name: str) -> None:
    cls = store_named(name).load()
    assert isinstance(cls.features, frozenset)
    assert all(isinstance(f, Feature) for f in cls.features)
    assert inspect.iscoroutinefunction(cls.open_url)
    if Feature.SHARED_FEED in cls.features:
        # What has_feature promises the type checker, the class must have.
        assert Feature.SHARED in cls.features
        wait = getattr(cls, SharedFeedBackend.wait_feed_ready.__name__)
        assert inspect.iscoroutinefunction(wait)
        assert list(inspect.signature(wait).parameters) == ["self", "timeout_s"]


def test_has_feature_reads_the_declaration() -> None:
    backend = asyncio.run(open_backend("memory://"))
    assert has_feature(backend, Feature.SWEEPS)
    assert not has_feature(backend, Feature.SHARED_FEED)


def test_an_unknown_scheme_lists_every_store() -> None:
    with pytest.raises(StoreURLError) as caught:
        asyncio.run(open_backend("postgres://x"))
    for store in STORES:
        assert store.example in str(caught.value)
