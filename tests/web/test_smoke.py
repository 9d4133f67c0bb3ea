def test_pages_render(login, items):
    for who in ["clerk", "reviewer", "auditor", "admin"]:
        c = login(who)
        for url in ["/", "/indicators/Ⅲ—2", "/indicators/Ⅰ—1", f"/items/{items['photo']}", f"/items/{items['ledger']}",
                    "/api/indicators?q=学习", "/api/items", f"/api/items/{items['photo']}"]:
            r = c.get(url)
            assert r.status_code == 200, (who, url, r.status_code, r.data[:500])
