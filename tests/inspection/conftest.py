from __future__ import annotations

import pytest


@pytest.fixture
def admin():
    from archive.inspection.problems import Actor

    return Actor("审核员甲", "reviewer")


@pytest.fixture
def site(instance):
    from archive.inspection.sites import add_site
    from tests.inspection.helpers import SITE_GPS

    return add_site(instance, {"name": "草场街农贸市场", "kind": "农贸市场", "unit": "草场街街道",
                               "lat": SITE_GPS[0], "lon": SITE_GPS[1], "person": "王片长"}, user="test")

# The web fixtures (accounts per role, logged-in test clients), shared with tests/web.
from tests.web.conftest import app, client, csrf_app, csrf_login, fast_hashing, login, users  # noqa: E402,F401
