"""Ground truth: for a corpus of Chinese items (line breaks inside phrases, Latin/digit IDs,
full-width characters) every query's hit set equals the brute-force set (recall and precision 1.0)."""
from __future__ import annotations

import random

import pytest

from archive.search import search

from .search_helpers import add_item, bf_item_has, bf_norm

SENTENCES = [
    "全国文明城市测评体系对农贸市场管理提出了明确要求",
    "草场街街道组织红马甲志愿服务队开展门前三包宣传活动",
    "背街小巷环境整洁是实地考察的重点点位之一",
    "市委宣传部健全理论学习中心组学习制度并形成工作台账",
    "新时代文明实践站每月开展不少于两次志愿服务活动",
    "公益广告在公交站和主要道路两侧实现全覆盖",
    "乡村学校少年宫建设情况按季度统计上报市教育局",
    "城乡结合部的公共厕所实行专人管理、定时保洁",
    "窗口单位开展文明服务示范岗评选，群众满意率明显提升",
    "文明交通劝导志愿者在早晚高峰时段上岗执勤",
    "市市场监管局对农贸市场的经营秩序进行日常巡查",
    "门前三包责任书签订率达到百分之百，台账资料齐全",
    "未成年人思想道德建设工作纳入年度考核",
    "学习宣传贯彻重要讲话精神，组织专题学习研讨",
    "社区志愿服务站点配备急救药箱和便民服务设施",
    "文明城市创建工作领导小组召开第三次全体会议",
    "整体观察显示城市环境卫生状况持续改善",
    "问卷调查结果表明市民对创建工作的知晓率较高",
    "对占道经营、乱搭乱建等问题开展集中整治",
    "诚信建设制度化，守信激励和失信惩戒机制健全",
]
IDS = ["TZ20051", "TZ20052", "TZ20517", "ZG0007", "ZG0070", "ZG1007", "AB12", "2025", "2026", "V2", "GB50016"]
TAILS = ["号", "年", "批", "次", "份", "", "", ""]
UNITS = ["草场街街道", "市委宣传部", "市教育局", "市城管局", "市市场监管局", None]
TYPES = ["规范文件", "情况说明", "实景图片", "统计表格", "工作台账"]
LEAVES = ["Ⅲ—1", "Ⅲ—2", "Ⅲ—3", "Ⅲ—4", "Ⅲ—5", "Ⅲ—6"]
# the mini map's subtrees, written out by hand so the test does not trust the code under test
SUBTREE = {"Ⅰ—1": {"Ⅰ—1", "Ⅲ—1", "Ⅲ—2", "Ⅲ—3"}, "Ⅱ—1": {"Ⅱ—1", "Ⅲ—1", "Ⅲ—2"},
           "Ⅱ—2": {"Ⅱ—2", "Ⅲ—3"}, "Ⅰ—2": {"Ⅰ—2", "Ⅲ—4", "Ⅲ—5", "Ⅲ—6"},
           "Ⅱ—3": {"Ⅱ—3", "Ⅲ—4", "Ⅲ—5", "Ⅲ—6"}, **{c: {c} for c in LEAVES}}
FULLWIDTH = str.maketrans("TZGAB0123456789", "ＴＺＧＡＢ０１２３４５６７８９")


def _pdfish(rng: random.Random, s: str) -> str:
    """Break a sentence like a PDF does: line breaks and spaces between Chinese characters."""
    out = []
    for ch in s:
        out.append(ch)
        r = rng.random()
        if r < 0.06:
            out.append("\n")
        elif r < 0.08:
            out.append(" ")
        elif r < 0.09:
            out.append("\r\n  ")
    return "".join(out)


def make_corpus(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    items = []
    for i in range(n):
        parts = []
        for _ in range(rng.randint(2, 6)):
            s = rng.choice(SENTENCES)
            if rng.random() < 0.5:
                a = rng.randrange(len(s))
                s = s[a:a + rng.randint(4, 30)]
            parts.append(_pdfish(rng, s))
            if rng.random() < 0.4:
                ident = rng.choice(IDS)
                if rng.random() < 0.2:
                    ident = ident.translate(FULLWIDTH)
                elif rng.random() < 0.3:
                    ident = ident.lower()
                sep = rng.choice(["", " ", "编号", "，编号：", "（", "\n"])
                parts.append(sep + ident + rng.choice(TAILS))
            parts.append(rng.choice(["。", "，", "；", "\n", "", " "]))
        text = "".join(parts)
        date = None if rng.random() < 0.1 else f"{rng.choice([2024, 2025, 2026])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        items.append({
            "text": text,
            "title": rng.choice(["工作台账", "情况说明", "整改报告", "红马甲志愿服务", "门前三包检查记录", "农贸市场巡查"])
                     + rng.choice(["", "（第一批）", " 2025", "TZ20051"]),
            "original_name": rng.choice(["IMG_2026_0315.jpg", "台账TZ20051.xlsx", "情况说明.docx", "scan 001.pdf",
                                         "门前三包.PDF", "img_2025_1201.JPG"]),
            "unit": rng.choice(UNITS),
            "date": date,
            "material_type": rng.choice(TYPES),
            "codes": rng.sample(LEAVES, rng.randint(0, 2)),
            "deleted": rng.random() < 0.05,
        })
    return items


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from archive.core.instance import Instance
    from archive.maps.loading import load_map_into

    from .conftest import MINI_MAP

    inst = Instance(tmp_path_factory.mktemp("gt") / "instance")
    inst.create()
    load_map_into(inst, MINI_MAP, user="test")
    items = make_corpus(400)
    for it in items:
        it["id"] = add_item(inst.db, it["text"], title=it["title"], original_name=it["original_name"],
                            unit=it["unit"], date=it["date"], material_type=it["material_type"],
                            codes=it["codes"], deleted=it["deleted"])
    yield inst, [it for it in items if not it["deleted"]], items
    inst.close()


# ---- queries and their brute-force answers -------------------------------------------------
def T(term):
    return lambda it: bf_item_has(it, term)


def AND(*fs):
    return lambda it: all(f(it) for f in fs)


def OR(*fs):
    return lambda it: any(f(it) for f in fs)


def NOT(f):
    return lambda it: not f(it)


def CODE(c):
    return lambda it: bool(SUBTREE[c] & set(it["codes"]))


def FIELD(k, v):
    return lambda it: it[k] == v


def DATE(a, b):
    return lambda it: it["date"] is not None and (a is None or it["date"] >= a) and (b is None or it["date"] <= b)


def NAME(s):
    return lambda it: bf_norm(s) in bf_norm(it["original_name"])


def build_queries(items: list[dict]) -> list[tuple[str, object]]:
    rng = random.Random(11)
    qs: list[tuple[str, object]] = []
    cjk_texts = ["".join(ch for ch in bf_norm(it["text"]) if "\u4e00" <= ch <= "\u9fff") for it in items]
    # 1..8-character Chinese terms cut from the normalised corpus (many cross a line break)
    for length in range(1, 9):
        for _ in range(18):
            src = bf_norm(rng.choice(items)["text"])
            runs = [r for r in __import__("re").findall(r"[\u4e00-\u9fff]+", src) if len(r) >= length]
            if not runs:
                continue
            r = rng.choice(runs)
            a = rng.randrange(len(r) - length + 1)
            term = r[a:a + length]
            qs.append((term, T(term)))
    # terms that span a line break in the original text
    spans = 0
    for it in items:
        raw = it["text"]
        for k, ch in enumerate(raw):
            if ch == "\n" and 0 < k < len(raw) - 1 and "\u4e00" <= raw[k - 1] <= "\u9fff":
                left = raw[max(0, k - 2):k]
                right = raw[k + 1:k + 4].strip()
                term = left + right
                if term and all("\u4e00" <= c <= "\u9fff" for c in term):
                    qs.append((term, T(term)))
                    spans += 1
                break
        if spans >= 30:
            break
    # terms absent from the corpus, and Chinese characters from outside it
    for term in ["文明城市测评体系", "城管", "垃圾分类", "鑫", "文明交通劝导队", "红马甲志愿服务队", "市城"]:
        qs.append((term, T(term)))
    # Latin / digit terms (prefix of a word, case-insensitive, full-width folded)
    for term in ["TZ20051", "tz2005", "TZ", "ZG0007", "zg00", "ZG1", "2025", "202", "v2", "AB12", "ab", "GB50016",
                 "TZ205", "0051", "ＴＺ２００５", "img", "IMG_2026", "jpg", "scan", "pdf", "xlsx", "a"]:
        qs.append((term, T(term)))
    # mixed Chinese/Latin/digit terms
    for term in ["TZ20051号", "2025年", "编号TZ20051", "编号ZG0007号", "ZG0007份", "2026批", "编号：TZ20052",
                 "（AB12", "V2次", "台账TZ20051", "TZ20051.xlsx", "scan 001", "GB50016号", "2025 年"]:
        qs.append((f'"{term}"' if " " in term else term, T(term)))
    # quoted phrases with spaces (spaces between Chinese vanish in normalisation)
    for term in ["门前 三包", "红马甲 志愿", "农贸 市场 管理", "编号 TZ20051", "工作台账 2025"]:
        qs.append((f'"{term}"', T(term)))
    # multi-term AND, OR, NOT, grouping
    words = ["文明", "志愿", "门前三包", "农贸市场", "台账", "TZ20051", "ZG0007", "城", "街道", "考察", "2025年", "红马甲",
             "公厕", "宣传", "学习制度", "巡查"]
    for _ in range(40):
        a, b = rng.sample(words, 2)
        qs.append((f"{a} {b}", AND(T(a), T(b))))
    for _ in range(20):
        a, b = rng.sample(words, 2)
        qs.append((f"{a} OR {b}", OR(T(a), T(b))))
    for _ in range(20):
        a, b = rng.sample(words, 2)
        qs.append((f"{a} NOT {b}", AND(T(a), NOT(T(b)))))
    for _ in range(10):
        a, b, c = rng.sample(words, 3)
        qs.append((f"({a} OR {b}) NOT {c}", AND(OR(T(a), T(b)), NOT(T(c)))))
        qs.append((f"{a} AND ({b} OR NOT {c})", AND(T(a), OR(T(b), NOT(T(c))))))
    qs.append(("NOT 文明", NOT(T("文明"))))
    qs.append(("NOT TZ20051号", NOT(T("TZ20051号"))))
    # field filters, alone and with terms
    for c in SUBTREE:
        qs.append((f"code:{c}", CODE(c)))
    qs.append(("code:III-1 志愿", AND(CODE("Ⅲ—1"), T("志愿"))))
    qs.append(("code:i-2 OR 红马甲", OR(CODE("Ⅰ—2"), T("红马甲"))))
    qs.append(("文明 NOT code:Ⅰ—1", AND(T("文明"), NOT(CODE("Ⅰ—1")))))
    for t in TYPES:
        qs.append((f"type:{t} 文明", AND(FIELD("material_type", t), T("文明"))))
    for u in UNITS[:-1]:
        qs.append((f"unit:{u}", FIELD("unit", u)))
    qs.append(("unit:草场街街道 门前三包", AND(FIELD("unit", "草场街街道"), T("门前三包"))))
    qs.append(("date:[2025-07-01 TO 2026-06-30]", DATE("2025-07-01", "2026-06-30")))
    qs.append(("date:[2025-07-01 TO 2026-06-30] 志愿", AND(DATE("2025-07-01", "2026-06-30"), T("志愿"))))
    qs.append(("date:[2026-01-01 TO]", DATE("2026-01-01", None)))
    qs.append(("date:2025", DATE("2025-01-01", "2025-12-31")))
    qs.append(("date:2025-03 OR TZ20051", OR(DATE("2025-03-01", "2025-03-31"), T("TZ20051"))))
    qs.append(("name:IMG_2026", NAME("IMG_2026")))
    qs.append(("name:img 文明", AND(NAME("img"), T("文明"))))
    qs.append(('name:"scan 001"', NAME("scan 001")))
    qs.append(("name:台账", NAME("台账")))
    qs.append(("name:.pdf type:规范文件", AND(NAME(".pdf"), FIELD("material_type", "规范文件"))))
    return qs


@pytest.mark.parametrize("recent_min_hits", [None, 15])
def test_ground_truth_recall_and_precision(corpus, monkeypatch, recent_min_hits):
    """Both orders: the default threshold (every query here ranked by bm25) and a low one (most
    queries newest first), so the recent-order paths are held to the same hit sets."""
    from archive.search import engine

    if recent_min_hits is not None:
        monkeypatch.setattr(engine, "RECENT_MIN_HITS", recent_min_hits)
    inst, live, _ = corpus
    queries = build_queries(live)
    assert len(queries) >= 300, len(queries)
    failures = []
    nonempty = recent = 0
    for q, pred in queries:
        expected = {it["id"] for it in live if pred(it)}
        got = search(inst, q, limit=1000)
        ids = {h["id"] for h in got["hits"]}
        if ids != expected or got["total"] != len(expected):
            failures.append((q, len(expected), got["total"], sorted(expected - ids)[:5], sorted(ids - expected)[:5]))
        if got["order"] != ("recent" if len(expected) > engine.RECENT_MIN_HITS else "relevance"):
            failures.append((q, "order", got["order"]))
        if got["order"] == "recent":
            recent += 1
            if [h["id"] for h in got["hits"]] != sorted(ids, reverse=True):
                failures.append((q, "not newest first"))
        nonempty += bool(expected)
    assert not failures, f"{len(failures)} of {len(queries)} queries differ: {failures[:10]}"
    assert nonempty >= 250  # the check is not vacuous
    assert recent == 0 if recent_min_hits is None else recent >= 150, recent


def test_filters_as_arguments(corpus):
    inst, live, _ = corpus
    got = search(inst, "志愿", code="Ⅱ—1", type="实景图片", unit="草场街街道",
                 date_from="2025-01-01", date_to="2025-12-31", limit=1000)
    expected = {it["id"] for it in live if bf_item_has(it, "志愿") and SUBTREE["Ⅱ—1"] & set(it["codes"])
                and it["material_type"] == "实景图片" and it["unit"] == "草场街街道"
                and it["date"] and "2025-01-01" <= it["date"] <= "2025-12-31"}
    assert {h["id"] for h in got["hits"]} == expected


@pytest.mark.parametrize("recent_min_hits", [None, 15])
def test_deleted_items_never_returned(corpus, monkeypatch, recent_min_hits):
    from archive.search import engine

    if recent_min_hits is not None:
        monkeypatch.setattr(engine, "RECENT_MIN_HITS", recent_min_hits)
    inst, _, everything = corpus
    deleted = {it["id"] for it in everything if it["deleted"]}
    assert deleted
    for q in ["文明", "TZ20051", "城", "NOT 文明", "*", "date:[2000-01-01 TO 2100-01-01]"]:
        got = search(inst, q, limit=1000)
        assert not deleted & {h["id"] for h in got["hits"]}


def test_order_is_stable_and_paged(corpus):
    inst, _, _ = corpus
    full = search(inst, "志愿 OR 文明", limit=1000)
    scores = [h["score"] for h in full["hits"]]
    assert scores == sorted(scores, reverse=True)
    page = [h["id"] for h in search(inst, "志愿 OR 文明", limit=10, offset=20)["hits"]]
    assert page == [h["id"] for h in full["hits"][20:30]]


def test_both_query_paths_order_alike(corpus, monkeypatch):
    """Term-only queries take a shortcut inside FTS5; the general path must order identically."""
    from archive.search import engine

    inst, _, _ = corpus
    queries = ["志愿", "文明 OR 台账", "城", "TZ20051", "门前三包 NOT 红马甲"]
    fast = [[h["id"] for h in search(inst, q, limit=50, offset=5)["hits"]] for q in queries]
    monkeypatch.setattr(engine, "TEXT_ONLY_MAX_ROWS", 0)
    slow = [[h["id"] for h in search(inst, q, limit=50, offset=5)["hits"]] for q in queries]
    assert fast == slow
