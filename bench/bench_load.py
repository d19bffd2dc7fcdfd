"""Load on the production profile: one Rasa server versus two, side by side in one run.

    .venv/bin/python bench/bench_load.py                       # 50 conversations x 60 s, per phase
    .venv/bin/python bench/bench_load.py --seconds 10 --concurrency 8     # smoke run
    .venv/bin/python bench/bench_load.py --attach              # against a running `make run-prod`

Starts its own production profile (PostgreSQL, Redis, two Rasa servers, action server, nginx)
under a temporary directory on ports of its own, unless --attach. Simulated conversations mix
help-article questions, personal questions (a demo token per conversation) and checkout starts,
closed loop (each conversation sends its next message when the previous answer arrives).
Phase "1 server" goes through nginx's listener that has only the first Rasa server, phase
"2 servers" through the balanced one; same PostgreSQL, Redis and action server.

Checks: zero errors (HTTP error, timeout, or an empty answer), and every turn present in the
tracker store afterwards (user events per sender in PostgreSQL = messages sent). Prints p50/p95
latency, messages per second, CPU seconds per message and peak RSS of each process. Exit code
1 when a check fails. Bounded: --seconds per phase and --max-messages per phase. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "prod"))
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import prodstack  # noqa: E402
from profiles import (  # noqa: E402  (bench/: what the load benchmarks share)
    ARTICLE_QUESTIONS,
    PERSONAL_QUESTIONS,
    children,
    cpu_seconds,
    tree_of,
)

from helpdesk.stack import free_ports  # noqa: E402

CHECKOUT_STARTS = [
    "Tôi muốn nâng cấp App Builder lên Standard theo năm cho 10 người với 50 GB",
    "Nâng cấp Không gian làm việc số lên Premium cho tôi",
    "I want to upgrade Operations Workflow to Standard monthly for 5 users",
]
CHECKOUT_FOLLOW_UPS = ["thủ công", "có"]
DEMO_WORKSPACES = ["demo-monthly", "demo-yearly", "demo-trial", "demo-free", "demo-trial-ended", "demo-ow-trial-ended"]


@dataclass
class Phase:
    name: str
    base_url: str
    latencies: List[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    error_examples: List[str] = field(default_factory=list)
    sent: Counter = field(default_factory=Counter)  # sender -> user messages sent
    kinds: Counter = field(default_factory=Counter)
    conversations: int = 0
    wall: float = 0.0
    cpu: Dict[str, float] = field(default_factory=dict)  # component -> CPU seconds used
    rss: Dict[str, int] = field(default_factory=dict)  # process -> peak RSS in bytes
    missing: Dict[str, Tuple[int, int]] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return len(self.latencies)

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def conversation_script(rng: random.Random) -> Tuple[str, List[str], bool]:
    """(kind, messages, needs a token) of one simulated conversation."""
    kind = rng.choices(["article", "personal", "checkout"], weights=[5, 3, 2])[0]
    if kind == "article":
        return kind, rng.sample(ARTICLE_QUESTIONS, 3), False
    if kind == "personal":
        return kind, rng.sample(PERSONAL_QUESTIONS, 3), True
    return kind, [rng.choice(CHECKOUT_STARTS), *CHECKOUT_FOLLOW_UPS], True


async def run_phase(
    phase: Phase,
    config: prodstack.ProdConfig,
    concurrency: int,
    seconds: float,
    max_messages: int,
    run_id: str,
    round_index: int = 0,
) -> None:
    from helpdesk.identity import issue_token

    deadline = time.monotonic() + seconds
    budget = {"left": max_messages - phase.messages}
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=0)

    async def user(worker: int, session: aiohttp.ClientSession) -> None:
        rng = random.Random(f"{run_id}-{phase.name}-{worker}")
        number = 0
        while time.monotonic() < deadline and budget["left"] > 0:
            number += 1
            sender = f"bench-{run_id}-{phase.name[0]}-{round_index}-{worker}-{number}"
            kind, messages, personal = conversation_script(rng)
            metadata = {}
            if personal:
                workspace = rng.choice(DEMO_WORKSPACES)
                metadata = {"token": issue_token(sender, workspace, "customer", secret=config.jwt_secret, minutes=30)}
            phase.kinds[kind] += 1
            phase.conversations += 1
            for text in messages:
                if time.monotonic() >= deadline or budget["left"] <= 0:
                    return
                budget["left"] -= 1
                payload = {"sender": sender, "message": text, "metadata": metadata}
                started = time.monotonic()
                phase.sent[sender] += 1
                try:
                    async with session.post(f"{phase.base_url}/webhooks/rest/webhook", json=payload) as response:
                        body = await response.json(content_type=None) if response.status == 200 else None
                        if response.status != 200:
                            failure = f"HTTP {response.status}"
                        elif not body:
                            failure = "empty answer"
                        else:
                            failure = None
                except Exception as error:  # timeouts and refused connections are errors too
                    failure = type(error).__name__
                phase.latencies.append(time.monotonic() - started)
                if failure:
                    phase.errors[failure] += 1
                    if len(phase.error_examples) < 5:
                        phase.error_examples.append(f"{failure}: {kind} {text!r}")

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(user(i, session) for i in range(concurrency)))
        phase.wall += time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# resources used by the profile's processes


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _postmaster_pid(stack: prodstack.ProdStack) -> Optional[int]:
    try:
        return int((stack.postgres.data / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, PermissionError, ValueError, IndexError):
        return None


def component_pids(stack: prodstack.ProdStack) -> Dict[str, int]:
    pids = {name: stack.processes.pid(name) for name in stack.processes.names()}
    pids["postgres"] = _postmaster_pid(stack)
    return {name: pid for name, pid in pids.items() if pid}


class ResourceSampler:
    """CPU seconds per component (whole process tree) over a phase, and peak RSS of each process."""

    def __init__(self, stack: prodstack.ProdStack) -> None:
        self.stack = stack
        self.peak: Dict[str, int] = defaultdict(int)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _cpu(self) -> Dict[str, float]:
        tree = children()
        return {
            name: sum(cpu_seconds(p) for p in tree_of(pid, tree)) for name, pid in component_pids(self.stack).items()
        }

    def _sample(self) -> None:
        while not self._stop.is_set():
            tree = children()
            for name, pid in component_pids(self.stack).items():
                # PostgreSQL: one backend per connection, so its sum is the fair figure
                value = sum(_rss(p) for p in tree_of(pid, tree)) if name == "postgres" else _rss(pid)
                self.peak[name] = max(self.peak[name], value)
            self._stop.wait(1.0)

    def __enter__(self) -> "ResourceSampler":
        self._before = self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        after = self._cpu()
        self.cpu = {name: after[name] - self._before.get(name, 0.0) for name in after}


# ---------------------------------------------------------------------------------------------
# the tracker store afterwards


def tracker_counts(config: prodstack.ProdConfig, prefix: str) -> Dict[str, int]:
    import psycopg2

    connection = psycopg2.connect(
        host="127.0.0.1",
        port=config.pg_port,
        dbname=config.tracker_db,
        user=config.pg_user,
        password=config.pg_password,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sender_id, count(*) FROM events WHERE type_name = 'user' "
                "AND sender_id LIKE %s GROUP BY sender_id",
                (prefix + "%",),
            )
            return dict(cursor.fetchall())
    finally:
        connection.close()


def check_tracker(phase: Phase, config: prodstack.ProdConfig, prefix: str) -> None:
    stored = tracker_counts(config, prefix)
    for sender, sent in phase.sent.items():
        if stored.get(sender, 0) != sent:
            phase.missing[sender] = (sent, stored.get(sender, 0))


# ---------------------------------------------------------------------------------------------


def report(phases: List[Phase], concurrency: int, seconds: float) -> str:
    cores = os.cpu_count() or 1
    rows = [
        ("conversations started", lambda p: str(p.conversations)),
        ("messages", lambda p: str(p.messages)),
        ("errors", lambda p: str(sum(p.errors.values()))),
        ("turns missing in tracker store", lambda p: str(sum(s - t for s, t in p.missing.values()))),
        ("latency p50 (ms)", lambda p: f"{p.percentile(0.50):.0f}"),
        ("latency p95 (ms)", lambda p: f"{p.percentile(0.95):.0f}"),
        ("messages / s", lambda p: f"{p.messages / p.wall:.1f}" if p.wall else "-"),
        ("CPU s per message, all processes", lambda p: f"{sum(p.cpu.values()) / max(p.messages, 1) * 1000:.1f} ms"),
        (
            "CPU s per message, Rasa servers",
            lambda p: f"{sum(v for k, v in p.cpu.items() if k.startswith('rasa-')) / max(p.messages, 1) * 1000:.1f} ms",
        ),
        (
            "CPU s per message, action servers",
            lambda p: (
                f"{sum(v for k, v in p.cpu.items() if k.startswith('actions-')) / max(p.messages, 1) * 1000:.1f} ms"
            ),
        ),
        ("CPU s per message, PostgreSQL", lambda p: f"{p.cpu.get('postgres', 0) / max(p.messages, 1) * 1000:.1f} ms"),
    ]
    width = max(len(r[0]) for r in rows) + 2
    lines = [
        f"Load: {concurrency} concurrent conversations, {seconds:.0f} s per phase, {cores} cores, closed loop",
        "",
        f"{'':{width}}" + "".join(f"{p.name:>14}" for p in phases),
    ]
    for label, value in rows:
        lines.append(f"{label:{width}}" + "".join(f"{value(p):>14}" for p in phases))
    lines.append("")
    lines.append("Peak RSS per process (MB):")
    names = sorted({n for p in phases for n in p.rss})
    for name in names:
        lines.append(f"  {name:{width - 2}}" + "".join(f"{p.rss.get(name, 0) / 2**20:>14.0f}" for p in phases))
    for phase in phases:
        if phase.errors:
            lines.append(f"{phase.name}: errors {dict(phase.errors)}; e.g. {phase.error_examples}")
        if phase.missing:
            sample = list(phase.missing.items())[:5]
            lines.append(
                f"{phase.name}: {len(phase.missing)} conversations with missing turns (sent, stored): {sample}"
            )
        busy = sum(phase.cpu.values()) / phase.wall if phase.wall else 0
        if phase.messages:
            per_core = phase.messages / max(sum(phase.cpu.values()), 1e-9)
            lines.append(
                f"{phase.name}: the profile kept {busy:.2f} of {cores} cores busy; "
                f"{per_core:.0f} messages per CPU-second, i.e. about {per_core * 20:.0f} active "
                "conversations per core at one message per 20 s"
            )
    return "\n".join(lines)


def _free_ports() -> Dict[str, object]:
    """Ports the OS says are free now, so the benchmark never collides with running servers."""
    p = free_ports(10)
    return dict(
        pg_port=p[0],
        redis_port=p[1],
        rasa_ports=p[2:4],
        actions_ports=p[4:5],
        public_rasa_port=p[5],
        single_rasa_port=p[6],
        public_actions_port=p[7],
        public_web_port=p[8],
        web_backend_port=p[9],
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase (default 60)")
    parser.add_argument("--concurrency", type=int, default=50, help="simultaneous conversations (default 50)")
    parser.add_argument("--max-messages", type=int, default=20000, help="cap on messages per phase")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate the phases this many times (each gets --seconds in total), so that"
        " other load on a shared machine falls on both alike",
    )
    parser.add_argument(
        "--attach",
        action="store_true",
        help="use the running `make run-prod` (its environment or var/prod/trial-secrets.env)",
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "helpdesk.tar.gz")
    parser.add_argument("--actions-module", default="actions")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench_load.md")
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= 500 or not 0 < args.seconds <= 600 or not 1 <= args.rounds <= 10:
        parser.error("--concurrency must be 1..500, --seconds 1..600 and --rounds 1..10")

    temp_dir: Optional[Path] = None
    if args.attach:
        secrets_file = Path(os.environ.get("HELPDESK_PROD_DIR", ROOT / "var" / "prod")) / "trial-secrets.env"
        if secrets_file.exists():
            prodstack._load_env_file(secrets_file)
        config = prodstack.ProdConfig.from_env(trial=secrets_file.exists())
        stack = prodstack.ProdStack(config)
        if not all(stack.checks()[n]() for n in stack.checks()):
            print(
                "bench_load: the production profile is not (fully) running: scripts/run_prod.sh start", file=sys.stderr
            )
            return 1
    else:
        temp_dir = Path(tempfile.mkdtemp(prefix="helpdesk-bench-load-"))
        temp_dir.chmod(0o755)  # PostgreSQL runs as the postgres user
        config = prodstack.ProdConfig(
            var_dir=temp_dir,
            jwt_secret="bench-" + os.urandom(24).hex(),
            pg_password=os.urandom(12).hex(),
            redis_password=os.urandom(12).hex(),
            rasa_api_token=os.urandom(16).hex(),  # 32 characters: the HS256 key of its JWTs
            vnpay_tmn_code="BENCH001",
            vnpay_hash_secret=os.urandom(24).hex(),
            **_free_ports(),
            model=args.model,
            actions_module=args.actions_module,
            with_web=False,
            seed_demo=True,
        )
        stack = prodstack.ProdStack(config)
        print(f"starting the production profile under {temp_dir} (about a minute)...", flush=True)
        try:
            stack.start(timeout=300)
        except prodstack.ProdError as error:
            print(f"bench_load: could not start the profile: {error}", file=sys.stderr)
            stack.stop()
            shutil.rmtree(temp_dir, ignore_errors=True)
            return 1

    run_id = f"{int(time.time()) % 100000}{random.randint(0, 99):02d}"
    phases = [Phase("1 server", config.single_rasa_url), Phase("2 servers", config.rasa_url)]
    slice_seconds = args.seconds / args.rounds
    try:
        for round_index in range(args.rounds):
            for phase in phases:
                print(
                    f"phase {phase.name} (round {round_index + 1}/{args.rounds}): {args.concurrency} conversations"
                    f" for {slice_seconds:.0f} s...",
                    flush=True,
                )
                with ResourceSampler(stack) as sampler:
                    asyncio.run(
                        run_phase(
                            phase, config, args.concurrency, slice_seconds, args.max_messages, run_id, round_index
                        )
                    )
                for name, used in sampler.cpu.items():
                    phase.cpu[name] = phase.cpu.get(name, 0.0) + used
                for name, peak in sampler.peak.items():
                    phase.rss[name] = max(phase.rss.get(name, 0), peak)
        for phase in phases:
            check_tracker(phase, config, f"bench-{run_id}-{phase.name[0]}-")
    finally:
        if temp_dir:
            stack.stop()
            shutil.rmtree(temp_dir, ignore_errors=True)
    text = report(phases, args.concurrency, args.seconds)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("```\n" + text + "\n```\n")
    ok = all(not p.errors and not p.missing and p.messages for p in phases)
    print("\nRESULT:", "PASS (zero errors, every turn stored)" if ok else "FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
