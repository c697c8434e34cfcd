"""Opens GraphiQL (`/`) in Debian's Chromium, headless, with every host but
127.0.0.1 unresolvable (no CDN, no internet): the editor renders, every file
the page loaded came from the server itself, a query typed with the token in
the headers pane answers, and a subscription started from GraphiQL (the same
header, sent as the connection_init payload) shows an event that happens
while it runs.

Environment: BASE_URL, TOKEN, QUERY and QUERY_EXPECT (a text the answer
shows), SUBSCRIPTION, TRIGGER (a JSON GraphQL request body POSTed with the
token once the subscription runs) and SUB_EXPECT, SMMFLOW_SHOTS.
"""

import json
import os
import sys
import time
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from chromium import browser


def fail(what):
    print(f"FAILED: {what}", file=sys.stderr)
    sys.exit(1)


def editor_text(d, pane):
    return d.execute_script(
        "const e = document.querySelector(arguments[0] + ' .CodeMirror');"
        "return e ? e.CodeMirror.getValue() : null;",
        pane,
    )


def set_editor(d, pane, text):
    d.execute_script("document.querySelector(arguments[0] + ' .CodeMirror').CodeMirror.setValue(arguments[1]);", pane, text)
    time.sleep(1)  # GraphiQL parses the edited document after a short pause


def wait_result(d, expect, what):
    try:
        WebDriverWait(d, 20).until(lambda d: expect in (editor_text(d, ".result-window") or ""))
    except Exception:
        fail(f"{what}: the result pane never showed {expect!r}; it shows {editor_text(d, '.result-window')!r}")


def main():
    base = os.environ["BASE_URL"].rstrip("/")
    token = os.environ["TOKEN"]
    shots = os.environ["SMMFLOW_SHOTS"]
    d = browser(1400, 900, offline=True)
    try:
        # The headers pane is kept in the origin's storage: fill it first.
        d.get(base + "/healthz")
        d.execute_script(
            "localStorage.setItem('graphiql:headers', arguments[0]);",
            json.dumps({"Authorization": f"Bearer {token}"}),
        )
        d.get(base + "/")
        WebDriverWait(d, 20).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror")))
        if "Loading..." in d.find_element(By.TAG_NAME, "body").text:
            fail("GraphiQL stays at Loading...")
        origins = d.execute_script(
            "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin);"
        )
        foreign = [o for o in origins if o != base]
        if foreign:
            fail(f"the page loaded files from elsewhere: {foreign}")
        if len(origins) < 4:
            fail(f"expected the page's four files from the server, saw {origins}")
        d.save_screenshot(os.path.join(shots, "graphiql-empty.png"))

        set_editor(d, ".graphiql-query-editor", os.environ["QUERY"])
        d.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
        wait_result(d, os.environ["QUERY_EXPECT"], "the query")
        d.save_screenshot(os.path.join(shots, "graphiql-query.png"))

        set_editor(d, ".graphiql-query-editor", os.environ["SUBSCRIPTION"])
        d.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
        time.sleep(1.5)  # the socket opens and subscribes before the event happens
        req = urllib.request.Request(
            base + "/graphql",
            data=os.environ["TRIGGER"].encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        answer = json.loads(urllib.request.urlopen(req, timeout=20).read())
        if answer.get("errors"):
            fail(f"the trigger failed: {answer}")
        wait_result(d, os.environ["SUB_EXPECT"], "the subscription")
        d.save_screenshot(os.path.join(shots, "graphiql-subscription.png"))
    finally:
        d.quit()
    print("graphiql checks passed")


if __name__ == "__main__":
    main()
