"""Bytes to text as Chinese offices write it: UTF-8 (with or without a BOM) or GB18030.

GB18030 is a superset of GBK and GB2312, so it reads all three. One place for the order in
which encodings are tried (CSV ledgers, import manifests, the text check in sniffing)."""
from __future__ import annotations

import codecs

# Tried in order; plain UTF-8 is covered by utf-8-sig, which strips a BOM only when present.
ENCODINGS = ("utf-8-sig", "gb18030")


def decode(data: bytes, partial: bool = False) -> tuple[str, str] | None:
    """(text, encoding) for the first encoding that reads `data`, or None.

    `encoding` is "utf-8-sig" only when a BOM was there ("utf-8" otherwise), or "gb18030".
    `partial`: `data` is a sample cut anywhere, so a character cut at its end is not an error."""
    for encoding in ENCODINGS:
        try:
            if partial:
                text = codecs.getincrementaldecoder(encoding)().decode(data, final=False)
            else:
                text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig" and not data.startswith(codecs.BOM_UTF8):
            encoding = "utf-8"
        return text, encoding
    return None
