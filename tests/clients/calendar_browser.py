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

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from chromium import browser
from pages import audited, fail, seen, sign_in, wait

BASE = os.environ["BASE_URL"].rstrip("/")


def pubs(d):
    return [(p.get_attribute("data-workspace"), p.find_element(By.XPATH, "ancestor::li[@data-day]").get_attribute("data-day"),
             p.find_element(By.CSS_SELECTOR, ".time").text, p.find_element(By.CSS_SELECTOR, ".title").text)
            for p in d.find_elements(By.CSS_SELECTOR, ".pub")]


def main():
    expect = sorted(tuple(e) for e in json.loads(os.environ["EXPECT"]))
    d = browser(1400, 900, offline=True)
    try:
        sign_in(d, os.environ["SIGN_IN_LINK"])
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

        # One client, chosen in the page and shown with its button.
        one = expect[0][0]
        d.get(BASE + "/app#/calendar?view=week&start=2027-03-17")
        wait(d, "the week again", lambda d: len(pubs(d)) == len(expect))
        Select(d.find_element(By.ID, "cal-ws")).select_by_value(one)
        d.find_element(By.CSS_SELECTOR, "#cal-filter button[type=submit]").click()
        wait(d, "one client alone", lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith("Calendar")
             and sorted(pubs(d)) == [e for e in expect if e[0] == one])
        seen(d, "calendar-one-client")
    finally:
        d.quit()
    print(audited())
    print("calendar checks passed")


if __name__ == "__main__":
    main()
