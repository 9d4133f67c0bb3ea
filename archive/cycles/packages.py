"""A cycle's coverage and packages: a closed cycle's from its pinned editions and frozen items
(byte-identical however often rebuilt), an open cycle's from the live archive at its date."""
from __future__ import annotations

from archive.core.errors import NotFound, UsageError
from archive.maps.loading import get_edition, selected_map_id
from archive.package import export_package
from archive.readiness.coverage import as_date, compute, coverage
from .cycles import frozen_items, get_cycle


def cycle_map(instance, ref, map_id: str | None = None) -> tuple[dict, dict]:
    """(cycle, its map entry) for `map_id`, else the selected map if the cycle judges it, else
    the cycle's only map; UsageError 请指定指标体系 when the cycle judges several."""
    try:
        cycle = get_cycle(instance.db, ref)
    except NotFound as e:   # a typo in --cycle is a usage error (exit 2)
        raise UsageError(e.key, e.message_zh) from None
    by_id = {m["map_id"]: m for m in cycle["maps"]}
    wanted = map_id or selected_map_id(instance)
    if wanted:
        if wanted not in by_id:
            raise UsageError("map not in cycle",
                             f"测评周期「{cycle['name']}」不含指标体系「{wanted}」（含：{'、'.join(by_id) or '无'}）")
        return cycle, by_id[wanted]
    if len(by_id) == 1:
        return cycle, next(iter(by_id.values()))
    raise UsageError("map not specified",
                     f"请指定指标体系（--map ID）：测评周期「{cycle['name']}」含 {len(by_id)} 个：{'、'.join(by_id)}")


def _check_date(cycle, entry, evaluation_date) -> str:
    d = entry["evaluation_date"]
    if evaluation_date is not None and as_date(evaluation_date).isoformat() != d:
        raise UsageError("date not the cycle's",
                         f"测评周期「{cycle['name']}」的测评日期是 {d}，与给出的 {as_date(evaluation_date)} 不同")
    return d


def cycle_coverage(instance, ref, map_id: str | None = None, unit: str | None = None,
                   evaluation_date=None) -> dict:
    cycle, entry = cycle_map(instance, ref, map_id)
    d = as_date(_check_date(cycle, entry, evaluation_date))
    if cycle["read_only"]:
        imap = get_edition(instance, entry["edition_id"])
        report = compute(imap, frozen_items(instance.db, cycle["id"], entry["map_id"]), d, unit)
    else:
        report = coverage(instance, d, unit, map_id=entry["map_id"])
    report["cycle"] = {"name": cycle["name"], "state": cycle["state"], "map_id": entry["map_id"]}
    return report


def cycle_export(instance, ref, out, map_id: str | None = None, evaluation_date=None, **options) -> dict:
    """`export --cycle`: the package of one map of a cycle (options as export_package)."""
    cycle, entry = cycle_map(instance, ref, map_id)
    d = _check_date(cycle, entry, evaluation_date)
    if cycle["read_only"]:
        imap = get_edition(instance, entry["edition_id"])
        report = export_package(instance, out, d, imap=imap,
                                items=frozen_items(instance.db, cycle["id"], entry["map_id"]), **options)
    else:
        report = export_package(instance, out, d, map_id=entry["map_id"], **options)
    report["cycle"] = {"name": cycle["name"], "state": cycle["state"], "map_id": entry["map_id"]}
    return report
