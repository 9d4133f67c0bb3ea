"""DOCX: body paragraphs, tables (cell by cell), text boxes, headers and footers."""
from __future__ import annotations

from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal
from ..registry import Extraction, Parser
from .._util import corrupt, encrypted_ooxml, is_ooxml, iso, quiet
from ..ziplimits import check_zip


def extract_docx(path: Path, limits: Limits):

    check_zip(path, limits, "DOCX")  # before python-docx inflates anything
    try:
        import docx
        from docx.oxml.ns import qn

        with quiet(), open(path, "rb") as fh:  # our own handle, closed however parsing ends
            document = docx.Document(fh)
            lines: list[str] = []
            n_paragraphs, n_tables = _blocks(document, lines)
            # Red-header titles often sit in text boxes, which python-docx's paragraphs skip.
            # Word stores each box twice (DrawingML and a VML fallback), hence the dedup.
            boxed = ("".join(t.text or "" for t in p.iter(qn("w:t")))
                     for box in document.element.body.iter(qn("w:txbxContent")) for p in box.iter(qn("w:p")))
            lines.extend(dict.fromkeys(boxed))
            seen = set()
            for section in document.sections:
                for part in (section.header, section.footer):
                    if part.is_linked_to_previous:
                        continue
                    for p in part.paragraphs:
                        if p.text.strip() and p.text not in seen:
                            seen.add(p.text)
                            lines.append(p.text)
            props = document.core_properties
            meta = {"paragraphs": n_paragraphs, "tables": n_tables}
            for key, value in (("title", props.title), ("author", props.author),
                               ("created", iso(props.created)), ("modified", iso(props.modified))):
                if value:
                    meta[key] = value
    except Refusal:
        raise
    except Exception:  # python-docx, lxml and zipfile raise many types on damaged input
        raise corrupt("DOCX") from None
    text = "\n".join(line for line in lines if line.strip())
    return Extraction(text=text, meta=meta, ocr_pages=[])


def _blocks(container, lines: list[str]) -> tuple[int, int]:
    """Paragraphs and tables in document order; a table row becomes tab-separated cells."""
    from docx.table import Table

    n_paragraphs = n_tables = 0
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            n_tables += 1
            for row in block.rows:
                cells, previous = [], None
                for cell in row.cells:
                    if previous is not None and cell._tc is previous:
                        continue  # a merged cell is returned once per grid column it spans
                    previous = cell._tc
                    inner: list[str] = []
                    p, t = _blocks(cell, inner)
                    n_paragraphs += p
                    n_tables += t
                    cells.append(" ".join(s for s in inner if s.strip()))
                lines.append("\t".join(cells))
        else:
            n_paragraphs += 1
            lines.append(block.text)
    return n_paragraphs, n_tables


class DocxParser(Parser):
    kind = "docx"
    label = "Word 文档（DOCX）"
    extensions = (".docx",)
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    package_ext = ".docx"
    family = "zip"
    magic = (b"PK\x03\x04", b"PK\x05\x06")
    rank = 20

    def claims(self, sample, expected):
        return sample.family == "zip" and is_ooxml(sample.zip_names, "word")

    def mismatch(self, actual, path):
        return encrypted_ooxml(actual, path)

    def extract(self, path, limits):
        return extract_docx(path, limits)


PARSERS = [DocxParser()]
