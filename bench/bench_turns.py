"""Cost of a turn against the length of the conversation: one conversation of 300 turns.

Prints the median reply time at turns 1-10 and at turns 291-300 and their ratio beside the goal
(<= 1.25x), for the embedded default (``make run``: SQLite tracker store) and the production
profile (PostgreSQL, Redis lock store, two Rasa servers behind nginx). The anchor is the same
conversation's first turns, measured in the same run, so other load on a shared machine moves both
alike. ``--stock`` also runs the embedded default with Rasa's own SQL tracker store (the "before").

    .venv/bin/python bench/bench_turns.py [--turns 300] [--profiles embedded,production] [--stock]

Bounded: one conversation of --turns messages per profile (at most 1000), loopback only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from profiles import Running, start_embedded, start_prod  # noqa: E402

GOAL = 1.25
# A long conversation: article and personal questions (custom actions), thanks, small talk.
MESSAGES = [
    ("Làm sao để nâng cấp gói?", None),
    ("toi con bao nhieu ngay dung thu", "demo-trial"),
    ("co", None),
    ("goi gia han tiep theo cua toi la gi", "demo-trial"),
    ("Dung lượng mở rộng là gì?", None),
    ("How do I downgrade my plan?", None),
    ("khong", None),
    ("Gói hiện tại của tôi là gì?", "demo-trial"),
    ("du lieu cua toi se bi xoa gi neu ha goi", "demo-trial"),
    ("cam on", None),
]


def converse(running: Running, turns: int) -> List[float]:
    sender = f"turns-{uuid.uuid4().hex[:10]}"
    token = running.token("demo-trial")
    session = requests.Session()
    for text, _ in MESSAGES[:5]:  # warm the server up in another conversation first
        session.post(
            f"{running.url}/webhooks/rest/webhook",
            timeout=60,
            json={"sender": sender + "-warm-up", "message": text, "metadata": {"token": token}},
        )
    latencies = []
    for turn in range(turns):
        text, workspace = MESSAGES[turn % len(MESSAGES)]
        payload = {"sender": sender, "message": text, "metadata": {"token": token}}
        started = time.perf_counter()
        response = session.post(f"{running.url}/webhooks/rest/webhook", json=payload, timeout=60)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200 or not response.json():
            raise RuntimeError(f"turn {turn + 1}: {response.status_code} {response.text[:200]}")
    return latencies


def summary(name: str, latencies: List[float]) -> Dict[str, float]:
    first = statistics.median(latencies[:10]) * 1000
    last = statistics.median(latencies[-10:]) * 1000
    return {"name": name, "first": first, "last": last, "ratio": last / first, "turns": len(latencies)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--profiles", default="embedded,production")
    parser.add_argument("--stock", action="store_true", help="also the embedded default with Rasa's own SQL store")
    args = parser.parse_args()
    if not 20 <= args.turns <= 1000:
        parser.error("--turns must be 20..1000")
    wanted = [p.strip() for p in args.profiles.split(",") if p.strip()]
    starters = []
    if args.stock:
        starters.append(lambda: start_embedded(stock_tracker_store=True))
    if "embedded" in wanted:
        starters.append(start_embedded)
    if "production" in wanted:
        starters.append(start_prod)
    rows = []
    for start in starters:
        running = start()
        try:
            print(f"{running.name}: one conversation of {args.turns} turns...", flush=True)
            rows.append(summary(running.name, converse(running, args.turns)))
        finally:
            running.stop()
    last = f"turns {args.turns - 9}-{args.turns}"
    print("\nMedian reply time, one conversation (ratio against its own first turns, same run)\n")
    print(f"{'profile':<36}{'turns 1-10':>12}{last:>16}{'ratio':>8}{'goal':>8}")
    ok = True
    for row in rows:
        met = row["ratio"] <= GOAL
        ok &= met or "Rasa's SQL store" in row["name"]
        print(
            f"{row['name']:<36}{row['first']:>10.0f}ms{row['last']:>14.0f}ms{row['ratio']:>7.2f}x"
            f"{'<= ' + str(GOAL):>8}  {'MET' if met else 'NOT MET'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
