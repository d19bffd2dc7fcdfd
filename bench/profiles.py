"""Start the embedded default (``make run``'s stack) or the production profile for a benchmark,
on free loopback ports under a scratch folder, with the demo workspaces and their tokens."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "prod"))
sys.path.insert(0, str(ROOT))

import prodstack  # noqa: E402

from helpdesk.identity import DEMO_SECRET, issue_token  # noqa: E402
from helpdesk.stack import VENV_BIN, Ports, Stack, free_ports  # noqa: E402

DEMO_WORKSPACES = [
    "demo-monthly",
    "demo-yearly",
    "demo-trial",
    "demo-free",
    "demo-trial-ended",
    "demo-downgrade-scheduled",
]


@dataclass
class Running:
    name: str
    url: str  # where clients post (REST channel base URL)
    token: Callable[..., str]  # (workspace id, user) -> a customer token of that workspace
    pids: Callable[[], Dict[str, int]]  # component -> pid (for CPU and memory)
    stop: Callable[[], None]
    scratch: Path
    tracker: Dict[str, object] = field(default_factory=dict)
    extra_urls: Dict[str, str] = field(default_factory=dict)


# What customers ask (taken from the help article's topics; with and without diacritics, English).
ARTICLE_QUESTIONS = [
    "Làm sao để nâng cấp gói?",
    "huong dan toi nang cap goi giai phap",
    "Các bước hạ gói như thế nào?",
    "How do I downgrade my plan?",
    "Dung lượng mở rộng là gì, mua thế nào?",
    "Chu kỳ thanh toán theo năm khác gì theo tháng?",
    "Dùng thử được bao nhiêu ngày?",
    "Dữ liệu của tôi sẽ ra sao khi hạ gói?",
    "Thanh toán qua VNPAY thế nào?",
    "can I pay yearly?",
]
PERSONAL_QUESTIONS = [
    "Gói gia hạn tiếp theo của tôi là gì?",
    "Tôi có thể chuyển về bản Free không?",
    "Tôi còn bao nhiêu ngày dùng thử?",
    "Gói hiện tại của tôi là gì?",
    "what is my next renewal plan?",
    "Nếu hạ gói thì dữ liệu nào bị xóa và khi nào?",
]


def customer_tokens(secret: str) -> Callable[..., str]:
    cache: Dict[tuple, str] = {}

    def token(workspace: str, user: str = "") -> str:
        """A customer of ``workspace``; each ``user`` its own (the conversation follows the token's
        subject: simulated users sharing a token would be one conversation, which Rasa answers one
        message at a time, and measure its lock instead of the assistant)."""
        key = (workspace, user)
        if key not in cache:
            cache[key] = issue_token(
                sub=f"bench-{workspace}-{user}" if user else f"bench-{workspace}",
                workspace_id=workspace,
                role="customer",
                minutes=240,
                secret=secret,
            )
        return cache[key]

    return token


def embedded_env(billing_url: str) -> Dict[str, str]:
    """The embedded profile's settings: `make run`'s demo mode, which signs with the documented demo
    secret only (a stack given any other secret in demo mode refuses to start)."""
    return {"BILLING_DATABASE_URL": billing_url, "HELPDESK_JWT_SECRET": DEMO_SECRET, "HELPDESK_MODE": "demo"}


def start_embedded(stock_tracker_store: bool = False, with_web: bool = False, model: Optional[Path] = None) -> Running:
    scratch = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    url = f"sqlite:///{scratch / 'billing.db'}"
    env = dict(os.environ, BILLING_DATABASE_URL=url)
    for command in ("init-db", "seed-demo"):
        subprocess.run(
            [str(VENV_BIN / "python"), "-m", "billing_core", command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    secret = DEMO_SECRET
    ports = Ports(*free_ports(3))
    stack = Stack(
        ports,
        with_web=with_web,
        log_dir=scratch / "logs",
        stock_tracker_store=stock_tracker_store,
        **({"model": model} if model else {}),
        env=embedded_env(url),
    )
    try:
        stack.start(timeout=300)
    except BaseException:
        stack.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        raise

    def stop() -> None:
        stack.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    return Running(
        name="embedded" + (" (Rasa's SQL store)" if stock_tracker_store else ""),
        url=f"http://127.0.0.1:{ports.rasa}",
        token=customer_tokens(secret),
        pids=lambda: {p.name: p.pid for p in stack.processes if p.poll() is None},  # type: ignore[attr-defined]
        stop=stop,
        scratch=scratch,
        tracker={"sqlite": stack.tracker_db},
    )


def start_prod(rasa_servers: int = 2) -> Running:
    scratch = Path(tempfile.mkdtemp(prefix="helpdesk-bench-prod-"))
    scratch.chmod(0o755)  # PostgreSQL runs as the postgres user
    p = free_ports(8 + rasa_servers)
    config = prodstack.ProdConfig(
        var_dir=scratch,
        jwt_secret="bench-" + os.urandom(24).hex(),
        pg_password=os.urandom(12).hex(),
        redis_password=os.urandom(12).hex(),
        rasa_api_token=os.urandom(16).hex(),  # 32 characters: the HS256 key of its JWTs
        vnpay_tmn_code="BENCH001",
        vnpay_hash_secret=os.urandom(24).hex(),
        pg_port=p[0],
        redis_port=p[1],
        actions_ports=[p[2]],
        public_rasa_port=p[3],
        single_rasa_port=p[4],
        public_actions_port=p[5],
        public_web_port=p[6],
        web_backend_port=p[7],
        rasa_ports=p[8 : 8 + rasa_servers],
        with_web=False,
        seed_demo=True,
    )
    stack = prodstack.ProdStack(config)
    try:
        stack.start(timeout=400)
    except BaseException:
        stack.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        raise

    def pids() -> Dict[str, int]:
        found = {name: stack.processes.pid(name) for name in stack.processes.names()}
        try:
            found["postgres"] = int((stack.postgres.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        return {name: pid for name, pid in found.items() if pid}

    def stop() -> None:
        stack.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    return Running(
        name=f"production, {rasa_servers} Rasa server{'s' if rasa_servers > 1 else ''}",
        url=config.rasa_url,
        token=customer_tokens(config.jwt_secret),
        pids=pids,
        stop=stop,
        scratch=scratch,
        tracker={"config": config},
        extra_urls={"single": config.single_rasa_url},
    )


# ---------------------------------------------------------------------------------------------
# CPU and memory of process trees, from /proc


def children() -> Dict[int, List[int]]:
    tree: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                tree.setdefault(int(fields[1]), []).append(int(entry))
            except (OSError, IndexError):
                pass
    return tree


def tree_of(pid: int, tree: Dict[int, List[int]]) -> List[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_by_component(pids: Dict[str, int]) -> Dict[str, float]:
    tree = children()
    return {name: sum(cpu_seconds(p) for p in tree_of(pid, tree)) for name, pid in pids.items()}


def rss_by_component(pids: Dict[str, int]) -> Dict[str, int]:
    tree = children()
    return {name: sum(rss(p) for p in tree_of(pid, tree)) for name, pid in pids.items()}
