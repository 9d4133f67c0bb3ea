"""Units fixtures: the mini map's instance with real items ingested and reviewed."""
from __future__ import annotations

import pytest

from tests import filefactory
from tests.web.conftest import (app, client, csrf_app, csrf_login, fast_hashing, login,  # noqa: F401
                                users)


@pytest.fixture
def add_item(instance, tmp_path):
    """add_item(code, type, unit, seed) → item id, a real file through the one ingest pipeline."""
    from archive.evidence.ingest import IngestRequest, ingest_files

    counter = {"n": 0}

    def _add(code: str, material_type: str, unit: str, date: str = "2026-03-01") -> int:
        counter["n"] += 1
        n = counter["n"]
        path = filefactory.make_csv(tmp_path / "src" / f"台账{n}.csv",
                                    [["日期", "事项"], [date, f"{unit}{code}{material_type}第{n}份"]])
        result = ingest_files(instance, [IngestRequest(path, [code], material_type, date=date, unit=unit,
                                                       title=f"材料{n}")], user="test")
        assert not result.refused, result.refused
        return result.added[0]["id"]

    return _add


@pytest.fixture
def review(instance):
    from archive.evidence.review import review_item

    def _review(item_id: int, decision: str, comment: str | None = None):
        return review_item(instance, item_id, decision, comment, by="reviewer")

    return _review
