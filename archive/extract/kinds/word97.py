"""Legacy Word (.doc, Word 97–2003) and WPS 文字 (.wps, the same OLE2 Word format) by Debian's
`antiword` (text with tables), `catdoc` as the fallback. Subprocess, no shell, a timeout."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal
from ..registry import Extraction, Parser
from .._util import corrupt

TIMEOUT_S = 60
OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")


def encrypted() -> Refusal:
    return Refusal("encrypted Word file", "Word 文件已加密，无法读取")


def extract_word97(path: Path, limits: Limits, label: str) -> Extraction:
    """Text of a Word 97–2003 binary document, or Refusal (corrupt, encrypted, not Word)."""
    target = os.path.abspath(path)
    tools = [t for t in (["antiword", "-w", "0", "-m", "UTF-8.txt", target],
                         ["catdoc", "-d", "utf-8", "-w", target]) if shutil.which(t[0])]
    if not tools:
        raise Refusal("no Word 97 reader", "本机未安装 antiword 或 catdoc，无法读取此类文件")
    for args in tools:
        try:
            r = subprocess.run(args, capture_output=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise Refusal("Word text timeout", f"文字提取超时（{TIMEOUT_S} 秒）") from None
        except OSError:
            continue
        said = (r.stdout[:200] + r.stderr).decode("utf-8", "replace").lower()
        if "encrypt" in said:
            raise encrypted()
        if r.returncode == 0:
            text = r.stdout.decode("utf-8", "replace")
            lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
            return Extraction(text="\n".join(line for line in lines if line.strip()),
                              meta={"reader": args[0]})
    raise corrupt(label)


class _Word97(Parser):
    family = "ole2"
    magic = (OLE2,)
    mime = "application/msword"

    def claims(self, sample, expected):
        # Word vs Excel 97 needs the OLE2 directory; the extension is trusted until extraction,
        # which refuses a file that is no Word document as corrupt.
        return sample.family == "ole2" and expected

    def extract(self, path, limits):
        return extract_word97(path, limits, self.kind.upper())


class DocParser(_Word97):
    kind = "doc"
    label = "Word 97-2003 文档（DOC）"
    extensions = (".doc",)
    package_ext = ".doc"
    rank = 25


class WpsParser(_Word97):
    kind = "wps"
    label = "WPS 文字文档（WPS）"
    extensions = (".wps",)
    mime = "application/vnd.ms-works"
    package_ext = ".wps"
    rank = 26


PARSERS = [DocParser(), WpsParser()]
