"""Finding leaves by what a clerk types: a code in any spelling, or part of a Chinese name.

The upload page's code picker and `/api/indicators` use it; the CLI can too.
"""
from __future__ import annotations

from .indicators import IndicatorMap, Node, normalise_code


def leaf_json(node: Node) -> dict:
    """A leaf as the picker shows it: code, name, its ancestors, requires, methods, units."""
    return {"code": node.code, "name": node.name,
            "path": [f"{a.code} {a.name}" for a in node.ancestors()],
            "requires": list(node.requires), "methods": list(node.methods), "units": list(node.units)}


def search_leaves(imap: IndicatorMap, q: str, limit: int = 50) -> list[dict]:
    """Leaves whose code (lenient) or Chinese name (or an ancestor's) contains q, ranked:
    the exact code, codes starting with q, names/standards containing q, then ancestors'."""
    q = (q or "").strip()
    leaves = imap.leaves()
    if not q:
        return [leaf_json(n) for n in leaves[:limit]]
    key = normalise_code(q)
    exact, code_hits, name_hits, path_hits = [], [], [], []
    for n in leaves:
        if n.key == key:
            exact.append(n)
        elif n.key.startswith(key):
            code_hits.append(n)
        elif q in n.name or (n.standard and q in n.standard):
            name_hits.append(n)
        elif any(q in a.name or a.key == key for a in n.ancestors()):
            path_hits.append(n)
    return [leaf_json(n) for n in (exact + code_hits + name_hits + path_hits)[:limit]]
