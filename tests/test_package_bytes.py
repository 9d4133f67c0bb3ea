"""Package bytes do not move when the code is reshaped (issue 9): the outputs of a fixed
archive (tests/fixed_archive.py) have the SHA-256 the code at commit 0ca529c gave them.

A change here is a change to every package a city has already submitted: only make one on
purpose (new package format), and then take the new values with `python -m tests.fixed_archive`.
(The xlsx bytes also depend on openpyxl's writer: a new openpyxl may move them.)
"""
from __future__ import annotations

import zipfile

from tests import fixed_archive

# taken with `python -m tests.fixed_archive` in a worktree at 0ca529c (before the package/ refactor)
PINNED_AT_0CA529C = {
    "default.zip": "4f442cba9dcc17f8a5f50482b2e30482a51ed7968ccfac1ebd1b274afcaf3370",
    "options.zip": "03b0a30d589d05a9a20597ad563c506901b754d8df47883a602f01a60e638959",
    "coverage.xlsx": "e89391e5e5bd0f25f9128b67210687507d26d39dfc9d395fd8d5ef073d78526a",
}


def test_package_bytes_are_those_of_0ca529c(tmp_path):
    inst = fixed_archive.build(tmp_path / "instance")
    try:
        got = fixed_archive.pinned_outputs(inst, tmp_path)
    finally:
        inst.close()
    assert got == PINNED_AT_0CA529C
    # and the fixture is what it says: excluded items left out, shortened names, every leaf folder
    names = zipfile.ZipFile(tmp_path / "default.zip").namelist()
    assert not any("删除" in n or "旧说明" in n or "退回" in n for n in names)
    assert any(n.endswith("….pdf") for n in names)
    assert sum(n.count("/") == 4 and n.endswith("/") for n in names) == 6

