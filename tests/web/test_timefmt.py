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
