"""billing_core speed: decisions per second in process, and a check through the database.

Goals (billing_core issue): at least 20,000 decisions per second on one core (Python runs this loop
on one core), and a check through the database with p95 under 5 ms on SQLite. Both are printed
next to their goal in the same run. Works in either environment (SQLAlchemy 1.4 or 2.x).

    .venv/bin/python bench/bench_core.py [--seconds 3] [--checks 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchstats import percentile  # noqa: E402

from billing_core import (  # noqa: E402
    ChangeRequest,
    Cycle,
    SqlAlchemyUnitOfWork,
    check_change,
    create_schema,
    decide,
    load_catalog,
    seed_demo,
)

DECISIONS_GOAL = 20_000
DB_P95_GOAL_MS = 5.0

# A mix of what customers ask: upgrades, downgrades, Free, cycle changes, add-ons, blocked ones.
CHECKS = [
    ("demo-monthly", ChangeRequest("app_builder", "starter", Cycle.YEARLY)),
    ("demo-monthly", ChangeRequest("digital_workspace", "standard", Cycle.YEARLY, 5)),
    ("demo-trial", ChangeRequest("digital_workspace", "free")),
    ("demo-trial-ended", ChangeRequest("digital_workspace", "free")),
    ("demo-yearly", ChangeRequest("digital_workspace", "starter", Cycle.MONTHLY)),
    ("demo-yearly", ChangeRequest("app_builder", "starter")),
    ("demo-ow-trial-ended", ChangeRequest("operations_workflow", "free")),
    ("demo-ow-trial-ended", ChangeRequest("operations_workflow", "standard", Cycle.MONTHLY, 8)),
    ("demo-downgrade-scheduled", ChangeRequest("digital_workspace", "starter")),
    ("demo-pending-payment", ChangeRequest("digital_workspace", "standard")),
    ("demo-free", ChangeRequest("digital_workspace", "starter", Cycle.MONTHLY, 1)),
    ("demo-monthly", ChangeRequest("digital_workspace", "premium", Cycle.MONTHLY, 5, {"storage": 50})),
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="bench-core-")
    url = args.database_url or f"sqlite:///{os.path.join(scratch, 'billing.db')}"
    now = datetime.now(timezone.utc)
    create_schema(url)
    seed_demo(SqlAlchemyUnitOfWork(url), now)
    catalog = load_catalog()

    # In process: the workspaces loaded once, decide() in a tight loop.
    workspaces = {}
    with SqlAlchemyUnitOfWork(url) as uow:
        for workspace_id, _ in CHECKS:
            workspaces[workspace_id] = uow.workspaces.get(workspace_id)
    pairs = [(workspaces[w], r) for w, r in CHECKS]
    count = 0
    started = time.perf_counter()
    deadline = started + args.seconds
    for workspace, request in itertools.cycle(pairs):
        decide(catalog, workspace, request, now)
        count += 1
        if count % 500 == 0 and time.perf_counter() >= deadline:
            break
    per_second = count / (time.perf_counter() - started)

    # Through the database: a unit of work per check, as the actions do.
    latencies = []
    for i in range(args.checks):
        workspace_id, request = CHECKS[i % len(CHECKS)]
        t0 = time.perf_counter()
        check_change(SqlAlchemyUnitOfWork(url), workspace_id, request, now)
        latencies.append((time.perf_counter() - t0) * 1000)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)

    dialect = url.split(":", 1)[0]
    print(
        f"decisions in process : {per_second:,.0f} per second   (goal >= {DECISIONS_GOAL:,}: "
        f"{'MET' if per_second >= DECISIONS_GOAL else 'NOT MET'}, x{per_second / DECISIONS_GOAL:.1f})"
    )
    print(
        f"check through {dialect:<7}: p50 {p50:.2f} ms, p95 {p95:.2f} ms over {args.checks} checks   "
        f"(goal p95 < {DB_P95_GOAL_MS} ms: {'MET' if p95 < DB_P95_GOAL_MS else 'NOT MET'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
