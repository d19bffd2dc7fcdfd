"""How many chatting users a profile holds: open-loop simulated users, ramped until p95 > 1 s.

Each simulated user is one conversation that sends a message every 10 s ± 30 % (uniform 7-13 s,
measured from its previous message, whether or not the answer is back: open loop; a message due
while the previous one is unanswered is sent as soon as the answer arrives and its wait counts in
its latency). The mix is what customers do: help-article questions (anonymous), personal questions
(a demo customer token per user) and checkouts (start, renewal mode, confirmation), 5 : 3 : 2.
The number of users grows step by step until a step has p95 >= 1 s or any error (HTTP error,
timeout, empty answer). How users arrive (--arrivals):

- ``join`` (the default; a ramp as locust runs one): a step adds --step users, each opening a
  conversation within one think time, to those still chatting; a user whose conversation ends is
  followed by a new one, so as many chat at once as the step says. Before the first measured step
  the population is warmed up and grown, not counted, to the first step less --step.
- ``fresh`` (a crowd arriving at once): each step starts from nothing, all its users opening their
  conversations within its first think time. Their second messages come while the last ones are
  still arriving, so the step's busiest seconds carry about 1.5 times the rate its users send
  later, every message of the first think time is an opening one (which costs more), and with a
  short hold a third of the step's messages are. Each step line prints its busiest two seconds.

Each step lasts one think time plus --hold seconds; every message sent in it counts (its wait
included), answered when it may. The figure is the largest step held with p95 < 1 s and zero errors. Each ramp starts
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

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
    seconds: float = 0.0  # how long its users were sent (one think time and the hold)
    started: float = 0.0  # time.monotonic() at the step's start
    sent_at: List[float] = field(default_factory=list)  # when each message was sent
    pending: int = 0  # messages sent in the step and not answered yet
    newcomers: int = 0  # conversations that opened in the step

    @property
    def peak_rate(self) -> float:
        """Messages a second in the step's busiest fifth of a think time (two seconds; its users' steady
        rate is users / think time): how far its arrivals push the load above what its users send."""
        width = THINK / 5
        buckets = Counter(int((t - self.started) // width) for t in self.sent_at)
        return max(buckets.values(), default=0) / width

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


async def converse(
    sender: str,
    script_of: tuple,
    current: Callable[[], Optional[Step]],
    url: str,
    running: Running,
    session: aiohttp.ClientSession,
    stop_at: Callable[[], float],
    rng: random.Random,
    due: float,
) -> float:
    """One conversation, its first message due at ``due``: each message recorded in the step current
    when it is sent (none while ``current()`` is None: a warm-up). Returns when the next is due."""
    _, workspace, messages = script_of
    for index, text in enumerate(messages):
        if time.monotonic() >= stop_at():
            break
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)  # a message due by the end is sent, even after it
        step = current()
        sent = time.monotonic()
        wait = max(0.0, sent - due)  # a message due while the previous one was unanswered
        payload = {"sender": sender, "message": text}
        if workspace:
            payload["metadata"] = {"token": running.token(workspace, sender)}
        if step is not None:
            step.pending += 1
            step.sent_at.append(sent)
            step.newcomers += index == 0
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
        if step is not None:
            latency = time.monotonic() - sent + wait
            step.latencies.append(latency)
            (step.later_latencies if index else step.first_latencies).append(latency)
            if failure:
                step.errors[failure] = step.errors.get(failure, 0) + 1
            step.pending -= 1
        due = sent + THINK * rng.uniform(1 - JITTER, 1 + JITTER)
    return due


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
    """A user of a step that starts from nothing: one conversation, opened within the step's first
    think time."""
    chosen = script(rng)
    await asyncio.sleep(rng.uniform(0, THINK))  # arrivals spread over one think time
    sender = f"users-{run_id}-{step.users}-{n}"
    await converse(sender, chosen, lambda: step, url, running, session, lambda: stop_at, rng, time.monotonic())


async def run_step(step: Step, url: str, running: Running, hold: float, run_id: str) -> None:
    rng = random.Random(step.users)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    started = step.started = time.monotonic()
    step.seconds = THINK + hold
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


def _print_step(label: str, step: Step) -> None:
    errors = sum(step.errors.values())
    print(
        f"  {label}: {step.users} users for {step.seconds:.0f} s... {len(step.latencies)} messages,"
        f" p95 {step.p95 * 1000:.0f} ms, {errors} errors{_kinds(step.errors)}, {step.cpu_ms():.0f} ms CPU/message,"
        f" load {step.load:.1f}; {step.newcomers} conversations opened, busiest {THINK / 5:g} s {step.peak_rate:.0f} msg/s"
        f" (steady {step.users / THINK:.0f}); p95 of opening messages {step.opening_p95 * 1000:.0f} ms,"
        f" of the rest {step.later_p95 * 1000:.0f} ms",
        flush=True,
    )


class Population:
    """Users who go on chatting from one step of a ramp to the next, as locust's users do: a step adds
    users, each opening a conversation within one think time, while the others carry on. A user whose
    conversation ends is followed by a new customer (a new conversation), so as many chat at once as
    the step says, and about one message in twenty opens a conversation."""

    def __init__(self, url: str, running: Running, session: aiohttp.ClientSession, run_id: str) -> None:
        self.url, self.running, self.session, self.run_id = url, running, session, run_id
        self.current: Optional[Step] = None  # where messages are recorded (None: nowhere)
        self.seats: List["asyncio.Task[None]"] = []
        self.rng = random.Random(run_id)
        self.stop_at = float("inf")

    def grow(self, to: int) -> None:
        for seat in range(len(self.seats), to):
            self.seats.append(asyncio.ensure_future(self._seat(seat)))

    async def _seat(self, seat: int) -> None:
        await asyncio.sleep(self.rng.uniform(0, THINK))  # a newcomer arrives within one think time
        due, number = time.monotonic(), 0
        while time.monotonic() < self.stop_at:
            sender = f"users-{self.run_id}-{seat}-{number}"
            chosen = script(self.rng)
            due = await converse(
                sender,
                chosen,
                lambda: self.current,
                self.url,
                self.running,
                self.session,
                lambda: self.stop_at,
                self.rng,
                due,
            )
            number += 1

    async def run(self, step: Step, seconds: float, pids: Dict[str, int]) -> None:
        """``step.users`` users for ``seconds``, recorded in ``step``; then its late answers (recorded in
        a step of nobody's while the load goes on)."""
        before, load_before = cpu_by_component(pids), os.getloadavg()[0]
        step.started, step.seconds = time.monotonic(), seconds
        self.current = step
        self.grow(step.users)
        await asyncio.sleep(seconds)
        self.current = Step(step.users)
        after = cpu_by_component(pids)
        step.wall = time.monotonic() - step.started
        step.cpu = {name: after[name] - before.get(name, 0.0) for name in after}
        step.rss = rss_by_component(pids)
        step.load = (load_before + os.getloadavg()[0]) / 2
        while step.pending:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.stop_at = 0.0
        for seat in self.seats:
            seat.cancel()
        await asyncio.gather(*self.seats, return_exceptions=True)


async def _joined_ramp(running: Running, label: str, url: str, args, run_id: str, first: int) -> List[Step]:
    steps: List[Step] = []
    pids = running.pids()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
        if args.warmup > 0:  # users of their own, gone before the ramp
            warm = Population(url, running, session, run_id + "w")
            try:
                print(f"  {label}: warm-up, {min(first, WARMUP_USERS)} users for {THINK + args.warmup:.0f} s", end="")
                await warm.run(Step(min(first, WARMUP_USERS)), THINK + args.warmup, pids)
            finally:
                await warm.stop()
        population = Population(url, running, session, run_id)
        try:
            # the first measured step adds --step users to users already chatting, as every later one:
            # they arrive at once, so three think times pass until their rate has settled
            before_first = max(first - args.step, 0)
            if before_first:
                print(f"{',' if args.warmup > 0 else f'  {label}:'} {before_first} users for {3 * THINK:.0f} s", end="")
                await population.run(Step(before_first), 3 * THINK, pids)
            if args.warmup > 0 or before_first:
                print(" (not counted)", flush=True)
            users = first
            while users <= args.max_users and len(steps) < args.max_steps:
                step = Step(users)
                await population.run(step, THINK + args.hold, pids)
                steps.append(step)
                _print_step(label, step)
                if not step.held:
                    break
                users += args.step
        finally:
            await population.stop()
    return steps


def ramp(running: Running, label: str, url: str, args, run_id: str, start: Optional[int] = None) -> List[Step]:
    if args.arrivals == "join":
        return asyncio.run(_joined_ramp(running, label, url, args, run_id, start or args.start))
    steps: List[Step] = []
    users = start or args.start
    if args.warmup > 0:
        warm = min(users, WARMUP_USERS)
        print(f"  {label}: warm-up, {warm} users for {THINK + args.warmup:.0f} s (not counted)...", end="", flush=True)
        step = measure(running, url, warm, args.warmup, run_id + "w")
        print(f" {len(step.latencies)} messages, p95 {step.p95 * 1000:.0f} ms", flush=True)
    while users <= args.max_users and len(steps) < args.max_steps:
        step = measure(running, url, users, args.hold, run_id)
        steps.append(step)
        _print_step(label, step)
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


ARRIVALS = {
    "join": "each step adds users to those still chatting",
    "fresh": "each step's users all new, arriving within its first think time",
}


def report(results: Dict[str, List[Step]], arrivals: str = "join"):
    cores = os.cpu_count() or 1
    lines = [
        f"Open-loop users (think {THINK:.0f} s ± {JITTER:.0%}, mix article 5 : personal 3 : checkout 2;"
        f" {ARRIVALS[arrivals]}), {cores} cores, p95 limit {P95_LIMIT:.0f} s, zero errors",
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
    parser.add_argument(
        "--arrivals",
        choices=["join", "fresh"],
        default="join",
        help="join: a step adds users to those still chatting (a ramp); fresh: every step's users are all new,"
        " arriving within its first think time (a crowd arriving at once)",
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
    text, ok = report(results, args.arrivals)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("```\n" + text + "\n```\n")
    if args.quick:  # a smoke run checks that it works, not the goals
        return 0 if all(s.latencies and not s.errors for steps in results.values() for s in steps) else 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
