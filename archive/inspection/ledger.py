"""问题整改台账: the ledger of problems for a period, unit or leaf, as xlsx with the before and
after thumbnails side by side in each row, and "file into the archive" in one step.

The xlsx is written by hand (SpreadsheetML is a zip of XML parts) so that memory stays flat
however many rows and photos: problems are read in keyset chunks, the sheet, drawing and
relationship parts are streamed to temp files, and each thumbnail is copied into the zip
as its row is written. openpyxl would hold every image and the drawing tree until save.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, Iterator
from xml.sax.saxutils import escape

from archive.core.dates import today_beijing
from .photos import thumbnail
from .problems import ProblemFilter, state_label

CHUNK = 500
COLUMNS = [("序号", 6), ("问题编号", 8), ("发现日期", 11), ("来源", 9), ("点位", 16), ("测评内容", 18),
           ("问题描述", 34), ("责任单位", 14), ("整改期限", 11), ("状态", 11), ("整改情况", 24),
           ("销号日期", 11), ("整改前照片", 19), ("整改后照片", 19)]
BEFORE_COL, AFTER_COL = 12, 13           # 0-based columns of the two photos
BOX_W, BOX_H = 128, 96                   # px the thumbnail is fitted into
ROW_HT = 78                              # points (≈ 104 px: the box plus a margin)
EMU_PER_PX = 9525
FIRST_DATA_ROW = 4                       # 1-based: title, subtitle, header, then data


@dataclass
class LedgerRow:
    seq: int
    problem: dict
    codes: list[tuple[str, str]]        # (code, leaf name)
    site: str | None
    before: list[str]                   # sha256 of before photos, first first
    after: list[str]


def iter_rows(instance, flt: ProblemFilter, offset: int = 0) -> Iterator[LedgerRow]:
    """Problems matching `flt`, oldest first, from the `offset`-th on, in chunks (keyset on id:
    flat memory)."""
    from archive.core.errors import ArchiveError
    from archive.maps.loading import get_map

    maps: dict = {}

    def leaf_name(map_id: str, code: str) -> str:
        if map_id not in maps:
            try:
                maps[map_id] = get_map(instance, map_id)
            except ArchiveError:   # a map since deleted: the code alone
                maps[map_id] = None
        node = maps[map_id].find(code) if maps[map_id] is not None else None
        return node.name if node else ""

    db = instance.db
    where, args = flt.where(today_beijing().isoformat())
    last, seq = 0, 0
    if offset:
        row = db.execute(f"SELECT p.id FROM problems p WHERE {where} ORDER BY p.id LIMIT 1 OFFSET :off",
                         {**args, "off": offset - 1}).fetchone()
        if row is None:
            return
        last, seq = row[0], offset
    while True:
        cur = db.execute(f"SELECT * FROM problems p WHERE {where} AND p.id > :last ORDER BY p.id LIMIT {CHUNK}",
                         {**args, "last": last})
        cols = [d[0] for d in cur.description]
        chunk = [dict(zip(cols, r)) for r in cur.fetchall()]
        if not chunk:
            return
        ids = [p["id"] for p in chunk]
        marks = ",".join("?" * len(ids))
        codes: dict[int, list] = {}
        for pid, map_id, code in db.execute(f"SELECT problem_id, map_id, code FROM problem_codes "
                                            f"WHERE problem_id IN ({marks}) ORDER BY rowid", ids):
            codes.setdefault(pid, []).append((code, leaf_name(map_id, code)))
        photos: dict[tuple[int, str], list[str]] = {}
        for pid, stage, sha in db.execute(f"SELECT problem_id, stage, sha256 FROM problem_photos "
                                          f"WHERE problem_id IN ({marks}) ORDER BY id", ids):
            photos.setdefault((pid, stage), []).append(sha)
        site_ids = sorted({p["site_id"] for p in chunk if p["site_id"]})
        sites = {}
        if site_ids:
            sites = dict(db.execute(f"SELECT id, name FROM sites WHERE id IN ({','.join('?' * len(site_ids))})",
                                    site_ids).fetchall())
        for p in chunk:
            seq += 1
            yield LedgerRow(seq, p, codes.get(p["id"], []), sites.get(p["site_id"]),
                            photos.get((p["id"], "before"), []), photos.get((p["id"], "after"), []))
        last = chunk[-1]["id"]


def describe_filter(instance, flt: ProblemFilter) -> str:
    parts = []
    if flt.found_from or flt.found_to:
        parts.append(f"发现日期 {flt.found_from or '…'} 至 {flt.found_to or '…'}")
    if flt.unit:
        parts.append(f"责任单位 {flt.unit}")
    if flt.code:
        parts.append(f"测评内容 {flt.code}")
    if flt.site_id:
        row = instance.db.execute("SELECT name FROM sites WHERE id = ?", [flt.site_id]).fetchone()
        parts.append(f"点位 {row[0] if row else flt.site_id}")
    if flt.state:
        parts.append(f"状态 {flt.state}")
    return "；".join(parts) or "全部问题"


def row_texts(r: LedgerRow, today: date) -> list[str | int]:
    p = r.problem
    rect = p.get("rectify_note") or ""
    if p.get("rectified_at"):
        rect = f"{p['rectified_at'][:10]} {rect}".strip()
    extra = []
    if len(r.before) > 1:
        extra.append(f"整改前另有 {len(r.before) - 1} 张")
    if len(r.after) > 1:
        extra.append(f"整改后另有 {len(r.after) - 1} 张")
    if extra:
        rect = (rect + "（" + "，".join(extra) + "）").strip()
    desc = p["description"] + (f"（反弹：问题 {p['rebound_of']} 销号后再次发现）" if p.get("rebound_of") else "")
    return [r.seq, p["id"], p["found_on"], p["source"], r.site or "",
            "；".join(f"{c} {n}".strip() for c, n in r.codes), desc, p["unit"], p["deadline"],
            state_label(p["state"], p["deadline"], p.get("returned_count") or 0, today), rect,
            (p.get("closed_at") or "")[:10], "" if r.before else "（无）", "" if r.after else "（无）"]


# ------------------------------------------------------------------------------ xlsx writer
NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_ILLEGAL = {i: "?" for i in list(range(0, 9)) + [11, 12] + list(range(14, 32))}


def _t(value) -> str:
    return escape(str(value).translate(_ILLEGAL))


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _cell(ref: str, value, style: int) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<c r="{ref}" s="{style}"><v>{value}</v></c>'
    text = _t(value)
    if not text:
        return f'<c r="{ref}" s="{style}"/>'
    # inline strings: no shared-string table to hold in memory; never a formula
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


STYLES = f"""{XML_HEAD}<styleSheet xmlns="{NS_MAIN}">
<fonts count="3"><font><sz val="10"/><name val="宋体"/><charset val="134"/></font><font><b/><sz val="10"/><name val="宋体"/><charset val="134"/></font><font><b/><sz val="16"/><name val="宋体"/><charset val="134"/></font></fonts>
<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="FFEFEFEF"/><bgColor indexed="64"/></patternFill></fill></fills>
<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border><border><left style="thin"><color auto="1"/></left><right style="thin"><color auto="1"/></right><top style="thin"><color auto="1"/></top><bottom style="thin"><color auto="1"/></bottom><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="5">
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="0" fontId="0" fillId="0" borderId="1" xfId="0" applyBorder="1" applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>
<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1"><alignment horizontal="center" vertical="center" wrapText="1"/></xf>
<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1"><alignment horizontal="center" vertical="center"/></xf>
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1"><alignment horizontal="left" vertical="center"/></xf>
</cellXfs>
<cellStyles count="1"><cellStyle name="常规" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""


@functools.lru_cache(maxsize=4096)
def _fit(path: Path) -> tuple[int, int]:
    """Display size in px of a thumbnail fitted into the BOX (aspect kept)."""
    from PIL import Image

    with Image.open(path) as img:
        w, h = img.size
    k = min(BOX_W / w, BOX_H / h)
    return max(1, round(w * k)), max(1, round(h * k))


def write_ledger(instance, flt: ProblemFilter, out: BinaryIO | str | os.PathLike,
                 title: str = "问题整改台账") -> dict:
    """Stream the ledger xlsx into `out` (a path or a binary file). Returns {"rows", "photos"}."""
    today = today_beijing()
    stamp = (today.year, today.month, today.day, 0, 0, 0)
    subtitle = f"{describe_filter(instance, flt)}    导出日期 {today.isoformat()}（北京时间）"
    ncols = len(COLUMNS)
    last_col = _col(ncols - 1)
    tmpdir = Path(tempfile.mkdtemp(prefix="ledger-"))
    rows = images = 0
    try:
        sheet = open(tmpdir / "sheet.xml", "w", encoding="utf-8")
        drawing = open(tmpdir / "drawing.xml", "w", encoding="utf-8")
        rels = open(tmpdir / "drawing.rels", "w", encoding="utf-8")
        with sheet, drawing, rels, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            sheet.write(f'{XML_HEAD}<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_R}">'
                        '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
                        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="3" topLeftCell="A4" '
                        'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
                        '<sheetFormatPr defaultRowHeight="15"/><cols>')
            for i, (_, width) in enumerate(COLUMNS, start=1):
                sheet.write(f'<col min="{i}" max="{i}" width="{width}" customWidth="1"/>')
            sheet.write('</cols><sheetData>')
            sheet.write(f'<row r="1" ht="30" customHeight="1">{_cell("A1", title, 3)}</row>')
            sheet.write(f'<row r="2" ht="18" customHeight="1">{_cell("A2", subtitle, 4)}</row>')
            sheet.write('<row r="3" ht="22" customHeight="1">'
                        + "".join(_cell(f"{_col(i)}3", name, 2) for i, (name, _) in enumerate(COLUMNS))
                        + '</row>')
            drawing.write(f'{XML_HEAD}<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/'
                          f'spreadsheetDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
                          f'xmlns:r="{NS_R}">')
            rels.write(f'{XML_HEAD}<Relationships xmlns="{NS_PKG}">')
            for r in iter_rows(instance, flt):
                n = FIRST_DATA_ROW + rows
                texts = row_texts(r, today)
                sheet.write(f'<row r="{n}" ht="{ROW_HT}" customHeight="1">'
                            + "".join(_cell(f"{_col(i)}{n}", v, 1) for i, v in enumerate(texts)) + '</row>')
                for col, shas in ((BEFORE_COL, r.before), (AFTER_COL, r.after[-1:])):
                    if not shas:
                        continue
                    thumb = thumbnail(instance, shas[0])
                    if thumb is None:
                        continue
                    images += 1
                    # JPEG does not deflate: stored, it costs no CPU
                    _copy(z, thumb, f"xl/media/image{images}.jpeg", stamp, zipfile.ZIP_STORED)
                    w, h = _fit(thumb)
                    rels.write(f'<Relationship Id="rId{images}" Type="{NS_R}/image" '
                               f'Target="../media/image{images}.jpeg"/>')
                    drawing.write(
                        f'<xdr:oneCellAnchor><xdr:from><xdr:col>{col}</xdr:col><xdr:colOff>{4 * EMU_PER_PX}'
                        f'</xdr:colOff><xdr:row>{n - 1}</xdr:row><xdr:rowOff>{4 * EMU_PER_PX}</xdr:rowOff>'
                        f'</xdr:from><xdr:ext cx="{w * EMU_PER_PX}" cy="{h * EMU_PER_PX}"/><xdr:pic><xdr:nvPicPr>'
                        f'<xdr:cNvPr id="{images + 1}" name="照片 {images}" descr="问题 {r.problem["id"]} '
                        f'{"整改前" if col == BEFORE_COL else "整改后"}"/><xdr:cNvPicPr><a:picLocks noChangeAspect="1"/>'
                        f'</xdr:cNvPicPr></xdr:nvPicPr><xdr:blipFill><a:blip r:embed="rId{images}"/><a:stretch>'
                        f'<a:fillRect/></a:stretch></xdr:blipFill><xdr:spPr><a:xfrm><a:off x="0" y="0"/>'
                        f'<a:ext cx="{w * EMU_PER_PX}" cy="{h * EMU_PER_PX}"/></a:xfrm><a:prstGeom prst="rect">'
                        f'<a:avLst/></a:prstGeom></xdr:spPr></xdr:pic><xdr:clientData/></xdr:oneCellAnchor>')
                rows += 1
            sheet.write('</sheetData>')
            sheet.write(f'<mergeCells count="2"><mergeCell ref="A1:{last_col}1"/><mergeCell ref="A2:{last_col}2"/>'
                        '</mergeCells>')
            sheet.write('<pageMargins left="0.4" right="0.4" top="0.5" bottom="0.5" header="0.3" footer="0.3"/>'
                        '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>')
            if images:
                sheet.write('<drawing r:id="rId1"/>')
            sheet.write('</worksheet>')
            drawing.write('</xdr:wsDr>')
            rels.write('</Relationships>')
            for f in (sheet, drawing, rels):
                f.flush()
            _static_parts(z, title, images > 0, stamp)
            _copy(z, tmpdir / "sheet.xml", "xl/worksheets/sheet1.xml", stamp)
            if images:
                z.writestr(_info("xl/worksheets/_rels/sheet1.xml.rels", stamp),
                           f'{XML_HEAD}<Relationships xmlns="{NS_PKG}"><Relationship Id="rId1" '
                           f'Type="{NS_R}/drawing" Target="../drawings/drawing1.xml"/></Relationships>')
                _copy(z, tmpdir / "drawing.xml", "xl/drawings/drawing1.xml", stamp)
                _copy(z, tmpdir / "drawing.rels", "xl/drawings/_rels/drawing1.xml.rels", stamp)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return {"rows": rows, "photos": images}


def _info(name: str, stamp: tuple, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    """A zip entry dated `stamp`: the same problems on the same day give the same bytes, so
    filing the ledger twice is a duplicate, not a second item."""
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = compress
    return info


def _copy(z: zipfile.ZipFile, src: Path, name: str, stamp: tuple,
          compress: int = zipfile.ZIP_DEFLATED) -> None:
    with open(src, "rb") as f, z.open(_info(name, stamp, compress), "w", force_zip64=True) as dst:
        shutil.copyfileobj(f, dst, 1024 * 1024)


def _static_parts(z: zipfile.ZipFile, title: str, with_drawing: bool, stamp: tuple) -> None:
    ct = "application/vnd.openxmlformats-officedocument"
    z.writestr(_info("[Content_Types].xml", stamp), (
        f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>'
        f'<Default Extension="jpeg" ContentType="image/jpeg"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.spreadsheetml.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{ct}.spreadsheetml.styles+xml"/>'
        + (f'<Override PartName="/xl/drawings/drawing1.xml" ContentType="{ct}.drawing+xml"/>' if with_drawing else "")
        + '</Types>'))
    z.writestr(_info("_rels/.rels", stamp), f'{XML_HEAD}<Relationships xmlns="{NS_PKG}"><Relationship Id="rId1" '
               f'Type="{NS_R}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    sheet_name = _t(title[:31])
    z.writestr(_info("xl/workbook.xml", stamp), (
        f'{XML_HEAD}<workbook xmlns="{NS_MAIN}" xmlns:r="{NS_R}"><sheets><sheet name="{sheet_name}" '
        f'sheetId="1" r:id="rId1"/></sheets><definedNames><definedName name="_xlnm.Print_Titles" '
        f"localSheetId=\"0\">'{sheet_name}'!$3:$3</definedName></definedNames></workbook>"))
    z.writestr(_info("xl/_rels/workbook.xml.rels", stamp), (
        f'{XML_HEAD}<Relationships xmlns="{NS_PKG}">'
        f'<Relationship Id="rId1" Type="{NS_R}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{NS_R}/styles" Target="styles.xml"/></Relationships>'))
    z.writestr(_info("xl/styles.xml", stamp), STYLES)


# ------------------------------------------------------------------------------ filing
def default_leaves(imap) -> list[str]:
    """The 问题整改 leaves of the map: leaves whose name or standard speaks of 整改."""
    return [n.code for n in imap.leaves() if "整改" in n.name]


def file_ledger(instance, actor, flt: ProblemFilter, codes: list[str] | None = None) -> dict:
    """One step: the ledger xlsx (工作台账) and every photo of its problems (实景图片) become items
    under the 问题整改 leaves through the one ingest pipeline, so they enter the declaration
    package. Photos already archived are duplicates (codes added, no second copy)."""
    from archive.core.errors import UsageError
    from archive.evidence.ingest import IngestRequest, ingest_files
    from archive.maps.loading import current_map
    from .problems import DECIDE_ROLES, forbidden, resolve_leaves

    if actor.role not in DECIDE_ROLES:
        raise forbidden("只有审核员可以把整改台账归档")
    imap = current_map(instance)
    targets = [c for _, c in resolve_leaves(instance, codes)] if codes else default_leaves(imap)
    if not targets:
        raise UsageError("no target leaf", "指标体系中没有名称含“整改”的测评内容，请指定归档到的测评内容代码")
    today = today_beijing().isoformat()
    tmpdir = Path(tempfile.mkdtemp(prefix="ledger-file-"))
    try:
        label = describe_filter(instance, flt)
        xlsx = tmpdir / "问题整改台账.xlsx"
        stats = write_ledger(instance, flt, xlsx)
        if not stats["rows"]:
            raise UsageError("empty ledger", f"没有符合条件的问题（{label}），未归档")
        requests = [IngestRequest(path=xlsx, codes=targets, material_type="工作台账", date=today,
                                  unit=flt.unit, title=f"问题整改台账（{label}，{today}）",
                                  original_name=f"问题整改台账_{today}.xlsx")]
        for r in iter_rows(instance, flt):
            p = r.problem
            for stage, shas in (("整改前", r.before), ("整改后", r.after)):
                for k, sha in enumerate(shas, start=1):
                    kind = instance.db.execute("SELECT kind FROM files WHERE sha256 = ?", [sha]).fetchone()
                    ext = ".png" if kind and kind[0] == "png" else ".jpg"
                    requests.append(IngestRequest(
                        path=instance.store.path(sha), codes=targets, material_type="实景图片",
                        unit=p["unit"], title=f"问题{p['id']}{stage}照片{k}（{(r.site or p['description'])[:30]}）",
                        original_name=f"问题{p['id']}_{stage}_{k}{ext}"))
        result = ingest_files(instance, requests, user=actor.name, ip=actor.ip)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    out = result.as_json()
    out.update(codes=targets, rows=stats["rows"])
    return out
