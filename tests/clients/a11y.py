"""An accessibility audit of the page a browser shows: Deque's axe-core rules
for WCAG 2.1 A and AA (labels, names, contrast, landmarks, keyboard traps,
ARIA use), run in the page. axe-core comes from the test's npm packages
(scripts/test installs it into target/test-node; SMMFLOW_TEST_NODE_MODULES
says where); it is never served by smmflow.

Any violation fails the check, with each rule, its impact and the elements.
Without axe-core the audit says it was skipped, and fails when CI=true.
"""

import json
import os
import sys

_AXE = None


def _axe_source():
    global _AXE
    if _AXE is None:
        modules = os.environ.get("SMMFLOW_TEST_NODE_MODULES", "")
        path = os.path.join(modules, "axe-core", "axe.min.js")
        if not modules or not os.path.exists(path):
            if os.environ.get("CI") == "true":
                print(f"FAILED: axe-core is missing ({path!r}); scripts/test installs it", file=sys.stderr)
                sys.exit(1)
            print(f"SKIPPED: the accessibility audit needs axe-core ({path!r}); scripts/test installs it")
            _AXE = ""
        else:
            with open(path, encoding="utf-8") as f:
                _AXE = f.read()
    return _AXE


def audit(d, page, audited):
    """Audits the page now shown; `audited` collects (page, rules checked)."""
    source = _axe_source()
    if not source:
        return
    if not d.execute_script("return typeof window.axe === 'object'"):
        d.execute_script(source)
        # The audit itself can fail: an image without a text alternative must be found.
        found = d.execute_async_script("""
            const done = arguments[0];
            const probe = document.createElement('div');
            probe.innerHTML = '<img src="data:," id="axe-probe">';
            document.body.append(probe);
            axe.run(probe, {runOnly: ['image-alt']}).then(r => { probe.remove(); done(r.violations.map(v => v.id)); },
                                                          e => { probe.remove(); done([String(e)]); });
        """)
        if found != ["image-alt"]:
            print(f"FAILED: axe-core did not find a known violation: {found}", file=sys.stderr)
            sys.exit(1)
    result = d.execute_async_script("""
        const done = arguments[0];
        axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
                           resultTypes: ['violations']})
          .then(r => done({violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})),
                           rules: r.passes.length + r.violations.length + r.incomplete.length + r.inapplicable.length}),
                e => done({error: String(e)}));
    """)
    if result.get("error"):
        print(f"FAILED: axe-core did not run on {page}: {result['error']}", file=sys.stderr)
        sys.exit(1)
    if result["violations"]:
        print(f"FAILED: accessibility violations on {page}:\n{json.dumps(result['violations'], indent=2)}", file=sys.stderr)
        sys.exit(1)
    audited.append((page, result["rules"]))
