"""Debian's Chromium, headless, through chromedriver: what the browser
checks (approval_browser.py, batch_browser.py, report_browser.py) share."""

import shutil

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def browser(width=1280, height=1400, offline=False):
    """`offline`: every host name but 127.0.0.1 fails to resolve, so a page
    that reaches for the internet (a CDN) finds nothing."""
    opts = Options()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              f"--window-size={width},{height}", "--no-first-run", "--no-default-browser-check"]:
        opts.add_argument(a)
    if offline:
        opts.add_argument("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(30)
    return d


def body(d):
    return d.find_element(By.TAG_NAME, "body").text


def click_and_wait(d, element):
    """Clicks a submit button and waits for the next page to be there."""
    old = d.find_element(By.TAG_NAME, "html")
    element.click()

    # The old page is gone once its root element is stale; chromedriver
    # sometimes reports a detached node as another WebDriverException.
    def gone(_):
        try:
            old.is_enabled()
            return False
        except WebDriverException:
            return True

    WebDriverWait(d, 15).until(gone)
    WebDriverWait(d, 15).until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
