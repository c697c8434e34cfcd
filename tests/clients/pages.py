"""What the console's browser checks (console_browser.py, calendar_browser.py,
clients_browser.py, my_work_pages.py) share: failing with what the page
shows, waiting while the console redraws, signing in by a mailed link, and
each page reached kept as a screenshot and audited for accessibility
(a11y.py). Screenshots go to SMMFLOW_SHOTS."""

import os
import sys

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from a11y import audit

SHOTS = os.environ["SMMFLOW_SHOTS"]
# The pages audited so far: (name, rules checked).
AUDITED = []


def fail(what):
    print(f"FAILED: {what}", file=sys.stderr)
    sys.exit(1)


def shot(d, name):
    d.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def wait(d, what, cond, timeout=20):
    # The console replaces its page as data arrives: an element read a moment
    # before may be gone (stale); that is "not yet", not a failure.
    ignored = (StaleElementReferenceException, NoSuchElementException)
    try:
        return WebDriverWait(d, timeout, ignored_exceptions=ignored).until(cond)
    except TimeoutException:
        script = os.path.splitext(os.path.basename(sys.argv[0]))[0]
        shot(d, f"{script}-failure")
        fail(f"{what}; the page shows: {d.find_element(By.TAG_NAME, 'body').text[:1500]!r}")


def sign_in(d, link, who=""):
    """Opens a mailed sign-in link, presses its button, and waits for My
    work (signed in as `who`, when given)."""
    d.get(link)
    d.find_element(By.ID, "sign-in").click()
    wait(d, f"My work for {who or 'the link'}", lambda d: d.find_element(By.TAG_NAME, "h1").text == "My work"
         and who in d.find_element(By.ID, "who").text)


def seen(d, name):
    """A page reached: its screenshot, and its accessibility audit."""
    shot(d, name)
    audit(d, name, AUDITED)


def audited():
    """The line the Rust side checks: how many pages, no violations."""
    return f"accessibility: {len(AUDITED)} pages audited by axe-core, no violations: {', '.join(p for p, _ in AUDITED)}"
