"""The approval-loop workload on SpiffWorkflow, for a same-run comparison
with `smmflow-bench engine` (docs/benchmarks.md, "Peers").

Each of --workers threads works its share of --instances from start to
finish: a transition loads the instance's serialized workflow from SQLite,
completes its ready user task (a draft; a review that approves, or rejects
once for one instance in three), runs the engine steps, and writes the
serialized workflow back in a transaction of its own. SQLite in WAL mode
with synchronous=FULL, as smmflow's default. Prints one line of JSON.
"""

import argparse
import json
import os
import sqlite3
import tempfile
import threading
import time

from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

HERE = os.path.dirname(os.path.abspath(__file__))


def connect(path):
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=600)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--dir", default=None, help="where the SQLite file goes (default: a temporary folder)")
    args = ap.parse_args()

    parser = BpmnParser()
    parser.add_bpmn_file(os.path.join(HERE, "approval-loop.bpmn"))
    spec = parser.get_spec("approval_loop")
    serializer = BpmnWorkflowSerializer()

    folder = args.dir or tempfile.mkdtemp(prefix="spiff-bench-")
    path = os.path.join(folder, "spiff.db")
    setup = connect(path)
    setup.execute("CREATE TABLE IF NOT EXISTS workflows (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")
    setup.close()

    latencies = []
    lock = threading.Lock()
    errors = []

    def worker(w):
        db = connect(path)
        mine = []
        try:
            for n in range(w, args.instances, args.workers):
                wf = BpmnWorkflow(spec)
                wf.do_engine_steps()
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO workflows (id, state) VALUES (?, ?)", (n, serializer.serialize_json(wf)))
                db.execute("COMMIT")
                rejected = False
                while True:
                    t0 = time.perf_counter()
                    db.execute("BEGIN IMMEDIATE")
                    (state,) = db.execute("SELECT state FROM workflows WHERE id = ?", (n,)).fetchone()
                    wf = serializer.deserialize_json(state)
                    task = wf.get_next_task(state=TaskState.READY, manual=True)
                    if task is None:
                        db.execute("ROLLBACK")
                        break
                    if task.task_spec.name == "review":
                        approve = not (n % 3 == 0 and not rejected)
                        rejected = rejected or not approve
                        task.data["approved"] = approve
                    else:
                        task.data["text"] = f"post {n}"
                    task.run()
                    wf.do_engine_steps()
                    db.execute("UPDATE workflows SET state = ? WHERE id = ?", (serializer.serialize_json(wf), n))
                    db.execute("COMMIT")
                    mine.append(time.perf_counter() - t0)
                if not wf.is_completed():
                    raise RuntimeError(f"instance {n} did not finish")
        except Exception as e:  # reported, and the run fails
            errors.append(repr(e))
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - started
    if errors:
        raise SystemExit(f"spiff bench failed: {errors[0]}")
    latencies.sort()

    def pct(p):
        return latencies[round((len(latencies) - 1) * p)] * 1000 if latencies else 0.0

    print(json.dumps({
        "peer": "SpiffWorkflow",
        "instances": args.instances,
        "workers": args.workers,
        "transitions": len(latencies),
        "transitions_per_s": len(latencies) / secs,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
    }))


if __name__ == "__main__":
    main()
