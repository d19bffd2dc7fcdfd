"""Conversation-level evaluation: the blind set of tests/conversations/blind_eval.yml.

    .venv/bin/python scripts/eval_conversations.py                      # models/helpdesk.tar.gz
    .venv/bin/python scripts/eval_conversations.py --model path.tar.gz --out results

Starts the action server on a free loopback port against a throwaway SQLite database with the
demo workspaces, loads the model in-process (no Rasa HTTP API, no channel), re-seeds the demo
data before every conversation and plays each conversation turn by turn, the logged-in ones with
a signed token in the message metadata as the widget sends it. What ran in a turn is read from
the tracker: the actions, and the name of every text an action sent (``utter_action``).

Writes results/conversations_report.md and results/conversations.json (every failed turn with
what ran and what the bot said). Exit status: 0 when the run completed (the pass rate is a
measurement, not a gate; see --goal), 2 when the stack could not start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk.identity import DEMO_SECRET, issue_token, verify_token  # noqa: E402
from helpdesk.stack import free_port  # noqa: E402
from helpdesk.text import fold  # noqa: E402

FOLDER = ROOT / "tests" / "conversations"
CONVERSATIONS = FOLDER / "blind_eval.yml"  # the first batch; later batches: blind_eval_<n>.yml
SECRET = DEMO_SECRET  # the demo workspaces run in demo mode, which signs with the documented demo secret only
CATEGORIES = ("personal", "english", "no_diacritics", "mixed")


def batches() -> List[Path]:
    return sorted(FOLDER.glob("blind_eval*.yml"), key=lambda p: (len(p.stem), p.stem))


def load_conversations(path: Optional[Path] = CONVERSATIONS) -> List[Dict[str, Any]]:
    """One batch's conversations (the first by default), or every batch's with ``path=None``."""
    if path is None:
        return [c for batch in batches() for c in load_conversations(batch)]
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    conversations = data.get("conversations") or []
    prefix = "" if path.stem == "blind_eval" else path.stem.replace("blind_eval_", "b") + "-"
    for number, conversation in enumerate(conversations, start=1):
        conversation.setdefault("id", f"{prefix}c{number:03d}")
        conversation["batch"] = path.name
        for turn in conversation["turns"]:
            # YAML 1.1 reads a bare yes / no as a boolean: the user typed the word.
            if isinstance(turn["user"], bool):
                turn["user"] = "yes" if turn["user"] else "no"
            turn["user"] = str(turn["user"])
    return conversations


def turn_verdict(turn: Dict[str, Any], ran: List[str], said: str) -> List[str]:
    """The reasons a turn fails (empty: it passes)."""
    problems = []
    for wanted in turn.get("expect") or []:
        options = str(wanted).split("|")
        if not any(option in ran for option in options):
            problems.append(f"expected {wanted}")
    for unwanted in turn.get("not") or []:
        if unwanted in ran:
            problems.append(f"did not expect {unwanted}")
    folded = fold(said)
    for fragment in turn.get("says") or []:
        if fold(str(fragment)) not in folded:
            problems.append(f"reply lacks {fragment!r}")
    return problems


def events_of_last_turn(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    return events[last_user + 1 :]


def ran_and_said(events: List[Dict[str, Any]]):
    ran: List[str] = []
    said: List[str] = []
    for event in events:
        if event.get("event") == "action" and event.get("name") not in ("action_listen", None):
            ran.append(event["name"])
        elif event.get("event") == "active_loop" and event.get("name"):
            ran.append(event["name"])
        elif event.get("event") == "bot":
            name = (event.get("metadata") or {}).get("utter_action")
            if name:
                ran.append(name)
            said.append(event.get("text") or "")
            for button in (event.get("data") or {}).get("buttons") or []:
                said.append(str(button.get("title") or ""))
    return ran, "\n".join(said)


def wait_for(url: str, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"action server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError(f"action server not ready after {timeout:.0f} s")


def stack_environment(folder: Path) -> Dict[str, str]:
    """The environment of the action server (and of this process): demo mode, a throwaway database."""
    return dict(
        os.environ,
        BILLING_DATABASE_URL=f"sqlite:///{folder / 'billing.db'}",
        HELPDESK_JWT_SECRET=SECRET,
        HELPDESK_MODE="demo",
        PYTHONPATH=str(ROOT),
        RASA_TELEMETRY_ENABLED="false",
    )


def channel_metadata(token: Optional[str], sender: str) -> Dict[str, Any]:
    """What the verified channels hand Rasa for a message carrying ``token``: the token is checked
    at the edge and replaced by an identity claim bound to the conversation, the only identity the
    actions accept (helpdesk/identity.py)."""
    # Imported here: helpdesk.channel imports Rasa's channels, seconds the set's own tests do without.
    from helpdesk.channel import edge_metadata

    identity = verify_token(token, SECRET) if token else None
    return edge_metadata({"token": token} if token else {}, sender, identity, SECRET)


async def play(model: Path, actions_url: str, conversations: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    # Imported here: Rasa takes seconds to import and is only needed once the stack is up.
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.utils.endpoints import EndpointConfig

    import billing_core as bc

    agent = Agent.load(str(model), action_endpoint=EndpointConfig(url=actions_url))
    results = []
    for conversation in conversations:
        bc.seed_demo(bc.SqlAlchemyUnitOfWork())
        sender = f"eval-{conversation['id']}-{os.getpid()}"
        workspace = conversation.get("workspace")
        token = (
            issue_token(sub=f"eval-user-{workspace}", workspace_id=workspace, secret=SECRET, minutes=30)
            if workspace
            else None
        )
        turns = []
        for turn in conversation["turns"]:
            metadata = channel_metadata(token, sender)
            await agent.handle_message(UserMessage(turn["user"], CollectingOutputChannel(), sender, metadata=metadata))
            tracker = await agent.tracker_store.retrieve(sender)
            events = events_of_last_turn([e.as_dict() for e in tracker.events])
            ran, said = ran_and_said(events)
            problems = turn_verdict(turn, ran, said)
            turns.append({"user": turn["user"], "ran": ran, "said": said, "problems": problems})
        results.append(
            {
                "id": conversation["id"],
                "batch": conversation["batch"],
                "category": conversation["category"],
                "workspace": workspace,
                "passed": all(not t["problems"] for t in turns),
                "turns": turns,
            }
        )
    return results


def summarise(results: List[Dict[str, Any]]) -> Dict[str, Dict[str, int]]:
    table: Dict[str, Dict[str, int]] = defaultdict(lambda: {"passed": 0, "total": 0})
    for result in results:
        for key in (result["category"], "overall", "batch " + result["batch"]):
            table[key]["total"] += 1
            table[key]["passed"] += int(result["passed"])
    return dict(table)


def report(table: Dict[str, Dict[str, int]], results: List[Dict[str, Any]], model: Path) -> str:
    lines = [
        "# Conversation-level evaluation",
        "",
        f"Set: `{FOLDER.relative_to(ROOT)}/blind_eval*.yml`; model: `{model}`.",
        "",
        "| category | passed | total | rate |",
        "|---|---|---|---|",
    ]
    for key in CATEGORIES + ("overall",) + tuple(sorted(k for k in table if k.startswith("batch "))):
        row = table.get(key, {"passed": 0, "total": 0})
        rate = row["passed"] / row["total"] if row["total"] else 0.0
        lines.append(f"| {key} | {row['passed']} | {row['total']} | {rate:.1%} |")
    lines += ["", "## Failed conversations", ""]
    for result in results:
        if result["passed"]:
            continue
        lines.append(f"- **{result['id']}** ({result['category']}, {result['workspace'] or 'anonymous'})")
        for turn in result["turns"]:
            if turn["problems"]:
                lines.append(f'  - "{turn["user"]}": {"; ".join(turn["problems"])} (ran: {", ".join(turn["ran"])})')
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "helpdesk.tar.gz")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--only", help="play only the conversations whose id contains this")
    args = parser.parse_args(argv)
    if not args.model.exists():
        print(f"no trained model at {args.model}: run scripts/train_if_changed.sh", file=sys.stderr)
        return 2
    conversations = load_conversations(None)
    if args.only:
        conversations = [c for c in conversations if args.only in c["id"]]
    folder = Path(tempfile.mkdtemp(prefix="eval-conversations-"))
    env = stack_environment(folder)
    os.environ.update(
        {k: env[k] for k in ("BILLING_DATABASE_URL", "HELPDESK_JWT_SECRET", "HELPDESK_MODE", "RASA_TELEMETRY_ENABLED")}
    )
    subprocess.run(
        [sys.executable, "-m", "billing_core", "init-db"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    port = free_port()
    log = open(folder / "actions.log", "ab")
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "rasa"), "run", "actions", "--port", str(port), "--actions", "actions"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", 180, server)
        results = asyncio.run(play(args.model, f"http://127.0.0.1:{port}/webhook", conversations))
    except RuntimeError as error:
        print(f"could not run the evaluation: {error} (log: {folder / 'actions.log'})", file=sys.stderr)
        return 2
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    table = summarise(results)
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(table, results, args.model)
    (args.out / "conversations_report.md").write_text(text, encoding="utf-8")
    (args.out / "conversations.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(text.split("## Failed")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
