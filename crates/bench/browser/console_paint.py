"""The console's first paint, measured in Debian's Chromium (headless,
every host but 127.0.0.1 unresolvable): sign in by setting the session
cookie, then load /app LOADS times and read the page's own timings:
first-contentful-paint (the page's frame), smmflow:inbox-rendered (the
inbox's data drawn) and smmflow:inbox-painted (the frame after it), each
from the start of the navigation. The first load has an empty cache.

Environment: BASE_URL, SESSION (the cookie's value), LOADS.
Prints one JSON object per load.
"""

import json
import os
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "clients"))
from chromium import browser  # noqa: E402

BASE = os.environ["BASE_URL"].rstrip("/")


def main():
    d = browser(1200, 900, offline=True)
    try:
        d.get(BASE + "/app/assets/console.css")
        d.add_cookie({"name": "smmflow_session", "value": os.environ["SESSION"], "path": "/"})
        for n in range(int(os.environ["LOADS"])):
            d.get("about:blank")
            d.get(BASE + "/app")
            WebDriverWait(d, 30).until(lambda d: d.execute_script(
                "return performance.getEntriesByName('smmflow:inbox-painted').length"))
            t = d.execute_script("""
                const at = (n) => { const e = performance.getEntriesByName(n)[0]; return e ? e.startTime : null; };
                return {fcp: at('first-contentful-paint'), rendered: at('smmflow:inbox-rendered'),
                        painted: at('smmflow:inbox-painted'),
                        items: document.querySelectorAll('ul.tasks li').length,
                        total: document.querySelector('main .meta') ? document.querySelector('main .meta').textContent : ''};
            """)
            t["load"] = n
            print(json.dumps(t), flush=True)
    finally:
        d.quit()


if __name__ == "__main__":
    main()
