"""Which maps' leaves units answer for: the one place this package asks for maps.

Every active map (docs/maps.md): a unit owes material for its duties in each of them. A leaf
is `(map_id, code)` with the code as its map writes it.
"""
from __future__ import annotations

from archive.core.errors import NotFound, UsageError
from archive.maps import loading


def active_maps(inst) -> list:
    """The IndicatorMaps whose leaves carry duties and obligations (UsageError: none loaded)."""
    maps = loading.active_maps(inst)
    if not maps:
        loading.current_map(inst)   # raises the right message: none loaded / none active
    return maps


def map_by_id(inst, map_id: str | None):
    """The active map named `map_id` (None: the only one); UsageError otherwise."""
    maps = active_maps(inst)
    map_id = map_id or loading.selected_map_id(inst)
    if map_id is None:
        if len(maps) == 1:
            return maps[0]
        raise UsageError("map required", "有多个指标体系在用，请用 --map 指定，或把编码写成 体系编号:编码")
    for m in maps:
        if m.id == map_id:
            return m
    raise NotFound("unknown map", f"指标体系「{map_id}」不在用")


def find_leaf(inst, code: str, map_id: str | None = None):
    """(map, leaf node) for a user's spelling of a code, `map:code` accepted."""
    qualifier, text = loading.split_qualified(code)
    imap = map_by_id(inst, qualifier or map_id)
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
