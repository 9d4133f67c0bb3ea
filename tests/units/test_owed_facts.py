"""The unit_owed_facts aggregate (migration 0070) stays equal to what items × item_codes say,
through every writer of items and codes, and obligations read from it answer exactly as the
grouped recomputation over every item did."""
from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta

import pytest

from archive.core.db import MIGRATIONS, transaction
from archive.evidence.ingest import IngestRequest, ingest_files
from archive.units import facts
from archive.units.obligations import obligations, round_now
from archive.units.ranking import review_counts
from tests import filefactory as ff
from tests.conftest import DATA, MINI_MAP

TRIGGERS = {"unit_owed_codes_insert", "unit_owed_codes_delete", "unit_owed_codes_update",
            "unit_owed_items_review", "unit_owed_items_move", "unit_owed_items_insert",
            "unit_owed_items_delete", "unit_review_days_insert", "unit_review_days_delete",
            "unit_review_days_update", "unit_review_days_item_unit"}


def reference(db) -> dict:
    """The facts computed in Python from the raw rows (independent of the SQL in facts.py)."""
    out: dict = {}
    for unit, mtype, state, created, map_id, code in db.execute(
            "SELECT i.unit, i.material_type, i.review_state, i.created_at, c.map_id, c.code "
            "FROM items i JOIN item_codes c ON c.item_id = i.id WHERE i.deleted_at IS NULL"):
        if unit is None or map_id == "":
            continue
        a, p, r, first = out.get((unit, map_id, code, mtype), (0, 0, 0, None))
        out[(unit, map_id, code, mtype)] = (a + (state == "approved"), p + (state == "pending"),
                                            r + (state == "rejected"),
                                            created if first is None or created < first else first)
    return {k: facts.Fact(*v) for k, v in out.items()}


def review_reference(db) -> dict:
    """(unit, 北京时间 day) → (decisions, rejected), in Python."""
    out: dict = {}
    for unit, decision, at in db.execute("SELECT i.unit, r.decision, r.created_at FROM reviews r "
                                         "JOIN items i ON i.id = r.item_id"):
        if unit is None:
            continue
        day = (datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ") + timedelta(hours=8)).date().isoformat()
        n, rej = out.get((unit, day), (0, 0))
        out[(unit, day)] = (n + 1, rej + (decision == "rejected"))
    return out


def check(db, step: str) -> None:
    have = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                     "AND (name LIKE 'unit_owed_%' OR name LIKE 'unit_review_days_%')")}
    assert have == TRIGGERS, (step, have)
    assert facts.stored(db) == reference(db), step
    assert facts.review_days(db) == review_reference(db), step
    counts = db.execute("SELECT count(*) FROM unit_owed_facts WHERE items <> approved + pending + rejected "
                        "OR items <= 0").fetchone()[0]
    assert counts == 0, step


def test_aggregate_follows_every_writer(instance, tmp_path):
    """Ingest, duplicates, review, requeue, delete/restore, unit and type edits, codes, unit
    rename, map migrate (editions), map take-over, cycle close, reextract, rebuild."""
    from archive.cycles.cycles import add_cycle, close_cycle, start_cycle
    from archive.evidence import items, records
    from archive.evidence.reextract import reextract
    from archive.evidence.review import review_item
    from archive.maps.editions import migrate
    from archive.maps.loading import load_map_text_into
    from archive.units.records import rename_unit

    from archive.units.duties import ensure_seeded

    ensure_seeded(instance)   # the map's units become records (unit edits name known units)
    db = instance.db
    check(db, "empty")

    def add(name, codes, mtype, unit):
        path = tmp_path / f"{name}.pdf"
        if not path.exists():
            ff.make_pdf(path, [name])
        res = ingest_files(instance, [IngestRequest(path, codes, mtype, "2026-03-01", unit=unit, title=name)],
                           user="t")
        assert res.ok, res.refused
        return (res.added or res.duplicates)[0]["id"]

    a = add("宣传照片", ["Ⅲ—2", "Ⅲ—5"], "实景图片", "草场街街道")
    b = add("宣传照片二", ["Ⅲ—2"], "实景图片", "草场街街道")
    c = add("制度", ["Ⅲ—1", "Ⅲ—6"], "规范文件", "市委宣传部")
    d = add("无单位", ["Ⅲ—1"], "规范文件", None)
    e = add("统计", ["Ⅲ—3"], "统计表格", "市教育局")
    check(db, "ingest")
    assert facts.stored(db)[("草场街街道", "mini-test", "Ⅲ—2", "实景图片")].pending == 2
    # the same file again with another code: a duplicate gains the code
    assert add("宣传照片", ["Ⅲ—6"], "实景图片", "草场街街道") == a
    check(db, "duplicate adds a code")

    review_item(instance, a, "approved", None, by="r")
    review_item(instance, b, "rejected", "模糊", by="r")
    review_item(instance, c, "approved", None, by="r")
    check(db, "review")
    items.set_codes(instance, c, ["Ⅲ—1"], user="t")            # fewer leaves: back to 待审核
    assert items.get_item(db, c)["review_state"] == "pending"
    check(db, "codes changed, requeued")
    items.soft_delete(instance, a, user="t")
    check(db, "deleted")
    items.restore(instance, a, user="t")
    check(db, "restored")
    items.update_metadata(instance, b, unit="市委宣传部", user="t")
    check(db, "unit changed")
    items.update_metadata(instance, b, material_type="工作台账", user="t")
    check(db, "type changed")
    items.update_metadata(instance, d, unit="市教育局", user="t")   # from no unit to one
    check(db, "unit given")
    items.update_metadata(instance, e, unit="", user="t")          # and back to none
    check(db, "unit taken away")
    rename_unit(db, "草场街街道", "草场街道办", by="t")
    check(db, "unit renamed")
    assert any(k[0] == "草场街道办" for k in facts.stored(db))

    # an item's first upload moves when the earliest one leaves the group
    with transaction(db):
        db.execute("UPDATE items SET created_at = '2020-01-01T00:00:00Z' WHERE id = ?", [b])
    check(db, "upload time rewritten")
    items.soft_delete(instance, b, user="t")
    check(db, "earliest deleted")

    reextract(instance, user="t")
    check(db, "reextract")
    cyc = add_cycle(instance, "2026 年测评", "2026-07-15", user="t")
    start_cycle(instance, cyc["id"], user="t")
    close_cycle(instance, cyc["id"], user="t")
    check(db, "cycle closed")

    migrate(instance, DATA / "mini_map_v2.yaml", DATA / "mini_v1_to_v2.csv", dry_run=False, user="t")
    check(db, "map migrated to a new edition")
    assert any(k[2] == "Ⅲ—45" for k in facts.stored(db))
    text = (DATA / "mini_map_v2.yaml").read_text(encoding="utf-8").replace("id: mini-test", "id: mini-next")
    load_map_text_into(instance, text, str(tmp_path / "next.yaml"), user="t", replaces="mini-test")
    check(db, "map taken over by a new id")
    assert {k[1] for k in facts.stored(db)} == {"mini-next"}

    before = facts.stored(db)
    assert before
    instance.close()
    instance.db_path.write_bytes(b"")
    records.rebuild(instance, MINI_MAP, user="t")
    check(instance.db, "rebuilt from the records")
    assert facts.stored(instance.db)


def test_no_later_migration_may_rebuild_items_without_the_triggers():
    """A table rebuild drops the triggers on it (0050 did, for search's): any migration after
    0070 that rebuilds items, item_codes or reviews must create them again."""
    import re

    rebuild = re.compile(r"(DROP\s+TABLE\s+(IF\s+EXISTS\s+)?(items|item_codes|reviews)\b)|"
                         r"(RENAME\s+TO\s+(items|item_codes|reviews)\b)", re.I)
    for version, name, sql in MIGRATIONS:
        if version > 70 and rebuild.search(sql):
            missing = [t for t in TRIGGERS if t not in sql]
            assert not missing, f"{version:04d}_{name} rebuilds items/item_codes without {missing}"


def test_an_archive_made_before_the_aggregate_gets_it_filled(tmp_path):
    """tests/data/compat (schema 0007): opening applies 0050.. and 0070 fills the table."""
    import shutil

    from archive.core.instance import Instance

    shutil.copytree(DATA / "compat" / "instance", tmp_path / "old")
    inst = Instance.open(tmp_path / "old")
    try:
        check(inst.db, "upgraded")
        assert len(facts.stored(inst.db)) == 4   # 3 items with a unit, one under two leaves
    finally:
        inst.close()


def review_time(rng: random.Random) -> str:
    """Times either side of 16:00 UTC (midnight in Beijing) and of the month's end."""
    day = rng.choice(["03-01", "03-31", "04-15", "04-30", "05-01", "05-31"])
    return f"2026-{day}T{rng.choice([0, 15, 16, 23]):02d}:00:00Z"


def _generated(instance, rng: random.Random) -> None:
    """Random items (units, types, states, codes, upload times either side of 16:00 UTC),
    then random raw-SQL changes of every kind the triggers watch."""
    db = instance.db
    units = ["市委宣传部", "草场街街道", "市教育局", "市城管局", "市市场监管局", None]
    codes = ["Ⅲ—1", "Ⅲ—2", "Ⅲ—3", "Ⅲ—5", "Ⅲ—6"]
    types = ["规范文件", "情况说明", "实景图片", "统计表格", "工作台账"]
    states = ["pending", "approved", "rejected"]
    with transaction(db):
        for i in range(1, 301):
            sha = f"{i:064x}"
            ts = f"2026-0{rng.randint(3, 5)}-{rng.randint(10, 30)}T{rng.choice([3, 15, 16, 23]):02d}:00:00Z"
            db.execute("INSERT INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', ?)", [sha, ts])
            db.execute("INSERT INTO items (id, sha256, kind, material_type, title, original_name, unit, size, "
                       "review_state, created_at, updated_at) VALUES (?, ?, 'pdf', ?, 't', 'f.pdf', ?, 1, ?, ?, ?)",
                       [i, sha, rng.choice(types), rng.choice(units), rng.choice(states), ts, ts])
            for code in rng.sample(codes, rng.randint(1, 2)):
                db.execute("INSERT INTO item_codes (item_id, map_id, code, added_at) VALUES (?, 'mini-test', ?, ?)",
                           [i, code, ts])
            for _ in range(rng.randint(0, 2)):
                db.execute("INSERT INTO reviews (item_id, decision, reviewer, created_at) VALUES (?, ?, 'r', ?)",
                           [i, rng.choice(["approved", "rejected"]), review_time(rng)])
    check(db, "generated")
    for step in range(400):
        i = rng.randint(1, 300)
        what = rng.choice(["state", "unit", "type", "delete", "restore", "created", "add code",
                           "drop code", "move code", "hard delete", "review", "review moved", "review gone"])
        with transaction(db):
            if what == "state":
                db.execute("UPDATE items SET review_state = ? WHERE id = ?", [rng.choice(states), i])
            elif what == "unit":
                db.execute("UPDATE items SET unit = ? WHERE id = ?", [rng.choice(units), i])
            elif what == "type":
                db.execute("UPDATE items SET material_type = ?, review_state = ? WHERE id = ?",
                           [rng.choice(types), rng.choice(states), i])
            elif what == "delete":
                db.execute("UPDATE items SET deleted_at = '2026-05-01T00:00:00Z' WHERE id = ?", [i])
            elif what == "restore":
                db.execute("UPDATE items SET deleted_at = NULL WHERE id = ?", [i])
            elif what == "created":
                db.execute("UPDATE items SET created_at = ? WHERE id = ?",
                           [f"2026-0{rng.randint(2, 5)}-1{rng.randint(0, 9)}T16:00:00Z", i])
            elif what == "add code":
                db.execute("INSERT OR IGNORE INTO item_codes (item_id, map_id, code, added_at) "
                           "SELECT id, 'mini-test', ?, 'x' FROM items WHERE id = ?", [rng.choice(codes), i])
            elif what == "drop code":
                db.execute("DELETE FROM item_codes WHERE rowid = (SELECT rowid FROM item_codes "
                           "WHERE item_id = ? LIMIT 1)", [i])
            elif what == "move code":
                db.execute("UPDATE OR IGNORE item_codes SET code = ? WHERE rowid = (SELECT rowid FROM item_codes "
                           "WHERE item_id = ? LIMIT 1)", [rng.choice(codes), i])
            elif what == "hard delete":
                db.execute("DELETE FROM item_codes WHERE item_id = ?", [i])
                db.execute("DELETE FROM reviews WHERE item_id = ?", [i])
                db.execute("DELETE FROM items WHERE id = ?", [i])
            elif what == "review":
                db.execute("INSERT INTO reviews (item_id, decision, reviewer, created_at) "
                           "SELECT id, ?, 'r', ? FROM items WHERE id = ?",
                           [rng.choice(["approved", "rejected"]), review_time(rng), i])
            elif what == "review moved":
                db.execute("UPDATE reviews SET decision = ?, created_at = ? WHERE id = "
                           "(SELECT max(id) FROM reviews WHERE item_id = ?)",
                           [rng.choice(["approved", "rejected"]), review_time(rng), i])
            elif what == "review gone":
                db.execute("DELETE FROM reviews WHERE id = (SELECT min(id) FROM reviews WHERE item_id = ?)", [i])
        if step % 50 == 0:
            check(db, f"step {step}: {what}")
    check(db, "after random changes")


@pytest.mark.parametrize("seed", [1, 2])
def test_obligations_from_the_aggregate_equal_the_grouped_query(instance, seed):
    from archive.units.deadlines import set_deadline

    _generated(instance, random.Random(seed))
    set_deadline(instance, "第一轮", "2026-05-31", starts_on="2026-03-01", by="t")
    set_deadline(instance, "第一轮", "2026-04-30", code="Ⅲ—2", by="t")
    units = [None, "草场街街道", "市委宣传部", "市教育局"]
    for today in (date(2026, 4, 1), date(2026, 5, 31), date(2026, 6, 1)):
        for unit in units:
            new = obligations(instance, unit=unit, today=today)
            old = obligations(instance, unit=unit, today=today, source="grouped")
            assert json.dumps(new, ensure_ascii=False) == json.dumps(old, ensure_ascii=False), (today, unit)
    for lo, hi in ((date(2026, 3, 1), date(2026, 5, 31)), (date(2026, 4, 1), date(2026, 4, 30)),
                   (date(2026, 5, 31), date(2026, 5, 31)), (date(2026, 6, 1), date(2026, 6, 30))):
        assert review_counts(instance.db, lo, hi) == review_counts(instance.db, lo, hi, source="grouped"), (lo, hi)
    assert review_counts(instance.db, date(2026, 3, 1), date(2026, 5, 31))
    report = obligations(instance, today=date(2026, 6, 1))
    rows = report["obligations"]
    assert {r["state"] for r in rows} >= {"approved", "submitted", "overdue"}
    assert round_now(instance, date(2026, 6, 1)) == report["round"] and report["round"]["name"] == "第一轮"
    assert any(r["first_submitted"] for r in rows)


def test_fsck_reports_drift_and_reindex_repairs_it(instance, tmp_path, runner):
    """Derived data that drifted (a writer with the triggers missing) is found and rebuilt."""
    from cli import cli

    path = ff.make_pdf(tmp_path / "制度.pdf", ["制度"])
    ingest_files(instance, [IngestRequest(path, ["Ⅲ—1"], "规范文件", "2026-03-01", unit="市委宣传部")],
                 user="t")
    E = lambda *a: runner.invoke(cli, ["--instance", str(instance.root), *a])  # noqa: E731
    assert E("fsck", "--quick").exit_code == 0
    with transaction(instance.db):
        instance.db.execute("DROP TRIGGER unit_owed_items_review")
        instance.db.execute("UPDATE items SET review_state = 'approved'")
    assert [d["key"] for d in facts.drift(instance.db)] == [("市委宣传部", "mini-test", "Ⅲ—1", "规范文件")]
    r = E("fsck", "--quick")
    assert r.exit_code == 1
    assert "(owed triggers missing)" in r.stderr and "unit_owed_items_review" in r.stderr
    assert "(owed facts drift)" in r.stderr and "1 组" in r.stderr and "evidence reindex" in r.stderr
    with transaction(instance.db):   # what an upgrade that put the trigger back would do
        for st in next(sql for v, _, sql in MIGRATIONS if v == 70).split(";\n"):
            if "CREATE TRIGGER unit_owed_items_review" in st:
                instance.db.execute(st)
    r = E("reindex")
    assert r.exit_code == 0 and "已重建单位材料汇总：1 组" in r.stderr
    assert facts.drift(instance.db) == []
    assert E("fsck", "--quick").exit_code == 0
    check(instance.db, "rebuilt")
