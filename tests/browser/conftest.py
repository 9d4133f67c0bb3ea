"""Browser fixtures: the real app served by waitress on 127.0.0.1 (a free port) over a temp
instance with the mini map, and Debian's chromium driven by selenium through chromedriver.

One server and one browser per test process (session scope; under xdist each worker has its
own), so tests must not depend on each other: each makes its own data (own units, titles,
or evaluation dates far from the others') and checks changes relative to what it saw.
Screenshots go to artifacts/screenshots/ (gitignored) at 1366×768, the office screen.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PASSWORD = "browser-pass-2026"
ACCOUNTS = {  # name: (role, unit)
    "clerk": ("clerk", "草场街街道"),
    "clerk_other": ("clerk", "市教育局"),
    "reviewer": ("reviewer", None),
    "auditor": ("auditor", None),
    "admin": ("admin", None),
}
WAIT_S = 15


def _missing_browser() -> str | None:
    for p in (CHROMIUM, CHROMEDRIVER):
        if not (p.exists() and os.access(p, os.X_OK)):
            return f"{p} is missing: install Debian's chromium and chromium-driver (./test does it when root)"
    return None


@pytest.fixture(scope="session")
def live_instance(tmp_path_factory):
    from archive.core.instance import Instance
    from archive.maps.loading import load_map_into
    from archive.users import create_user

    root = tmp_path_factory.mktemp("browser") / "instance"
    inst = Instance(root)
    inst.create()
    load_map_into(inst, ROOT / "tests" / "data" / "mini_map.yaml", user="test")
    for name, (role, unit) in ACCOUNTS.items():
        create_user(inst.db, name, role, unit, PASSWORD, by="test")
    yield inst
    inst.close()


@pytest.fixture(scope="session")
def live_server(live_instance):
    """Base URL of the app served by waitress in a background thread."""
    from archive.web import create_app
    from archive.web.server import create_server     # the server `evidence serve` runs

    app = create_app({"INSTANCE": str(live_instance.root)})
    server = create_server(app, host="127.0.0.1", port=0, threads=6, ident="evidence-test",
                           expose_tracebacks=False)
    port = server.effective_port
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def downloads_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(live_server, downloads_dir):
    reason = _missing_browser()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="evidence-chromium-")
    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", "--window-size=1366,768", "--lang=zh-CN",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {
        "download.default_directory": str(downloads_dir),
        "download.prompt_for_download": False,
        "safebrowsing.enabled": False,
        "intl.accept_languages": "zh-CN,zh",
    })
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER)))
    driver.set_window_size(1366, 768)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads_dir)})
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


class Page:
    """Small helpers over the driver: go, login, wait, screenshots, fetch from the page."""

    def __init__(self, driver, base: str, instance):
        self.d = driver
        self.base = base
        self.instance = instance

    def go(self, path: str):
        self.d.get(self.base + path)
        return self

    def login(self, name: str, password: str = PASSWORD):
        from selenium.webdriver.common.by import By

        self.d.delete_all_cookies()
        self.go("/login")
        self.d.find_element(By.NAME, "name").send_keys(name)
        self.d.find_element(By.NAME, "password").send_keys(password)
        self.d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        self.wait(lambda d: "/login" not in d.current_url or d.find_elements(By.CSS_SELECTOR, ".flash-error"))
        return self

    def wait(self, cond, timeout: float = WAIT_S):
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        # Pages re-render lists (picker results, upload rows): a stale element means "look again".
        return WebDriverWait(self.d, timeout, poll_frequency=0.05,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(cond)

    def submit(self, button):
        """Clicks a form's submit button (a CSS selector or the element) and waits for the page
        the POST answers with: until then the old page's elements (its flash message, its
        table) are still found."""
        from selenium.webdriver.support import expected_conditions as EC

        old = self.css("html")
        (self.css(button) if isinstance(button, str) else button).click()
        self.wait(EC.staleness_of(old))
        self.wait(lambda d: d.execute_script("return document.readyState") == "complete")

    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def visible(self, selector: str):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        return self.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, selector)))

    def shot(self, name: str, full: bool = False) -> Path:
        """artifacts/screenshots/<name>.png: the 1366×768 viewport, or the whole page."""
        path = SHOTS / f"{name}.png"
        if full:  # the whole page at 1366 wide, through the DevTools protocol
            import base64

            height = self.d.execute_script("return Math.min(document.documentElement.scrollHeight, 4000)")
            self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": 1366, "height": max(768, height), "deviceScaleFactor": 1, "mobile": False})
            try:
                data = self.d.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"]
                path.write_bytes(base64.b64decode(data))
            finally:
                self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        else:
            self.d.save_screenshot(str(path))
        return path

    def post(self, path: str, data: dict | None = None) -> int:
        """POST from inside the page with the page's CSRF token (as a forged form would)."""
        return self.d.execute_async_script("""
            const [url, data, done] = arguments;
            const body = new URLSearchParams(data);
            const meta = document.querySelector('meta[name="csrf-token"]');
            if (meta) body.append('csrf_token', meta.content);
            fetch(url, {method: 'POST', body, credentials: 'same-origin', redirect: 'manual'})
              .then(r => done(r.status === 0 ? 302 : r.status)).catch(e => done(-1));
        """, path, data or {})


@pytest.fixture
def page(browser, live_server, live_instance):
    """A Page; afterwards, the browser console must hold no script error and no CSP refusal
    (failed loads are expected: the tests provoke 403s and 404s on purpose)."""
    browser.set_window_size(1366, 768)
    browser.set_script_timeout(20)
    browser.get_log("browser")  # drop what earlier tests left
    yield Page(browser, live_server, live_instance)
    bad = [e["message"] for e in browser.get_log("browser")
           if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
    assert not bad, bad


@pytest.fixture
def tag() -> str:
    """A short unique token for this test's titles and units."""
    return uuid.uuid4().hex[:6]


def ingest(instance, requests, user="test"):
    from archive.evidence.ingest import ingest_files

    result = ingest_files(instance, requests, user=user)
    assert not result.refused, result.refused
    return [a["id"] for a in result.added]


def wait_for_file(directory: Path, suffix: str, timeout: float = WAIT_S) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in directory.iterdir() if p.name.endswith(suffix)]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} downloaded into {directory}: {list(directory.iterdir())}")
