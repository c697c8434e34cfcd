"""Opens an `smmflow report` HTML file in Debian's Chromium (headless) and
checks that its charts render: each figure holds an SVG with the expected
series and categories, drawn (non-white pixels when the SVG is painted on a
canvas). Also parses the CSV report back and checks a few figures.

Environment: REPORT_HTML (the file), REPORT_CSV (the CSV file),
EXPECT (JSON: {"chart-id": ["text", ...]}), CSV_EXPECT (JSON list of
[section, subject, metric, value]), SMMFLOW_SHOTS (screenshots folder).
"""

import csv
import json
import os
import sys

from selenium.webdriver.common.by import By

from chromium import browser


def fail(what):
    print(f"FAILED: {what}", file=sys.stderr)
    sys.exit(1)


PAINTED = """
const [svg, done] = arguments;
const img = new Image();
const data = new XMLSerializer().serializeToString(svg);
img.onload = () => {
  const c = document.createElement('canvas');
  c.width = img.width || 720; c.height = img.height || 300;
  const g = c.getContext('2d');
  g.fillStyle = '#fff'; g.fillRect(0, 0, c.width, c.height);
  g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 0; i < px.length; i += 4) { if (px[i] < 240 || px[i+1] < 240 || px[i+2] < 240) ink++; }
  done(ink);
};
img.onerror = () => done(-1);
img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(data);
"""


def main():
    shots = os.environ["SMMFLOW_SHOTS"]
    expect = json.loads(os.environ["EXPECT"])
    d = browser(1200, 2400)
    try:
        d.get("file://" + os.environ["REPORT_HTML"])
        if len(d.find_elements(By.TAG_NAME, "script")) != 0:
            fail("the report has no JavaScript")
        for chart, texts in expect.items():
            figs = d.find_elements(By.CSS_SELECTOR, f'figure[data-chart="{chart}"]')
            if len(figs) != 1:
                fail(f"one figure {chart}")
            svg = figs[0].find_element(By.TAG_NAME, "svg")
            shapes = len(svg.find_elements(By.CSS_SELECTOR, "rect, path, polyline, circle, line"))
            if shapes < 3:
                fail(f"{chart}: only {shapes} shapes")
            text = " ".join(t.get_attribute("textContent") for t in svg.find_elements(By.TAG_NAME, "text"))
            for t in texts:
                if t not in text:
                    fail(f"{chart}: `{t}` not in its SVG text: {text}")
            ink = d.execute_async_script(PAINTED, svg)
            if ink < 2000:
                fail(f"{chart}: painted only {ink} non-white pixels")
            figs[0].screenshot(os.path.join(shots, f"report-{chart}.png"))
            print(f"ok: {chart} renders ({shapes} shapes, {ink} pixels of ink)")
        d.save_screenshot(os.path.join(shots, "report.png"))
    finally:
        d.quit()
    rows = list(csv.reader(open(os.environ["REPORT_CSV"], newline="", encoding="utf-8")))
    for section, subject, metric, value in json.loads(os.environ["CSV_EXPECT"]):
        found = [r for r in rows if r[:3] == [section, subject, metric]]
        if len(found) != 1 or abs(float(found[0][3]) - float(value)) > 1e-9:
            fail(f"CSV {section},{subject},{metric}: {found} (expected {value})")
    print(f"ok: the CSV reads back ({len(rows)} rows)")
    print("report checks passed")


if __name__ == "__main__":
    main()
