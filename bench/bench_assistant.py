"""Our assistant against the stock `rasa init` bot, same Rasa, same machine, same run.

Prints per-message latency p50/p95 over the REST channel with a single client, and messages per
second with 16 concurrent conversations, for both bots, and the ratios against the goals of the
capacity issue: our p95 at most 1.0x the stock bot's, our throughput at least 1.0x of it. The stock
bot is the anchor: both run in the same run on the same machine, and the measurement is cut into
--rounds rounds that alternate which bot goes first (stock, ours; ours, stock; ...), so a change in
the machine's other load during the run moves both alike. Bounded: a fixed number of messages,
loopback only (free ports).

    .venv/bin/python bench/bench_assistant.py [--messages 200] [--concurrent 16] [--per-conversation 25] [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchstats import percentile  # noqa: E402
from profiles import customer_tokens  # noqa: E402

from helpdesk.identity import DEMO_SECRET  # noqa: E402
from helpdesk.stack import VENV_BIN, Ports, Stack, free_ports  # noqa: E402

P95_GOAL, RPS_GOAL = 1.0, 1.0

STOCK_DIR = ROOT / "var" / "bench" / "stock-bot"
SECRET = DEMO_SECRET  # the stack runs in demo mode, which signs with the documented demo secret only

# What customers ask: article questions, personal questions (they call an action and the database).
OUR_MESSAGES = [
    ("lam sao de nang cap goi", None),
    ("Làm thế nào để hạ gói?", None),
    ("toi con bao nhieu ngay dung thu", "demo-trial"),
    ("tôi có thể chuyển xuống bản Free không", "demo-trial-ended"),
    ("goi gia han tiep theo cua toi la gi", "demo-downgrade-scheduled"),
    ("Can I pay App Builder yearly?", "demo-monthly"),
    ("du lieu cua toi se bi xoa gi neu ha goi", "demo-yearly"),
    ("dung luong mo rong gom nhung gi", None),
    ("cam on", None),
]
STOCK_MESSAGES = ["hello", "I am happy", "are you a bot?", "I am sad", "yes", "goodbye", "hi", "great"]


def ensure_stock_bot() -> Path:
    model = STOCK_DIR / "models"
    if model.exists() and any(model.glob("*.tar.gz")):
        return next(model.glob("*.tar.gz"))
    if STOCK_DIR.exists():
        shutil.rmtree(STOCK_DIR)
    STOCK_DIR.parent.mkdir(parents=True, exist_ok=True)
    print("building the stock `rasa init` bot (once; ~2 minutes)...", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [str(VENV_BIN / "rasa"), "init", "--no-prompt", "--init-dir", scratch],
            check=True,
            capture_output=True,
            env=dict(os.environ, RASA_TELEMETRY_ENABLED="false"),
        )
        shutil.copytree(scratch, STOCK_DIR)
    return next((STOCK_DIR / "models").glob("*.tar.gz"))


def start_stock(port: int) -> subprocess.Popen:
    model = ensure_stock_bot()
    process = subprocess.Popen(
        [str(VENV_BIN / "rasa"), "run", "--enable-api", "--model", str(model), "--port", str(port)],
        cwd=STOCK_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, RASA_TELEMETRY_ENABLED="false"),
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if b"model_file" in requests.get(f"http://127.0.0.1:{port}/status", timeout=2).content:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("stock bot did not start")


def make_sender(port, messages, token_for):
    def send(sender, index):
        text, workspace = messages[index % len(messages)]
        payload = {"sender": sender, "message": text}
        if workspace:
            payload["metadata"] = {"token": token_for(workspace, sender)}
        started = time.perf_counter()
        response = requests.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook", json=payload, timeout=60)
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or not response.json():
            raise RuntimeError(f"bad answer {response.status_code}: {response.text[:200]}")
        return elapsed

    return send


def single_client(send, count):
    sender = f"bench-{uuid.uuid4().hex[:8]}"
    for i in range(5):  # warm-up
        send(sender, i)
    return [send(f"{sender}-{i // 10}", i) for i in range(count)]


def concurrent(send, conversations, per_conversation):
    errors = []

    def worker(n):
        sender = f"load-{n}-{uuid.uuid4().hex[:6]}"
        for i in range(per_conversation):
            try:
                send(sender, n + i)
            except Exception as error:  # counted, reported, never hidden
                errors.append(repr(error))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(conversations)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return conversations * per_conversation / elapsed, errors


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=16)
    parser.add_argument("--per-conversation", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    rounds = max(1, args.rounds)

    scratch = Path(tempfile.mkdtemp(prefix="bench-assistant-"))
    url = f"sqlite:///{scratch / 'billing.db'}"
    env = dict(os.environ, BILLING_DATABASE_URL=url)
    for command in ("init-db", "seed-demo"):
        subprocess.run([str(VENV_BIN / "python"), "-m", "billing_core", command], cwd=ROOT, env=env, check=True)
    token_for = customer_tokens(SECRET)  # one customer per simulated conversation (profiles.py says why)

    stock_port, rasa_port, actions_port, web_port = free_ports(4)
    stock = start_stock(stock_port)
    ours = Stack(
        Ports(rasa=rasa_port, actions=actions_port, web=web_port),
        with_web=False,
        log_dir=scratch / "logs",
        env={"BILLING_DATABASE_URL": url, "HELPDESK_JWT_SECRET": SECRET, "HELPDESK_MODE": "demo"},
    )
    results = {}
    try:
        ours.start()
        senders = {
            "stock rasa init": make_sender(stock_port, [(m, None) for m in STOCK_MESSAGES], token_for),
            "cleeksy assistant": make_sender(rasa_port, OUR_MESSAGES, token_for),
        }
        measured = {name: {"latencies": [], "messages": 0, "seconds": 0.0, "errors": []} for name in senders}
        for round_number in range(rounds):
            order = list(senders) if round_number % 2 == 0 else list(reversed(senders))
            for name in order:
                m = measured[name]
                m["latencies"] += single_client(senders[name], max(1, args.messages // rounds))
                rps, errors = concurrent(senders[name], args.concurrent, max(1, args.per_conversation // rounds))
                sent = args.concurrent * max(1, args.per_conversation // rounds)
                m["messages"] += sent
                m["seconds"] += sent / rps
                m["errors"] += errors
        for name, m in measured.items():
            results[name] = {
                "p50": percentile(m["latencies"], 50) * 1000,
                "p95": percentile(m["latencies"], 95) * 1000,
                "mean": statistics.mean(m["latencies"]) * 1000,
                "rps": m["messages"] / m["seconds"],
                "errors": len(m["errors"]),
            }
    finally:
        ours.stop()
        os.killpg(stock.pid, 15)
        stock.wait(timeout=30)

    print(
        f"\n{args.messages} messages single client; {args.concurrent} concurrent conversations x "
        f"{args.per_conversation} messages; in {rounds} alternating rounds\n"
    )
    print(f"{'bot':<20}{'p50 ms':>10}{'p95 ms':>10}{'msg/s @' + str(args.concurrent):>14}{'errors':>8}")
    for name, r in results.items():
        print(f"{name:<20}{r['p50']:>10.1f}{r['p95']:>10.1f}{r['rps']:>14.1f}{r['errors']:>8}")
    s, o = results["stock rasa init"], results["cleeksy assistant"]
    p95_ratio = o["p95"] / s["p95"]
    rps_ratio = o["rps"] / s["rps"]
    print(
        f"\nour p95 / stock p95 = {p95_ratio:.2f}  (goal <= {P95_GOAL:.2f})  "
        f"{'MET' if p95_ratio <= P95_GOAL else 'NOT MET'}"
    )
    print(
        f"our msg/s / stock msg/s = {rps_ratio:.2f}  (goal >= {RPS_GOAL:.2f})  "
        f"{'MET' if rps_ratio >= RPS_GOAL else 'NOT MET'}"
    )
    shutil.rmtree(scratch, ignore_errors=True)
    return 0 if (o["errors"] == 0 and s["errors"] == 0) else 1


if __name__ == "__main__":
    sys.exit(main())
