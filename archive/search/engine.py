"""search / reindex / check_index: the query path and index maintenance."""
from __future__ import annotations

import heapq
import re
import time

from archive.core.sqlite import sqlite3
from archive.core.db import transaction
from archive.core.errors import NotFound, UsageError
from archive.core.progress import Progress
from . import doccounts, fts5, grams, rank_ext
from .analysis import ANALYZER_VERSION, contains, normalise
from .count import count_rest
from .filters import item_tokens
from .index import (DOCS, FTS, LEGACY_FTS, LEGACY_SRC, NEW_FTS, OLD, PENDING, STATE,
                    UNMOVED, index_item, item_codes, make_fts, source_hash, unindex_item, write_row)
# COUNT_CACHE is read here by name: the benchmark and tests clear it
from .kept import COUNT_CACHE, remember, state as index_state, total as kept_total  # noqa: F401
from .grams_build import start_inline
from .prefetch import analysed
from .query import (AllN, and_all, code_filter, compile_tree, date_filter, parse, type_filter,
                    unit_filter)
from .ranking import (BM25_WEIGHTS, bigrams, bm25_idf, fields_of, fts_rows, fts_totals, multi_ranks, term_freq,
                      term_ranks)
from .snippets import make_item_snippet
from archive.maps.loading import NoMapSelected, active_map_ids, active_maps, code_labels, current_map, get_map, split_qualified

MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000   # past any archive's size; bigger is a typo (and overflows SQLite's integer)


def _ea_contains(term, *fields):
    return any(contains(normalise(f), term) for f in fields if f)


def _ea_name_contains(term, name):
    return bool(name) and normalise(term) in normalise(name)


def _register(conn: sqlite3.Connection) -> None:
    conn.create_function("ea_contains", 5, _ea_contains, deterministic=True)
    conn.create_function("ea_name_contains", 2, _ea_name_contains, deterministic=True)


def _resolver(instance):
    """code: → (map_id, code) of the node and its subtree's leaves (lenient spelling). A
    qualified code (`id:Ⅲ—1`) names its map; a bare one the selected map, else every active
    map that has it."""
    def resolve(code: str) -> list:
        qualified, bare = split_qualified(code)
        try:
            maps = [get_map(instance, qualified)] if qualified else [current_map(instance)]
        except NoMapSelected:
            maps = active_maps(instance)
        except (UsageError, NotFound):
            maps = []
        out = []
        for imap in maps:
            node = imap.find(bare)
            if node is not None:
                out += [(imap.id, node.code)] + [(imap.id, leaf.code) for leaf in imap.subtree_leaves(node.code)]
        if out and len(maps) == 1 and instance.db.execute(
                # two ranges, not `<>`: an index search (0.01 ms) instead of a scan of every code
                # (10 ms at 150,000 codes)
                "SELECT 1 FROM item_codes WHERE map_id < ? OR map_id > ? LIMIT 1",
                [maps[0].id, maps[0].id]).fetchone() is None:
            return [c for _, c in out]   # one map on file: plain codes (the filter-token path)
        if out:
            return out
        if instance.db.execute("SELECT 1 FROM item_codes WHERE code = ? LIMIT 1", [bare]).fetchone():
            return [bare]  # a code of an older edition, still on some items
        raise UsageError("unknown code", f"指标代码 {code} 不在当前指标体系中")
    return resolve


_MAP_FIELD = re.compile(r'(\bmap:)("?)([^\s"()]+)\2')


def _known_maps(instance, query: str) -> str:
    """`map:ID` names a loaded map (any case): written as its id, else a clear error."""
    def one(m):
        try:
            return m.group(1) + get_map(instance, m.group(3)).id
        except NotFound as e:
            raise UsageError("unknown map", e.message_zh) from None
    return _MAP_FIELD.sub(one, query)


def search(instance, query: str | None, code=None, type=None, unit=None, date_from=None,
           date_to=None, limit: int = 20, offset: int = 0) -> dict:
    """Run a query (CONTRACT.md "Search") → {"total": N, "order": "relevance"|"recent", "hits": [...]}.

    Order: when the query has more than RECENT_MIN_HITS hits, newest first (item id descending,
    i.e. archive order, `"order": "recent"`, each hit's `score` is None); otherwise by bm25, then
    date (newest first), then id (`"order": "relevance"`). The rule depends on the total alone,
    so every page of one result is ordered alike. Each hit also carries `snippet_html` (escaped,
    terms in <mark>) and `highlights` ([start, end] offsets of the terms in `snippet`).
    Raises UsageError (Chinese message) for a malformed query or filter."""
    if not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise UsageError("bad limit", f"--limit 应为 0 到 {MAX_LIMIT} 之间的整数")
    if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise UsageError("bad offset", f"offset 应为 0 到 {MAX_OFFSET} 之间的整数")
    resolve = _resolver(instance)
    filters = []
    if code:
        filters.append(code_filter(code, resolve))
    if type:
        filters.append(type_filter(type))
    if unit:
        filters.append(unit_filter(unit))
    if date_from or date_to:
        filters.append(date_filter(date_from, date_to))
    if query is None or not query.strip():
        if not filters:
            raise UsageError("empty query", "检索式为空，请输入检索词")
        tree = AllN()
    else:
        tree = parse(_known_maps(instance, query), resolve)
    db = instance.db
    legacy, pending = db.execute(f"SELECT EXISTS (SELECT 1 FROM {UNMOVED}), "
                                 f"EXISTS (SELECT 1 FROM {PENDING})").fetchone()
    ix = _OLD_IX if legacy else _NEW_IX
    # filter tokens are used only while every row's are current (nothing pending)
    compiled = compile_tree(and_all(tree, *filters), ix.table, tokens=not (legacy or pending),
                            date_bounds=lambda: db.execute("SELECT min(date), max(date) FROM items").fetchone())
    if "ea_" in compiled.where:
        _register(db.conn)
    try:
        # FTS5 alone answers only while no row can be stale (nothing pending)
        if (compiled.match and compiled.where == LIVE and compiled.ranked and not pending
                and offset + limit <= TEXT_ONLY_MAX_ROWS):
            rare = compiled.phrase and ix is _NEW_IX and RARE_MAX
            found = _rare_phrase(db, ix, compiled, limit, offset) if rare else None
            if found is None and compiled.single:
                found = _counted_bigram(db, ix, compiled, limit, offset)
            if found is None:
                if compiled.single and ix is _NEW_IX and rank_ext.available(db):
                    # one term scored by ea_rank with an IDF of 1: its score without the IDF
                    # (_without_idf) straight away, nothing counted for it; one walk when few
                    one = rank_ext.rank_sql(ix.table, ix.weights, compiled.match,
                                            {tuple(bigrams(compiled.single)): 1.0})
                    found = _text_only(db, ix, compiled.match, limit, offset,
                                       _likely_few(db, ix, compiled), rank=one)
                elif compiled.single and ix is _NEW_IX:
                    # one term: when its hits look few, its rowids first, and few hits scored
                    # in Python (no walk of every item with the term for bm25's document count)
                    few, cheap = _likely_few(db, ix, compiled, with_cost=True)
                    # filtered: bm25's count walks more items than the hits; unfiltered, the
                    # same ones, so only when scoring them in Python looks cheaper than that
                    ids_first = few and (compiled.match != _term_phrase(compiled.single) or cheap)
                    found = _text_only(db, ix, compiled.match, limit, offset, few and not ids_first,
                                       compiled.single, ids_first)
                else:
                    lately = rank = None
                    if compiled.multi and ix is _NEW_IX:
                        found, lately, rank = _multi_terms(db, ix, compiled, limit, offset)
                    if found is None:   # narrow: the one walk carries bm25
                        found = _text_only(db, ix, compiled.match, limit, offset,
                                           compiled.narrow or _likely_few(db, ix, compiled, lately=lately),
                                           rank=rank)
            total, rows, order = found
        else:
            total, rows, order = _general(db, ix, compiled, limit, offset)
    except sqlite3.OperationalError as e:
        if "fts5" in str(e).lower():  # should not happen: every term is quoted
            raise UsageError("malformed query", f"检索式无法执行，请检查写法（{e}）") from None
        raise
    return {"total": total, "order": order, "hits": _hits(db, rows, compiled.terms)}


LIVE = "items.deleted_at IS NULL"
# More hits than this: newest first (id desc) instead of bm25. bm25 costs 0.6–1.7 µs a hit and says
# nothing about a term most items contain; 2,000 bounds its cost (≤ ~4 ms) at any archive size.
# Measurements and the decision: docs/search.md, bench/RESULTS.md "Search".
RECENT_MIN_HITS = 2000
RECENT, RELEVANCE = "recent", "relevance"
TEXT_ONLY_MAX_ROWS = 1000   # deeper pages go through _general


class _Ix:
    """An FTS5 table search reads: its name, bm25 call and join with items."""

    def __init__(self, table: str, weights):
        self.table = table
        self.weights = weights
        self.rank = f"bm25({table}, " + ", ".join(str(x) for x in weights) + ")"
        self.join = (f"FROM {table} CROSS JOIN items INDEXED BY items_search_live ON items.id = {table}.rowid "
                     f"WHERE {table} MATCH ? AND {{where}}")


_NEW_IX = _Ix(FTS, (*BM25_WEIGHTS, 0.0))
_OLD_IX = _Ix(LEGACY_FTS, BM25_WEIGHTS)   # while an old archive moves over


def _general(db, ix, compiled, limit, offset):
    """Any query. With terms: each FTS hit is joined to items (through a covering index:
    deleted_at sits after the text in the row) and the matching rows kept. A result of at most
    RECENT_MIN_HITS rows is fetched in one pass with bm25 and ordered in Python. A larger one is
    recognised after RECENT_MIN_HITS + 1 rows; the rest is counted in SQL from where that pass
    stopped (so each hit is read once) and the page walked by rowid descending, nothing scored.
    Without terms: SQL counts and sorts over the covering index."""
    if compiled.match:
        params = [compiled.match, *compiled.params]
        join = ix.join.format(where=compiled.where)
        # FTS5 yields rowids ascending: stop after RECENT_MIN_HITS + 1 rows, count the rest from there
        rank = ix.rank if compiled.ranked else "0.0"
        rows = db.execute(f"SELECT items.id, {rank}, items.date {join} ORDER BY {ix.table}.rowid "
                          f"LIMIT {RECENT_MIN_HITS + 1}", params).fetchall()
        if len(rows) <= RECENT_MIN_HITS:
            if compiled.single and compiled.ranked:   # (rows may be stale here: the term is counted)
                rows = _without_idf(db, ix, compiled.single, rows, current=False)
            # bm25, then date (newest first, none last), then id
            top = heapq.nsmallest(offset + limit, rows, key=_order_key)
            return len(rows), [(r[0], r[1]) for r in top[offset:]], RELEVANCE
        total = len(rows) + db.execute(f"SELECT count(*) {join} AND {ix.table}.rowid > ?",
                                       [*params, rows[-1][0]]).fetchone()[0]
        page = db.execute(f"SELECT items.id, NULL {join} ORDER BY {ix.table}.rowid DESC LIMIT ? OFFSET ?",
                          [*params, limit, offset]).fetchall()
        return total, page, RECENT
    base = f"FROM items INDEXED BY items_search_live WHERE {compiled.where}"
    total = db.execute(f"SELECT count(*) {base}", compiled.params).fetchone()[0]
    if total > RECENT_MIN_HITS:
        return total, db.execute(f"SELECT items.id, NULL {base} ORDER BY items.id DESC LIMIT ? OFFSET ?",
                                 [*compiled.params, limit, offset]).fetchall(), RECENT
    return total, db.execute(f"SELECT items.id, 0.0 {base} ORDER BY items.date DESC, items.id LIMIT ? OFFSET ?",
                             [*compiled.params, limit, offset]).fetchall(), RELEVANCE


def _at_most(db, ix, match, n: int) -> bool:
    """`match` has at most n rows: its first n + 1 rowids walked, nothing scored (a code's
    tokens: ~0.05 ms). A query ANDed with it then has at most n hits, so its one walk may
    carry bm25 (_text_only's `narrow`) instead of counting first and walking again."""
    t = ix.table
    return db.execute(f"SELECT count(*) FROM (SELECT rowid FROM {t} WHERE {t} MATCH ? LIMIT {n + 1})",
                      [match]).fetchone()[0] <= n


# A query is guessed narrow when the newest 1/SAMPLE_SHARE of the archive (by item id) holds
# fewer than SAMPLE_FEW of its hits: at that rate the whole archive holds ~500, a quarter of
# RECENT_MIN_HITS. Only in archives of SAMPLE_MIN_ITEMS or more (smaller ones walk fast anyway).
SAMPLE_SHARE = 16
SAMPLE_FEW = RECENT_MIN_HITS // 4 // SAMPLE_SHARE   # 31
SAMPLE_MIN_ITEMS = 10_000


def _likely_few(db, ix, compiled, with_cost=False, lately=None):
    """The query probably has at most RECENT_MIN_HITS hits, whatever its terms: few among the
    newest items (_few_lately), or a code filter matching at most that many items (_at_most).
    with_cost: (that, whether scoring its hits in Python looks cheaper than walking them: the
    sample's hits at PY_HIT_S each against the time the sample's walk took). `lately`: the
    sample's hits when already counted (up to more than SAMPLE_FEW)."""
    walk = time.perf_counter()
    if lately is None:
        lately = _few_lately(db, ix, compiled.match)
    walk = time.perf_counter() - walk
    few = (lately is not None and lately < SAMPLE_FEW
           or bool(compiled.selective and _at_most(db, ix, compiled.selective, RECENT_MIN_HITS)))
    if not with_cost:
        return few
    return few, lately is not None and lately * PY_HIT_S < walk


def _few_lately(db, ix, match, cap: int = SAMPLE_FEW, top: int | None = None) -> int | None:
    """Hits of `match` among the newest 1/SAMPLE_SHARE of item ids, counted up to SAMPLE_FEW
    (None in an archive of fewer than SAMPLE_MIN_ITEMS). Fewer than SAMPLE_FEW: the query
    probably has far fewer than RECENT_MIN_HITS, so its one walk may carry bm25 instead of
    counting first and walking again (one walk of the hits saved). FTS5 seeks to the rowid and
    stops after SAMPLE_FEW rows: ~0.1–0.2 ms. A wrong guess (hits bunched in older items) costs
    what a narrow query with more hits costs: bm25 on RECENT_MIN_HITS + 1 rows, then the rest
    counted unscored; the result is the same. `cap`: count up to that many instead; `top`: the
    highest item id, when already read."""
    if top is None:
        top = db.execute("SELECT max(id) FROM items").fetchone()[0] or 0
    if top < SAMPLE_MIN_ITEMS:
        return None
    t = ix.table
    return db.execute(f"SELECT count(*) FROM (SELECT rowid FROM {t} WHERE {t} MATCH ? AND rowid > ? "
                      f"LIMIT {cap})", [match, top - top // SAMPLE_SHARE]).fetchone()[0]


def _fts_count(db, ix, match) -> int:
    """Rows matching `match` in FTS5 alone: walks rowids only (~0.04 µs a hit), no scoring."""
    return db.execute(f"SELECT count(*) FROM {ix.table} WHERE {ix.table} MATCH ?", [match]).fetchone()[0]


def _order_key(r):
    # (score asc, date desc with None last, id asc); dates are ISO strings
    return (r[1], _neg_date(r[2]), r[0])


def _neg_date(d):
    if d is None:
        return (1, 0)
    try:
        return (0, -int(d[:4] + d[5:7] + d[8:10]))
    except ValueError:
        return (0, 0)


def _text_only(db, ix, match, limit, offset, narrow, term=None, ids_first=False, rank=None):
    """The query is one FTS5 MATCH (terms and filter tokens), answered from FTS5 alone: the count
    needs no join (index_item keeps rows of deleted items out of the index; a writer that did
    not call it leaves the item pending, and then this path is not taken).

    The matches are walked in rowid order (FTS5 walks forwards about twice as fast as
    backwards) and the walk stops after RECENT_MIN_HITS + 1 rows. If it stopped, the rest is
    counted from where it stopped (each hit read once) and the page is the doclist walked
    backwards, stopped after the page: nothing is scored. Otherwise the page and the rows tied
    with its last one are ordered by bm25, date, id. `narrow` (four or more tokens: a phrase of
    5+ characters, several terms; rarely more than RECENT_MIN_HITS hits; or a code filter
    with at most RECENT_MIN_HITS items: never more hits): that one walk carries bm25.
    Otherwise (a 2-character term: often tens of thousands of hits) it carries no scores, and
    a result of ≤ RECENT_MIN_HITS rows is read again with bm25. `term`: the query is that one
    ideograph term and token filters, its scores leave out the IDF (_without_idf); with
    `ids_first` (few filtered hits expected) the walk hands its rowids over, and a result of at
    most ONE_TERM_MAX hits is scored in Python (_one_term_scores) instead of walked again.
    `rank`: (SQL, parameters) scoring instead of ix.rank (ea_rank with the IDFs given)."""
    n = offset + limit
    t = ix.table
    rank_sql, rank_params = rank or (ix.rank, [])
    version = index_state(db, t)
    kept = _kept_huge(db, ix, match, version, limit, offset)
    if kept is not None:
        return kept
    # bm25 first computes each phrase's document count (one more walk of its doclists), and
    # then reads each hit's positions and column sizes (~9 µs a row for a phrase at 100k).
    walk = time.perf_counter()
    if narrow:
        rows = db.execute(f"SELECT rowid, {rank_sql} FROM {t} WHERE {t} MATCH ? ORDER BY rowid "
                          f"LIMIT {RECENT_MIN_HITS + 1}", [*rank_params, match]).fetchall()
        seen, last = len(rows), rows[-1][0] if rows else None
    elif ids_first:
        ids = [r[0] for r in db.execute(f"SELECT rowid FROM {t} WHERE {t} MATCH ? ORDER BY rowid "
                                        f"LIMIT {RECENT_MIN_HITS + 1}", [match])]
        seen, last = len(ids), ids[-1] if ids else None
    else:   # rowids only, not even handed to Python
        seen, last = db.execute(f"SELECT count(*), max(rowid) FROM (SELECT rowid FROM {t} WHERE {t} MATCH ? "
                                f"ORDER BY rowid LIMIT {RECENT_MIN_HITS + 1})", [match]).fetchone()
    walk = time.perf_counter() - walk
    bare = term is not None and match == _term_phrase(term)   # one term, nothing filtered
    if narrow and term and seen <= RECENT_MIN_HITS:
        rows = _without_idf(db, ix, term, rows, seen if bare else None)
    if seen > RECENT_MIN_HITS:
        return _huge(db, ix, match, version, seen, last, walk, limit, offset)
    total = seen
    if n == 0 or not total:
        return total, [], RELEVANCE
    # bm25 would walk every item with the term again (filtered: more than the hits)
    if ids_first and (total <= ONE_TERM_MAX and not bare or total * PY_HIT_S < walk):
        rows = _one_term_scores(db, t, term, ids)
    elif not narrow:
        rows = db.execute(f"SELECT rowid, {rank_sql} FROM {t} WHERE {t} MATCH ?", [*rank_params, match]).fetchall()
        if term:
            rows = _without_idf(db, ix, term, rows, total if bare else None)
    return total, _relevance_page(db, rows, limit, offset), RELEVANCE


def _counted_bigram(db, ix, compiled, limit, offset):
    """A 2-character term alone, unfiltered, in more than RECENT_MIN_HITS items by its kept
    document count, while that count is exact (doccounts.exact_docs: kept through changes
    since it was taken, not lapsed): its total without walking its hits, and the newest page.
    Else None."""
    term = compiled.single
    if ix is not _NEW_IX or len(term) != 2 or compiled.match != _term_phrase(term):
        return None
    total = doccounts.exact_docs(db, term)
    if total is None or total <= RECENT_MIN_HITS:
        return None
    return total, _recent_page(db, ix, compiled.match, limit, offset, total), RECENT


def _kept_huge(db, ix, match, version, limit, offset):
    """The same huge result asked again (its next page): its kept total (grown by the hits
    added since, kept.py) and the page, or None."""
    total = kept_total(db, ix.table, match, version)
    if total is not None and total > RECENT_MIN_HITS:
        return total, _recent_page(db, ix, match, limit, offset, total), RECENT
    return None


def _huge(db, ix, match, version, seen, last, walk, limit, offset):
    """A result the first walk stopped in (seen > RECENT_MIN_HITS rows up to rowid `last`, in
    `walk` seconds): the rest counted from there, the total kept, the newest page. Where every
    term is a common gram (grams.py), the rest is counted in search_grams: no positions."""
    common = None
    if ix is _NEW_IX and version is not None:
        common = grams.count_expression(db, match, fts_rows(version.averages))
    table, counted = (grams.GRAMS, common) if common is not None else (ix.table, match)
    total = seen + count_rest(db, table, counted, last, walk)
    remember(db, ix.table, match, version, total)
    return total, _recent_page(db, ix, match, limit, offset, total), RECENT


# Several ideograph terms (compiled.multi): FTS5's bm25 first walks every item holding each term
# for its document count — the doclists of all its bigrams, and a phrase's positions where they
# meet: ~0.03–0.09 µs an item of the bigrams' summed document counts at 100,000 items (p50,
# p90), more at 1,000,000 — and then scores each hit. When the hits look few against that walk,
# they are scored in Python instead (~40 µs a hit: reading its fields, counting the terms),
# each term weighted as Tantivy weighs a phrase: the sum of its bigrams' IDFs, from kept
# document counts (doccounts). Measured: bench/RESULTS.md "Issue 15, fifth session".
WALK_S = 0.04e-6
MULTI_HIT_S = 40e-6
MULTI_SAMPLE = 128         # hits counted among the newest 1/SAMPLE_SHARE of item ids, at most


def _multi_terms(db, ix, compiled, limit, offset):
    """compiled.multi ranked from kept document counts: ((total, rows, order), None, None), or
    (None, the sample's hits or None, None) when no counts are kept, the archive is small, or
    FTS5's bm25 looks cheaper (its walk of each term's items against MULTI_HIT_S a hit, the hits
    guessed from the newest items'), or (None, None, rank) where ea_rank is loaded (rank_ext):
    FTS5 walks the hits once, scoring each with the IDFs below, nothing counted for them.

    A term's IDF is the sum of its bigrams' (a 2-character term: its own, as FTS5's), each
    from the bigram's document count; the rest of bm25 as FTS5 computes it (multi_ranks).
    So a query of 2-character terms scores exactly as FTS5's bm25; a longer term weighs as
    Tantivy weighs a phrase. Which way a query goes depends on the archive alone, so every
    page of one result is scored alike."""
    covered = doccounts.upto(db)
    t = ix.table
    top = db.execute("SELECT max(id) FROM items").fetchone()[0] or 0
    ranked = rank_ext.available(db)
    if covered is None or (top < SAMPLE_MIN_ITEMS and not ranked):   # ea_rank pays in any archive
        return None, None, None
    terms = compiled.multi
    docs = {b: doccounts.doc_count(db, b, covered, top > covered) for term in terms for b in bigrams(term)}
    n_row = fts_totals(db, t)[0]
    idfs = [sum(bm25_idf(n_row, docs[b]) for b in bigrams(term)) for term in terms]
    if ranked:
        idf_of = {tuple(bigrams(term)): idf for term, idf in zip(terms, idfs)}
        return None, None, rank_ext.rank_sql(t, ix.weights, compiled.match, idf_of)
    walk_cost = WALK_S * sum(docs[b] for term in terms for b in bigrams(term))
    if walk_cost < MULTI_HIT_S:
        return None, None, None     # not even one hit's worth
    lately = _few_lately(db, ix, compiled.match, MULTI_SAMPLE, top)
    if lately >= MULTI_SAMPLE or max(lately, 1) * SAMPLE_SHARE * MULTI_HIT_S >= walk_cost:
        return None, lately, None
    match, version = compiled.match, index_state(db, t)
    kept = _kept_huge(db, ix, match, version, limit, offset)
    if kept is not None:
        return kept, None, None
    walk = time.perf_counter()
    ids = [r[0] for r in db.execute(f"SELECT rowid FROM {t} WHERE {t} MATCH ? ORDER BY rowid "
                                    f"LIMIT {RECENT_MIN_HITS + 1}", [match])]
    walk = time.perf_counter() - walk
    if len(ids) > RECENT_MIN_HITS:
        return _huge(db, ix, match, version, len(ids), ids[-1], walk, limit, offset), None, None
    if len(ids) * MULTI_HIT_S >= walk_cost:
        return None, lately, None   # more hits than the sample said: FTS5's bm25 after all
    if not ids or offset + limit == 0:
        return (len(ids), [], RELEVANCE), None, None
    return (len(ids), _relevance_page(db, multi_ranks(db, t, terms, idfs, ids), limit, offset),
            RELEVANCE), None, None


def _term_phrase(term: str) -> str:
    """The FTS5 phrase of an ideograph term: its bigrams (a 2-character term: one)."""
    return " + ".join(_q(term[i:i + 2]) for i in range(len(term) - 1))


def _without_idf(db, ix, term, rows, n_hit=None, current=True):
    """FTS5's bm25 ranks of a one-term query divided by the term's IDF, so every one-term score
    has one meaning (_one_term_scores). Dividing by one positive number keeps the order. The
    IDF as bm25 computes it from the term's document count n_hit; without it (the query is
    filtered: counting would walk every item with the term), read off one hit's rank: bm25 is
    IDF × a part term_ranks computes from the hit's fields — which needs the hit's FTS row to
    be built from its current fields (`current`; else the term is counted)."""
    if not rows:
        return rows
    part = _one_term_scores(db, ix.table, term, [rows[0][0]])[0][1] if n_hit is None and current else 0.0
    if part:
        idf = rows[0][1] / part
    else:   # (a part of 0 would mean the hit's fields do not hold the term: count instead)
        if n_hit is None:
            n_hit = _fts_count(db, ix, _term_phrase(term))
        idf = bm25_idf(fts_totals(db, ix.table)[0], n_hit)
    return [(r[0], r[1] / idf, *r[2:]) for r in rows]


# A filtered one-term result of at most this many hits is scored in Python: reading and counting
# a hit's fields costs ~25–50 µs; FTS5's bm25 ~9 µs a hit, after walking every item with the term
# (not only the filtered hits) for its document count: a 4-character term ~1 ms at 100,000
# items, ten times that at 1,000,000. Measured: bench/RESULTS.md "Search", issue 15 (fourth session).
ONE_TERM_MAX = 64
# Unfiltered, the document count walks what the first walk did: hits are scored in Python when
# that costs less than the walk (PY_HIT_S a hit: reading and counting its fields) — guessed
# from the sample's walk and hits (_likely_few), then checked against the first walk's time.
PY_HIT_S = 40e-6


def _one_term_scores(db, t, term, ids) -> list[tuple[int, float]]:
    """(rowid, rank) of the hits of one ideograph term, ranked as FTS5's bm25 ranks them.
    With one term, bm25 is the term's IDF times a part that depends on the hit alone; the IDF is
    the same for every hit, so it does not change the order and is left out of the score (it
    needs the term's document count: one more walk of all its items). Every hit is kept; its
    count per field is taken from the field's normalised form, as in _rare_phrase."""
    return term_ranks(db, t, {item_id: term_freq(fields, term) for item_id, fields in fields_of(db, ids)})


def _relevance_page(db, rows, limit, offset):
    """The page of (rowid, rank) rows: the rows tied with its last one compete on date, so
    ordered by rank, then date (newest first, none last), then id — as _general orders."""
    n = offset + limit
    rows.sort(key=lambda r: r[1])
    if len(rows) > n:
        edge = rows[n - 1][1]
        rows = [r for r in rows if r[1] <= edge]
    marks = ", ".join("?" for _ in rows)
    date = dict(db.execute(f"SELECT id, date FROM items INDEXED BY items_search_live WHERE id IN ({marks})",
                           [r[0] for r in rows]).fetchall())
    rows.sort(key=lambda r: (r[1], _neg_date(date.get(r[0])), r[0]))
    return rows[offset:n]


# A long phrase (RARE_MIN_CHARS+ ideographs, compiled.phrase): FTS5 walks a phrase by stepping
# through every one of its bigrams' doclists, and most bigrams of a long term are in most items
# (an 8-character term with one hit: 1–70 ms at 100k). The AND of its three rarest bigrams costs
# 0.05–1 ms and leaves a handful of candidates, which are checked on their text.
RARE_PROBE = 32    # rows read per bigram to estimate how common it is
RARE_PICK = 3      # bigrams ANDed for the candidates
RARE_MAX = 64      # more candidates than this: the phrase is walked as before (0 = never)


def _q(tok: str) -> str:
    return '"' + tok + '"'   # bigrams of ideographs hold no quote


def _rare_phrase(db, ix, compiled, limit, offset):
    """compiled.phrase (and its filters) from the AND of the phrase's rarest bigrams (and the
    filter tokens), each candidate checked on its text: (total, rows, order), or None when there
    are more than RARE_MAX candidates. The hits are ranked in Python as FTS5's bm25 ranks them,
    without the term's IDF (term_ranks: the same for every hit of one term, and it would cost
    FTS5 one more walk of the phrase for its document count)."""
    t, term = ix.table, compiled.phrase
    est = _rarity(db, t, list(dict.fromkeys(bigrams(term))))
    if est is None:
        return 0, [], RELEVANCE
    est.sort()
    # the AND of every bigram costs what the phrase costs: leave the commonest out
    rare = " AND ".join(_q(b) for _, b in est[:min(RARE_PICK, max(1, len(est) - 1))])
    filters = compiled.phrase_filters
    cand = _rowids(db, t, f"{rare} AND {filters}" if filters else rare)
    if cand is None:
        return None
    freq = {}
    for item_id, fields in fields_of(db, cand):
        f = term_freq(fields, term)
        if f:
            freq[item_id] = f
    if len(freq) > RECENT_MIN_HITS:   # (never with the usual constants: RARE_MAX is smaller)
        return len(freq), [(i, None) for i in sorted(freq, reverse=True)[offset:offset + limit]], RECENT
    if not freq or offset + limit == 0:
        return len(freq), [], RELEVANCE
    return len(freq), _relevance_page(db, term_ranks(db, t, freq), limit, offset), RELEVANCE


def _rarity(db, t, grams: list[str]) -> list[tuple[float, str]] | None:
    """(how common, bigram) for each bigram, or None when one has no row (nothing matches).
    From the kept document counts when there are some (one read; a bigram not kept was in
    fewer than KEEP_MIN items: 0 — it is probed for having a row at all, in the AND), else
    by probing: all its rows, or the share of rowids its first RARE_PROBE rows span. Stale
    counts only choose worse candidates: every candidate is checked on its text."""
    if t == FTS and doccounts.upto(db) is not None:
        kept = doccounts.kept_docs(db, grams)
        return [(kept.get(b, 0), b) for b in grams]
    # two subqueries: min() and max() in one SELECT scan the table
    lo, hi = db.execute(f"SELECT (SELECT min(id) FROM {t}_docsize), (SELECT max(id) FROM {t}_docsize)").fetchone()
    if lo is None:
        return None
    est = []
    for b in grams:
        got = db.execute(f"SELECT rowid FROM {t} WHERE {t} MATCH ? LIMIT {RARE_PROBE}", [_q(b)]).fetchall()
        if not got:
            return None
        est.append((len(got) if len(got) < RARE_PROBE else RARE_PROBE * (hi - lo + 1) / (got[-1][0] - lo + 1), b))
    return est


def _rowids(db, t, expr):
    """The rowids matching expr, or None when there are more than RARE_MAX."""
    got = [r[0] for r in db.execute(f"SELECT rowid FROM {t} WHERE {t} MATCH ? LIMIT {RARE_MAX + 1}", [expr])]
    return None if len(got) > RARE_MAX else got


def _order(total: int) -> str:
    return RECENT if total > RECENT_MIN_HITS else RELEVANCE


def _recent_page(db, ix, match, limit, offset, total):
    """Newest first: FTS5's doclist walked backwards, stopped after the page."""
    if total == 0 or limit == 0:
        return []
    t = ix.table
    return db.execute(f"SELECT rowid, NULL FROM {t} WHERE {t} MATCH ? "
                      "ORDER BY rowid DESC LIMIT ? OFFSET ?", [match, limit, offset]).fetchall()


class _Plain:
    def __init__(self, match):
        self.match, self.where, self.params, self.ranked = match, LIVE, [], True


def _hits(db, rows, terms) -> list[dict]:
    if not rows:
        return []
    ids = [r[0] for r in rows]
    marks = ", ".join("?" for _ in ids)
    items = {r[0]: r for r in db.execute(
        "SELECT id, title, material_type, date, unit, original_name, sha256, text "
        f"FROM items WHERE id IN ({marks})", ids)}
    codes: dict[int, list] = {i: [] for i in ids}
    for item_id, map_id, code in db.execute(
            f"SELECT item_id, map_id, code FROM item_codes WHERE item_id IN ({marks}) ORDER BY rowid", ids):
        codes[item_id].append((map_id, code))
    active = active_map_ids(db)
    for item_id in ids:
        codes[item_id] = code_labels(db, codes[item_id], active)
    hits = []
    for item_id, s in rows:
        r = items[item_id]
        snip = make_item_snippet(r[7], terms)
        hits.append({"id": item_id, "title": r[1], "codes": codes[item_id], "type": r[2],
                     "date": r[3], "unit": r[4], "original_name": r[5], "sha256": r[6],
                     "snippet": snip["snippet"], "score": None if s is None else round(-s, 6) if s else 0.0,
                     "snippet_html": snip["snippet_html"], "highlights": snip["highlights"],
                     "from_image": snip["from_image"]})
    return hits


# ---- maintenance ---------------------------------------------------------------------------
REINDEX_BATCH = 200


def _bulk(db):
    """A bulk job's batch writes its segments without merging (fts5.bulk_batch)."""
    return fts5.bulk_batch(db, (FTS, grams.GRAMS, NEW_FTS))


def _batches(ids, size=None):
    size = size or REINDEX_BATCH
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def catch_up(instance, progress: Progress | None = None) -> dict:
    """Bring the index up to date without stopping search: items of an old archive still in the
    old index (`search_unmoved`, after migration 0060) and items whose filter tokens may be
    stale (`search_pending`, new items a bulk load inserted among them) are re-indexed in short
    transactions of REINDEX_BATCH items; when none remain in the old index its tables are
    dropped. Search stays exact throughout (it reads the old index, or evaluates filters in
    SQL, until then). Returns {"moved", "refreshed"}."""
    return _catch_up(instance.db, progress)[0]


def _catch_up(db, progress, of_total: int | None = None):
    """catch_up → (report, the ids it indexed); progress counted out of `of_total` if given."""
    unmoved = [r[0] for r in db.execute(f"SELECT item_id FROM {UNMOVED} ORDER BY item_id")]
    pending = [r[0] for r in db.execute(f"SELECT item_id FROM {PENDING} ORDER BY item_id")]
    todo = list(dict.fromkeys(unmoved + pending))
    total = max(of_total or 0, len(todo))
    done = 0
    if todo and not unmoved:
        _fresh_table(db)
    # a fresh build of a large archive writes the common grams with the index (one pass)
    kind = "tokens+grams" if not unmoved and start_inline(db, len(todo)) else "tokens"
    for batch, known in analysed(db, list(_batches(todo)), kind):
        with transaction(db), _bulk(db):
            for item_id in batch:
                index_item(db, item_id, known)
        done += len(batch)
        if progress:
            progress(done, total, "")
    with transaction(db):
        if not db.execute(f"SELECT 1 FROM {UNMOVED} LIMIT 1").fetchone():
            db.execute(f"DROP TABLE IF EXISTS {LEGACY_FTS}")
            db.execute(f"DROP TABLE IF EXISTS {LEGACY_SRC}")
    return {"moved": len(unmoved), "refreshed": len(pending)}, todo


def _fresh_table(db) -> None:
    """Before a build into an empty index: a table made with another tokenizer (before
    fts5.TOKENIZE) is made anew, empty as it is, so the build writes the current kind."""
    with transaction(db):
        if (fts5.current(db, FTS) or db.execute(f"SELECT 1 FROM {DOCS} LIMIT 1").fetchone()
                or fts5.tokenizer(db, NEW_FTS) is not None):
            return
        db.execute(f"DROP TABLE {FTS}")
        make_fts(db, FTS)
        doccounts.forget(db)   # counts of nothing


def reindex(instance, progress: Progress | None = None, full: bool = False) -> dict:
    """Rebuild the index from the items rows; search stays up throughout.

    In place (default): first `catch_up` (an old archive's rows move to the current layout,
    new and changed items are indexed), then every other item's row is rewritten in short
    transactions of REINDEX_BATCH items, so each item switches atomically and concurrent
    writers wait one batch at most. Full (`full=True`, or automatically when the index comes
    from another analyzer version or FTS5's integrity-check fails): a new table is built beside
    the live one while search keeps using the old; writers keep both up to date, and the swap
    is one short transaction; then `catch_up` (rows of another analyzer cannot be deleted in
    place, so not before) and the rows that still differ from their items are rewritten.
    Text is analysed a batch ahead in a second process (prefetch.py). Returns {"indexed",
    "removed", "mode"}."""
    db = instance.db
    stale = db.execute(f"SELECT count(*) FROM {DOCS} WHERE item_id NOT IN "
                       "(SELECT id FROM items WHERE deleted_at IS NULL)").fetchone()[0]
    if not full:
        row = db.execute(f"SELECT value FROM {STATE} WHERE key = 'analyzer'").fetchone()
        full = (row is not None and row[0] != ANALYZER_VERSION) or not fts5.current(db, FTS) or not _fts_intact(db)
    if full:   # catch up after the swap: rows of another analyzer cannot be deleted in place
        report = _rebuild(db, progress)
    else:
        n = db.execute("SELECT count(*) FROM items WHERE deleted_at IS NULL").fetchone()[0]
        _, caught = _catch_up(db, progress, n)
        report = _rewrite_in_place(db, progress, set(caught))
    return {**report, "removed": report["removed"] + stale}


def _rewrite_in_place(db, progress, caught: set = frozenset()) -> dict:
    """Every live item's row rewritten (those in `caught` were just indexed: counted as done)."""
    ids = [r[0] for r in db.execute("SELECT id FROM items WHERE deleted_at IS NULL ORDER BY id")]
    stale = [r[0] for r in db.execute(
        f"SELECT item_id FROM {DOCS} WHERE item_id NOT IN (SELECT id FROM items WHERE deleted_at IS NULL)")]
    todo = [i for i in ids if i not in caught]
    total, done = len(ids) + len(stale), len(ids) - len(todo)
    for batch in _batches(stale):
        with transaction(db), _bulk(db):
            for item_id in batch:
                unindex_item(db, item_id)
        done += len(batch)
        if progress:
            progress(done, total, "")
    for batch, known in analysed(db, list(_batches(todo))):
        with transaction(db), _bulk(db):
            for item_id in batch:
                index_item(db, item_id, known)   # re-reads the row: a concurrent edit is never lost
        done += len(batch)
        if progress:
            progress(done, total, "")
    return {"indexed": len(ids), "removed": len(stale), "mode": "in place"}


def _rebuild(db, progress) -> dict:
    """A new FTS table from search_docs: each indexed item's row is re-made from the fields it was
    indexed with (search_old, else the items row) and its recorded filter tokens, so the new
    table holds exactly what the live one should; index_item writes both while it exists. After
    the swap, the rows that differ from their items (drift, deleted items) are rewritten."""
    with transaction(db):
        db.execute(f"DROP TABLE IF EXISTS {NEW_FTS}")
        make_fts(db, NEW_FTS)
    ids = [r[0] for r in db.execute(f"SELECT item_id FROM {DOCS} ORDER BY item_id")]
    done = 0
    for batch, known in analysed(db, list(_batches(ids))):
        with transaction(db), _bulk(db):
            for item_id in batch:
                doc = db.execute(f"SELECT f FROM {DOCS} WHERE item_id = ?", [item_id]).fetchone()
                if doc is None or db.execute(f"SELECT 1 FROM {NEW_FTS}_docsize WHERE id = ?",
                                             [item_id]).fetchone():
                    continue   # removed, or written by index_item meanwhile
                old = db.execute(f"SELECT text, title, name, unit FROM {OLD} WHERE item_id = ?",
                                 [item_id]).fetchone()
                fields = old or db.execute("SELECT text, title, original_name, unit FROM items WHERE id = ?",
                                           [item_id]).fetchone()
                write_row(db, item_id, fields, doc[0], NEW_FTS, known)
        done += len(batch)
        if progress:
            progress(done, len(ids), "")
    with transaction(db):
        db.execute(f"DROP TABLE {FTS}")
        db.execute(f"ALTER TABLE {NEW_FTS} RENAME TO {FTS}")
        doccounts.forget(db)   # counted in the old table (perhaps another analyzer's tokens)
        grams.forget(db)       # written from another analyzer's normalisation, perhaps: built anew
        db.execute(f"INSERT OR REPLACE INTO {STATE} (key, value) VALUES ('analyzer', ?)", [ANALYZER_VERSION])
    # then waiting items, and the rows that still differ from their items (drift, deleted items)
    _catch_up(db, None)
    fix = sorted({p["item_id"] for p in _drift_rows(db)})
    for batch in _batches(fix):
        with transaction(db):
            for item_id in batch:
                index_item(db, item_id)   # removes a deleted item's row too
    live = db.execute("SELECT count(*) FROM items WHERE deleted_at IS NULL").fetchone()[0]
    return {"indexed": live, "removed": 0, "mode": "full"}


def compact(instance, progress: Progress | None = None) -> dict:
    """Merge the FTS index's segments into one (fts5.merge), in short transactions, while
    search and writers go on. Every query looks a term up in every segment: a bulk build leaves
    dozens, and at 100k items an 8-character term then costs 1.7 ms instead of 0.7–0.8
    (bench/RESULTS.md). Returns {"steps", "pages"}."""
    return fts5.merge(instance.db, FTS, progress)


def build_grams(instance, progress: Progress | None = None, merge: bool = True) -> dict:
    """Complete the common grams (grams.py) as `evidence reindex` ends: in an archive of
    grams.MIN_ITEMS items or more, the exact totals of frequent terms without their positions.
    Then, while they are in use and `merge`, their segments merged (merge_grams: one short step
    when they are already; a fresh build wrote its rows with the index, a segment a batch)."""
    from .grams_build import build
    report = build(instance.db, progress)
    if report["grams"] and merge:
        merge_grams(instance)
    return report


def merge_grams(instance, progress: Progress | None = None) -> dict:
    """The common grams' segments merged into one, as `compact` does for the index."""
    return fts5.merge(instance.db, grams.GRAMS, progress)


def keep_doc_counts(instance) -> dict:
    """Take the document counts several-term ranking reads (doccounts.take): after `compact`,
    as `evidence reindex` ends. Returns {"terms", "upto"}."""
    return doccounts.take(instance.db)


def _fts_intact(db) -> bool:
    try:
        db.execute(f"INSERT INTO {FTS} ({FTS}, rank) VALUES ('integrity-check', 0)")
        return True
    except sqlite3.DatabaseError:
        return False


_DRIFT_MESSAGES = {
    "item not indexed": "资料未进入全文索引",
    "stale index row": "已删除或不存在的资料仍在全文索引中",
    "index drift": "资料文本已改动但全文索引未更新，请运行 evidence reindex",
    "filter drift": "资料的类型、单位、日期或指标已改动但全文索引未更新，请运行 evidence reindex",
}


def _drift_rows(db):
    """Yield {"key", "message", "item_id"} for each item whose FTS row is missing, stale
    (deleted item), built from other text (source hash) or with other filter tokens."""
    def problem(key, item_id):
        return {"key": key, "message": _DRIFT_MESSAGES[key], "item_id": item_id}

    for (item_id,) in db.execute(
            f"SELECT id FROM items WHERE deleted_at IS NULL AND id NOT IN (SELECT item_id FROM {DOCS}) "
            f"AND id NOT IN (SELECT item_id FROM {UNMOVED}) ORDER BY id").fetchall():
        yield problem("item not indexed", item_id)
    for (item_id,) in db.execute(
            f"SELECT item_id FROM {DOCS} WHERE item_id NOT IN "
            "(SELECT id FROM items WHERE deleted_at IS NULL) ORDER BY item_id").fetchall():
        yield problem("stale index row", item_id)
    db.conn.create_function("ea_source_hash", 4, source_hash, deterministic=True)
    for item_id, same, f, mtype, unit, date in db.execute(
            f"SELECT d.item_id, d.src_hash = ea_source_hash(i.text, i.title, i.original_name, i.unit), "
            f"d.f, i.material_type, i.unit, i.date FROM {DOCS} d JOIN items i ON i.id = d.item_id "
            "WHERE i.deleted_at IS NULL ORDER BY d.item_id").fetchall():
        if not same:
            yield problem("index drift", item_id)
        elif f != item_tokens(mtype, unit, date, item_codes(db, item_id)):
            yield problem("filter drift", item_id)


# Items added since the kept document counts beyond this share of those they cover: fsck says
# so (several-term ranking counts the newer ones by walking them, slower as they grow).
COUNTS_OLD_SHARE = 0.25


def index_advice(db) -> list[dict]:
    """Warnings, not problems (each {"key", "message", ...}): an index table made with the
    tokenizer of before (fts5.TOKENIZE); in a large archive, ea_rank not
    built or not loading (rank_ext), the common grams not (yet) complete, and the document
    counts ranking reads missing, lapsed (too many old items changed since), or many items
    came after them."""
    old = [] if fts5.current(db, FTS) else [{
        "key": "index tokenizer old",
        "message": "全文索引仍按旧的分词方式建立：批量建索引较慢，含“・”等符号的检索词可能多出不含该词的结果；"
                   "运行 evidence reindex 即可转换（检索不中断）"}]
    top = db.execute("SELECT max(id) FROM items").fetchone()[0] or 0
    if top < SAMPLE_MIN_ITEMS:
        return old
    out = old + ([] if rank_ext.available(db) else [{
        "key": "ea_rank missing",
        "message": "检索排序扩展 ea_rank 未编译或无法加载，排序改用 FTS5 自带的 bm25（较慢）；"
                   "安装 gcc 与 libsqlite3-dev 后重新运行 ./run 即可编译"}])
    if grams.upto(db) != grams.ALL and db.execute(f"SELECT count(*) FROM {DOCS}").fetchone()[0] >= grams.MIN_ITEMS:
        out.append({"key": "common grams missing",
                    "message": "尚未统计常用词组，常用词的检索总数需逐条计数（较慢）；运行 evidence reindex 即可统计"})
    return out + _count_advice(db, top)


def _count_advice(db, top: int) -> list[dict]:
    covered = doccounts.upto(db)
    if covered is None:
        return [{"key": "doc counts missing",
                 "message": "尚未统计词的文档数，多个检索词的排序较慢；运行 evidence reindex 即可统计"}]
    if doccounts.lapsed(db):
        return [{"key": "doc counts lapsed",
                 "message": "词的文档数统计之后删改的旧资料较多，统计已停止跟随，常用词的检索总数改为逐条计数（较慢）；"
                            "运行 evidence reindex 可重新统计"}]
    newer = db.execute("SELECT count(*) FROM items WHERE id > ? AND deleted_at IS NULL", [covered]).fetchone()[0]
    if newer > COUNTS_OLD_SHARE * covered:
        return [{"key": "doc counts old", "added": newer,
                 "message": f"词的文档数统计之后又新增了 {newer} 件资料，多个检索词的排序会逐渐变慢；"
                            "运行 evidence reindex 可重新统计"}]
    return []


def check_index(db) -> list[dict]:
    """Problems between the FTS index and the items (each {"key", "message", ...}); [] = clean.
    Checks: FTS5 integrity-check, one FTS row per non-deleted item and none for others, rows
    built from the item's current text (source hash), filter tokens and analyzer version, the
    common grams' rows (one an indexed item), and the kept document counts while totals are
    taken from them (doccounts.wrong)."""
    problems: list[dict] = []
    if db.execute(f"SELECT 1 FROM {UNMOVED} LIMIT 1").fetchone():
        n = db.execute(f"SELECT count(*) FROM {UNMOVED}").fetchone()[0]
        problems.append({"key": "index not moved", "count": n,
                         "message": f"有 {n} 件资料仍在旧版全文索引中（检索照常可用），请运行 evidence reindex"})
    try:
        db.execute(f"INSERT INTO {FTS} ({FTS}, rank) VALUES ('integrity-check', 0)")
    except sqlite3.DatabaseError as e:
        # FTS5's check is a write statement: on a read-only or busy database it fails without
        # saying anything about the index; only a corruption error means the index is bad.
        if not (getattr(e, "sqlite_errorname", "") or "").startswith("SQLITE_CORRUPT"):
            raise
        problems.append({"key": "fts corrupt", "message": f"全文索引内部不一致，请运行 evidence reindex（{e}）"})
    row = db.execute(f"SELECT value FROM {STATE} WHERE key = 'analyzer'").fetchone()
    if row is not None and row[0] != ANALYZER_VERSION:
        problems.append({"key": "index outdated", "message": "全文索引由旧版分析器生成，请运行 evidence reindex"})
    rows = list(_drift_rows(db))
    problems += [p for p in rows if p["key"] in ("item not indexed", "stale index row")]
    n_docs = db.execute(f"SELECT count(*) FROM {DOCS}").fetchone()[0]
    n_fts = db.execute(f"SELECT count(*) FROM {FTS}_docsize").fetchone()[0]
    if n_docs != n_fts:
        problems.append({"key": "fts row count", "message": f"全文索引行数 {n_fts} 与登记数 {n_docs} 不符",
                         "fts_rows": n_fts, "registered": n_docs})
    for (item_id,) in db.execute(f"SELECT id FROM {FTS}_docsize WHERE id NOT IN (SELECT item_id FROM {DOCS})"):
        problems.append({"key": "orphan fts row", "message": "全文索引中有未登记的行", "item_id": item_id})
    if grams.upto(db) == grams.ALL and grams.rows(db) != n_docs:
        problems.append({"key": "common grams out of step", "rows": grams.rows(db), "registered": n_docs,
                         "message": f"常用词组表行数 {grams.rows(db)} 与登记数 {n_docs} 不符（检索总数不受影响，"
                                    "常用词计数改为逐条进行）；请运行 evidence reindex 重建"})
    if not problems:   # (counts read off a broken index say nothing)
        bad = doccounts.wrong(db)
        if bad:
            term, kept, held = bad[0]
            problems.append({"key": "doc counts wrong", "count": len(bad), "term": term,
                             "message": f"有 {len(bad)} 个词的文档数统计与全文索引不符（如“{term}”：统计 {kept}，"
                                        f"索引 {held}），检索总数可能不准；请运行 evidence reindex 重新统计"})
    return problems + [p for p in rows if p["key"] in ("index drift", "filter drift")]
