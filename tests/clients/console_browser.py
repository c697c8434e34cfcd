"""The console (/app) in Debian's Chromium, headless, with every host but
127.0.0.1 unresolvable: sign in by the mailed link, see "My work", a form
checked in the page (the server's own message at the field), then refused by
the server (two posts closer than the client's posting limit allows: the
error at the post's field) and then accepted, the review appearing live in
the reviewer's list, a rejection without a comment refused and one with a
comment and a reason sending the work back (live), the rework prefilled, the
second round shown as a word diff to the reviewer, an approval, a task that
appears live when the lead starts work and is completed by keyboard alone
(Tab and Enter, focus visible), the instance and load pages, another
workspace's task not found, a cookie request without the CSRF header
refused, the phone layout, sign-out. Screenshots of each page go to
SMMFLOW_SHOTS; each page is audited with axe-core (a11y.py).

Two browsers: a writer and a reviewer (the four-eyes rule keeps a writer
from approving their own work), each signed in by their own link.

Environment: BASE_URL, WRITER_LINK, REVIEWER_LINK, LEAD_TOKEN, START (a
GraphQL request body the lead POSTs to start one more instance), OTHER_TASK
(a task id of another workspace), SMMFLOW_SHOTS.
"""

import json
import os
import time
import urllib.request

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from chromium import browser
from pages import audited, fail, seen, shot, sign_in, wait

BASE = os.environ["BASE_URL"].rstrip("/")


def inbox_items(d):
    return d.find_elements(By.CSS_SELECTOR, "ul.tasks li")


def open_task(d, title_part):
    def click(d):
        # A live update may redraw the list between finding the link and clicking it.
        link = next((a for a in d.find_elements(By.CSS_SELECTOR, "ul.tasks li a") if title_part in a.text), None)
        if link is None:
            return None
        link.click()
        return True
    wait(d, f"a task titled …{title_part}… in My work", click)
    wait(d, "the task page", lambda d: title_part in d.find_element(By.CSS_SELECTOR, "main h1").text)


def post(body, token):
    req = urllib.request.Request(BASE + "/graphql", data=body.encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    answer = json.loads(urllib.request.urlopen(req, timeout=20).read())
    if answer.get("errors"):
        fail(f"the API refused {body}: {answer}")
    return answer


def tab_to(d, condition, what, limit=80):
    """Presses Tab until the focused element `a` meets the JS condition."""
    for _ in range(limit):
        ActionChains(d).send_keys(Keys.TAB).perform()
        if d.execute_script(f"const a = document.activeElement; return !!({condition});"):
            return
    fail(f"{what} cannot be reached with Tab")


def mark(d):
    d.execute_script("window.__marker = 1;")


def not_reloaded(d, what):
    if d.execute_script("return window.__marker") != 1:
        fail(f"{what}: the page was reloaded")


def main():
    d = browser(1200, 900, offline=True)  # wanda, who writes
    e = browser(1200, 900, offline=True)  # eddie, who reviews
    try:
        # Signed out, /app asks for an address.
        d.get(BASE + "/app")
        wait(d, "the sign-in form", EC.presence_of_element_located((By.ID, "email")))
        seen(d, "01-sign-in")
        # The mailed link: a page with a button, then My work.
        d.get(os.environ["WRITER_LINK"])
        seen(d, "02-sign-in-link")
        d.find_element(By.ID, "sign-in").click()
        wait(d, "My work after signing in", lambda d: d.find_element(By.TAG_NAME, "h1").text == "My work")
        wait(d, "two drafts in My work", lambda d: len(inbox_items(d)) == 2)
        if "beta secret" in d.find_element(By.TAG_NAME, "body").text:
            fail("another workspace's work is shown")
        seen(d, "03-my-work")
        sign_in(e, os.environ["REVIEWER_LINK"], "eddie")
        wait(e, "nothing for the reviewer yet", lambda e: "Nothing waits for you." in e.find_element(By.TAG_NAME, "body").text)
        mark(e)

        # A form checked in the page: the server's rule and words, at the field.
        open_task(d, "Draft: spring menu")
        seen(d, "04-task")
        d.find_element(By.ID, "f-text").send_keys("Spring menu is here")
        d.find_element(By.ID, "f-words").send_keys("0")
        d.find_element(By.ID, "complete").click()
        err = wait(d, "the error at the words field", lambda d: d.find_element(By.ID, "f-words-error").text or None)
        if err != "must be at least 1":
            fail(f"the words field says {err!r}, not the server's 'must be at least 1'")
        if d.find_element(By.ID, "f-words").get_attribute("aria-invalid") != "true":
            fail("the field with the error is not marked invalid")
        seen(d, "05-form-error")
        words = d.find_element(By.ID, "f-words")
        words.clear()
        words.send_keys("4")
        # Two posts an hour apart on Moscow's wall clock: only the server knows
        # the client's limits (3 h apart), and says so at the second post.
        for i, at in enumerate(["2030-06-10T10:00", "2030-06-10T11:00"]):
            d.find_element(By.ID, "f-posts-add").click()
            field = wait(d, f"post {i + 1}'s time", lambda d: d.find_element(By.ID, f"f-posts-{i}-publish_at"))
            d.execute_script("arguments[0].value = arguments[1]", field, at)
            Select(d.find_element(By.ID, f"f-posts-{i}-channel")).select_by_value("telegram")
        if "Europe/Moscow" not in d.find_element(By.CSS_SELECTOR, "label[for=f-posts-0-publish_at]").text:
            fail("the time field does not say whose clock it is")
        d.find_element(By.ID, "complete").click()
        err = wait(d, "the server's error at the second post", lambda d: d.find_element(By.ID, "f-posts-1-publish_at-error").text
                   or d.find_element(By.ID, "f-posts-1-error").text or None)
        print(f"server's field error shown: {err}")
        seen(d, "05b-server-error")
        field = d.find_element(By.ID, "f-posts-1-publish_at")
        d.execute_script("arguments[0].value = arguments[1]", field, "2030-06-10T15:00")
        d.find_element(By.ID, "complete").click()
        wait(d, "back in My work", lambda d: d.find_element(By.TAG_NAME, "h1").text == "My work")

        # The reviewer's list shows the review without a reload.
        wait(e, "the review, live", lambda e: any("Review: spring menu" in li.text for li in inbox_items(e)))
        not_reloaded(e, "the review's arrival")
        seen(e, "06-live-review")

        # A rejection needs a comment; with one, the draft goes back (live for the writer).
        mark(d)
        open_task(e, "Review: spring menu")
        e.find_element(By.ID, "reject").click()
        wait(e, "the refusal of a rejection without a comment",
             lambda e: e.find_element(By.CSS_SELECTOR, ".form-note").text or e.find_element(By.ID, "f-comment-error").text or None)
        seen(e, "07-reject-needs-comment")
        e.find_element(By.ID, "f-comment").send_keys("Shorter, please")
        e.find_element(By.CSS_SELECTOR, "input[data-choice=reasons][value=too_long]").click()
        e.find_element(By.ID, "reject").click()
        wait(e, "the reviewer back in My work", lambda e: e.find_element(By.TAG_NAME, "h1").text == "My work")
        wait(d, "the draft back for round 2, live", lambda d: any("Draft: spring menu" in li.text for li in inbox_items(d)))
        not_reloaded(d, "the rework's arrival")
        open_task(d, "Draft: spring menu")
        if "Shorter, please" not in d.find_element(By.TAG_NAME, "body").text:
            fail("the rejection's comment is not on the reworked task")
        seen(d, "08-rework")
        if d.find_element(By.ID, "f-text").get_attribute("value") != "Spring menu is here":
            fail("the rework is not prefilled with round 1's text")
        if d.execute_script("return document.getElementById('f-posts').dataset.count") != "2":
            fail("the rework is not prefilled with round 1's posts")
        for field, value in [("f-text", "Spring menu"), ("f-words", "2")]:
            d.find_element(By.ID, field).clear()
            d.find_element(By.ID, field).send_keys(value)
        d.find_element(By.ID, "complete").click()
        wait(e, "the second review", lambda e: any("Review: spring menu" in li.text for li in inbox_items(e)))
        open_task(e, "Review: spring menu")
        # Both rounds, the latest as a word diff against the first.
        removed = wait(e, "round 2's diff", lambda e: e.find_element(By.CSS_SELECTOR, "section.round[data-round='2'] del").text or None)
        if "is here" not in removed or not e.find_elements(By.CSS_SELECTOR, "section.round[data-round='1']"):
            fail(f"the diff removes {removed!r}")
        if "too long" not in e.find_element(By.CSS_SELECTOR, "section.round[data-round='1']").text:
            fail("round 1 does not say why it was sent back")
        seen(e, "08b-rounds-diff")
        e.find_element(By.ID, "approve").click()
        wait(e, "My work without the review", lambda e: e.find_element(By.TAG_NAME, "h1").text == "My work"
             and not any("spring menu" in li.text for li in inbox_items(e)))

        # Live: the lead starts more work, and it appears without a reload.
        wait(d, "the writer in My work", lambda d: d.find_element(By.TAG_NAME, "h1").text == "My work")
        before = len(inbox_items(d))
        mark(d)
        time.sleep(1)
        post(os.environ["START"], os.environ["LEAD_TOKEN"])
        wait(d, "the new task, live", lambda d: len(inbox_items(d)) == before + 1)
        not_reloaded(d, "the new task's arrival")
        seen(d, "09-live-update")

        # An instance: its diagram drawn offline (the step that waits marked
        # ready), its steps and its log.
        open_task(d, "Draft: opening hours")
        d.find_element(By.ID, "to-instance").click()
        wait(d, "the instance's diagram", lambda d: d.find_element(By.CSS_SELECTOR, "figure.diagram[data-rendered] svg"))
        if not d.find_elements(By.CSS_SELECTOR, "figure.diagram svg .ready"):
            fail("the diagram does not mark the ready step")
        steps = {r.get_attribute("data-step"): r.text for r in d.find_elements(By.CSS_SELECTOR, "tr[data-step]")}
        if "ready" not in steps.get("draft", "") or "waiting" not in steps.get("review", ""):
            fail(f"the steps table: {steps}")
        kinds = [li.get_attribute("data-kind") for li in d.find_elements(By.CSS_SELECTOR, "ol.log li")]
        if kinds[:1] != ["instance.started"] or "task.created" not in kinds:
            fail(f"the log: {kinds}")
        seen(d, "12-instance")

        # The load board: open work by role and person, the period's figures.
        d.get(BASE + "/app#/board?days=30")
        wait(d, "the load board", lambda d: d.find_element(By.TAG_NAME, "h1").text == "Load and figures"
             and d.find_elements(By.CSS_SELECTOR, "table"))
        board = d.find_element(By.TAG_NAME, "main").text
        for needed in ["writer", "eddie", "too long", "Cycle p50"]:
            if needed not in board:
                fail(f"the load board lacks {needed!r}: {board[:1500]}")
        if not d.find_elements(By.CSS_SELECTOR, ".meter[role=img][aria-label]"):
            fail("the bars have no text alternative")
        seen(d, "13-board")

        # By keyboard alone: from My work to a task, its form filled and
        # completed, each control reached with Tab and its focus visible.
        d.get(BASE + "/app#/")
        wait(d, "My work with the live task", lambda d: any("Draft: live news" in li.text for li in inbox_items(d)))
        tab_to(d, "a.textContent.includes('Draft: live news')", "the live task's link")
        ActionChains(d).send_keys(Keys.ENTER).perform()
        wait(d, "the task page, by keyboard", lambda d: "Draft: live news" in d.find_element(By.CSS_SELECTOR, "main h1").text)
        tab_to(d, "a.id === 'f-text'", "the text field")
        ActionChains(d).send_keys("Typed without a mouse").perform()
        tab_to(d, "a.id === 'f-words'", "the words field")
        ActionChains(d).send_keys("4").perform()
        tab_to(d, "a.id === 'complete'", "the Complete button")
        if d.execute_script("return getComputedStyle(document.activeElement).outlineStyle") == "none":
            fail("the focused button shows no focus outline")
        shot(d, "09b-keyboard")
        ActionChains(d).send_keys(Keys.ENTER).perform()
        wait(d, "My work after a keyboard completion", lambda d: d.find_element(By.TAG_NAME, "h1").text == "My work"
             and not any("Draft: live news" in li.text for li in inbox_items(d)))

        # Another workspace's task is not found.
        d.get(BASE + "/app#/task/" + os.environ["OTHER_TASK"])
        wait(d, "not found for another workspace's task", lambda d: d.find_element(By.TAG_NAME, "h1").text == "Not found")
        seen(d, "10-other-workspace")

        # The cookie alone, without the header, is refused.
        status = d.execute_async_script("""
            const done = arguments[0];
            fetch('/graphql', {method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json'}, body: JSON.stringify({query: '{ viewer { login } }'})})
              .then(r => done(r.status), () => done(-1));
        """)
        if status != 403:
            fail(f"a cookie request without the CSRF header got {status}")

        # On a phone.
        d.set_window_size(390, 844)
        d.get(BASE + "/app#/")
        wait(d, "My work on a phone", lambda d: len(inbox_items(d)) >= 1)
        seen(d, "11-phone")
        origins = d.execute_script("return performance.getEntriesByType('resource').map(e => new URL(e.name).origin);")
        if any(o != BASE for o in origins):
            fail(f"the console loaded files from elsewhere: {origins}")
        # A task on the phone: no sideways scrolling, its button within reach.
        open_task(d, "Draft: opening hours")
        wait(d, "the task's form on a phone", lambda d: d.find_element(By.ID, "complete"))
        wide = d.execute_script("""
            return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
              .map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right));
        """)
        if wide:
            shot(d, "11b-phone-task-too-wide")
            fail(f"the task page scrolls sideways on a phone: {wide[:8]} (window {d.execute_script('return window.innerWidth')})")
        seen(d, "11b-phone-task")
        # Sign-out: the next visit asks for an address again.
        d.find_element(By.ID, "sign-out").click()
        wait(d, "signed out", EC.presence_of_element_located((By.ID, "email")))
        d.get(BASE + "/app")
        wait(d, "still signed out after a reload", EC.presence_of_element_located((By.ID, "email")))
    finally:
        d.quit()
        e.quit()
    print(audited())
    print("console checks passed")


if __name__ == "__main__":
    main()
