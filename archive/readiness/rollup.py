"""Coverage rolled up the map's tree and grouped by responsible unit (dashboard, CLI)."""
from __future__ import annotations

from collections import OrderedDict

NO_UNIT = "（未指定责任单位）"


def rollup(imap, rows: list[dict]) -> list[dict]:
    """Map-ordered display rows: every node with its depth; branches carry the counts of
    their leaves' statuses, leaves their coverage row. Nodes with no leaf in `rows`
    (e.g. filtered out by unit) are left out."""
    by_code = {r["code"]: r for r in rows}
    out = []

    def walk(node, depth):
        if node.is_leaf:
            row = by_code.get(node.code)
            if row is not None:
                out.append({"node": node, "depth": depth, "leaf": row})
                return {row["status"]: 1}
            return {}
        at = len(out)
        counts = {"complete": 0, "partial": 0, "empty": 0}
        for child in node.children:
            for k, v in walk(child, depth + 1).items():
                counts[k] += v
        total = sum(counts.values())
        if total:
            out.insert(at, {"node": node, "depth": depth, "leaf": None, "counts": counts, "total": total})
        return counts

    for root in imap.roots:
        walk(root, 0)
    return out


def owed_by_unit(rows: list[dict], only_unit: str | None = None) -> "OrderedDict[str, list[dict]]":
    """unit → the leaves it is responsible for that still miss a required type."""
    owed: dict[str, list[dict]] = {}
    for r in rows:
        if not r["missing"]:
            continue
        for unit in (r.get("units") or [NO_UNIT]):
            if only_unit and unit != only_unit:
                continue
            owed.setdefault(unit, []).append(r)
    return OrderedDict(sorted(owed.items(), key=lambda kv: (-len(kv[1]), kv[0])))
