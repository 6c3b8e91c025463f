"""The event workers' precomputed results, on both store backends: insert-once per key and
version, newest-first reads, per-user isolation and deletion."""

from __future__ import annotations

from core.settings import Settings
from retrieval.store.precomputed import open_precomputed_store


def test_precomputed_rows_are_insert_once_and_per_user(backend_settings: Settings) -> None:
    store = open_precomputed_store(backend_settings)
    try:
        assert store.put("alice", "chips", "m1", "v1", {"chips": ["Thanks!"]})
        assert not store.put("alice", "chips", "m1", "v1", {"chips": ["other"]})  # kept first
        assert store.put("alice", "chips", "m1", "v2", {"chips": ["Sure"]})
        assert store.put("bob", "chips", "m1", "v1", {"chips": ["Bob's"]})
        assert store.get("alice", "chips", "m1", "v1") == {"chips": ["Thanks!"]}
        assert store.has("alice", "chips", "m1", "v2") and not store.has(
            "carol", "chips", "m1", "v1"
        )
        assert store.keys("alice", "chips") == [("m1", "v1"), ("m1", "v2")]
        assert store.get("bob", "chips", "m1") == {"chips": ["Bob's"]}
        assert store.delete_user("alice") == {"precomputed": 2}
        assert store.keys("alice", "chips") == [] and store.keys("bob", "chips") == [("m1", "v1")]
    finally:
        store.close()
