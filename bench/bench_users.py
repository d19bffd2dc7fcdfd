"""How many chatting users a profile holds: open-loop simulated users, ramped until p95 > 1 s.

Each simulated user is one conversation that sends a message every 10 s ± 30 % (uniform 7-13 s,
measured from its previous message, whether or not the answer is back: open loop; a message due
while the previous one is unanswered is sent as soon as the answer arrives and its wait counts in
its latency). The mix is what customers do: help-article questions (anonymous), personal questions
(a demo customer token per user) and checkouts (start, renewal mode, confirmation), 5 : 3 : 2.
Users arrive spread over one think time and the step is held for --hold seconds; the number of
users grows step by step until a step has p95 >= 1 s or any error (HTTP error, timeout, empty
answer). The figure is the largest step held with p95 < 1 s and zero errors. Each ramp starts
with a warm-up that is not measured (--warmup s held with up to 100 users): a Rasa server just
started traces TensorFlow's prediction again for each new message length and fills its caches and
connection pools, and without it the first step counted that start-up as load (on the 2-server ramp
the second server is still cold after the 1-server ramp).

Profiles: the embedded default (``make run``: one Rasa server, SQLite tracker store), and the
production profile (PostgreSQL, Redis, nginx) through the listener with the first Rasa server only
("1 server") and through the balanced one ("2 servers"). Also printed per step: CPU ms per message
(every process of the profile, and Rasa's) and the peak memory of each Rasa server.

The machine is shared: besides the held-users figure (which other load lowers), the script prints
the figure its CPU cost predicts (cores x think time / CPU per message), which other load does not
move much, and the load average during the run.

    .venv/bin/python bench/bench_users.py                 # all profiles, goals beside the figures
    .venv/bin/python bench/bench_users.py --quick         # smoke: 10 and 20 users, 15 s, embedded
    .venv/bin/python bench/bench_users.py --profiles embedded --start 100 --step 50
    .venv/bin/python bench/bench_users.py --profiles production --start 100 --balanced-start 300

Bounded: at most --max-users users, --hold s per step, --max-steps steps per profile; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchstats import percentile  # noqa: E402
from profiles import (  # noqa: E402
    ARTICLE_QUESTIONS,
    PERSONAL_QUESTIONS,
    Running,
    cpu_by_component,
    rss_by_component,
    start_embedded,
    start_prod,
)

THINK, JITTER = 10.0, 0.30
P95_LIMIT = 1.0
TIMEOUT = 10.0
GOALS = {"embedded": 250, "production, 1 Rasa server": None, "production, 2 Rasa servers": 500}
RASA_MEMORY_GOAL = 1024  # MB per Rasa server
WARMUP_USERS = 100

ARTICLE = [*ARTICLE_QUESTIONS, "cam on"]
PERSONAL = PERSONAL_QUESTIONS
CHECKOUT = [
    ["Tôi muốn nâng cấp App Builder lên Standard theo năm cho 10 người với 50 GB", "thủ công", "không"],
    ["Nâng cấp Không gian làm việc số lên Premium cho tôi", "thủ công", "không"],
    ["I want to upgrade Operations Workflow to Standard monthly for 5 users", "manual", "no"],
]
WORKSPACES = ["demo-monthly", "demo-yearly", "demo-trial", "demo-free", "demo-trial-ended"]


@dataclass
class Step:
    users: int
    latencies: List[float] = field(default_factory=list)
    first_latencies: List[float] = field(default_factory=list)  # each conversation's opening message
    later_latencies: List[float] = field(default_factory=list)  # the messages after it
    errors: Dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    cpu: Dict[str, float] = field(default_factory=dict)
    rss: Dict[str, int] = field(default_factory=dict)
    load: float = 0.0

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 95) if self.latencies else float("inf")

    @property
    def held(self) -> bool:
        return bool(self.latencies) and not self.errors and self.p95 < P95_LIMIT

    @property
    def opening_p95(self) -> float:
        """p95 of the conversations' first messages: a step's users all arrive within its first think
        time, so these are its busiest seconds (a new conversation also costs more: its session start)."""
        return percentile(self.first_latencies, 95) if self.first_latencies else float("nan")

    @property
    def later_p95(self) -> float:
        return percentile(self.later_latencies, 95) if self.later_latencies else float("nan")

    def cpu_ms(self, prefix: str = "") -> float:
        used = sum(v for k, v in self.cpu.items() if k.startswith(prefix))
        return used / max(len(self.latencies), 1) * 1000


def script(rng: random.Random):
    kind = rng.choices(["article", "personal", "checkout"], weights=[5, 3, 2])[0]
    if kind == "article":
        return kind, None, [rng.choice(ARTICLE) for _ in range(20)]
    workspace = rng.choice(WORKSPACES)
    if kind == "personal":
        return kind, workspace, [rng.choice(PERSONAL) for _ in range(20)]
    return kind, workspace, [m for _ in range(7) for m in rng.choice(CHECKOUT)]


async def user(
    n: int,
    step: Step,
    url: str,
    running: Running,
    session: aiohttp.ClientSession,
    stop_at: float,
    run_id: str,
    rng: random.Random,
) -> None:
    kind, workspace, messages = script(rng)
    sender = f"users-{run_id}-{step.users}-{n}"
    await asyncio.sleep(rng.uniform(0, THINK))  # arrivals spread over one think time
    due = time.monotonic()
    for index, text in enumerate(messages):
        if time.monotonic() >= stop_at:
            return
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        sent = time.monotonic()
        wait = max(0.0, sent - due)  # a message due while the previous one was unanswered
        payload = {"sender": sender, "message": text}
        if workspace:
            payload["metadata"] = {"token": running.token(workspace, sender)}
        failure = None
        try:
            async with session.post(f"{url}/webhooks/rest/webhook", json=payload) as response:
                # the status first: a gateway's error page is HTML, and parsing it hid which error it was
                if response.status != 200:
                    failure = f"HTTP {response.status}"
                elif not await response.json(content_type=None):
                    failure = "empty answer"
        except asyncio.TimeoutError:
            failure = "timeout"
        except (aiohttp.ClientError, ValueError) as error:
            failure = type(error).__name__
        latency = time.monotonic() - sent + wait
        step.latencies.append(latency)
        (step.later_latencies if index else step.first_latencies).append(latency)
        if failure:
            step.errors[failure] = step.errors.get(failure, 0) + 1
        due = sent + THINK * rng.uniform(1 - JITTER, 1 + JITTER)


async def run_step(step: Step, url: str, running: Running, hold: float, run_id: str) -> None:
    rng = random.Random(step.users)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    started = time.monotonic()
    stop_at = started + THINK + hold  # the ramp (one think time) and the hold
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(user(n, step, url, running, session, stop_at, run_id, rng) for n in range(step.users)))
    step.wall = time.monotonic() - started


def measure(running: Running, url: str, users: int, hold: float, run_id: str) -> Step:
    step = Step(users)
    pids = running.pids()
    before = cpu_by_component(pids)
    load_before = os.getloadavg()[0]
    asyncio.run(run_step(step, url, running, hold, run_id))
    after = cpu_by_component(pids)
    step.cpu = {name: after[name] - before.get(name, 0.0) for name in after}
    step.rss = rss_by_component(pids)
    step.load = (load_before + os.getloadavg()[0]) / 2
    return step


def _kinds(errors: Dict[str, int]) -> str:
    """' (timeout 40, HTTP 502 3)': which failures, so that a saturated step can be told from a broken one."""
    return " (" + ", ".join(f"{kind} {count}" for kind, count in sorted(errors.items())) + ")" if errors else ""


def ramp(running: Running, label: str, url: str, args, run_id: str, start: Optional[int] = None) -> List[Step]:
    steps: List[Step] = []
    users = start or args.start
    if args.warmup > 0:
        warm = min(users, WARMUP_USERS)
        print(f"  {label}: warm-up, {warm} users for {THINK + args.warmup:.0f} s (not counted)...", end="", flush=True)
        step = measure(running, url, warm, args.warmup, run_id + "w")
        print(f" {len(step.latencies)} messages, p95 {step.p95 * 1000:.0f} ms", flush=True)
    while users <= args.max_users and len(steps) < args.max_steps:
        print(f"  {label}: {users} users for {THINK + args.hold:.0f} s...", end="", flush=True)
        step = measure(running, url, users, args.hold, run_id)
        steps.append(step)
        errors = sum(step.errors.values())
        print(
            f" {len(step.latencies)} messages, p95 {step.p95 * 1000:.0f} ms, {errors} errors"
            f"{_kinds(step.errors)}, {step.cpu_ms():.0f} ms CPU/message, load {step.load:.1f}"
            f" (p95 of opening messages {step.opening_p95 * 1000:.0f} ms, of the rest {step.later_p95 * 1000:.0f} ms)",
            flush=True,
        )
        if not step.held:
            break
        users += args.step
    return steps


def rasa_rss_mb(steps: List[Step]) -> Dict[str, float]:
    peak: Dict[str, float] = {}
    for step in steps:
        for name, value in step.rss.items():
            if name.startswith("rasa"):
                peak[name] = max(peak.get(name, 0.0), value / 2**20)
    return peak


def report(results: Dict[str, List[Step]]):
    cores = os.cpu_count() or 1
    lines = [
        f"Open-loop users (think {THINK:.0f} s ± {JITTER:.0%}, mix article 5 : personal 3 : checkout 2),"
        f" {cores} cores, p95 limit {P95_LIMIT:.0f} s, zero errors",
        "",
        f"{'profile':<30}{'users held':>11}{'goal':>7}{'p95 ms':>8}{'msg/s':>7}{'CPU ms/msg':>11}"
        f"{'Rasa ms/msg':>12}{'CPU-predicted':>14}{'Rasa MB (max)':>14}{'load':>6}",
    ]
    ok = True
    for label, steps in results.items():
        held = [s for s in steps if s.held]
        best = held[-1] if held else None
        ref = best or steps[0]
        goal = GOALS.get(label)
        cpu = ref.cpu_ms()
        predicted = cores * THINK / (cpu / 1000) if cpu else 0
        memory = rasa_rss_mb(steps)
        mem_max = max(memory.values(), default=0)
        rate = len(ref.latencies) / ref.wall if ref.wall else 0
        met = (best is not None and (goal is None or best.users >= goal)) and mem_max <= RASA_MEMORY_GOAL
        ok &= met
        lines.append(
            f"{label:<30}{(best.users if best else 0):>11}{('>= ' + str(goal)) if goal else '-':>7}"
            f"{ref.p95 * 1000:>8.0f}{rate:>7.1f}{cpu:>11.1f}{ref.cpu_ms('rasa'):>12.1f}"
            f"{predicted:>14.0f}{mem_max:>14.0f}{ref.load:>6.1f}  {'MET' if met else 'NOT MET'}"
        )
    lines += [
        "",
        f"Goals: >= 250 users embedded, >= 500 production (2 servers), each Rasa server <= "
        f"{RASA_MEMORY_GOAL} MB. 'CPU-predicted' = cores x {THINK:.0f} s / CPU per message: the users the",
        "profile's CPU cost allows when nothing else runs on the machine (the held figure is lowered by",
        "other load; 'load' is the load average during the step).",
    ]
    return "\n".join(lines), ok


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", default="embedded,production")
    parser.add_argument("--start", type=int, default=50)
    parser.add_argument("--step", type=int, default=50)
    parser.add_argument(
        "--balanced-start", type=int, default=None, help="first step of the 2-server ramp (default: --start)"
    )
    parser.add_argument("--hold", type=float, default=30.0, help="seconds each step is held after the ramp")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds each ramp's unmeasured warm-up is held (0: none)"
    )
    parser.add_argument("--max-users", type=int, default=800)
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="smoke run: embedded, 10 and 20 users, 15 s")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "results" / "bench_users.md"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.profiles, args.start, args.step, args.hold, args.max_steps, args.warmup = "embedded", 10, 10, 5.0, 2, 0.0
    if not (
        1 <= args.start <= args.max_users <= 2000
        and 1 <= args.step
        and 1 <= args.hold <= 120
        and 1 <= args.max_steps <= 20
        and 0 <= args.warmup <= 120
    ):
        parser.error("need 1 <= --start <= --max-users <= 2000, --hold 1..120, --max-steps 1..20, --warmup 0..120")
    run_id = f"{int(time.time()) % 100000}"
    results: Dict[str, List[Step]] = {}
    for profile in [p.strip() for p in args.profiles.split(",") if p.strip()]:
        if profile == "embedded":
            running = start_embedded()
            try:
                results["embedded"] = ramp(running, "embedded", running.url, args, run_id)
            finally:
                running.stop()
        elif profile == "production":
            running = start_prod(rasa_servers=2)
            try:
                results["production, 1 Rasa server"] = ramp(
                    running, "production, 1 server", running.extra_urls["single"], args, run_id + "s"
                )
                results["production, 2 Rasa servers"] = ramp(
                    running, "production, 2 servers", running.url, args, run_id + "d", args.balanced_start
                )
            finally:
                running.stop()
        else:
            parser.error(f"unknown profile {profile!r} (embedded, production)")
    text, ok = report(results)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("```\n" + text + "\n```\n")
    if args.quick:  # a smoke run checks that it works, not the goals
        return 0 if all(s.latencies and not s.errors for steps in results.values() for s in steps) else 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
