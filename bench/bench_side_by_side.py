"""CPU per message of this checkout against an earlier revision, both measured at the same moment.

This machine's speed changes by a fifth or more from one hour to the next, so figures measured one
after the other compare the hours, not the code. This script checks out REV in a temporary
worktree (with this checkout's trained model and Python environments), starts the embedded
default (or, with --profile production, the production profile with one Rasa server) of both side by side, and puts the same open-loop load (bench_users.py's simulated users)
on each at once. It prints each pair and the ratio, ours / REV, the figure the machine's speed
does not move.

    .venv/bin/python bench/bench_side_by_side.py 8933cb8              # 3 pairs of 100 users each
    .venv/bin/python bench/bench_side_by_side.py HEAD~3 --users 80 --pairs 2
    .venv/bin/python bench/bench_side_by_side.py f575cdb --profile production --users 100

Bounded: --pairs pairs of --hold s each (plus a 10 s unmeasured warm-up per stack); loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter inside a checkout: that checkout's bench and stack code is what runs.
ONE_SIDE = r"""
import json, sys, uuid
root, users, hold, profile = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
sys.path[:0] = [root + "/bench", root]
import bench_users
import profiles
running = profiles.start_embedded() if profile == "embedded" else profiles.start_prod(rasa_servers=1)
try:
    bench_users.measure(running, running.url, min(users, 50), 10, uuid.uuid4().hex[:6])  # warm-up
    step = bench_users.measure(running, running.url, users, hold, uuid.uuid4().hex[:6])
    n = max(len(step.latencies), 1)
    print("RESULT" + json.dumps({
        "messages": len(step.latencies), "errors": sum(step.errors.values()), "error_kinds": step.errors, "p95_ms": step.p95 * 1000,
        "cpu_ms": step.cpu_ms(), "rasa_ms": step.cpu_ms("rasa"), "load": step.load,
    }))
finally:
    running.stop()
"""


def worktree_of(rev: str, where: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), rev], check=True, capture_output=True
    )
    (where / "models").mkdir(exist_ok=True)
    shutil.copy2(ROOT / "models" / "helpdesk.tar.gz", where / "models" / "helpdesk.tar.gz")
    for venv in (".venv", ".venv-core"):
        if (ROOT / venv).exists() and not (where / venv).exists():
            (where / venv).symlink_to(ROOT / venv)
    return where


def start_side(root: Path, users: int, hold: float, profile: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", ONE_SIDE, str(root), str(users), str(hold), profile],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ, RASA_TELEMETRY_ENABLED="false"),
    )


def result_of(side: subprocess.Popen) -> dict:
    out, _ = side.communicate(timeout=900)
    line = next((line for line in out.splitlines() if line.startswith("RESULT")), None)
    if side.returncode or line is None:
        raise SystemExit(f"a side failed (exit {side.returncode}); run bench_users.py --quick in it to see why")
    return json.loads(line[len("RESULT") :])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rev", help="the earlier revision (git rev-parse syntax)")
    parser.add_argument("--users", type=int, default=100, help="simulated users on each side")
    parser.add_argument("--hold", type=float, default=30.0)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument(
        "--profile",
        choices=("embedded", "production"),
        default="embedded",
        help="production: each side its own PostgreSQL, Redis, nginx and one Rasa server",
    )
    args = parser.parse_args(argv)
    if not (ROOT / "models" / "helpdesk.tar.gz").exists():
        raise SystemExit("no trained model: run scripts/train_if_changed.sh first")
    scratch = Path(tempfile.mkdtemp(prefix="helpdesk-side-by-side-"))
    old = scratch / f"rev-{uuid.uuid4().hex[:6]}"
    ratios = []
    try:
        worktree_of(args.rev, old)
        roots = {"ours": ROOT, args.rev: old}
        print(
            f"ours ({ROOT}) against {args.rev}, {args.profile}, {args.users} users each, {args.hold:.0f} s, same moment"
        )
        for pair in range(1, args.pairs + 1):
            sides = {name: start_side(root, args.users, args.hold, args.profile) for name, root in roots.items()}
            got = {name: result_of(side) for name, side in sides.items()}
            ours, theirs = got["ours"], got[args.rev]
            ratios.append(ours["rasa_ms"] / theirs["rasa_ms"])
            for name, r in got.items():
                print(
                    f"  pair {pair} {name:>10}: {r['messages']} messages, {r['errors']} errors{' ' + str(r['error_kinds']) if r['error_kinds'] else ''}, p95 {r['p95_ms']:.0f} ms,"
                    f" CPU {r['cpu_ms']:.1f} ms/message (Rasa {r['rasa_ms']:.1f}), load {r['load']:.1f}"
                )
            print(f"  pair {pair} Rasa CPU per message, ours / {args.rev}: {ratios[-1]:.2f}")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"ours / {args.rev}, Rasa CPU per message: {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} pairs (goal: < 1)"
    )
    return 0 if max(ratios) < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
