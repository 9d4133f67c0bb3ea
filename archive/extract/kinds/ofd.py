"""OFD (GB/T 33190-2016), China's fixed-layout e-document format: a zip of XML. Text is every
TextCode of every page, in the order the pages and their text objects are stored
(OFD.xml → DocBody/DocRoot → Document.xml → Pages/Page@BaseLoc → Content.xml)."""
from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal
from ..registry import Extraction, Parser
from .._util import corrupt
from ..ziplimits import check_zip

ROOT = "OFD.xml"


def encrypted() -> Refusal:
    return Refusal("encrypted OFD", "OFD 文件已加密，无法读取")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el, name: str):
    return [c for c in el.iter() if _local(c.tag) == name]


def _resolve(base: str, loc: str) -> str:
    """A BaseLoc/DocRoot reference: absolute from the package root, or relative to `base`."""
    loc = (loc or "").strip().replace("\\", "/")
    joined = loc.lstrip("/") if loc.startswith("/") else posixpath.join(posixpath.dirname(base), loc)
    return posixpath.normpath(joined)


def extract_ofd(path: Path, limits: Limits) -> Extraction:
    check_zip(path, limits, "OFD")   # before anything inflates
    from defusedxml import ElementTree

    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if ROOT not in names:
                raise corrupt("OFD")
            if any(posixpath.basename(n).lower() == "encryptions.xml" for n in names):
                raise encrypted()   # GM/T 0099: encrypted parts are listed in Encryptions.xml
            root = ElementTree.fromstring(zf.read(ROOT))
            if _children(root, "Encryptions"):
                raise encrypted()
            meta: dict = {}
            for key, tag in (("title", "Title"), ("author", "Author"), ("created", "CreationDate")):
                found = _children(root, tag)
                if found and (found[0].text or "").strip():
                    meta[key] = found[0].text.strip()
            pages_text = []
            doc_roots = _children(root, "DocRoot")
            if not doc_roots:
                raise corrupt("OFD")
            for doc_root in doc_roots:
                doc_path = _resolve(ROOT, doc_root.text)
                document = ElementTree.fromstring(zf.read(doc_path))
                for page in _children(document, "Page"):
                    content_path = _resolve(doc_path, page.get("BaseLoc"))
                    content = ElementTree.fromstring(zf.read(content_path))
                    lines = ["".join(code.text or "" for code in _children(obj, "TextCode"))
                             for obj in _children(content, "TextObject")]
                    pages_text.append("\n".join(line for line in lines if line.strip()))
            if not pages_text:
                raise corrupt("OFD")
    except Refusal:
        raise
    except Exception:   # zipfile, KeyError (a missing part), XML errors, defusedxml's refusals
        raise corrupt("OFD") from None
    meta["pages"] = len(pages_text)
    return Extraction(text="\f".join(pages_text), meta=meta)


class OfdParser(Parser):
    kind = "ofd"
    label = "OFD 版式文档"
    extensions = (".ofd",)
    mime = "application/ofd"
    package_ext = ".ofd"
    family = "zip"
    magic = (b"PK\x03\x04", b"PK\x05\x06")
    rank = 15

    def claims(self, sample, expected):
        return sample.family == "zip" and bool(sample.zip_names) and ROOT in sample.zip_names

    def extract(self, path, limits):
        return extract_ofd(path, limits)


PARSERS = [OfdParser()]
