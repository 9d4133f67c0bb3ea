"""Files the CLI must not take (issue 10, items 9, 11, 22): paths and symlinks leaving the
manifest's folder, manifests in an encoding that is only guessed, names with a newline."""
from __future__ import annotations

import json
import os

import pytest

from cli import cli
from tests import filefactory as ff

HEADER = "path,code,type,date,unit,title\n"


def run_import(runner, instance, manifest, *args):
    return runner.invoke(cli, ["--instance", str(instance.root), "import", str(manifest), "--json", *args])


def titles(instance):
    return sorted(r[0] for r in instance.db.execute("SELECT title FROM items"))


@pytest.fixture
def batch(tmp_path):
    d = tmp_path / "batch"
    d.mkdir()
    ff.make_pdf(d / "制度.pdf", ["学习制度"])
    return d


def test_symlink_leaving_the_folder_is_refused_even_with_allow_outside(runner, instance, batch, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("用户,口令\nroot,绝密口令内容\n", encoding="utf-8")
    os.symlink(secret, batch / "shadow.csv")
    (batch / "清单.csv").write_text(HEADER + "shadow.csv,Ⅲ—6,工作台账,2026-01-01,,影子\n"
                                    "制度.pdf,Ⅲ—1,规范文件,2026-01-01,,制度\n", encoding="utf-8")
    for extra in ((), ("--allow-outside",)):
        r = run_import(runner, instance, batch / "清单.csv", *extra)
        assert r.exit_code == 1, r.output
        out = json.loads(r.stdout)
        assert [x["path"] for x in out["refused"]] == ["shadow.csv"]
        assert "(symlink leaves manifest folder)" in out["refused"][0]["reason"]
        assert "refused: shadow.csv: 符号链接指向清单所在文件夹之外" in r.stderr
    assert titles(instance) == ["制度"]
    s = runner.invoke(cli, ["--instance", str(instance.root), "search", "绝密口令", "--json"])
    assert json.loads(s.stdout)["total"] == 0


def test_symlinked_folder_leaving_the_manifest_folder_is_refused(runner, instance, batch, tmp_path):
    outside = tmp_path / "etc"
    outside.mkdir()
    ff.make_pdf(outside / "内部.pdf", ["内部文件"])
    os.symlink(outside, batch / "docs")
    (batch / "清单.csv").write_text(HEADER + "docs/内部.pdf,Ⅲ—1,规范文件,2026-01-01,,内部\n", encoding="utf-8")
    r = run_import(runner, instance, batch / "清单.csv")
    assert r.exit_code == 1 and "(symlink leaves manifest folder)" in r.stderr
    assert titles(instance) == []


def test_symlink_inside_the_folder_is_fine(runner, instance, batch):
    (batch / "sub").mkdir()
    os.symlink(batch / "制度.pdf", batch / "sub" / "链接.pdf")
    (batch / "清单.csv").write_text(HEADER + "sub/链接.pdf,Ⅲ—1,规范文件,2026-01-01,,链接\n", encoding="utf-8")
    r = run_import(runner, instance, batch / "清单.csv")
    assert r.exit_code == 0, r.output
    assert titles(instance) == ["链接"]


def test_paths_outside_the_folder_need_allow_outside(runner, instance, batch, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    ff.make_pdf(other / "外部.pdf", ["外部文件"])
    rows = HEADER + f"../other/外部.pdf,Ⅲ—1,规范文件,2026-01-01,,相对\n{other / '外部.pdf'},Ⅲ—2,规范文件,,,绝对\n" \
        "制度.pdf,Ⅲ—1,规范文件,2026-01-01,,制度\n"
    (batch / "清单.csv").write_text(rows, encoding="utf-8")
    r = run_import(runner, instance, batch / "清单.csv")
    assert r.exit_code == 1
    refused = json.loads(r.stdout)["refused"]
    assert len(refused) == 2 and all("(path outside manifest folder)" in x["reason"] for x in refused)
    assert "--allow-outside" in refused[0]["reason"]
    assert titles(instance) == ["制度"]
    r = run_import(runner, instance, batch / "清单.csv", "--allow-outside")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(out["added"]) == 1 and len(out["duplicates"]) == 2   # the same bytes twice, and 制度 again
    assert titles(instance) == ["制度", "相对"]


def test_latin1_manifest_is_refused_not_misread(runner, instance, batch):
    ff.make_pdf(batch / "resumes.pdf", ["简历"])
    # Saved by a Latin-1 program: every byte sequence here is also valid GB18030 (r閟um閟 Cr鑝e)
    (batch / "清单.csv").write_bytes(b"path,code,type,date,unit,title\n"
                                    b"resumes.pdf,III-1,Type,2026-01-01,,r\xe9sum\xe9s Cr\xe8me\n")
    assert (batch / "清单.csv").read_bytes().decode("gb18030")   # the old code read it as Chinese
    r = run_import(runner, instance, batch / "清单.csv")
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and "(manifest encoding uncertain)" in r.stderr
    assert "--encoding" in r.stderr
    assert titles(instance) == []


def test_named_encoding_reads_latin1(runner, instance, batch):
    ff.make_pdf(batch / "resumes.pdf", ["简历"])
    (batch / "m.csv").write_bytes(b"path,code,type,date,unit,title\n"
                                  b"resumes.pdf,III-1,Type,2026-01-01,,r\xe9sum\xe9s Cr\xe8me\n")
    r = run_import(runner, instance, batch / "m.csv", "--encoding", "latin-1")
    # the type is not in the map: refused for that, but the title was read right
    assert "未知的材料类型「Type」" in r.stderr
    (batch / "m.csv").write_bytes("path,code,type,date,unit,title\nresumes.pdf,III-1,规范文件,2026-01-01,,résumés Crème\n"
                                  .encode("utf-8"))
    r = runner.invoke(cli, ["--instance", str(instance.root), "import", str(batch / "m.csv"), "--encoding", "nope"])
    assert r.exit_code == 2 and "(unknown encoding)" in r.stderr


def test_gbk_manifest_says_which_encoding_was_used(runner, instance, batch):
    (batch / "清单.csv").write_bytes((HEADER + "制度.pdf,Ⅲ—1,规范文件,2026-01-01,市委宣传部,学习制度\n").encode("gbk"))
    r = run_import(runner, instance, batch / "清单.csv")
    assert r.exit_code == 0, r.output
    assert "已按 GBK/GB18030 编码读取 (manifest read as GBK)" in r.stderr
    assert titles(instance) == ["学习制度"]
    (batch / "u.csv").write_text(HEADER + "制度.pdf,Ⅲ—1,规范文件,2026-01-01,市委宣传部,学习制度\n", encoding="utf-8")
    r = run_import(runner, instance, batch / "u.csv")
    assert r.exit_code == 0 and "GBK" not in r.stderr


def test_file_name_with_a_newline_is_one_line(runner, instance, tmp_path):
    bad = tmp_path / "坏\n文件.pdf"
    bad.write_bytes(b"")
    good = ff.make_pdf(tmp_path / "好\n文件.pdf", ["好文件"])
    r = runner.invoke(cli, ["--instance", str(instance.root), "add", str(bad), str(good),
                            "--code", "Ⅲ—1", "--type", "规范文件"])
    assert r.exit_code == 1
    refused = [line for line in r.stderr.splitlines() if line.startswith("refused:")]
    assert refused == [f"refused: {tmp_path}/坏\\n文件.pdf: 文件为空 (empty file)"]
    assert len(r.stderr.splitlines()) == 2    # the refusal and the summary
    assert len(r.stdout.splitlines()) == 1 and "好\\n文件.pdf" in r.stdout
