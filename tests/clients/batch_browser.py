"""Drives Debian's Chromium (headless, through chromedriver) over the batch
approval page a client opens from one mail for a week's posts. Exits
non-zero on any mismatch; saves screenshots next to SMMFLOW_SHOTS.

Environment: BATCH_URL (the batch link, five posts), API_URL and API_TOKEN
(the client's GraphQL endpoint and token) and MEANWHILE_TASK (the task id of
the fourth post, approved in the API while the page is open), SMMFLOW_SHOTS.
"""

import os
import sys

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from chromium import body, browser, click_and_wait


def expect(cond, what, d):
    if not cond:
        print(f"FAILED: {what}\n--- page ---\n{body(d)}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def submit(d):
    click_and_wait(d, d.find_element(By.CSS_SELECTOR, 'form button[type="submit"]'))


def item(d, i):
    return d.find_element(By.ID, f"item-{i}")


def main():
    shots = os.environ["SMMFLOW_SHOTS"]
    d = browser()
    try:
        d.get(os.environ["BATCH_URL"])
        text = body(d)
        for n in range(1, 5):
            expect(f"Post {n} text" in text, f"post {n} is shown", d)
        expect("Five <b>winter</b> tips" in text, "markup in a post is shown as text", d)
        expect(len(d.find_elements(By.CSS_SELECTOR, "section.item b")) == 0, "and not as markup", d)
        d.save_screenshot(os.path.join(shots, "batch-review.png"))
        for i in range(4):
            item(d, i).find_element(By.CSS_SELECTOR, f'input[name="decision_{i}"][value="approve"]').click()
        item(d, 1).find_element(By.NAME, "comment_1").send_keys("Lovely")
        item(d, 4).find_element(By.CSS_SELECTOR, 'input[name="decision_4"][value="reject"]').click()
        item(d, 4).find_element(By.NAME, "comment_4").send_keys("Too pushy, and the price is wrong")
        item(d, 4).find_element(By.NAME, "reason_4_tone").click()
        item(d, 4).find_element(By.NAME, "reason_4_facts").click()
        # Meanwhile the fourth post is approved in the API.
        r = requests.post(os.environ["API_URL"], timeout=15,
                          headers={"Authorization": f"Bearer {os.environ['API_TOKEN']}"},
                          json={"query": "mutation($t: ID!) { approveTask(input: {taskId: $t, comment: \"ok from the app\"}) { userErrors { message } } }",
                                "variables": {"t": os.environ["MEANWHILE_TASK"]}})
        expect(r.ok and r.json()["data"]["approveTask"]["userErrors"] == [], "the API approves post 4 meanwhile", d)
        submit(d)
        d.save_screenshot(os.path.join(shots, "batch-decided.png"))
        expect(item(d, 0).get_attribute("data-status") == "approved", "post 1 is approved", d)
        expect(item(d, 4).get_attribute("data-status") == "rejected", "post 5 is rejected", d)
        expect("Decided elsewhere meanwhile" in item(d, 3).text, "post 4 shows as decided elsewhere", d)
        # The same form sent again (back, send): nothing is decided twice.
        d.back()
        WebDriverWait(d, 15).until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
        buttons = d.find_elements(By.CSS_SELECTOR, 'form button[type="submit"]')
        if buttons:
            submit(d)
        expect("Nothing here waits for your decision" in body(d), "a second submit decides nothing", d)
    finally:
        d.quit()
    print("browser checks passed")


if __name__ == "__main__":
    main()
