"""Exact Chinese full-text search: FTS5 bigram index in the archive's DB, whoosh query language.

Public: `index_item`, `unindex_item` (inside the item's transaction), `search`, `reindex`,
`compact` (merge the index's segments), `keep_doc_counts` (for ranking several terms), `build_grams` / `merge_grams` (exact totals of frequent terms), `check_index`, `index_advice` (fsck's warnings). The why and the figures: docs/search.md.
"""
from __future__ import annotations

from .engine import (build_grams, catch_up, check_index, compact, index_advice, keep_doc_counts, merge_grams, reindex,
                     search)
from .index import index_item, unindex_item

__all__ = ["index_item", "unindex_item", "search", "reindex", "catch_up", "compact", "keep_doc_counts", "build_grams",
           "merge_grams", "check_index", "index_advice"]
