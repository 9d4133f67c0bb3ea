"""The query language: whoosh.qparser parses what the user typed, this module compiles the tree
to one FTS5 MATCH expression (the driver, ranked by bm25) plus SQL conditions on `items`.

Whoosh is lenient (an unclosed quote becomes part of a word), so a small lexer checks the raw
query first and refuses what the user surely did not mean, with a Chinese message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date as _date
from functools import lru_cache

from whoosh import fields as wfields
from whoosh import qparser
from whoosh import query as wq

from archive.core.dates import require_date
from archive.core.errors import UsageError
from .analysis import TermPlan, plan_term
from .filters import any_of, code_token, date_range_expr, type_token, unit_token

FIELD_NAMES = ("code", "type", "unit", "date", "name", "map")
_OPS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}


def _usage(key: str, msg: str) -> UsageError:
    return UsageError(key, msg)


# ---- the tree we compile ----------------------------------------------------------
@dataclass
class TermN:
    plan: TermPlan


@dataclass
class FilterN:
    """A filter: an SQL condition over `items`, and the same condition as an FTS5 expression
    over filter tokens (`fts`: a string, or a function of the archive's (min, max) date returning
    one or None) when it can be written so."""
    sql: str
    params: list = field(default_factory=list)
    fts: object = None
    selective: bool = False    # usually matches few items (a code): worth counting first (engine)


@dataclass
class AndN:
    items: list


@dataclass
class OrN:
    items: list


@dataclass
class NotN:
    item: object


@dataclass
class AllN:
    pass


# ---- raw-text checks ------------------------------------------------------------------
def _lex(q: str) -> list[str]:
    """Split outside quotes into words, '(' and ')' (quoted runs kept as one word)."""
    out, buf, i = [], "", 0
    while i < len(q):
        ch = q[i]
        if ch == '"':
            j = q.find('"', i + 1)
            if j < 0:
                raise _usage("unbalanced quote", "检索式中的双引号不成对，请补上另一个 \"")
            buf += q[i:j + 1]
            i = j + 1
            continue
        if ch in "[{" and buf.endswith(":"):
            m = re.compile(r"[^\]}]*[\]}]").match(q, i)
            if not m:
                raise _usage("bad range", "范围缺少右括号 ]，写法如 date:[2025-07-01 TO 2026-06-30]")
            buf += m.group(0)
            i = m.end()
            continue
        if ch in "()":
            if buf:
                out.append(buf)
                buf = ""
            out.append(ch)
        elif ch.isspace():
            if buf:
                out.append(buf)
                buf = ""
        else:
            buf += ch
        i += 1
    if buf:
        out.append(buf)
    return out


MAX_QUERY_CHARS = 500   # whoosh's tagger is quadratic in the length: 60,000 characters took 13 s


def check_syntax(q: str) -> None:
    if not q.strip():
        raise _usage("empty query", "检索式为空，请输入检索词")
    if len(q) > MAX_QUERY_CHARS:
        raise _usage("query too long", f"检索式过长（{len(q)} 个字符），请不要超过 {MAX_QUERY_CHARS} 个字符")
    words = _lex(q)
    depth = 0
    prev = None  # None = start, '(' , 'op', 'NOT', 'term'
    for w in words:
        if w == "(":
            if prev == "term":
                pass  # implicit AND
            depth += 1
            prev = "("
        elif w == ")":
            depth -= 1
            if depth < 0:
                raise _usage("unbalanced parenthesis", "检索式中的括号不成对：多了一个 )")
            if prev == "(":
                raise _usage("empty group", "检索式中有空括号 ()")
            if prev in ("op", "NOT"):
                raise _usage("dangling operator", "运算符 AND/OR/NOT 后缺少检索词")
            prev = "term"
        elif w in _OPS:
            if w == "NOT":
                prev = "NOT"
                continue
            if prev in (None, "(", "op", "NOT"):
                raise _usage("dangling operator", f"运算符 {w} 前缺少检索词")
            prev = "op"
        else:
            _check_word(w)
            prev = "term"
    if depth > 0:
        raise _usage("unbalanced parenthesis", "检索式中的括号不成对：缺少 )")
    if prev in ("op", "NOT"):
        raise _usage("dangling operator", "检索式以运算符结尾，运算符后缺少检索词")


_FIELD_RE = re.compile(r"^([A-Za-z_]+):(.*)$", re.S)


def _check_word(w: str) -> None:
    m = _FIELD_RE.match(w)
    if not m:
        return
    name, rest = m.group(1), m.group(2)
    if name not in FIELD_NAMES:
        if rest.startswith("//"):
            return  # a URL, searched as text
        raise _usage("unknown field",
                      f"未知的检索字段 {name}:（可用: code: type: unit: date: name: map:）")
    if not rest:
        raise _usage("empty field", f"字段 {name}: 后缺少值")
    if rest[0] in "[{" and not re.fullmatch(r"[\[{][^\]}]*\bTO\b[^\]}]*[\]}]", rest):
        raise _usage("bad range", f"{name}: 的范围写法有误，应写成 date:[2025-07-01 TO 2026-06-30]")


# ---- whoosh ---------------------------------------------------------------------------
def _parser() -> qparser.QueryParser:
    # ID fields: whoosh keeps each term verbatim (no lowercasing, no splitting of CJK);
    # our own analysis runs later on each term.
    schema = wfields.Schema(text=wfields.ID, **{f: wfields.ID for f in FIELD_NAMES})
    p = qparser.QueryParser("text", schema)
    p.remove_plugin_class(qparser.BoostPlugin)
    return p


_PARSER = None
_QUALIFIED_CODE = re.compile(r"(\bcode:)([A-Za-z0-9][\w.-]*):")


@lru_cache(maxsize=512)
def _whoosh_parse(q: str):
    """whoosh's tree for q (it compiles its regexes on every parse: ~0.3 ms; a page of results
    and its next page ask the same query). The tree is only read afterwards."""
    global _PARSER
    if _PARSER is None:
        _PARSER = _parser()
    return _PARSER.parse(q)


def _plain_words(q: str) -> list[str] | None:
    """The words of a query that is only words of letters, digits and CJK characters separated by
    spaces, none an operator: whoosh gives exactly And(Term(text, w) …) for it (tested), so it
    is not asked (~0.2 ms a query)."""
    words = q.split()
    if not words or not all(w.isalnum() and w.upper() not in _OPS for w in words):
        return None
    return words


def parse(q: str, resolve_code=None) -> object:
    """The user's query → our tree. `resolve_code(code)` lists the codes code: matches."""
    check_syntax(q)
    # code:MAP:CODE (docs/maps.md): whoosh would read `MAP:` as another field name, so the
    # qualifying colon is passed on as a full-width one, which maps.loading reads alike.
    q = _QUALIFIED_CODE.sub(lambda m: m.group(1) + m.group(2) + "\uff1a", q)
    words = _plain_words(q)
    if words is not None:
        nodes = [_field_term("text", w, resolve_code) for w in words]
        return nodes[0] if len(nodes) == 1 else AndN(nodes)
    try:
        wtree = _whoosh_parse(q)
    except Exception:  # whoosh rarely raises; never show its traceback or its words
        raise _usage("malformed query", "无法解析检索式，请检查括号、引号和 AND/OR/NOT 的用法") from None
    return _convert(wtree, resolve_code)


def _convert(n, resolve_code):
    if isinstance(n, wq.And):
        return AndN([_convert(c, resolve_code) for c in n.subqueries])
    if isinstance(n, wq.Or):
        return OrN([_convert(c, resolve_code) for c in n.subqueries])
    if isinstance(n, wq.Not):
        return NotN(_convert(n.query, resolve_code))
    if isinstance(n, wq.AndNot):
        return AndN([_convert(n.a, resolve_code), NotN(_convert(n.b, resolve_code))])
    if isinstance(n, wq.AndMaybe):
        return _convert(n.a, resolve_code)
    if isinstance(n, wq.Every):
        return AllN()
    if n is wq.NullQuery or isinstance(n, type(wq.NullQuery)):
        raise _usage("empty query", "检索式为空，请输入检索词")
    if isinstance(n, wq.TermRange):
        if n.fieldname != "date":
            raise _usage("bad range", f"只有 date: 支持范围检索（收到 {n.fieldname}:）")
        return date_filter(n.start, n.end, n.startexcl, n.endexcl)
    if isinstance(n, wq.Prefix):
        return _field_term(n.fieldname, n.text, resolve_code)
    if isinstance(n, wq.Wildcard):
        # no wildcards in an exact search: `?` and inner `*` are literal characters
        return _field_term(n.fieldname, n.text, resolve_code)
    if isinstance(n, wq.Term):
        return _field_term(n.fieldname, n.text, resolve_code)
    raise _usage("unsupported query", f"不支持的检索写法：{n}")


def _field_term(fname: str, text: str, resolve_code):
    text = text.strip()
    if fname == "text":
        plan = plan_term(text)
        if plan is None:
            raise _usage("no searchable characters",
                         f"检索词“{text}”不含汉字、字母或数字，无法检索")
        return TermN(plan)
    if fname == "code":
        return code_filter(text, resolve_code)
    if fname == "type":
        return type_filter(text)
    if fname == "unit":
        return unit_filter(text)
    if fname == "name":
        return FilterN("ea_name_contains(?, items.original_name)", [text])
    if fname == "map":   # items filed in that map (docs/maps.md)
        return FilterN("items.id IN (SELECT item_id FROM item_codes WHERE map_id = ?)", [text])
    if fname == "date":
        return date_filter(*_date_span(text), False, False)
    raise _usage("unknown field", f"未知的检索字段 {fname}:")


def _parse_date(s: str, what: str) -> str:
    """Any spelling archive.dates accepts (2025/7/1, 2025年7月1日 …), as everywhere else."""
    try:
        return require_date(s, UsageError).isoformat()
    except UsageError:
        raise _usage("bad date", f"{what}“{s}”不是有效日期，应写成 2025-07-01") from None


def _date_span(s: str) -> tuple[str, str]:
    """date:2025 / date:2025-07 / date:2025-07-01 → inclusive ISO range."""
    s = s.strip()
    if re.fullmatch(r"\d{4}", s):
        return f"{s}-01-01", f"{s}-12-31"
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", s)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        if not 1 <= mo <= 12:
            raise _usage("bad date", f"日期“{s}”的月份无效")
        nxt = _date(y + (mo == 12), mo % 12 + 1, 1)
        return f"{y:04d}-{mo:02d}-01", _date.fromordinal(nxt.toordinal() - 1).isoformat()
    d = _parse_date(s, "日期")
    return d, d


def date_filter(start, end, startexcl=False, endexcl=False) -> FilterN:
    conds, params = [], []
    lo = hi = None
    if start:
        conds.append("items.date >" + ("" if startexcl else "=") + " ?")
        lo = _parse_date(start, "起始日期")
        params.append(lo)
    if end:
        conds.append("items.date <" + ("" if endexcl else "=") + " ?")
        hi = _parse_date(end, "截止日期")
        params.append(hi)
    if not conds:
        return FilterN("1", [])
    return FilterN(" AND ".join(conds), params,
                   lambda bounds: date_range_expr(lo, hi, startexcl, endexcl, bounds))


def type_filter(value: str) -> FilterN:
    return FilterN("items.material_type = ?", [value], any_of([type_token(value)]))


def unit_filter(value: str) -> FilterN:
    return FilterN("items.unit = ?", [value], any_of([unit_token(value)]))


def code_filter(code: str, resolve_code) -> FilterN:
    """`resolve_code(code)` → the codes an item may carry to match (the node and its subtree):
    plain codes, or (map_id, code) pairs for codes that belong to a map (docs/maps.md)."""
    codes = list(dict.fromkeys(resolve_code(code)))
    if not any(isinstance(c, tuple) for c in codes):
        marks = ", ".join("?" for _ in codes)
        return FilterN(f"items.id IN (SELECT item_id FROM item_codes WHERE code IN ({marks}))", codes,
                       any_of([code_token(c) for c in codes]), selective=True)
    # codes of several maps on file: the filter names its map, in SQL (filter tokens hold codes only)
    by_map: dict = {}
    for c in codes:
        map_id, c = c if isinstance(c, tuple) else (None, c)
        by_map.setdefault(map_id, []).append(c)
    conds, params = [], []
    for map_id, cs in by_map.items():
        marks = ", ".join("?" for _ in cs)
        conds.append(f"code IN ({marks})" if map_id is None else f"(map_id = ? AND code IN ({marks}))")
        params += cs if map_id is None else [map_id, *cs]
    return FilterN(f"items.id IN (SELECT item_id FROM item_codes WHERE {' OR '.join(conds) or '0'})", params)


def and_all(*nodes) -> object:
    items = [n for n in nodes if n is not None]
    if not items:
        return AllN()
    return items[0] if len(items) == 1 else AndN(items)


# ---- compile ---------------------------------------------------------------------------
@dataclass
class Compiled:
    match: str | None          # FTS5 expression driving the query (ranked), or None
    where: str                 # SQL over `items` (always includes deleted_at IS NULL)
    params: list
    terms: list[str]           # normalised positive terms, for snippets
    ranked: bool = True        # the query has terms (else "relevance" is date, then id)
    narrow: bool = False       # ≥ NARROW_TOKENS tokens in the ANDed terms: few hits expected
    # One term of RARE_MIN_CHARS+ ideographs (RARE_MIN_CHARS_SELECTIVE+ with a code filter) ANDed
    # with token filters only: the term (candidates can come from its rarest bigrams,
    # engine._rare_phrase) and the filters' FTS5 expression.
    phrase: str | None = None
    phrase_filters: str = ""
    # One term of 2+ ideographs ANDed with filters only: its score leaves out the term's IDF
    # (the same for every hit), and few hits are scored in Python (engine._one_term_scores).
    single: str | None = None
    # Two or more ideograph terms ANDed with filters only: ranked from kept document counts when
    # that is cheaper than FTS5's walk of each term (engine._multi_terms).
    multi: tuple[str, ...] | None = None
    # The FTS5 expression of the selective filters ANDed at the top (code filters), or "": when
    # it matches at most RECENT_MIN_HITS items, so does the query, which is then narrow too.
    selective: str = ""


_VERIFY = "ea_contains(?, items.text, items.title, items.original_name, items.unit)"


def _flatten_and(n) -> list:
    if isinstance(n, AndN):
        out = []
        for c in n.items:
            out.extend(_flatten_and(c))
        return out
    return [n]


class _Compiler:
    """`table`: the FTS5 table terms are matched in. `tokens`: filters may be FTS5 expressions
    over its `f` column (only when every row's filter tokens are current). `date_bounds()`:
    the archive's (min, max) date, asked at most once."""

    def __init__(self, table: str, tokens: bool, date_bounds):
        self.sub = f"items.id IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)"
        self.tokens, self._date_bounds, self._bounds = tokens, date_bounds, None

    def bounds(self):
        if self._bounds is None:
            self._bounds = self._date_bounds()
        return self._bounds

    def fts(self, n) -> str | None:
        """An exact FTS5 expression for n, or None when n needs SQL (inexact terms, filters
        that have no token form)."""
        if isinstance(n, TermN):
            return n.plan.match if n.plan.exact else None
        if isinstance(n, FilterN):
            if not self.tokens or n.fts is None:
                return None
            return n.fts if isinstance(n.fts, str) else n.fts(self.bounds())
        if isinstance(n, OrN):
            parts = [self.fts(c) for c in n.items]
            return None if any(p is None for p in parts) else "(" + " OR ".join(parts) + ")"
        if isinstance(n, AndN):
            pos, neg = [], []
            for c in _flatten_and(n):
                if isinstance(c, NotN):
                    e = self.fts(c.item)
                    if e is None:
                        return None
                    neg.append(e)
                else:
                    e = self.fts(c)
                    if e is None:
                        return None
                    pos.append(e)
            if not pos:
                return None
            expr = "(" + " AND ".join(pos) + ")"
            for e in neg:
                expr = f"({expr} NOT {e})"
            return expr
        return None

    def sql(self, n, params: list) -> str:
        """A SQL condition over `items` equivalent to n (exact)."""
        if isinstance(n, TermN):
            params.append(n.plan.match)
            if n.plan.exact:
                return self.sub
            params.append(n.plan.text)
            return f"({self.sub} AND {_VERIFY})"
        if isinstance(n, FilterN):
            params.extend(n.params)
            return f"({n.sql})"
        if isinstance(n, AllN):
            return "1"
        if isinstance(n, NotN):
            # A NULL field (no unit, no date) is "not unit:X": SQL's three-valued NOT would drop it.
            return f"(NOT COALESCE({self.sql(n.item, params)}, 0))"
        e = self.fts(n)
        if e is not None:
            params.append(e)
            return self.sub
        joiner = " AND " if isinstance(n, AndN) else " OR "
        return "(" + joiner.join(self.sql(c, params) for c in n.items) + ")"


def _positive_terms(n, out: list[str], negated=False) -> None:
    if isinstance(n, TermN):
        if not negated:
            out.append(n.plan.text)
    elif isinstance(n, NotN):
        _positive_terms(n.item, out, not negated)
    elif isinstance(n, (AndN, OrN)):
        for c in n.items:
            _positive_terms(c, out, negated)


def _has_term(n) -> bool:
    if isinstance(n, TermN):
        return True
    if isinstance(n, NotN):
        return _has_term(n.item)
    if isinstance(n, (AndN, OrN)):
        return any(_has_term(c) for c in n.items)
    return False


NARROW_TOKENS = 4
RARE_MIN_CHARS = 5   # 4 characters: median ~60 hits, which FTS5's bm25 scores faster than Python
# With a selective filter (a code) a 4-character term has few hits (median 5 at 100,000 items),
# scored in Python either way: its two rarest bigrams ANDed with the code's tokens find them
# without walking the phrase (100k: p50 3.75 → 2.21 ms, bench/RESULTS.md eleventh session).
RARE_MIN_CHARS_SELECTIVE = 4
# ideographs only: each bigram is one FTS5 token and a hit is a plain substring
_IDEOGRAPHS = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]{2,}")


def _ideograph_terms(flat: list) -> tuple[str, ...]:
    """The terms, in query order, when the query is ideograph terms of two or more characters
    ANDed with filters only; else ()."""
    terms = [c for c in flat if isinstance(c, TermN)]
    if not all(_IDEOGRAPHS.fullmatch(c.plan.text) for c in terms):
        return ()
    filters = [c for c in flat if isinstance(c, FilterN)]
    if len(terms) + len(filters) != len([c for c in flat if not isinstance(c, AllN)]):
        return ()
    return tuple(c.plan.text for c in terms)


def _one_term(flat: list) -> str | None:
    """The term, when the query is one ideograph term of two or more characters ANDed with
    filters only (its bm25 is the term's IDF times a part that depends on the hit alone)."""
    terms = _ideograph_terms(flat)
    return terms[0] if len(terms) == 1 else None


def _several_terms(flat: list) -> tuple[str, ...] | None:
    """The terms, in query order, when the query is two or more ideograph terms of two or more
    characters ANDed with filters only."""
    terms = _ideograph_terms(flat)
    return terms if len(terms) >= 2 else None


def _phrase_query(flat: list, comp: "_Compiler"):
    """(term, FTS5 expression of the filters or "") when the query is one ideograph term
    (_one_term) ANDed with filters that all have a token form (so FTS5 alone answers it),
    else None."""
    term = _one_term(flat)
    if term is None:
        return None
    filters = [c for c in flat if isinstance(c, FilterN)]
    exprs = [comp.fts(c) for c in filters]
    if any(e is None for e in exprs):
        return None
    return term, " AND ".join(exprs)


def compile_tree(tree, table: str = "search_fts", tokens: bool = False,
                 date_bounds=lambda: (None, None)) -> Compiled:
    comp = _Compiler(table, tokens, date_bounds)
    pos, neg, where, params = [], [], ["items.deleted_at IS NULL"], []
    n_tokens = sum(c.plan.match.count(" + ") + 1 for c in _flatten_and(tree) if isinstance(c, TermN))
    for c in _flatten_and(tree):
        if isinstance(c, AllN):
            continue
        if isinstance(c, TermN) and not c.plan.exact:
            pos.append(c.plan.match)               # a superset drives the query ...
            where.append(_VERIFY)                  # ... and each candidate is checked
            params.append(c.plan.text)
            continue
        if isinstance(c, NotN):
            e = comp.fts(c.item)
            if e is not None:
                neg.append((e, c))
                continue
        else:
            e = comp.fts(c)
            if e is not None:
                pos.append(e)
                continue
        where.append(comp.sql(c, params))
    match = None
    if pos:
        match = "(" + " AND ".join(pos) + ")" if len(pos) > 1 else pos[0]
        for e, _ in neg:
            match = f"({match} NOT {e})"
    else:
        for _, c in neg:
            where.append(comp.sql(c, params))
    terms: list[str] = []
    _positive_terms(tree, terms)
    flat = _flatten_and(tree)
    single = _one_term(flat)
    selective = " AND ".join(e for e in (comp.fts(c) for c in flat if isinstance(c, FilterN) and c.selective)
                             if e is not None)
    rare_min = RARE_MIN_CHARS_SELECTIVE if selective else RARE_MIN_CHARS
    phrase = _phrase_query(flat, comp) if tokens and single and len(single) >= rare_min else None
    return Compiled(match, " AND ".join(where), params, list(dict.fromkeys(terms)), _has_term(tree),
                    n_tokens >= NARROW_TOKENS, *(phrase or (None, "")),
                    selective=selective, single=single,
                    multi=_several_terms(flat))
