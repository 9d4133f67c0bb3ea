"""The optional `score:` (分值) per node in indicator_map.yaml: parsed, validated with its line."""
from __future__ import annotations

import textwrap

from click.testing import CliRunner

from archive.maps.indicators import check_map_text, load_map, parse_map
from tests.conftest import MINI_MAP

MAP = textwrap.dedent("""\
    edition: 测试
    id: t
    indicators:
      - code: Ⅰ—1
        name: 甲
        score: 10
        children:
          - code: Ⅲ—1
            name: 乙
            methods: [实地考察]
            score: 2.5
          - code: Ⅲ—2
            name: 丙
            methods: [实地考察]
            score: {bad}
          - code: Ⅲ—3
            name: 丁
            methods: [实地考察]
    """)


def test_score_parsed_on_leaves_and_parents():
    m = parse_map(MAP.format(bad=1))
    assert m.find("Ⅲ—1").score == 2.5 and m.find("Ⅰ—1").score == 10 and m.find("Ⅲ—3").score is None
    assert m.find("Ⅲ—1").as_json()["score"] == 2.5
    assert "score" not in m.find("Ⅲ—3").as_json()


def test_maps_without_score_unchanged():
    m = load_map(MINI_MAP)
    assert all(n.score is None for n in m.nodes.values())
    assert "score" not in m.find("Ⅲ—1").as_json()


def test_bad_score_refused_with_line(tmp_path):
    for bad in ("-1", "两分", "true", "[1]", "100001"):
        assert [(p.line, p.key) for p in check_map_text(MAP.format(bad=bad))] == [(15, "bad score")], bad
    path = tmp_path / "m.yaml"
    path.write_text(MAP.format(bad="-1"), encoding="utf-8")
    from cli import cli

    r = CliRunner().invoke(cli, ["map", "check", str(path)])
    assert r.exit_code == 2 and "m.yaml:15:" in r.output and "score" in r.output
