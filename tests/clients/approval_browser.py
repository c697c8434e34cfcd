"""Drives Debian's Chromium (headless, through chromedriver) over the
approval pages an external client opens from e-mail. Exits non-zero on any
mismatch; saves screenshots next to SMMFLOW_SHOTS.

Environment: APPROVE_URL (approve it), REJECT_URL (reject it, first without
a comment, then with one), TAMPERED_URL (a changed link), SMMFLOW_SHOTS (a
folder for screenshots).
"""

import os
import sys

from selenium.webdriver.common.by import By

from chromium import body, browser, click_and_wait


def expect(cond, what, d):
    if not cond:
        print(f"FAILED: {what}\n--- page ---\n{body(d)}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def press(d, value):
    click_and_wait(d, d.find_element(By.CSS_SELECTOR, f'button[name="decision"][value="{value}"]'))


def main():
    shots = os.environ["SMMFLOW_SHOTS"]
    d = browser()
    try:
        # Approve: the page shows what is under review, then the decision.
        d.get(os.environ["APPROVE_URL"])
        text = body(d)
        expect("Five winter tips" in text, "the post's text is shown", d)
        expect("https://cdn.acme.example/winter.png" in text, "the visual's link is shown", d)
        expect(d.find_element(By.CSS_SELECTOR, 'a[href="https://cdn.acme.example/winter.png"]') is not None,
               "the visual is a link", d)
        d.save_screenshot(os.path.join(shots, "approval-review.png"))
        press(d, "approve")
        expect("Approved" in body(d), "approving says so", d)
        d.save_screenshot(os.path.join(shots, "approval-approved.png"))

        # The same link again: used.
        d.get(os.environ["APPROVE_URL"])
        expect("already used" in body(d), "a used link is refused", d)
        expect(len(d.find_elements(By.TAG_NAME, "form")) == 0, "a used link has no form", d)

        # Reject without a comment: asked for one; then with one.
        d.get(os.environ["REJECT_URL"])
        expect("Make the headline warmer" in body(d), "the earlier round's comment is shown", d)
        press(d, "reject")
        expect("say in the comment what should change" in body(d), "a rejection needs a comment", d)
        box = d.find_element(By.NAME, "comment")
        box.clear()
        box.send_keys("Too dark <b>picture</b>; use the blue one & shorter text")
        press(d, "reject")
        expect("Rejected" in body(d), "rejecting with a comment says so", d)

        # A changed link: refused, nothing to decide.
        d.get(os.environ["TAMPERED_URL"])
        expect("not valid" in body(d), "a tampered link is refused", d)
        expect(len(d.find_elements(By.TAG_NAME, "form")) == 0, "a tampered link has no form", d)
        d.save_screenshot(os.path.join(shots, "approval-tampered.png"))
    finally:
        d.quit()
    print("browser checks passed")


if __name__ == "__main__":
    main()
