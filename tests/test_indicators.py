"""The map model (archive/indicators.py): codes, validation with line numbers, windows, diff."""
from __future__ import annotations

import textwrap
from datetime import date

import pytest

from archive.core.errors import UsageError
from archive.maps.indicators import (
    IndicatorMap, MapError, Problem, check_map_text, diff_maps, load_map, normalise_code,
    parse_map, window_for,
)
from tests.conftest import MINI_MAP, SAMPLE_MAP

HEAD = """\
edition: 测试
id: t
material_types: [规范文件, 情况说明, 实景图片, 统计表格, 工作台账]
"""


def make(body: str, head: str = HEAD) -> str:
    return head + textwrap.dedent(body)


def problems(text: str) -> list[tuple[int, str]]:
    return [(p.line, p.key) for p in check_map_text(text)]


@pytest.fixture(scope="module")
def mini() -> IndicatorMap:
    return load_map(MINI_MAP)


@pytest.fixture(scope="module")
def sample() -> IndicatorMap:
    return load_map(SAMPLE_MAP)


# ---------------------------------------------------------------- codes
@pytest.mark.parametrize("spelling", [
    "Ⅲ—1", "Ⅲ-1", "Ⅲ–1", "Ⅲ－1", "III-1", "iii-1", "Ⅲ―1", "Ⅲ ‐ 1", "Ⅲ—１", "ＩＩＩ-1",
    "ⅲ-1", "ⅲ—1", "Ⅲ‑1", "Ⅲ‒1", "Ⅲ−1", "Ⅲ﹣1", " Ⅲ — 1 ", "Ⅲ\u3000—\u30001", "iIi-1",
    "ＩＩＩ－１", "ⅰⅰⅰ-1",
])
def test_code_variants_name_the_same_leaf(mini, spelling):
    node = mini.find(spelling)
    assert node is not None and node.code == "Ⅲ—1"
    assert normalise_code(spelling) == normalise_code("Ⅲ—1") == "III-1"


@pytest.mark.parametrize("a,b", [
    ("Ⅻ—2", "XII-2"), ("ⅻ-2", "xii—2"), ("Ⅳ—10", "IV-10"), ("Ⅸ—3", "ix－３"),
    ("Ⅰ—1", "I-1"), ("Ⅱ—2", "ii‐2"),
])
def test_roman_numerals_fold(a, b):
    assert normalise_code(a) == normalise_code(b)


def test_different_codes_stay_different():
    assert normalise_code("Ⅲ—1") != normalise_code("Ⅲ—11")
    assert normalise_code("Ⅱ—1") != normalise_code("Ⅲ—1")
    assert normalise_code("Ⅳ—1") != normalise_code("Ⅵ—1")


def test_find_returns_map_spelling_and_none_for_unknown(mini):
    assert mini.find("ii-2").code == "Ⅱ—2"
    assert mini.find("Ⅲ—99") is None
    assert mini.find("") is None
    assert mini.find(None) is None


def test_model_tree(mini):
    leaf = mini.find("Ⅲ-2")
    assert leaf.is_leaf and leaf.methods == ["材料审核", "实地考察"]
    assert leaf.requires == ["实景图片", "工作台账"]
    assert leaf.units == ["市委宣传部", "草场街街道"]
    assert [n.code for n in leaf.ancestors()] == ["Ⅰ—1", "Ⅱ—1"]
    assert leaf.parent.code == "Ⅱ—1" and leaf.depth == 3
    assert [r.code for r in mini.roots] == ["Ⅰ—1", "Ⅰ—2"]
    assert list(mini.nodes)[:4] == ["Ⅰ—1", "Ⅱ—1", "Ⅲ—1", "Ⅲ—2"]
    assert [n.code for n in mini.leaves()] == [f"Ⅲ—{i}" for i in range(1, 7)]
    assert [n.code for n in mini.subtree_leaves("i-1")] == ["Ⅲ—1", "Ⅲ—2", "Ⅲ—3"]
    assert [n.code for n in mini.subtree_leaves("Ⅲ—5")] == ["Ⅲ—5"]
    assert mini.subtree_leaves("Ⅹ—1") == []
    assert mini.level_counts() == [2, 3, 6]
    assert mini.find("Ⅲ—1").standard == "建立健全理论学习中心组学习制度"
    assert mini.find("Ⅲ—1").line == 19   # the "- code:" line
    assert mini.edition == "测试用测评体系（迷你）" and mini.id == "mini-test"
    assert mini.window_by_type == {"统计表格": 24} and mini.window_months == 12
    assert mini.export["folder"] == "{code} {name}"


# ---------------------------------------------------------------- the sample map
def test_sample_map_validates_and_is_big_enough(sample):
    assert check_map_text(SAMPLE_MAP.read_text(encoding="utf-8")) == []
    projects, indicators, contents = sample.level_counts()
    assert projects >= 8 and indicators >= 20 and contents >= 60
    assert all(n.depth == 3 for n in sample.leaves())
    review = [n for n in sample.leaves() if "材料审核" in n.methods]
    assert review and all(n.requires for n in review)
    assert all(n.standard for n in sample.leaves())
    assert sum(1 for n in sample.leaves() if n.units) > len(sample.leaves()) // 2
    assert sample.window_by_type == {"统计表格": 24} and sample.window_months == 12
    assert sample.export == {"root": "{id}_网上申报_{evaluation_date}", "folder": "{code} {name}",
                             "file": "{seq:03d}_{type}_{title}{ext}"}
    assert sample.material_types == ["规范文件", "情况说明", "实景图片", "统计表格", "工作台账"]


def test_sample_map_first_branch(sample):
    first = sample.roots[0]
    assert (first.code, first.name) == ("Ⅰ—1", "中央文明委重点工作")
    ind = first.children[0]
    assert (ind.code, ind.name) == ("Ⅱ—1", "学习宣传贯彻重要讲话精神")
    leaf = ind.children[0]
    assert (leaf.code, leaf.name) == ("Ⅲ—1", "健全学习制度")
    assert leaf.methods == ["材料审核"]
    assert leaf.requires == ["规范文件", "情况说明"]
    assert leaf.units == ["市委宣传部"]


def test_sample_map_numbering_is_continuous_per_level(sample):
    for depth, numeral in ((1, "Ⅰ"), (2, "Ⅱ"), (3, "Ⅲ")):
        codes = [n.code for n in sample.nodes.values() if n.depth == depth]
        assert codes == [f"{numeral}—{i}" for i in range(1, len(codes) + 1)]


def test_sample_map_methods_are_known(sample):
    known = {"听取汇报", "材料审核", "问卷调查", "网络调查", "实地考察", "整体观察"}
    used = {m for n in sample.leaves() for m in n.methods}
    assert used <= known and {"材料审核", "实地考察", "问卷调查"} <= used


# ---------------------------------------------------------------- validation
def test_valid_minimal_map_and_defaults():
    m = parse_map(make("""\
        indicators:
          - code: A
            name: 甲
            methods: [实地考察]
        """))
    assert m.window_months == 12 and m.window_by_type == {}
    assert m.export["root"] == "{id}_网上申报_{evaluation_date}"
    assert m.find("a").name == "甲"


def test_duplicate_code_exact_and_after_normalisation():
    text = make("""\
        indicators:
          - code: Ⅰ—1
            name: 甲
            children:
              - code: Ⅲ—1
                name: 一
              - code: Ⅲ—1
                name: 二
              - code: iii-1
                name: 三
              - code: Ⅲ－１
                name: 四
        """)
    found = check_map_text(text)
    assert [(p.line, p.key) for p in found] == [(10, "duplicate code"), (12, "duplicate code"),
                                                (14, "duplicate code")]
    assert "第 8 行" in found[0].message_zh and "Ⅲ—1" in found[1].message_zh
    assert "忽略" in found[1].message_zh


def test_duplicate_across_levels():
    assert problems(make("""\
        indicators:
          - code: Ⅰ—1
            name: 甲
            children:
              - code: I-1
                name: 乙
        """)) == [(8, "duplicate code")]


def test_review_leaf_without_requires():
    text = make("""\
        indicators:
          - code: Ⅲ—1
            name: 甲
            methods: [实地考察, 材料审核]
          - code: Ⅲ—2
            name: 乙
            methods: [材料审核]
            requires: []
          - code: Ⅲ—3
            name: 丙
            methods: [实地考察]
        """)
    assert problems(text) == [(7, "missing requires"), (10, "missing requires")]


def test_unknown_material_type_in_requires_and_by_type():
    text = make("""\
        window:
          months: 12
          by_type: {统计报表: 24, 统计表格: 24}
        indicators:
          - code: Ⅲ—1
            name: 甲
            methods: [材料审核]
            requires: [规范文件,
                       照片]
        """)
    found = check_map_text(text)
    assert [(p.line, p.key) for p in found] == [(6, "unknown material type"),
                                                (12, "unknown material type")]
    assert "统计报表" in found[0].message_zh and "照片" in found[1].message_zh


def test_material_types_may_be_extended():
    head = HEAD.replace("工作台账]", "工作台账, 视频资料]")
    m = parse_map(make("""\
        indicators:
          - code: Ⅲ—1
            name: 甲
            methods: [材料审核]
            requires: [视频资料]
        """, head=head))
    assert m.find("Ⅲ—1").requires == ["视频资料"]


def test_unknown_method():
    found = check_map_text(make("""\
        indicators:
          - code: Ⅲ—1
            name: 甲
            methods: [实地考察, 现场检查]
        """))
    assert [(p.line, p.key) for p in found] == [(7, "unknown method")]
    assert "现场检查" in found[0].message_zh


@pytest.mark.parametrize("window,line", [
    ("window:\n  months: 0\n", 5),
    ("window:\n  months: -3\n", 5),
    ("window:\n  months: 12.5\n", 5),
    ("window:\n  months: 十二\n", 5),
    ("window:\n  months: true\n", 5),
    ("window:\n  months: [12]\n", 5),
    ("window:\n  months: 100000\n", 5),
    ("window: 12\n", 4),
    ("window:\n  by_type: [统计表格]\n", 5),
    ("window:\n  by_type: {统计表格: 0}\n", 5),
    ("window:\n  by_type:\n    统计表格: 两年\n", 6),
])
def test_bad_window(window, line):
    text = HEAD + window + "indicators:\n  - code: A\n    name: 甲\n"
    assert problems(text) == [(line, "bad window")]


def test_unknown_window_field():
    text = HEAD + "window:\n  month: 12\n" + "indicators:\n  - code: A\n    name: 甲\n"
    assert problems(text) == [(5, "unknown field")]


def test_missing_code_and_name():
    text = make("""\
        indicators:
          - name: 甲
          - code: Ⅲ—2
          - code: ""
            name: 丙
          - code: Ⅲ—4
            name:
        """)
    assert problems(text) == [(5, "missing code"), (6, "missing name"), (7, "missing code"),
                              (10, "missing name")]


@pytest.mark.parametrize("export,key", [
    ('  folder: "{code} {title}"\n', "folder"),          # {title} is a file field
    ('  file: "{seq:03d}_{type}_{title}{ext"\n', "file"),  # unbalanced brace
    ('  file: "{seq:zz}_{title}{ext}"\n', "file"),        # bad format spec
    ('  root: "{id}_{}"\n', "root"),                      # positional placeholder
    ('  folder: "{code.upper}"\n', "folder"),             # attribute access
    ('  file: "{code}/{title}{ext}"\n', "file"),          # path separator
    ('  root: ""\n', "root"),
])
def test_bad_export_template(export, key):
    text = HEAD + "export:\n" + export + "indicators:\n  - code: A\n    name: 甲\n"
    found = check_map_text(text)
    assert [(p.line, p.key) for p in found] == [(5, "bad export template")]
    assert f"export.{key}" in found[0].message_zh


def test_good_export_templates():
    text = HEAD + ('export:\n  root: "{edition}-{id}-{evaluation_date}"\n  folder: "{code}"\n'
                   '  file: "{seq:04d}-{date}-{unit}-{title}{ext}"\n'
                   "indicators:\n  - code: A\n    name: 甲\n")
    m = parse_map(text)
    assert m.export["file"] == "{seq:04d}-{date}-{unit}-{title}{ext}"


def test_non_mapping_nodes():
    text = make("""\
        indicators:
          - Ⅲ—1 健全学习制度
          - code: Ⅰ—2
            name: 乙
            children:
              - [Ⅲ—2, 丙]
              - code: Ⅲ—3
                name: 丁
        """)
    assert problems(text) == [(5, "node not a mapping"), (9, "node not a mapping")]


@pytest.mark.parametrize("text,expected", [
    ("- a\n- b\n", [(1, "not a mapping")]),
    ("", [(0, "empty map")]),
    ("edition: x\nid: y\n", [(1, "missing indicators")]),
    ("edition: x\nid: y\nindicators: []\n", [(3, "bad indicators")]),
    ("edition: x\nindicators:\n  - code: A\n    name: 甲\n", [(1, "missing id")]),
    ("id: x\nindicators:\n  - code: A\n    name: 甲\n", [(1, "missing edition")]),
    ("edition: x\nid: a b\nindicators:\n  - code: A\n    name: 甲\n", [(2, "bad id")]),
    ("edition: x\nid: y\nindicators:\n  - code: A\n    name: [甲\n", [(6, "YAML syntax error")]),
    ("edition: x\nid: y\nid: z\nindicators:\n  - code: A\n    name: 甲\n", [(3, "duplicate key")]),
    ("edition: x\nid: y\nindicator:\n  - code: A\n", [(1, "missing indicators"), (3, "unknown field")]),
])
def test_top_level_problems(text, expected):
    assert problems(text) == expected


def test_node_field_problems():
    text = make("""\
        indicators:
          - code: Ⅰ—1
            name: 甲
            requires: [规范文件]
            children:
              - code: Ⅲ—1
                name: 乙
                methods: 材料审核
                requires: [规范文件]
                unit: [市文明办]
              - code: Ⅲ—2
                name: 丙
                children: []
        """)
    assert problems(text) == [(7, "requires on parent"), (11, "bad list"), (13, "unknown field"),
                              (16, "bad children")]


def test_all_problems_reported_at_once():
    text = make("""\
        window:
          months: 0
        indicators:
          - code: Ⅲ—1
            name: 甲
            methods: [材料审核]
          - code: Ⅲ-1
            name: 乙
            methods: [材料审核, 瞎看]
            requires: [照片]
        """)
    assert problems(text) == [(5, "bad window"), (9, "missing requires"),
                              (10, "duplicate code"), (12, "unknown method"),
                              (13, "unknown material type")]


def test_parse_map_raises_map_error_with_problems():
    text = make("""\
        indicators:
          - code: Ⅲ—1
            name: 甲
            methods: [材料审核]
        """)
    with pytest.raises(MapError) as exc:
        parse_map(text, source="m.yaml")
    err = exc.value
    assert isinstance(err, UsageError)
    assert err.key == "invalid indicator map"
    assert [p.key for p in err.problems] == ["missing requires"]
    assert err.lines()[0].startswith("m.yaml:7: ")
    assert err.lines()[0].endswith("(missing requires)")


def test_problem_format():
    p = Problem(3, "bad window", "时间窗口有误")
    assert str(p) == "时间窗口有误 (bad window)"
    assert p.format("indicator_map.yaml") == "indicator_map.yaml:3: 时间窗口有误 (bad window)"
    assert p.as_json() == {"line": 3, "key": "bad window", "message": "时间窗口有误"}


def test_load_map_file_errors(tmp_path):
    with pytest.raises(UsageError) as exc:
        load_map(tmp_path / "missing.yaml")
    assert exc.value.key == "map file not found"
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("edition: 测试\n".encode("gbk"))
    with pytest.raises(UsageError) as exc:
        load_map(gbk)
    assert exc.value.key == "map file not UTF-8"
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + MINI_MAP.read_bytes())
    assert load_map(bom).level_counts() == [2, 3, 6]


def test_code_written_as_number_keeps_its_text():
    m = parse_map(make("""\
        indicators:
          - code: 1.10
            name: 甲
        """))
    assert m.find("1.10").code == "1.10"


# ---------------------------------------------------------------- windows
@pytest.mark.parametrize("evaluation,months,first,last", [
    ("2026-07-15", 12, "2025-07-01", "2026-06-30"),       # the contract's example
    ("2026-07-01", 12, "2025-07-01", "2026-06-30"),       # evaluation on the 1st
    ("2026-07-31", 12, "2025-07-01", "2026-06-30"),       # evaluation on the 31st
    ("2026-01-15", 12, "2025-01-01", "2025-12-31"),       # January → previous year
    ("2026-01-01", 1, "2025-12-01", "2025-12-31"),
    ("2024-03-01", 1, "2024-02-01", "2024-02-29"),        # leap February
    ("2023-03-31", 1, "2023-02-01", "2023-02-28"),
    ("2100-03-10", 1, "2100-02-01", "2100-02-28"),        # century, not leap
    ("2000-03-10", 1, "2000-02-01", "2000-02-29"),        # 400-year leap
    ("2026-05-31", 1, "2026-04-01", "2026-04-30"),        # 30-day month
    ("2026-12-31", 12, "2025-12-01", "2026-11-30"),
    ("2026-07-15", 24, "2024-07-01", "2026-06-30"),
    ("2026-03-15", 14, "2025-01-01", "2026-02-28"),
    ("2026-07-15", 36, "2023-07-01", "2026-06-30"),
])
def test_window_for(evaluation, months, first, last):
    assert window_for(evaluation, months) == (date.fromisoformat(first), date.fromisoformat(last))


def test_window_excludes_evaluation_month(mini):
    first, last = mini.window(date(2026, 7, 15))
    assert last < date(2026, 7, 1) and first == date(2025, 7, 1)


def test_window_by_type_and_default(mini):
    assert mini.window("2026-07-15") == (date(2025, 7, 1), date(2026, 6, 30))
    assert mini.window("2026-07-15", "统计表格") == (date(2024, 7, 1), date(2026, 6, 30))
    assert mini.window("2026-07-15", "实景图片") == (date(2025, 7, 1), date(2026, 6, 30))
    no_window = parse_map(HEAD + "indicators:\n  - code: A\n    name: 甲\n")
    assert no_window.window("2024-03-01") == (date(2023, 3, 1), date(2024, 2, 29))


def test_window_bad_input():
    with pytest.raises(UsageError) as exc:
        window_for("2026-13-01", 12)
    assert exc.value.key == "bad date"
    with pytest.raises(UsageError):
        window_for("2026-07-15", 0)


# ---------------------------------------------------------------- diff
OLD = make("""\
    indicators:
      - code: Ⅰ—1
        name: 甲
        children:
          - code: Ⅲ—1
            name: 健全学习制度
            methods: [材料审核]
            requires: [规范文件]
          - code: Ⅲ—2
            name: 开展宣传
            methods: [实地考察]
          - code: Ⅲ—3
            name: 旧条目
            methods: [实地考察]
          - code: Ⅲ—4
            name: 不变
            methods: [材料审核]
            requires: [规范文件, 情况说明]
    """)
NEW = make("""\
    indicators:
      - code: Ⅰ-1
        name: 甲
        children:
          - code: Ⅲ-1
            name: 健全学习制度
            methods: [材料审核]
            requires: [规范文件, 情况说明]
          - code: Ⅲ-2
            name: 开展宣传宣讲
            methods: [实地考察, 材料审核]
            requires: [实景图片]
          - code: Ⅲ-4
            name: 不变
            methods: [材料审核]
            requires: [规范文件, 情况说明]
          - code: Ⅲ-5
            name: 新条目
            methods: [问卷调查]
    """)


def test_diff_maps():
    d = diff_maps(parse_map(OLD), parse_map(NEW))
    assert d["added"] == [{"code": "Ⅲ-5", "name": "新条目"}]
    assert d["removed"] == [{"code": "Ⅲ—3", "name": "旧条目"}]
    assert d["renamed"] == [{"code": "Ⅲ-2", "old_code": "Ⅲ—2", "old_name": "开展宣传",
                             "new_name": "开展宣传宣讲"}]
    assert [c["code"] for c in d["requirements_changed"]] == ["Ⅲ-1", "Ⅲ-2"]
    assert d["requirements_changed"][0]["old"] == {"methods": ["材料审核"], "requires": ["规范文件"]}
    assert d["requirements_changed"][1]["new"] == {"methods": ["实地考察", "材料审核"],
                                                   "requires": ["实景图片"]}


def test_diff_identical_is_empty(mini):
    assert diff_maps(mini, load_map(MINI_MAP)) == {
        "added": [], "removed": [], "renamed": [], "requirements_changed": []}


def test_alias_bomb_is_stopped():
    # Each level repeats the previous one four times: 4**11 nodes from a dozen lines.
    text = HEAD + "indicators:\n  - &n0 {code: A, name: 甲}\n"
    for i in range(1, 12):
        text += f"  - &n{i} {{code: B{i}, name: 乙, children: [*n{i - 1}, *n{i - 1}, *n{i - 1}, *n{i - 1}]}}\n"
    found = check_map_text(text)
    assert [p.key for p in found].count("too many nodes") == 1
    assert len(found) <= 10_001
