"""The indicator map (测评体系) as data: YAML with line numbers, validation, lenient codes,
evaluation windows and edition diffs. Pure: no DB, no files beyond `load_map`.

The map format is CONTRACT.md "indicator_map.yaml". Every problem found carries the YAML
line number it comes from, so `evidence map check` can point at it.
"""
from __future__ import annotations

import calendar
import re
import string
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterator

import yaml

from archive.core.errors import UsageError

METHODS = ("听取汇报", "材料审核", "问卷调查", "网络调查", "实地考察", "整体观察")
DOCUMENT_REVIEW = "材料审核"
DEFAULT_MATERIAL_TYPES = ("规范文件", "情况说明", "实景图片", "统计表格", "工作台账")
DEFAULT_WINDOW_MONTHS = 12
# A window longer than this is a typo, not a policy (and would underflow date arithmetic).
MAX_WINDOW_MONTHS = 600
DEFAULT_EXPORT = {
    "root": "{id}_网上申报_{evaluation_date}",
    "folder": "{code} {name}",
    "file": "{seq:03d}_{type}_{title}{ext}",
}
# Placeholders each export template may use, with a sample value to test format specs.
EXPORT_FIELDS: dict[str, dict[str, object]] = {
    "root": {"id": "wmcs", "edition": "示例", "evaluation_date": "2026-07-15"},
    "folder": {"code": "Ⅲ—1", "name": "健全学习制度"},
    "file": {"seq": 1, "type": "规范文件", "title": "标题", "ext": ".pdf", "code": "Ⅲ—1",
             "name": "健全学习制度", "date": "2026-01-01", "unit": "市文明办", "item_id": 1,
             "sha256": "0" * 64},
}
# Published editions have a few hundred nodes; far more means a mistake or alias abuse
# (YAML aliases can make a small file expand exponentially).
MAX_NODES = 10_000
LEVEL_NAMES = ("测评项目", "测评指标", "测评内容")
TOP_KEYS = ("edition", "id", "material_types", "window", "export", "indicators")
NODE_KEYS = ("code", "name", "methods", "requires", "units", "standard", "children", "note", "score")

# Every dash a clerk's keyboard or a Word document may produce. NFKC already folds the
# full-width and small forms (－ ﹣) to "-", the others survive it.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d\u2e3a\u2e3b\u30fc\u2500"
_DASH_RE = re.compile("[" + re.escape(_DASHES) + "]")
_SPACE_RE = re.compile(r"\s+")


def normalise_code(code: str) -> str:
    """A lenient matching key: `Ⅲ—1`, `Ⅲ-1`, `III－１`, `iii - 1`, `ⅲ–1` → `III-1`.

    NFKC folds full-width digits and Latin letters and turns the Roman numeral characters
    (Ⅰ..Ⅻ, ⅰ..ⅻ) into ASCII letters; every dash becomes "-", whitespace is dropped and
    letters are upper-cased. Only for matching: output uses the map's own spelling.
    """
    s = unicodedata.normalize("NFKC", str(code))
    s = _DASH_RE.sub("-", s)
    s = _SPACE_RE.sub("", s)
    return s.upper()


# ---------------------------------------------------------------------------- problems
@dataclass(frozen=True)
class Problem:
    """One thing wrong with a map, at a YAML line (1-based; 0 when not tied to a line)."""
    line: int
    key: str
    message_zh: str

    def __str__(self) -> str:
        return f"{self.message_zh} ({self.key})"

    def format(self, source: str = "indicator_map.yaml") -> str:
        """`indicator_map.yaml:12: 中文说明 (english key)`."""
        return f"{source}:{self.line}: {self}"

    def as_json(self) -> dict:
        return {"line": self.line, "key": self.key, "message": self.message_zh}


class MapError(UsageError):
    """A map that fails validation; `.problems` lists every problem found."""

    def __init__(self, problems: list[Problem], source: str = "indicator_map.yaml"):
        super().__init__("invalid indicator map",
                         f"指标体系 {source} 有 {len(problems)} 处错误")
        self.problems = list(problems)
        self.source = source

    def lines(self) -> list[str]:
        return [p.format(self.source) for p in self.problems]


# ---------------------------------------------------------------------------- model
@dataclass(eq=False)
class Node:
    """One node of the tree: 测评项目, 测评指标 or a 测评内容 leaf."""
    code: str
    name: str
    methods: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    standard: str | None = None
    note: str | None = None
    score: float | None = None        # optional 分值 (满分) for 模拟测评 / 测评
    children: list["Node"] = field(default_factory=list)
    parent: "Node | None" = field(default=None, repr=False)
    line: int = 0

    @property
    def is_leaf(self) -> bool:
        return not self.children

    @property
    def key(self) -> str:
        """The lenient matching key of the code (see `normalise_code`)."""
        return normalise_code(self.code)

    @property
    def depth(self) -> int:
        """1 for a 测评项目, 2 for a 测评指标, 3 for a 测评内容 (in the usual three levels)."""
        return len(self.ancestors()) + 1

    def ancestors(self) -> list["Node"]:
        """Outermost first, not including this node."""
        out = []
        node = self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out[::-1]

    def path(self) -> list["Node"]:
        """Ancestors, then this node."""
        return self.ancestors() + [self]

    def iter(self) -> Iterator["Node"]:
        """This node and its subtree, in map order."""
        yield self
        for child in self.children:
            yield from child.iter()

    def leaves(self) -> list["Node"]:
        return [n for n in self.iter() if n.is_leaf]

    def as_json(self, with_children: bool = True) -> dict:
        data = {"code": self.code, "name": self.name, "line": self.line}
        if self.is_leaf:
            data.update(methods=list(self.methods), requires=list(self.requires),
                        units=list(self.units), standard=self.standard)
        elif with_children:
            data["children"] = [c.as_json() for c in self.children]
        if self.score is not None:
            data["score"] = self.score
        return data


@dataclass(eq=False)
class IndicatorMap:
    edition: str
    id: str
    material_types: list[str]
    window_months: int
    window_by_type: dict[str, int]
    export: dict[str, str]
    roots: list[Node]
    source: str = "indicator_map.yaml"
    text: str = ""
    nodes: dict[str, Node] = field(default_factory=dict)   # code → Node, map order
    _by_key: dict[str, Node] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        for root in self.roots:
            for node in root.iter():
                self.nodes[node.code] = node
                self._by_key[node.key] = node

    def find(self, code: str | None) -> Node | None:
        """The node a user's spelling of a code names (lenient), or None."""
        if code is None:
            return None
        node = self.nodes.get(code)
        return node if node is not None else self._by_key.get(normalise_code(code))

    def leaves(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.is_leaf]

    def units(self) -> list[str]:
        """Every responsible unit the leaves name, sorted (pickers and filters list these)."""
        return sorted({u for n in self.leaves() for u in n.units})

    def subtree_leaves(self, code: str) -> list[Node]:
        """The leaves under a node (the node itself for a leaf); [] for an unknown code."""
        node = self.find(code)
        return node.leaves() if node is not None else []

    def level_counts(self) -> list[int]:
        """Nodes per depth: [测评项目, 测评指标, 测评内容, ...]."""
        counts: list[int] = []
        for node in self.nodes.values():
            d = node.depth
            while len(counts) < d:
                counts.append(0)
            counts[d - 1] += 1
        return counts

    def months_for(self, material_type: str | None = None) -> int:
        if material_type is not None and material_type in self.window_by_type:
            return self.window_by_type[material_type]
        return self.window_months

    def window(self, evaluation_date: date | datetime | str,
               material_type: str | None = None) -> tuple[date, date]:
        """(first day, last day), inclusive: the N full calendar months before the
        evaluation month (the evaluation month itself is outside)."""
        return window_for(evaluation_date, self.months_for(material_type))


def level_name(depth: int) -> str:
    return LEVEL_NAMES[depth - 1] if 1 <= depth <= len(LEVEL_NAMES) else f"第{depth}层"


def parse_date(value: date | datetime | str) -> date:
    """An evaluation date (the one parser in archive/dates.py; a bad one is a usage error)."""
    from archive.core.dates import require_date

    return require_date(value, UsageError)


def window_for(evaluation_date: date | datetime | str, months: int) -> tuple[date, date]:
    """The `months` full calendar months before the month of `evaluation_date`."""
    d = parse_date(evaluation_date)
    if not isinstance(months, int) or isinstance(months, bool) or months < 1:
        raise UsageError("bad window", f"时间窗口月数必须是正整数: {months!r}")
    # Last day of the previous month, then walk back whole months from the first of this one.
    first_of_eval = d.replace(day=1)
    last_year, last_month = (d.year, d.month - 1) if d.month > 1 else (d.year - 1, 12)
    last = date(last_year, last_month, calendar.monthrange(last_year, last_month)[1])
    total = first_of_eval.year * 12 + (first_of_eval.month - 1) - months
    if total < 12:   # before year 1
        raise UsageError("bad window", f"时间窗口超出日期范围: {months} 个月")
    return date(total // 12, total % 12 + 1, 1), last


# ---------------------------------------------------------------------------- parsing
def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _scalar_text(node: yaml.Node) -> str | None:
    """The scalar as written (so `code: 1.10` stays "1.10"); None for null/non-scalars."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.tag == "tag:yaml.org,2002:null":
        return None
    return str(node.value).strip()


def _compose(text: str) -> yaml.Node | None:
    """The YAML node tree with line marks. libyaml's parser when present (a 600-leaf map:
    ~40 ms instead of ~500 ms, paid by every new CLI process); a text it refuses is composed
    again by the pure-Python parser, whose error messages the map checker reports."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _value(node: yaml.Node):
    # A fresh constructor each time: they keep per-document state.
    return yaml.SafeLoader("").construct_object(node, deep=True)


class _Checker:
    """Walks the composed YAML node tree once, building the model and collecting problems."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []
        self.material_types: list[str] = list(DEFAULT_MATERIAL_TYPES)
        self.seen_codes: dict[str, tuple[str, int]] = {}   # key → (code, line)
        self.node_count = 0

    def problem(self, line: int, key: str, message_zh: str) -> None:
        self.problems.append(Problem(line, key, message_zh))

    def mapping(self, node: yaml.MappingNode, allowed: tuple[str, ...], where: str) -> dict:
        """{key: value node}; reports duplicate and unknown keys."""
        out: dict[str, yaml.Node] = {}
        for knode, vnode in node.value:
            k = _scalar_text(knode)
            if k is None:
                self.problem(_line(knode), "bad key", f"{where}的键必须是文字")
                continue
            if k in out:
                self.problem(_line(knode), "duplicate key", f"{where}中的键 {k} 重复出现")
                continue
            if k not in allowed:
                self.problem(_line(knode), "unknown field",
                             f"{where}中有未知字段 {k}（可用字段: {'、'.join(allowed)}）")
                continue
            out[k] = vnode
        return out

    def string_list(self, node: yaml.Node, field_name: str, code: str) -> list[tuple[str, int]]:
        if isinstance(node, yaml.ScalarNode) and _scalar_text(node) is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(_line(node), "bad list", f"{code} 的 {field_name} 必须是列表，如 [a, b]")
            return []
        out = []
        for item in node.value:
            text = _scalar_text(item)
            if not text:
                self.problem(_line(item), "bad list", f"{code} 的 {field_name} 中有空项或非文字项")
                continue
            out.append((text, _line(item)))
        return out

    # -- top level ---------------------------------------------------------------
    def check(self, text: str) -> IndicatorMap | None:
        try:
            root = _compose(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            line = mark.line + 1 if mark is not None else 0
            detail = getattr(e, "problem", None) or str(e).splitlines()[0]
            self.problem(line, "YAML syntax error", f"YAML 语法错误: {detail}")
            return None
        if root is None:
            self.problem(0, "empty map", "指标体系文件为空")
            return None
        if not isinstance(root, yaml.MappingNode):
            self.problem(_line(root), "not a mapping", "指标体系文件顶层必须是映射（键: 值）")
            return None
        top = self.mapping(root, TOP_KEYS, "顶层")
        edition = self.required_text(top, "edition", root, "版本名称")
        map_id = self.required_text(top, "id", root, "体系标识")
        if map_id and re.search(r"[\\/:*?\"<>|\s]", map_id):
            self.problem(_line(top["id"]), "bad id",
                         f"体系标识 {map_id} 不能含空白或 \\ / : * ? \" < > |（用于材料包文件名）")
        if "material_types" in top:
            self.material_types = self.check_material_types(top["material_types"])
        months, by_type = self.check_window(top.get("window"))
        export = self.check_export(top.get("export"))
        roots: list[Node] = []
        ind = top.get("indicators")
        if ind is None or _scalar_text(ind) is None and isinstance(ind, yaml.ScalarNode):
            self.problem(_line(ind) if ind is not None else _line(root), "missing indicators",
                         "缺少 indicators（指标树）")
        elif not isinstance(ind, yaml.SequenceNode) or not ind.value:
            self.problem(_line(ind), "bad indicators", "indicators 必须是非空列表")
        else:
            roots = [n for n in (self.node(c, None) for c in ind.value) if n is not None]
        if self.problems:
            return None
        return IndicatorMap(edition=edition, id=map_id, material_types=self.material_types,
                            window_months=months, window_by_type=by_type, export=export,
                            roots=roots, source=self.source, text=text)

    def required_text(self, top: dict, key: str, root: yaml.Node, label: str) -> str:
        node = top.get(key)
        text = _scalar_text(node) if node is not None else None
        if not text:
            self.problem(_line(node) if node is not None else _line(root), f"missing {key}",
                         f"缺少 {key}（{label}）")
            return ""
        return text

    def check_material_types(self, node: yaml.Node) -> list[str]:
        items = self.string_list(node, "material_types", "顶层")
        out: list[str] = []
        for t, line in items:
            if t in out:
                self.problem(line, "duplicate material type", f"材料类型 {t} 重复")
            else:
                out.append(t)
        if not out:
            self.problem(_line(node), "no material types", "material_types 不能为空")
        return out

    def check_window(self, node: yaml.Node | None) -> tuple[int, dict[str, int]]:
        months, by_type = DEFAULT_WINDOW_MONTHS, {}
        if node is None:
            return months, by_type
        if not isinstance(node, yaml.MappingNode):
            self.problem(_line(node), "bad window", "window 必须是映射，如 {months: 12}")
            return months, by_type
        w = self.mapping(node, ("months", "by_type"), "window")
        if "months" in w:
            m = self.months(w["months"], "window.months")
            if m is not None:
                months = m
        bt = w.get("by_type")
        if bt is not None and not (isinstance(bt, yaml.ScalarNode) and _scalar_text(bt) is None):
            if not isinstance(bt, yaml.MappingNode):
                self.problem(_line(bt), "bad window",
                             "window.by_type 必须是 材料类型: 月数 的映射，如 {统计表格: 24}")
            else:
                for knode, vnode in bt.value:
                    t = _scalar_text(knode)
                    if t not in self.material_types:
                        self.problem(_line(knode), "unknown material type",
                                     f"window.by_type 中的材料类型 {t} 未在 material_types 中定义"
                                     f"（可用: {'、'.join(self.material_types)}）")
                        continue
                    if t in by_type:
                        self.problem(_line(knode), "duplicate key", f"window.by_type 中 {t} 重复出现")
                        continue
                    m = self.months(vnode, f"window.by_type.{t}")
                    if m is not None:
                        by_type[t] = m
        return months, by_type

    def months(self, node: yaml.Node, label: str) -> int | None:
        value = _value(node) if isinstance(node, yaml.ScalarNode) else None
        if (not isinstance(value, int) or isinstance(value, bool)
                or not 1 <= value <= MAX_WINDOW_MONTHS):
            self.problem(_line(node), "bad window",
                         f"{label} 必须是 1 到 {MAX_WINDOW_MONTHS} 之间的整数（月数），而不是 "
                         f"{_scalar_text(node) if isinstance(node, yaml.ScalarNode) else '非标量'}")
            return None
        return value

    def check_export(self, node: yaml.Node | None) -> dict[str, str]:
        export = dict(DEFAULT_EXPORT)
        if node is None or isinstance(node, yaml.ScalarNode) and _scalar_text(node) is None:
            return export
        if not isinstance(node, yaml.MappingNode):
            self.problem(_line(node), "bad export template", "export 必须是映射（root/folder/file）")
            return export
        for key, vnode in self.mapping(node, tuple(DEFAULT_EXPORT), "export").items():
            text = _scalar_text(vnode) if isinstance(vnode, yaml.ScalarNode) else None
            if not text:
                self.problem(_line(vnode), "bad export template", f"export.{key} 必须是非空文字模板")
                continue
            error = template_error(text, key)
            if error:
                self.problem(_line(vnode), "bad export template", f"export.{key} 模板有误: {error}")
                continue
            export[key] = text
        return export

    # -- the tree ----------------------------------------------------------------
    def node(self, ynode: yaml.Node, parent: Node | None) -> Node | None:
        line = _line(ynode)
        self.node_count += 1
        if self.node_count > MAX_NODES:
            if self.node_count == MAX_NODES + 1:
                self.problem(line, "too many nodes", f"指标节点超过 {MAX_NODES} 个，已停止检查")
            return None
        if not isinstance(ynode, yaml.MappingNode):
            self.problem(line, "node not a mapping",
                         "指标节点必须是映射（code: …, name: …），而不是"
                         + ("列表" if isinstance(ynode, yaml.SequenceNode) else f"文字 {_scalar_text(ynode)}"))
            return None
        f = self.mapping(ynode, NODE_KEYS, "指标节点")
        code = _scalar_text(f["code"]) if "code" in f else None
        if not code:
            self.problem(line, "missing code", "指标节点缺少 code（编码）")
            code = f"<第{line}行>"
        else:
            key = normalise_code(code)
            if key in self.seen_codes:
                first, first_line = self.seen_codes[key]
                same = first == code
                self.problem(_line(f["code"]), "duplicate code",
                             f"编码 {code} 与第 {first_line} 行的 {first} 重复"
                             + ("" if same else "（忽略破折号、全半角与大小写后相同）"))
            else:
                self.seen_codes[key] = (code, _line(f["code"]))
        name = _scalar_text(f["name"]) if "name" in f else None
        if not name:
            self.problem(_line(f["name"]) if "name" in f else line, "missing name",
                         f"{code} 缺少 name（名称）")
        node = Node(code=code, name=name or "", parent=parent, line=line)
        if "standard" in f:
            node.standard = self.text_field(f["standard"], "standard", code)
        if "note" in f:
            node.note = self.text_field(f["note"], "note", code)
        if "score" in f:
            node.score = self.score(f["score"], code)
        if "units" in f:
            node.units = [u for u, _ in self.string_list(f["units"], "units", code)]
        methods = self.string_list(f["methods"], "methods", code) if "methods" in f else []
        for m, mline in methods:
            if m not in METHODS:
                self.problem(mline, "unknown method",
                             f"{code} 的测评方法 {m} 未知（可用: {'、'.join(METHODS)}）")
        node.methods = [m for m, _ in methods]
        requires = self.string_list(f["requires"], "requires", code) if "requires" in f else []
        for t, tline in requires:
            if t not in self.material_types:
                self.problem(tline, "unknown material type",
                             f"{code} 要求的材料类型 {t} 未在 material_types 中定义"
                             f"（可用: {'、'.join(self.material_types)}）")
        node.requires = list(dict.fromkeys(t for t, _ in requires))
        children = f.get("children")
        if children is not None and not (isinstance(children, yaml.ScalarNode)
                                         and _scalar_text(children) is None):
            if not isinstance(children, yaml.SequenceNode) or not children.value:
                self.problem(_line(children), "bad children", f"{code} 的 children 必须是非空列表")
            else:
                node.children = [c for c in (self.node(y, node) for y in children.value)
                                 if c is not None]
        elif children is not None:
            self.problem(_line(children), "bad children", f"{code} 的 children 必须是非空列表")
        is_parent = children is not None
        if is_parent and requires:
            self.problem(_line(f["requires"]), "requires on parent",
                         f"{code} 有下级指标，材料只挂在测评内容（叶子）上，requires 应写在叶子上")
        if not is_parent and DOCUMENT_REVIEW in node.methods and not requires:
            self.problem(_line(f["methods"]), "missing requires",
                         f"{code} 的测评方法含{DOCUMENT_REVIEW}，但未列出 requires（所需材料类型）")
        return node

    def score(self, ynode: yaml.Node, code: str) -> float | None:
        """Optional 分值: a number ≥ 0 (a blank `score:` means none)."""
        if isinstance(ynode, yaml.ScalarNode) and _scalar_text(ynode) is None:
            return None
        value = _value(ynode) if isinstance(ynode, yaml.ScalarNode) else None
        if (not isinstance(value, (int, float)) or isinstance(value, bool) or value != value
                or value < 0 or value > 10_000):
            self.problem(_line(ynode), "bad score",
                         f"{code} 的 score（分值）必须是 0 到 10000 之间的数字")
            return None
        return float(value)

    def text_field(self, ynode: yaml.Node, name: str, code: str) -> str | None:
        if not isinstance(ynode, yaml.ScalarNode):
            self.problem(_line(ynode), "bad field type", f"{code} 的 {name} 必须是文字")
            return None
        return _scalar_text(ynode)


def template_error(template: str, kind: str) -> str | None:
    """Why an export template is unusable (unknown placeholder, bad format spec), or None."""
    allowed = EXPORT_FIELDS[kind]
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        return f"花括号不成对或格式错误（{e}）"
    for _, field_name, _, _ in parsed:
        if field_name is None:
            continue
        if field_name == "" or field_name.isdigit():
            return "占位符必须有名字，如 {code}"
        if field_name not in allowed:
            return f"未知占位符 {{{field_name}}}（可用: {'、'.join('{' + k + '}' for k in allowed)}）"
    try:
        template.format(**allowed)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        return f"格式说明无效（{e}）"
    if kind != "root" and ("/" in template or "\\" in template):
        return "模板中不能含路径分隔符 / 或 \\"
    return None


# ---------------------------------------------------------------------------- public API
def check_map_text(text: str, source: str = "indicator_map.yaml") -> list[Problem]:
    """Every problem in a map's text, each with its YAML line number ([] when valid)."""
    checker = _Checker(source)
    checker.check(text)
    return sorted(checker.problems, key=lambda p: p.line)


def parse_map(text: str, source: str = "indicator_map.yaml") -> IndicatorMap:
    """The map model; raises `MapError` (a `UsageError`) listing every problem."""
    checker = _Checker(source)
    result = checker.check(text)
    if result is None:
        raise MapError(sorted(checker.problems, key=lambda p: p.line), source)
    return result


def read_map_text(path: Path | str) -> str:
    """A map file's text (UTF-8, BOM tolerated); `UsageError` when unreadable."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise UsageError("map file not found", f"找不到指标体系文件 {p}") from None
    except OSError as e:
        raise UsageError("map file unreadable", f"无法读取指标体系文件 {p}: {e.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError("map file not UTF-8", f"指标体系文件 {p} 不是 UTF-8 编码") from None


def load_map(path: Path | str) -> IndicatorMap:
    p = Path(path)
    return parse_map(read_map_text(p), source=p.name)


def diff_maps(old: IndicatorMap, new: IndicatorMap) -> dict:
    """What changed between two editions, codes matched leniently.

    `added`/`removed`: [{code, name}]; `renamed`: [{code, old_code, old_name, new_name}];
    `requirements_changed`: [{code, old_code, name, old: {methods, requires}, new: {...}}].
    Codes are the new map's spelling except in `removed`.
    """
    old_keys = {n.key: n for n in old.nodes.values()}
    new_keys = {n.key: n for n in new.nodes.values()}
    added = [{"code": n.code, "name": n.name} for k, n in new_keys.items() if k not in old_keys]
    removed = [{"code": n.code, "name": n.name} for k, n in old_keys.items() if k not in new_keys]
    renamed, changed = [], []
    for k, n in new_keys.items():
        o = old_keys.get(k)
        if o is None:
            continue
        if o.name != n.name:
            renamed.append({"code": n.code, "old_code": o.code, "old_name": o.name,
                            "new_name": n.name})
        if o.methods != n.methods or o.requires != n.requires:
            changed.append({"code": n.code, "old_code": o.code, "name": n.name,
                            "old": {"methods": list(o.methods), "requires": list(o.requires)},
                            "new": {"methods": list(n.methods), "requires": list(n.requires)}})
    return {"added": added, "removed": removed, "renamed": renamed,
            "requirements_changed": changed}
