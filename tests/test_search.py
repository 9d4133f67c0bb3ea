"""Search: analysis, malformed queries, snippets, index maintenance, CLI."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from archive.core.db import transaction
from archive.core.errors import UsageError
from archive.search import check_index, index_item, reindex, search, unindex_item
from archive.search.analysis import normalise, plan_term, tokens
from cli import cli

from .search_helpers import add_item


def test_normalise_and_tokens():
    assert normalise("全国文明\n  城市 ＴＺ２００５１号") == "全国文明城市 tz20051号"
    assert tokens("文明城市，tz20051号") == "文明 明城 城市 市 tz20051 号"
    assert plan_term("城").match == '"城" *'
    assert plan_term("文明城市").exact and plan_term("TZ2005").exact
    assert not plan_term("TZ20051号").exact
    assert plan_term("《》") is None


@pytest.mark.parametrize("q, key", [
    ('"文明城市', "unbalanced quote"),
    ("(文明 OR 城市", "unbalanced parenthesis"),
    ("文明 城市)", "unbalanced parenthesis"),
    ("()", "empty group"),
    ("文明 AND", "dangling operator"),
    ("OR 文明", "dangling operator"),
    ("文明 OR OR 城市", "dangling operator"),
    ("NOT", "dangling operator"),
    ("", "empty query"),
    ("   ", "empty query"),
    ("title:文明", "unknown field"),
    ("code:", "empty field"),
    ("code:Ⅸ—99", "unknown code"),
    ("date:2025-13-45", "bad date"),
    ("date:[2025-01-01 TO", "bad range"),
    ("date:[2025-01-01 2026-01-01]", "bad range"),
    ("unit:[a TO b]", "bad range"),
    ("《》", "no searchable characters"),
])
def test_malformed_queries_get_a_chinese_message(instance, q, key):
    with pytest.raises(UsageError) as e:
        search(instance, q)
    assert e.value.key == key
    assert any("\u4e00" <= ch <= "\u9fff" for ch in e.value.message_zh)


def test_whoosh_keeps_chinese_verbatim(instance):
    a = add_item(instance.db, "红马甲志愿服务队在背街小巷开展清扫")
    for q in ["红马甲志愿服务队", "红", "队在背", "背街小巷 清扫", '"志愿 服务队"']:
        assert [h["id"] for h in search(instance, q)["hits"]] == [a], q


def test_one_character_and_run_boundaries(instance):
    a = add_item(instance.db, "文明，明城。城")
    b = add_item(instance.db, "文明城")
    assert {h["id"] for h in search(instance, "文明城")["hits"]} == {b}
    assert {h["id"] for h in search(instance, "明城")["hits"]} == {a, b}
    assert {h["id"] for h in search(instance, "城")["hits"]} == {a, b}


def test_mixed_terms_are_verified(instance):
    a = add_item(instance.db, "台账编号TZ20051号")
    b = add_item(instance.db, "台账编号 TZ20051 号")
    assert {h["id"] for h in search(instance, "编号TZ20051号")["hits"]} == {a}
    assert {h["id"] for h in search(instance, '"编号 TZ20051"')["hits"]} == {b}
    assert {h["id"] for h in search(instance, "TZ2005")["hits"]} == {a, b}
    assert search(instance, "0051")["total"] == 0  # Latin/digit terms match from the start of a word


def test_snippet_shows_terms_in_original_text(instance):
    text = ("本市" * 40) + "各街道组织红马甲志\n愿服务队，台账编号ＴＺ20051。" + ("其他内容" * 40)
    add_item(instance.db, text, title="志愿服务")
    hit = search(instance, "红马甲志愿 tz20051")["hits"][0]
    s = hit["snippet"]
    assert "红马甲志愿服务队" in s and "ＴＺ20051" in s  # line break gone, full-width kept
    assert s.startswith("…") and s.endswith("…")
    marked = [s[a:b] for a, b in hit["highlights"]]
    assert marked == ["红马甲志愿", "ＴＺ20051"]
    assert "<mark>红马甲志愿</mark>" in hit["snippet_html"]


def test_snippet_html_is_escaped(instance):
    add_item(instance.db, "<b>x</b> 文明城市 & 红马甲")
    h = search(instance, "文明城市")["hits"][0]
    assert h["snippet"] == "<b>x</b> 文明城市 & 红马甲"
    assert "<b>" not in h["snippet_html"] and "&lt;b&gt;" in h["snippet_html"]
    assert "<mark>文明城市</mark>" in h["snippet_html"]


def test_hit_shape(instance):
    add_item(instance.db, "另一份材料", original_name="另一份.pdf")
    a = add_item(instance.db, "门前三包责任书", title="门前三包", unit="草场街街道", date="2025-09-01",
                 material_type="规范文件", codes=["Ⅲ—6"], original_name="门前三包.pdf")
    r = search(instance, "门前三包")
    assert r["total"] == 1
    h = r["hits"][0]
    assert {"id", "title", "codes", "type", "date", "unit", "original_name", "sha256", "snippet", "score"} <= set(h)
    assert (h["id"], h["codes"], h["type"], h["date"], h["unit"]) == (a, ["Ⅲ—6"], "规范文件", "2025-09-01", "草场街街道")
    assert h["score"] > 0


def test_index_follows_edits_and_deletes(instance):
    db = instance.db
    a = add_item(db, "原来的文字")
    with transaction(db):
        db.execute("UPDATE items SET text = '改过的文字' WHERE id = ?", [a])
        index_item(db, a)
    assert search(instance, "原来")["total"] == 0
    assert search(instance, "改过")["total"] == 1
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [a])
        index_item(db, a)
    assert search(instance, "改过")["total"] == 0
    assert check_index(db) == []
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = NULL WHERE id = ?", [a])
        index_item(db, a)
    assert search(instance, "改过")["total"] == 1
    assert check_index(db) == []


def test_check_index_finds_problems_and_reindex_fixes_them(instance):
    db = instance.db
    a = add_item(db, "第一条资料")
    b = add_item(db, "第二条资料")
    with transaction(db):
        unindex_item(db, a)                                                # missing row
        db.execute("UPDATE items SET text = '悄悄改了' WHERE id = ?", [b])   # drift
    keys = {p["key"] for p in check_index(db)}
    assert {"item not indexed", "index drift"} <= keys
    seen = []
    report = reindex(instance, progress=lambda done, total, message: seen.append((done, total)))
    assert report["indexed"] == 2 and seen[-1] == (2, 2)
    assert check_index(db) == []
    assert search(instance, "悄悄")["total"] == 1 and search(instance, "第一条")["total"] == 1


def test_reindex_removes_rows_of_deleted_items(instance):
    db = instance.db
    a = add_item(db, "将被删除的资料")
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [a])  # a writer that forgot index_item
    assert {p["key"] for p in check_index(db)} == {"stale index row"}
    assert search(instance, "删除")["total"] == 0   # never returned even then
    assert reindex(instance)["removed"] == 1
    assert check_index(db) == []


def test_cli_search_json(instance, instance_dir, runner):
    add_item(instance.db, "红马甲志愿服务队台账 TZ20051", title="红马甲台账", unit="草场街街道",
             date="2025-08-01", codes=["Ⅲ—2"], material_type="工作台账")
    r = runner.invoke(cli, ["--instance", str(instance_dir), "search", "红马甲 tz2005", "--code", "Ⅰ—1",
                            "--type", "工作台账", "--from", "2025-07-01", "--to", "2026-06-30", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["total"] == 1
    assert set(data["hits"][0]) >= {"id", "title", "codes", "type", "date", "unit", "original_name",
                                    "sha256", "snippet", "score"}
    assert "红马甲" in r.stdout  # not ASCII-escaped


def test_cli_search_human_and_errors(instance, instance_dir, runner):
    add_item(instance.db, "背街小巷环境整洁", title="背街小巷", codes=["Ⅲ—5"], date="2025-10-01")
    r = runner.invoke(cli, ["--instance", str(instance_dir), "search", "小巷"])
    assert r.exit_code == 0
    assert "背街小巷" in r.stdout and "Ⅲ—5" in r.stdout and "2025-10-01" in r.stdout
    r = runner.invoke(cli, ["--instance", str(instance_dir), "search", '"小巷'])
    assert r.exit_code == 2
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1 and "引号" in r.stderr
    r = runner.invoke(cli, ["--instance", str(instance_dir), "search", "小巷", "--from", "2025-02-30"])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_cli_reindex(instance, instance_dir, runner):
    add_item(instance.db, "资料内容")
    r = runner.invoke(cli, ["--instance", str(instance_dir), "reindex"])
    assert r.exit_code == 0, r.output
    assert "1" in r.stderr


def test_search_and_reindex_have_help(runner):
    for cmd in ("search", "reindex"):
        r = runner.invoke(cli, [cmd, "--help"])
        assert r.exit_code == 0 and r.stdout.strip()


def test_full_rebuild_keeps_search_up_and_catches_concurrent_writes(instance, monkeypatch):
    from archive.search import engine

    db = instance.db
    monkeypatch.setattr(engine, "REINDEX_BATCH", 3)
    ids = [add_item(db, f"第{i}份文明城市资料") for i in range(10)]
    seen = []

    def progress(done, total, message):
        # search still answers from the live table mid-rebuild ...
        seen.append(search(instance, "文明城市")["total"])
        if len(seen) == 1:   # ... and writers keep writing
            ids.append(add_item(db, "重建期间新增的红马甲资料"))
            with transaction(db):
                db.execute("UPDATE items SET text = '重建期间改过的文字' WHERE id = ?", [ids[0]])
                index_item(db, ids[0])
            with transaction(db):
                db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [ids[1]])
                index_item(db, ids[1])

    report = engine.reindex(instance, progress=progress, full=True)
    assert report["mode"] == "full" and seen[0] == 10
    assert check_index(db) == []
    assert search(instance, "文明城市")["total"] == 8
    assert search(instance, "红马甲")["total"] == 1 and search(instance, "改过")["total"] == 1
    assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'search_fts_new%' "
                      "OR name LIKE '%rebuild_log%'").fetchall() == []


@pytest.mark.parametrize("query", ["文明城市", "文明"])      # a phrase; one token (count first)
@pytest.mark.parametrize("text_only", [True, False])     # False: the general path
def test_equal_scores_order_by_date_then_id(instance, monkeypatch, query, text_only):
    from archive.search import engine

    if not text_only:
        monkeypatch.setattr(engine, "TEXT_ONLY_MAX_ROWS", 0)
    dates = ["2025-03-01", "2026-01-05", None, "2025-12-31", "2026-01-05", "2024-07-01"] * 5
    ids = [add_item(instance.db, "同样的文字：文明城市", date=d, original_name="同.pdf") for d in dates]
    expected = sorted(zip(ids, dates), key=lambda p: (p[1] is None, "" if p[1] is None else
                                                       "".join(chr(0x10FFFF - ord(c)) for c in p[1]), p[0]))
    got = [h["id"] for h in search(instance, query, limit=10, offset=7)["hits"]]
    assert got == [i for i, _ in expected][7:17]


def test_whitespace_between_cjk_is_dropped_as_the_reference_pattern_drops_it():
    """drop_cjk_ws and the snippets' tidying equal the regular expressions they replace, on
    every kind of whitespace (\\s and str.split() agree on Unicode spaces, \\x1c–\\x1f too)."""
    import random
    import re

    from archive.search import snippets
    from archive.search.analysis import _CJK_WS, drop_cjk_ws

    rng = random.Random(5)
    spaces = [" ", "\n", "\r\n", "\t", "\u3000", "\xa0", "\x1c", "\u2028", "\x85", "  \n "]
    pieces = ["文", "明", "ア", "한", "a", "1", "，", "。", "（", "𠀀", "e\u0301", ""] + spaces
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert drop_cjk_ws(text) == _CJK_WS.sub("", text), repr(text)
        assert snippets._tidy(text) == re.sub(r"\s+", " ", _CJK_WS.sub("", text)).strip(), repr(text)


def test_snippet_of_a_long_text_is_made_from_its_start_alike(monkeypatch):
    """make_snippet looks at a prefix of a long text first; the result must equal the whole-text one."""
    import random

    from archive.search import snippets
    from archive.search.analysis import normalise

    rng = random.Random(3)
    pieces = ["文明城市", "志愿服务", "门前三包", "，", "。", "\n", " ", "\r\n  ", "ＴＺ２００５１", "TZ20051号",
              "tz2005", "ΑΣ.", "台账", "㎏", "e\u0301", "Ⅲ—1", "背街小巷", "（一）", "abc ", "⽂明", "㈠号", "城\n市",
              "巡查记录表", "整改"]
    terms_pool = ["文明", "志愿服务", "门前", "tz2005", "台账", "小巷", "城", "kg", "三包", "号", "城市", "一号",
                  "不在文中", "农贸", "市场"]
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(10, 600)))
        terms = [normalise(t) for t in rng.sample(terms_pool, rng.randint(1, 3))]
        monkeypatch.setattr(snippets, "SHORTCUTS", False)
        whole = snippets.make_snippet(text, terms)
        monkeypatch.setattr(snippets, "SHORTCUTS", True)
        for prefix, late in ((20, 1), (60, 50), (200, 200), (2000, 10_000)):
            monkeypatch.setattr(snippets, "PREFIX", prefix)
            monkeypatch.setattr(snippets, "LATE", late)
            assert snippets.make_snippet(text, terms) == whole, (text, terms, prefix, late)


def test_snippet_from_a_slice_late_in_the_text_equals_the_whole_texts(monkeypatch):
    """Terms first found late: the snippet made from a slice around them must be the whole
    text's, also when the term occurs earlier across a line break or through a character NFKC
    turns into an ideograph, several times, or near the slice's ends."""
    import random

    from archive.search import snippets

    rng = random.Random(11)
    filler = ["创建工作", "领导小组", " " * 60, "\n" * 30, "，", "。", "\n", " ", "街道", "社区", "TZ2005", "ab ", "㎏", "e\u0301", "（二）"]
    tricky = ["文\n明", "文 \u3000明", "⽂明", "文明", "志愿\r\n服务", "志愿服务", "三\n包", "门前三包", "城", "市"]
    terms_pool = ["文明", "志愿服务", "门前三包", "三包", "城市", "明志"]
    taken = 0
    for _ in range(600):
        parts = [rng.choice(filler) for _ in range(rng.randint(0, 150))]
        for _ in range(rng.randint(1, 4)):
            parts.insert(rng.randint(0, len(parts)), rng.choice(tricky))
        parts += [rng.choice(filler + tricky) for _ in range(rng.randint(0, 150))]
        text = "".join(parts)
        terms = rng.sample(terms_pool, rng.randint(1, 2))
        monkeypatch.setattr(snippets, "SHORTCUTS", False)
        whole = snippets.make_snippet(text, terms)
        monkeypatch.setattr(snippets, "SHORTCUTS", True)
        for late in (1, 40, 200):
            monkeypatch.setattr(snippets, "LATE", late)
            firsts = [text.find(t) for t in terms]
            if min(firsts) >= late and snippets._late_snippet(text, terms, firsts) is not None:
                taken += 1
            assert snippets.make_snippet(text, terms) == whole, (text, terms, late)
    assert taken > 25    # the slice path was taken, not only the fallbacks


def test_snippet_cut_straight_from_clean_text_equals_the_whole_texts(monkeypatch):
    """Terms of ideographs found as written with no whitespace or NFKC maker near them: the
    snippet cut straight from the text must be the whole text's, also with whitespace or a
    maker just outside the windows, a line break inside a term earlier on, several terms (more
    windows than are shown), terms many times over, and the windows at the text's ends."""
    import random

    from archive.search import snippets

    rng = random.Random(23)
    clean = ["创建工作", "领导小组", "街道", "社区", "，", "。", "TZ2005", "（二）", "门前", "文明"]
    dirty = [" ", "\n", "\u3000", "\r\n  ", " " * 12, "\n" * 9, "⽂", "㈠", "e\u0301", "㎏"]
    tricky = ["文\n明", "⽂明", "志愿\n服务", "三 包"]
    terms_pool = ["文明", "志愿服务", "门前三包", "三包", "城市", "明志", "街道", "社区创建", "前"]
    fast = Counter()
    calls = []
    real = snippets._clean_snippet
    monkeypatch.setattr(snippets, "_clean_snippet", lambda *a: calls.append(real(*a)) or calls[-1])
    for _ in range(1500):
        parts = [rng.choice(clean) for _ in range(rng.randint(0, 80))]
        for _ in range(rng.randint(0, 3)):
            parts.insert(rng.randint(0, len(parts)), rng.choice(dirty + tricky))
        terms = rng.sample(terms_pool, rng.randint(1, 4))
        for t in terms:
            for _ in range(rng.choice((0, 1, 1, 2, 60))):
                parts.insert(rng.randint(0, len(parts)), t)
        text = rng.choice(["", " ", "\n"]) + "".join(parts) + rng.choice(["", " ", "\n ", "。"])
        monkeypatch.setattr(snippets, "SHORTCUTS", False)
        whole = snippets.make_snippet(text, terms)
        monkeypatch.setattr(snippets, "SHORTCUTS", True)
        calls.clear()
        assert snippets.make_snippet(text, terms) == whole, (text, terms)
        fast["taken" if calls and calls[0] is not None else "fell back" if calls else "not tried"] += 1
    assert fast["taken"] > 150 and fast["fell back"] > 150, fast   # both ways, many times

    # windows whose gap is whitespace only (tidying may join them), four and five windows
    # (the fourth must stay apart from the third), windows at the text's very ends
    fill = "甲乙丙丁戊己庚辛壬癸"
    seps = ["", "\n", " ", "\n" * 3, " \n ", "\u3000", "，"]
    for _ in range(3000):
        terms = rng.sample(["文明", "志愿服务", "门前三包", "城市", "社区创建", "乡", "镇"], rng.randint(2, 5))
        text = rng.choice(["", " ", "\n\n"]) + "".join(rng.choice(fill) for _ in range(rng.choice((0, 3, 20, 24, 25))))
        for t in terms:
            text += t + "".join(rng.choice(fill) for _ in range(rng.randint(20, 28))) + rng.choice(seps)
            text += "".join(rng.choice(fill) for _ in range(rng.randint(20, 28)))
        text = text[:len(text) - rng.choice((0, 0, 20, 24, 40))] + rng.choice(["", " ", "\n "])
        monkeypatch.setattr(snippets, "SHORTCUTS", False)
        whole = snippets.make_snippet(text, terms)
        monkeypatch.setattr(snippets, "SHORTCUTS", True)
        calls.clear()
        assert snippets.make_snippet(text, terms) == whole, (text, terms)
        fast["gaps taken" if calls and calls[0] is not None else "gaps fell back"] += 1
    assert fast["gaps taken"] > 40 and fast["gaps fell back"] > 500, fast


@pytest.mark.parametrize("text, terms", [
    (" " + "甲" * 24 + "乡" + "乙" * 30, ["乡"]),                              # only whitespace before
    ("甲" * 30 + "乡" + "乙" * 24 + "\n ", ["乡"]),                           # only whitespace after
    ("甲" * 30 + "乡" + "乙" * 24 + "\n" + "丙" * 24 + "镇" + "丁" * 30, ["乡", "镇"]),   # joined by tidying
    ("甲" * 30 + "乡" + "乙" * 60 + "镇" + "丙" * 60 + "村" + "丁" * 24 + "\n" + "戊" * 24 + "街" + "己" * 30,
     ["乡", "镇", "村", "街"]),                                              # the fourth joins the third
])
def test_snippet_cut_straight_from_the_text_at_its_edges(monkeypatch, text, terms):
    """The cases where the text as written and the tidy text differ just outside the windows."""
    from archive.search import snippets

    monkeypatch.setattr(snippets, "SHORTCUTS", False)
    whole = snippets.make_snippet(text, terms)
    monkeypatch.setattr(snippets, "SHORTCUTS", True)
    assert snippets.make_snippet(text, terms) == whole
    assert snippets._clean_snippet(text, terms, [text.find(t) for t in terms]) in (whole, None)


def test_characters_nfkc_turns_into_ideographs_are_all_listed():
    import re
    import unicodedata

    from archive.search.snippets import MAKES_IDEOGRAPH, makes_ideograph

    ideograph = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
    makers = 0
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or ideograph.match(chr(cp)):
            continue
        makes = bool(ideograph.search(unicodedata.normalize("NFKC", chr(cp))))
        if makes:
            assert MAKES_IDEOGRAPH.match(chr(cp)), hex(cp)
        if makes or MAKES_IDEOGRAPH.match(chr(cp)):
            assert makes_ideograph("a" + chr(cp) + "b") == makes, hex(cp)
            makers += makes
    assert makers > 1000 and not makes_ideograph("㎏①㈱文明", 0, 2) and makes_ideograph("㎏⽂", 1)


def test_nfkc_scans_runs_as_normalising_the_whole_text_would():
    """nfkc() normalises only the runs that can change, and takes the slower scan (a run with
    the ASCII character before it) when a run starts with a combining mark: the result is
    always unicodedata's, and nfkc_mapped's flag says whether every character maps to one.
    Full-width punctuation replaced first (，：；！？（）％) keeps both, also before a combining
    mark (＜ + U+0338 composes to ≮, as < + U+0338 does)."""
    import random
    import unicodedata

    from archive.search.analysis import _NFKC_BARE, nfkc, nfkc_mapped

    pool = ("文明城市创建，。、（）：；！？％＜ＴＺ２００５ａｂe=o\u0301\u0338\u0308\u20dd\u3099か㎏①⽂"
            "\uf900\u1100\u1161\u11a8한 \n\t\u3000\u00a0ﬁⅣ")
    rng = random.Random(15)
    glued = 0
    for _ in range(3000):
        s = "".join(rng.choice(pool) for _ in range(rng.randint(0, 24)))
        n, mapped = nfkc_mapped(s)
        assert n == nfkc(s) == unicodedata.normalize("NFKC", s), repr(s)
        if mapped:
            assert len(n) == len(s) and all(unicodedata.normalize("NFKC", c) == x for c, x in zip(s, n)), repr(s)
        glued += any(m.start() and s[m.start() - 1] < "\x80" and unicodedata.category(s[m.start()])[0] == "M"
                     for m in _NFKC_BARE.finditer(s))
    assert glued > 100     # the reference scan was taken, not only the fast one


def test_snippet_marks_stay_on_the_term_when_nfkc_changes_lengths():
    from archive.search.snippets import make_snippet

    for text in ["㎏文明城市e\u0301", "ＴＺ㎏，文明。e\u0301", "e\u0301文明城市"]:
        s = make_snippet(text, ["文明"])
        (a, b), = s["highlights"]
        assert s["snippet"][a:b] == "文明", (text, s)


def test_search_dates_take_every_spelling_the_archive_accepts():
    """`add --date 2026/7/1` works, so `search --from 2026/7/1` must too (one date parser)."""
    from archive.search.query import date_filter

    assert date_filter("2026/7/1", "2026年7月31日").params == ["2026-07-01", "2026-07-31"]


def test_not_on_a_field_keeps_items_without_that_field(instance):
    """`NOT unit:X` must keep an item that has no unit at all; `NOT date:2026` an undated one."""
    db = instance.db
    no_unit = add_item(db, "书法课活动记录", unit=None, date="2026-03-01")
    other = add_item(db, "书法课签到表", unit="市教育局", date=None)
    ids = lambda q: sorted(h["id"] for h in search(instance, q, limit=50)["hits"])  # noqa: E731
    assert ids("书法 NOT unit:市教育局") == [no_unit]
    assert ids("* NOT unit:市教育局") == [no_unit]
    assert ids("* NOT date:2026") == [other]
    assert ids("书法 NOT (unit:市教育局 OR date:2025)") == [no_unit]


def test_overlong_query_and_offset_are_refused_quickly(instance):
    import time

    add_item(instance.db, "书法课")
    t0 = time.perf_counter()
    with pytest.raises(UsageError) as e:
        search(instance, "a" * 60_000)
    assert e.value.key == "query too long" and time.perf_counter() - t0 < 1
    with pytest.raises(UsageError) as e:
        search(instance, "书法", offset=10**23)
    assert e.value.key == "bad offset"
    with pytest.raises(UsageError) as e:
        search(instance, "NOT " * 50 + "书法")
    assert "list index" not in e.value.message_zh


def test_plain_queries_parse_as_whoosh_parses_them():
    """Queries of plain words skip whoosh; the tree must be the one whoosh's parse gives."""
    from archive.search import query

    qs = ["文明", "文明 城市", "TZ20051 红马甲", "tz2005号 2025年", "ＴＺ２００５", "Ⅲ 城", "a b c d", "ΑΣ 文明", "²文明", "城市\t文明", "  文明  "]
    for q in qs:
        assert query._plain_words(q) is not None, q
        assert query.parse(q) == query._convert(query._whoosh_parse(q), None), q
    for q in ["文明 AND 城市", "NOT 文明", "文明 OR 城市", "type:实景图片", '"文明 城市"', "文明*", "(文明)", "-文明",
              "文明，城市", "TZ-2005", "a_b", "and 文明", "文明 or 城市"]:
        assert query._plain_words(q) is None, q
