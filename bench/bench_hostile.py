"""Hostile input against `make run`'s stack: does it stall the assistant or grow its memory?

Starts the action server and Rasa (helpdesk.stack, free ports, a scratch database with the demo
workspaces) and prints, each beside its goal (issue 9):

* the time to answer one 100 kB message (goal: under 1 s; answered at the edge, the NLU never
  sees it);
* the latency of an ordinary message sent at the same moment as a 100 kB one, against the same
  message's usual latency measured in this run (goal: within its usual p95);
* the Rasa server's resident memory after 100 hostile messages of 100 kB (goal: under 1.5 GB).

Bounded: a fixed number of messages, loopback only.

    .venv/bin/python bench/bench_hostile.py [--usual 20] [--rounds 5] [--hostile 100]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Tuple

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchstats import percentile  # noqa: E402

from helpdesk.stack import Ports, Stack, free_ports  # noqa: E402

ORDINARY = "lam sao de nang cap goi"
HOSTILE = "nâng cấp gói " * 7700  # 100,100 characters
MIX = ("\u202e\u200f" + "a\u0301\u0302\u0303" + "😀\u200d🔥") * 200  # 2,000: at the limit, so it reaches the NLU
GOAL_HOSTILE_S = 1.0
GOAL_RSS_BYTES = 1.5 * 1024**3


def send(base: str, text: str) -> Tuple[float, int]:
    started = time.monotonic()
    answer = requests.post(
        f"{base}/webhooks/rest/webhook", timeout=120, json={"sender": f"bench-{uuid.uuid4().hex[:12]}", "message": text}
    )
    elapsed = time.monotonic() - started
    answer.raise_for_status()
    return elapsed, len(answer.json())


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--usual", type=int, default=20, help="ordinary messages to measure the usual latency")
    parser.add_argument("--rounds", type=int, default=5, help="100 kB + ordinary pairs sent together")
    parser.add_argument("--hostile", type=int, default=100, help="hostile messages before reading the memory")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    url = f"sqlite:///{scratch / 'billing.db'}"
    env = dict(os.environ, BILLING_DATABASE_URL=url)
    for command in (["init-db"], ["seed-demo"]):
        subprocess.run(
            [sys.executable, "-m", "billing_core", *command], cwd=ROOT, env=env, check=True, capture_output=True
        )
    stack = Stack(
        Ports(*free_ports(3)),
        with_web=False,
        log_dir=scratch / "logs",
        env={"BILLING_DATABASE_URL": url, "HELPDESK_MODE": "demo", "HELPDESK_JWT_SECRET": ""},
    )
    print("starting the action server and Rasa ...", flush=True)
    stack.start(timeout=300)
    base = f"http://127.0.0.1:{stack.ports.rasa}"
    rasa = next(p for p in stack.processes if p.name == "rasa")
    try:
        send(base, ORDINARY)  # warm-up
        usual = [send(base, ORDINARY)[0] for _ in range(args.usual)]
        usual_p50, usual_p95 = percentile(usual, 50), percentile(usual, 95)

        hostile_times, during = [], []
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for _ in range(args.rounds):
                hostile = pool.submit(send, base, HOSTILE)
                ordinary = pool.submit(send, base, ORDINARY)
                hostile_times.append(hostile.result()[0])
                during.append(ordinary.result()[0])
        mix_time = send(base, MIX)[0]

        rss_before = rss(rasa.pid)
        for _ in range(args.hostile):
            send(base, HOSTILE)
        rss_after = rss(rasa.pid)

        hostile_worst, during_median = max(hostile_times), percentile(during, 50)
        print(f"\nhostile input against `make run` ({args.rounds} rounds, {args.hostile} hostile messages)\n")
        print(
            f"  answer to a 100 kB message (worst of {args.rounds}):     {hostile_worst * 1000:7.0f} ms"
            f"   goal < {GOAL_HOSTILE_S * 1000:.0f} ms   {verdict(hostile_worst < GOAL_HOSTILE_S)}"
        )
        print(
            f"  ordinary message sent at the same moment (median):   {during_median * 1000:7.0f} ms"
            f"   goal <= its usual p95 {usual_p95 * 1000:.0f} ms (usual p50 {usual_p50 * 1000:.0f} ms)"
            f"   {verdict(during_median <= usual_p95)}"
        )
        print(f"  2,000 characters of bidi marks, combining marks, emoji: {mix_time * 1000:7.0f} ms")
        print(
            f"  Rasa RSS after {args.hostile} messages of 100 kB:          {rss_after / 1024**2:7.0f} MB"
            f"   goal < {GOAL_RSS_BYTES / 1024**2:.0f} MB   {verdict(rss_after < GOAL_RSS_BYTES)}"
            f"   (before them: {rss_before / 1024**2:.0f} MB)"
        )
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
