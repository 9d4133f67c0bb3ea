"""Numbers past SQLite's integer range in URLs are a 404 or a clamped page, never a 500."""
import pytest

BIG = "99999999999999999999999"


@pytest.mark.parametrize("url", [
    f"/items/{BIG}", f"/items/{BIG}/download", f"/items/{BIG}/thumb", f"/api/items/{BIG}",
    f"/export/{BIG}", f"/export/{BIG}/status",
])
def test_huge_ids_are_404(login, users, url):
    r = login("admin").get(url)
    assert r.status_code == 404
    r.close()


@pytest.mark.parametrize("url", [
    f"/audit?page={BIG}", f"/review?page={BIG}", f"/indicators/Ⅲ—3?page={BIG}", f"/api/items?offset={BIG}",
    "/audit?page=-5", "/review?page=abc",
])
def test_huge_pages_are_clamped(login, users, url):
    assert login("admin").get(url).status_code == 200


def test_huge_search_offset_is_a_message(login, users):
    r = login("admin").get(f"/api/search?q=*&type=统计表格&offset={BIG}")
    assert r.status_code == 400 and r.get_json()["error"]
