"""Which maps' leaves units answer for: the one place this package asks for maps.

Today one map is active (`archive.maps.loading.current_map`); when several are, only
`active_maps` changes. A leaf is `(map_id, code)` with the code as its map writes it.
"""
from __future__ import annotations

from archive.core.errors import NotFound, UsageError
from archive.maps.loading import current_map


def active_maps(inst) -> list:
    """The IndicatorMaps whose leaves carry duties and obligations."""
    return [current_map(inst)]


def map_by_id(inst, map_id: str | None):
    """The active map named `map_id` (None: the only one); UsageError otherwise."""
    maps = active_maps(inst)
    if map_id is None:
        if len(maps) == 1:
            return maps[0]
        raise UsageError("map required", "有多个指标体系在用，请用 --map 指定")
    for m in maps:
        if m.id == map_id:
            return m
    raise NotFound("unknown map", f"指标体系「{map_id}」不在用")


def find_leaf(inst, code: str, map_id: str | None = None):
    """(map, leaf node) for a user's spelling of a code, `map:code` accepted."""
    text = (code or "").strip()
    if ":" in text and map_id is None:
        map_id, text = text.split(":", 1)
    imap = map_by_id(inst, map_id)
    node = imap.find(text)
    if node is None:
        raise NotFound("unknown code", f"未知的指标代码「{code}」")
    if not node.is_leaf:
        raise UsageError("code is not a leaf", f"「{node.code} {node.name}」不是末级指标（测评内容）")
    return imap, node


def edition_row(db, map_id: str) -> int | None:
    """The id of the map's latest `maps` row (its edition): seeding runs once per edition."""
    row = db.execute("SELECT max(id) FROM maps WHERE map_id = ?", [map_id]).fetchone()
    return row[0] if row else None
