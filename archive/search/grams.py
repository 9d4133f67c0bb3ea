"""Common grams: the exact total of a frequent term without walking its positions.

A 4-character term in most of 1,000,000 items is counted by FTS5 as a phrase of three bigrams:
every item holding all three is walked through their positions (~0.2–0.9 µs an item, 200–800 ms
for 500,000–900,000 hits). Lucene's CommonGrams answers the same problem by indexing frequent
word pairs as tokens of their own; here every ideograph string of 2–LONGEST characters found in
at least SHARE of a sample of items (the vocabulary, `search_gram_vocab`) is a token of
`search_grams`, an FTS5 table without positions (detail=none) holding one row per indexed item:
the vocabulary's strings its text fields contain. The total of such a term, or of several ANDed,
is then one walk of doclists without positions: 5–15× faster (bench/RESULTS.md "fourteenth
session"). The page of newest hits still comes from search_fts.

Exact by construction: an ideograph term of 2+ characters matches a text column exactly when it
is a substring of the column's normalised text (analysis.py: a CJK run's tokens are its bigrams
and a terminal, so a bigram phrase never chains across runs), which is what grams_of computes.
The rows follow search_fts in the same transactions (index.index_item, unindex_item) for every
item at or below `grams_upto`; `build` (as `evidence reindex` ends) adds the rest in short
transactions, resumable after a crash, and sets `grams_upto` to ALL when none is left. Search
uses the table only then, and only while it holds as many rows as search_fts (a write that went
around index_item would show there). Archives below MIN_ITEMS indexed items have none: their
phrase walks are cheap. Schema: migration 0064_search_grams.
"""
from __future__ import annotations

import random
import re

from . import fts5
from .analysis import normalise
from .ranking import fts_rows

GRAMS, VOCAB = "search_grams", "search_gram_vocab"
STATE = "search_state"    # index.STATE (index imports this module, not the other way)
# Fewer indexed items: no common grams. At 100,000 they took the p95 of a 4-character term and of
# two terms from 30–31 to 20–21 ms (bench/RESULTS.md); below 50,000 a phrase walk is a few ms.
MIN_ITEMS = 50_000
SHARE = 0.10              # a string in at least this share of the sampled items is a common gram
SAMPLE = 3000             # items sampled (evenly over the ids) to choose the vocabulary
LONGEST = 4               # longest common gram, in characters
BATCH = 500               # items a build transaction adds
ALL = 1 << 62             # grams_upto once every indexed item has its row
_PHRASE_PART = re.compile(r'"([\u3400-\u4dbf\u4e00-\u9fff]{2})"')

_VOCAB_CACHE: dict = {}


class Vocab:
    """The vocabulary: its strings, and each one's code points packed into 64 bits (16 a
    character, first character highest; the ideographs here are all below U+A000), sorted."""

    def __init__(self, strings):
        import numpy as np
        self.strings = frozenset(strings)
        by_key = {_key(g): g for g in self.strings}
        self.keys = np.array(sorted(by_key), dtype=np.uint64)
        self.by_key = by_key

    def __contains__(self, gram: str) -> bool:
        return gram in self.strings

    def __len__(self) -> int:
        return len(self.strings)


def _key(gram: str) -> int:
    k = 0
    for i, c in enumerate(gram):
        k |= ord(c) << (16 * (3 - i))
    return k


def gram_keys(norm_fields):
    """The packed keys of every ideograph substring of 2–LONGEST characters of the fields (a
    substring never spans two fields), distinct and sorted: a few numpy operations a text
    instead of a Python step per character (grams_of: ~0.6 ms for 1,750 characters, ~1.7 in
    Python)."""
    import numpy as np
    s = "\n".join(norm_fields)
    a = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32)
    if len(a) < 2:
        return np.zeros(0, dtype=np.uint64)
    ok = ((a >= 0x3400) & (a <= 0x4DBF)) | ((a >= 0x4E00) & (a <= 0x9FFF))   # ideographs, as queries take them
    c = a.astype(np.uint64)
    k2, ok2 = (c[:-1] << np.uint64(48)) | (c[1:] << np.uint64(32)), ok[:-1] & ok[1:]
    k3, ok3 = k2[:-1] | (c[2:] << np.uint64(16)), ok2[:-1] & ok[2:]
    k4, ok4 = k3[:-1] | c[3:], ok3[:-1] & ok[3:]
    return _distinct(np.concatenate([k2[ok2], k3[ok3], k4[ok4]]))


def _distinct(keys):
    """Sorted, each once (np.unique takes ~7× as long on these arrays here)."""
    import numpy as np
    keys = np.sort(keys)
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys


def grams_of(norm_fields, vocab: Vocab) -> str:
    """The vocabulary's strings found in any of the normalised fields, space-separated, in key
    order (so a row is deleted with exactly the tokens it was written with)."""
    import numpy as np
    keys = gram_keys(norm_fields)
    if not len(keys) or not len(vocab.keys):
        return ""
    at = np.searchsorted(vocab.keys, keys)
    at[at == len(vocab.keys)] = 0
    found = keys[vocab.keys[at] == keys]
    by_key = vocab.by_key
    return " ".join([by_key[k] for k in found.tolist()])


def normalised(fields) -> list[str]:
    return [normalise(v) for v in fields]


def upto(db) -> int | None:
    """Items at or below this id have their gram rows (ALL: every item); None: no common grams."""
    row = db.execute(f"SELECT value FROM {STATE} WHERE key = 'grams_upto'").fetchone()
    return None if row is None else int(row[0])


def vocabulary(db) -> Vocab:
    """The vocabulary, read once per generation (`grams_gen`) and database file."""
    gen = db.execute(f"SELECT (SELECT value FROM {STATE} WHERE key = 'grams_gen'), "
                     "(SELECT file FROM pragma_database_list WHERE name = 'main')").fetchone()
    got = _VOCAB_CACHE.get(gen)
    if got is None:
        got = Vocab(r[0] for r in db.execute(f"SELECT gram FROM {VOCAB}"))
        if len(_VOCAB_CACHE) > 8:
            _VOCAB_CACHE.clear()
        _VOCAB_CACHE[gen] = got
    return got


def add_row(db, item_id: int, fields, grams: str | None = None) -> None:
    """The item's gram row from its text fields (text, title, name, unit); inside the caller's
    transaction. `grams`: computed ahead (build's worker) from these very fields."""
    if grams is None:
        grams = grams_of(normalised(fields), vocabulary(db))
    db.execute(f"INSERT INTO {GRAMS} (rowid, grams) VALUES (?, ?)", [item_id, grams])


def remove_row(db, item_id: int, fields) -> None:
    """Delete the item's gram row, written from `fields` (FTS5 deletes a contentless row only
    when given back its tokens)."""
    db.execute(f"INSERT INTO {GRAMS} ({GRAMS}, rowid, grams) VALUES ('delete', ?, ?)",
               [item_id, grams_of(normalised(fields), vocabulary(db))])


def tracks(db, item_id: int) -> bool:
    """Whether index_item keeps this item's gram row."""
    top = upto(db)
    return top is not None and item_id <= top


def terms_of(match: str) -> list[str] | None:
    """The ideograph terms of an FTS5 expression that is one term's bigram phrase or several
    ANDed (search's own shapes, engine._term_phrase), nothing else: no filter tokens, OR, NOT
    or prefix. None otherwise."""
    body = match[1:-1] if match.startswith("(") and match.endswith(")") else match
    terms = []
    for part in body.split(" AND "):
        pieces = part.split(" + ")
        grams = [m.group(1) if (m := _PHRASE_PART.fullmatch(p)) else None for p in pieces]
        if None in grams or any(a[1] != b[0] for a, b in zip(grams, grams[1:])):
            return None
        terms.append(grams[0] + "".join(g[1] for g in grams[1:]))
    return terms


def count_expression(db, match: str, fts_rows_now: int | None) -> str | None:
    """The search_grams MATCH counting exactly what `match` (on search_fts) counts, when every
    term is a common gram and the table is complete and holds `fts_rows_now` rows; else None."""
    terms = terms_of(match)
    if not terms or any(len(t) > LONGEST for t in terms) or upto(db) != ALL:
        return None
    vocab = vocabulary(db)
    if not all(t in vocab for t in terms):
        return None
    if rows(db) != fts_rows_now:
        return None
    return " AND ".join(f'"{t}"' for t in terms)


def rows(db) -> int | None:
    """The table's row count (FTS5's averages record)."""
    row = db.execute(f"SELECT block FROM {GRAMS}_data WHERE id = 1").fetchone()
    return None if row is None else fts_rows(row[0])


def key_string(key: int) -> str:
    """The string a packed key stands for."""
    return "".join(chr(c) for c in ((key >> (16 * (3 - i))) & 0xFFFF for i in range(4)) if c)


def forget(db) -> None:
    """No common grams (a full rebuild's new table, or a small archive): rows, vocabulary and
    state dropped; inside the caller's transaction."""
    if fts5.current(db, GRAMS):
        db.execute(f"INSERT INTO {GRAMS} ({GRAMS}) VALUES ('delete-all')")
    else:   # made with the tokenizer of before (fts5.TOKENIZE): made anew, empty as it would be
        make_table(db)
    db.execute(f"DELETE FROM {VOCAB}")
    db.execute(f"DELETE FROM {STATE} WHERE key = 'grams_upto'")
    bump_generation(db)


def make_table(db) -> None:
    """(Re)create the empty gram table (migration 0064's layout) with this code's tokenizer;
    inside the caller's transaction."""
    db.execute(f"DROP TABLE IF EXISTS {GRAMS}")
    db.execute(f"CREATE VIRTUAL TABLE {GRAMS} USING fts5(grams, content='', detail='none', columnsize=0, "
               f"tokenize='{fts5.TOKENIZE}')")
    db.execute(f"INSERT INTO {GRAMS} ({GRAMS}, rank) VALUES ('hashsize', ?)", [fts5.HASH_SIZE])


def bump_generation(db) -> None:
    """The vocabulary changed: `vocabulary` reads it again (its cache is keyed by this). A
    random number, not a counter: an archive restored over another under the same path never
    shares a generation with it."""
    db.execute(f"INSERT OR REPLACE INTO {STATE} (key, value) VALUES ('grams_gen', ?)",
               [random.SystemRandom().getrandbits(62)])
