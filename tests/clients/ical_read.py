"""Reads a calendar feed as a calendar application would, with an
independent iCalendar parser (the `icalendar` package), and prints what it
found as JSON: {"status": HTTP status, "events": [...]}."""
import json
import sys

import requests
from icalendar import Calendar


def main(url):
    r = requests.get(url, timeout=10)
    out = {"status": r.status_code, "content_type": r.headers.get("content-type"), "events": []}
    if r.status_code == 200:
        cal = Calendar.from_ical(r.content)
        out["version"] = str(cal.get("VERSION"))
        out["prodid"] = str(cal.get("PRODID"))
        for ev in cal.walk("VEVENT"):
            cats = ev.get("CATEGORIES")
            out["events"].append({
                "uid": str(ev.get("UID")),
                "summary": str(ev.get("SUMMARY")),
                "start": ev.decoded("DTSTART").isoformat(),
                "status": str(ev.get("STATUS")) if ev.get("STATUS") else None,
                "stamp": bool(ev.get("DTSTAMP")),
                "categories": [str(c) for c in cats.cats] if cats is not None else [],
            })
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
