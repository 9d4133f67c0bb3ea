"""bm25 computed in Python, as FTS5's bm25() computes it, for hits already found: each term's
weighted count in a hit's fields (text, title, original name, unit), the hit's length from
FTS5's docsize table, the average from its averages record. The query paths that score hits
without FTS5's bm25 (engine: a long phrase's candidates, few hits of one term, several terms
from kept document counts) share these, so their scores mean what FTS5's would."""
from __future__ import annotations

import math
from functools import lru_cache

from .analysis import normalise
from .snippets import makers_of

BM25_WEIGHTS = (1.0, 2.0, 1.0, 1.0)  # text, title, name, unit: a title hit ranks higher; f: 0
K1, B = 1.2, 0.75   # FTS5's bm25 constants


def bigrams(term: str) -> list[str]:
    return [term[i:i + 2] for i in range(len(term) - 1)]


def bm25_idf(n_row: int, n_hit: int) -> float:
    """bm25's IDF as FTS5 computes it (a term in half the items or more: 1e-6). A kept count
    above the rows (counts that lapsed before many items were deleted) is a term in all of
    them, not a math domain error."""
    n_hit = min(n_hit, n_row)
    idf = math.log((n_row - n_hit + 0.5) / (n_hit + 0.5))
    return idf if idf > 0.0 else 1e-6


def multi_ranks(db, t, terms, idfs, ids) -> list[tuple[int, float]]:
    """(rowid, rank) of each hit: −Σ IDF × the term's part, the part as FTS5's bm25 computes it
    (its weighted count in the hit, the hit's length against the average), in query order."""
    norms = _length_norms(db, t, ids)
    makers = makers_of("".join(terms))
    out = []
    for item_id, fields in fields_of(db, ids):
        norm = norms[item_id]
        score = 0.0
        for idf, f in zip(idfs, terms_freq(fields, terms, makers)):
            score += idf * ((f * (K1 + 1.0)) / (f + norm))
        out.append((item_id, -1.0 * score))
    return out


def terms_freq(fields, terms, makers: str) -> list[float]:
    """Each ideograph term's instances in the item's fields (text, title, original name, unit),
    overlapping, as FTS5 counts a phrase's, each field's weighted as in BM25_WEIGHTS. A field
    is searched with its whitespace removed (an ideograph term's occurrences there are those in
    the normalised field) unless it holds one of `makers` (makers_of the terms): then normalised."""
    out = [0.0] * len(terms)
    for w, v in zip(BM25_WEIGHTS, fields):
        if not v:
            continue
        hay = normalise(v) if makers and any(m in v for m in makers) else "".join(v.split())
        for i, term in enumerate(terms):
            n = hay.count(term)    # (non-overlapping: the same unless the term overlaps itself)
            if n:
                out[i] += w * (count_overlapping(hay, term) if _self_overlapping(term) else n)
    return out


@lru_cache(maxsize=1024)
def _self_overlapping(term: str) -> bool:
    """Two instances of the term can overlap (街街, 宣传宣传): str.count would miss some."""
    return any(term[:k] == term[-k:] for k in range(1, len(term)))


def term_freq(fields, term: str) -> float:
    """The ideograph term's instances in the item's fields, weighted (terms_freq)."""
    return terms_freq(fields, [term], makers_of(term))[0]


def term_ranks(db, t, freq: dict) -> list[tuple[int, float]]:
    """(rowid, rank) from each hit's weighted count of the term: bm25's part for the hit (k1,
    b, the row's tokens from %_docsize, the average from FTS5's averages record), negated as
    FTS5 ranks, without the term's IDF (the same for every hit of one term)."""
    norms = _length_norms(db, t, list(freq))
    return [(item_id, -((f * (K1 + 1.0)) / (f + norms[item_id]))) for item_id, f in freq.items()]


def _length_norms(db, t, ids) -> dict[int, float]:
    """bm25's length term of each row, k1 × (1 − b + b × its tokens / the average), as FTS5
    computes it: the row's tokens (all columns) from %_docsize, the average from the averages
    record."""
    n_row, n_tok = fts_totals(db, t)
    avgdl = n_tok / n_row
    marks = ", ".join("?" for _ in ids)
    return {i: K1 * (1 - B + B * sum(varints(sz)) / avgdl)
            for i, sz in db.execute(f"SELECT id, sz FROM {t}_docsize WHERE id IN ({marks})", ids)}


def fields_of(db, ids):
    """(id, (text, title, original_name, unit)) of the items: the fields their FTS rows were
    built from (the text-only path runs only while no row is stale)."""
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    return [(r[0], r[1:]) for r in db.execute(
        f"SELECT id, text, title, original_name, unit FROM items WHERE id IN ({marks})", ids)]


def count_overlapping(hay: str, term: str) -> int:
    n, i = 0, hay.find(term)
    while i >= 0:
        n += 1
        i = hay.find(term, i + 1)
    return n


def varints(blob: bytes) -> list[int]:
    """SQLite varints (FTS5's docsize and averages records)."""
    out, i = [], 0
    while i < len(blob):
        v = 0
        for k in range(9):
            c = blob[i]
            i += 1
            if k == 8:
                v = (v << 8) | c
                break
            v = (v << 7) | (c & 0x7F)
            if not c & 0x80:
                break
        out.append(v)
    return out


def fts_rows(averages: bytes | None) -> int | None:
    """FTS5's row count from its averages record (rowid 1): None without one; an empty record
    (a table that never held a row) is 0."""
    if averages is None:
        return None
    vals = varints(averages)
    return vals[0] if vals else 0


def fts_totals(db, t: str) -> tuple[int, int]:
    """FTS5's row count and total tokens (all columns): its averages record, rowid 1."""
    vals = varints(db.execute(f"SELECT block FROM {t}_data WHERE id = 1").fetchone()[0])
    return vals[0], sum(vals[1:])
