"""The console's content calendar in Debian's Chromium, headless, network
blocked: a lead of three clients in three timezones sees each publication on
the day it falls on in its client's timezone (not the UTC day), with its
local time; a month view; one client alone; nothing of a client the lead is
not in. Screenshots to SMMFLOW_SHOTS.

Environment: BASE_URL, SIGN_IN_LINK, EXPECT (JSON list of [workspace, day,
time, title]), HIDDEN (a title that must not show), SMMFLOW_SHOTS.
"""

import json
import os
import sys

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from a11y import audit
from chromium import browser

BASE = os.environ["BASE_URL"].rstrip("/")
SHOTS = os.environ["SMMFLOW_SHOTS"]


def fail(what):
    print(f"FAILED: {what}", file=sys.stderr)
    sys.exit(1)


def wait(d, what, cond, timeout=20):
    try:
        return WebDriverWait(d, timeout, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(cond)
    except TimeoutException:
        d.save_screenshot(os.path.join(SHOTS, "calendar-failure.png"))
        fail(f"{what}; the page shows: {d.find_element(By.TAG_NAME, 'body').text[:1500]!r}")


AUDITED = []


def seen(d, name):
    """A page reached: its screenshot, and its accessibility audit."""
    d.save_screenshot(os.path.join(SHOTS, f"{name}.png"))
    audit(d, name, AUDITED)


def pubs(d):
    return [(p.get_attribute("data-workspace"), p.find_element(By.XPATH, "ancestor::li[@data-day]").get_attribute("data-day"),
             p.find_element(By.CSS_SELECTOR, ".time").text, p.find_element(By.CSS_SELECTOR, ".title").text)
            for p in d.find_elements(By.CSS_SELECTOR, ".pub")]


def main():
    expect = sorted(tuple(e) for e in json.loads(os.environ["EXPECT"]))
    d = browser(1400, 900, offline=True)
    try:
        d.get(os.environ["SIGN_IN_LINK"])
        d.find_element(By.ID, "sign-in").click()
        wait(d, "My work", lambda d: d.find_element(By.TAG_NAME, "h1").text == "My work")
        d.get(BASE + "/app#/calendar?view=week&start=2027-03-17")
        wait(d, "the week's publications", lambda d: len(pubs(d)) == len(expect))
        got = sorted(pubs(d))
        if got != expect:
            fail(f"the week shows {got}, expected {expect}")
        if os.environ["HIDDEN"] in d.find_element(By.TAG_NAME, "body").text:
            fail("a publication of a client the lead is not in is shown")
        days = [li.get_attribute("data-day") for li in d.find_elements(By.CSS_SELECTOR, "li.day")]
        if days[0] != "2027-03-15" or len(days) != 7:
            fail(f"the week runs Monday to Sunday: {days}")
        seen(d, "calendar-week")

        d.get(BASE + "/app#/calendar?view=month&start=2027-03-17")
        wait(d, "the month", lambda d: len(d.find_elements(By.CSS_SELECTOR, "li.day")) == 42 and len(pubs(d)) == len(expect))
        seen(d, "calendar-month")

        one = expect[0][0]
        d.get(BASE + f"/app#/calendar?view=week&start=2027-03-17&ws={one}")
        wait(d, "one client alone", lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith("Calendar")
             and sorted(pubs(d)) == [e for e in expect if e[0] == one])
        seen(d, "calendar-one-client")
    finally:
        d.quit()
    print(f"accessibility: {len(AUDITED)} pages audited by axe-core, no violations")
    print("calendar checks passed")


if __name__ == "__main__":
    main()
