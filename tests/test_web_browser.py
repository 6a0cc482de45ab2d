"""End to end in a real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium): the real server (uvicorn on an ephemeral loopback port) over an archive imported from
tests/data/french-enterprise; open the lists, a list, a thread, fold and unfold quotes with the
mouse and the keyboard, follow a permalink, search (highlighted results). Saves
test-artifacts/thread.png."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings, service_missing
from tests.webarchive import archive_settings, build_archive
from web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
START_TIMEOUT = 20.0
WAIT = 10.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The archive served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    settings = archive_settings(make_settings(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", ()))
    db = build_archive(settings)
    config = uvicorn.Config(
        create_app(settings, db), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)  # polling a condition with a deadline, not a sleep as synchronisation
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(START_TIMEOUT)
    db.dispose()


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        service_missing("Debian chromium and chromium-driver are not installed")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1200,1600",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.implicitly_wait(WAIT)
    yield driver
    driver.quit()


def _is_open(driver, element) -> bool:  # type: ignore[no-untyped-def]
    return driver.execute_script("return arguments[0].open", element)


def test_browse_fold_permalink_search(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    assert "comite-direction" not in browser.page_source  # private, and we are anonymous
    browser.find_element(By.LINK_TEXT, "rse-pilotes").click()
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("rse-pilotes")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")
    browser.find_element(By.CSS_SELECTOR, "table.threads tbody a").click()
    WebDriverWait(browser, WAIT).until(expected_conditions.url_contains("/t/"))

    zone = browser.find_element(By.CSS_SELECTOR, "details.zone.z-quote")
    quoted = zone.find_element(By.CSS_SELECTOR, ".quoted")
    summary = zone.find_element(By.TAG_NAME, "summary")
    assert not _is_open(browser, zone) and not quoted.is_displayed()
    summary.click()
    assert _is_open(browser, zone) and quoted.is_displayed()
    summary.click()
    assert not _is_open(browser, zone)
    summary.send_keys(Keys.ENTER)  # the toggle works from the keyboard too
    assert _is_open(browser, zone)
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "thread.png"))

    subject = browser.find_element(By.TAG_NAME, "h1").text
    browser.find_element(By.LINK_TEXT, "Lien permanent").click()
    WebDriverWait(browser, WAIT).until(expected_conditions.url_contains("/m/"))
    assert browser.find_element(By.CSS_SELECTOR, "article.msg")
    assert subject.split(":")[0] in browser.find_element(By.TAG_NAME, "h1").text

    box = browser.find_element(By.ID, "q")
    box.send_keys("climat", Keys.ENTER)
    WebDriverWait(browser, WAIT).until(expected_conditions.url_contains("/search"))
    assert browser.find_elements(By.CSS_SELECTOR, "ol.results li")
    assert browser.find_elements(By.CSS_SELECTOR, "ol.results mark")  # highlighted words


def test_artifact_dir_is_ignored() -> None:
    ignored = (Path(__file__).parent.parent / ".gitignore").read_text()
    assert "/test-artifacts/" in ignored
