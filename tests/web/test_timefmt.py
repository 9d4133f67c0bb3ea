"""Pages show 北京时间; the DB keeps UTC."""
from archive.web.timefmt import localdate, localtime


def test_utc_is_shown_as_beijing_time():
    assert localtime("2026-06-30T18:30:00Z") == "2026-07-01 02:30"   # crosses midnight and the month
    assert localdate("2026-12-31T16:00:00Z") == "2027-01-01"
    assert localtime(None) == "" and localtime("not a time") == "not a time"


def test_item_page_shows_beijing_time(login, items, instance):
    instance.db.execute("UPDATE items SET created_at = '2026-03-01T20:15:00Z' WHERE id = ?", [items["photo"]])
    page = login("auditor").get(f"/items/{items['photo']}").get_data(as_text=True)
    assert "2026-03-02 04:15" in page and "2026-03-01T20:15:00Z" not in page


def test_audit_filter_days_are_beijing_days(login, users, instance):
    from archive.web.timefmt import utc_day_end, utc_day_start

    assert utc_day_start("2026-07-01") == "2026-06-30T16:00:00Z"
    assert utc_day_end("2026-07-01") == "2026-07-01T15:59:59Z"
    instance.db.execute("INSERT INTO audit (at, user, action) VALUES ('2026-06-30T17:00:00Z', 'x', 'probe.early')")
    instance.db.execute("INSERT INTO audit (at, user, action) VALUES ('2026-07-01T17:00:00Z', 'x', 'probe.late')")
    page = login("auditor").get("/audit?from=2026-07-01&to=2026-07-01&user=x").get_data(as_text=True)
    rows = page.split("<tbody>", 1)[1]
    assert "probe.early" in rows and "probe.late" not in rows   # 07-01 01:00 vs 07-02 01:00 北京时间
    assert "2026-07-01 01:00" in rows
