"""My work past its first page, in Debian's Chromium (headless, offline):
a writer with more open tasks than one page (100) sees the first 100 and
the total, "Show 100 more" brings the rest, and the button goes.

Environment: BASE_URL, SIGN_IN_LINK, TOTAL, SMMFLOW_SHOTS.
"""

import os

from selenium.webdriver.common.by import By

from chromium import browser
from pages import audited, fail, seen, sign_in, wait


def main():
    total = int(os.environ["TOTAL"])
    d = browser(1200, 900, offline=True)
    try:
        sign_in(d, os.environ["SIGN_IN_LINK"])
        wait(d, "the first page", lambda d: len(d.find_elements(By.CSS_SELECTOR, "ul.tasks li")) == 100)
        meta = d.find_element(By.CSS_SELECTOR, "main p.meta").text
        if meta != f"{total} open tasks for you (the first 100 shown)":
            fail(f"the count says {meta!r}")
        d.find_element(By.ID, "more").click()
        wait(d, "the rest of the work", lambda d: len(d.find_elements(By.CSS_SELECTOR, "ul.tasks li")) == total)
        if d.find_elements(By.ID, "more"):
            fail("'Show 100 more' stays when everything is shown")
        ids = [li.get_attribute("data-task") for li in d.find_elements(By.CSS_SELECTOR, "ul.tasks li")]
        if len(set(ids)) != total:
            fail(f"{total - len(set(ids))} tasks shown twice")
        seen(d, "20-my-work-all")
    finally:
        d.quit()
    print(audited())
    print("my work pages checks passed")


if __name__ == "__main__":
    main()
