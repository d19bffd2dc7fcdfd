"""The Redis lock store (deploy/redis_lock_store.py) against a real redis-server of its own.

Two store objects stand for two Rasa servers. The end-to-end bursts through the whole profile are
in test_lock_order.py; these check the ticket lock itself: unique tickets under a race, first
come first served, expiry, clean-up, Rasa's JSON form, and the two round trips of a turn.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, List

import pytest
import redis
from rasa.core.lock_store import LockError, RedisLockStore

from deploy.redis_lock_store import AtomicRedisLockStore
from helpdesk.stack import free_ports


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory) -> Iterator[int]:
    server = shutil.which("redis-server")
    assert server, "redis-server not found: make test installs it (scripts/install_system.sh)"
    port = free_ports(1)[0]
    data = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not answer within 15 s"
            time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(timeout=10)


def store(port: int) -> AtomicRedisLockStore:
    return AtomicRedisLockStore(host="127.0.0.1", port=port, db=1, key_prefix="test", poll_interval=0.01)


def conversation() -> str:
    return f"c{time.time_ns()}"


def test_tickets_issued_at_the_same_moment_by_two_servers_are_unique_and_consecutive(redis_port):
    servers, sender = [store(redis_port), store(redis_port)], conversation()
    with ThreadPoolExecutor(16) as pool:
        tickets = list(pool.map(lambda i: servers[i % 2].issue_ticket(sender), range(200)))
    assert sorted(tickets) == list(range(200))
    lock = servers[0].get_lock(sender)
    assert [t.number for t in lock.tickets] == list(range(200))


def test_turns_are_served_one_at_a_time_in_the_order_their_tickets_were_issued(redis_port):
    servers, sender = [store(redis_port), store(redis_port)], conversation()
    inside: List[int] = []
    order: List[int] = []

    async def turn(i: int) -> None:
        async with servers[i % 2].lock(sender):
            inside.append(i)
            assert len(inside) == 1, f"two turns held the lock at once: {inside}"
            order.append(i)
            await asyncio.sleep(0.005)
            inside.remove(i)

    async def main() -> None:
        # each task takes its ticket before the next starts (lock() issues before its first await)
        await asyncio.gather(*(turn(i) for i in range(12)))

    asyncio.run(main())
    assert order == list(range(12))
    assert servers[0].get_lock(sender) is None, "the lock outlived its last ticket"


def test_a_lock_whose_tickets_expired_is_free_again(redis_port):
    one, sender = store(redis_port), conversation()
    stale = one.issue_ticket(sender, lock_lifetime=0.05)  # a turn on a server that died
    time.sleep(0.1)

    async def turn() -> List[int]:
        async with one.lock(sender) as lock:
            return [t.number for t in lock.tickets]

    began = time.monotonic()
    held = asyncio.run(asyncio.wait_for(turn(), 5))
    assert time.monotonic() - began < 1, "waited for a ticket that had expired"
    assert held == [stale], "the expired ticket was not dropped (its number is issued again, as Rasa does)"


def test_a_waiter_whose_own_ticket_expired_gets_rasas_lock_error(redis_port):
    one, sender = store(redis_port), conversation()
    one.issue_ticket(sender, lock_lifetime=30)  # someone holds it

    async def turn() -> None:
        async with one.lock(sender, lock_lifetime=0.05):
            pass

    with pytest.raises(LockError):
        asyncio.run(asyncio.wait_for(turn(), 5))
    # the holder's ticket is untouched: one ticket, issued first
    assert [t.number for t in one.get_lock(sender).tickets] == [0]


def test_the_lock_keeps_rasas_json_form(redis_port):
    ours, sender = store(redis_port), conversation()
    rasas = RedisLockStore(host="127.0.0.1", port=redis_port, db=1, key_prefix="test")
    first = ours.issue_ticket(sender, lock_lifetime=30)
    second = rasas.issue_ticket(sender, lock_lifetime=30)  # Rasa's own GET/SET reads and writes it
    third = ours.issue_ticket(sender, lock_lifetime=30)
    assert (first, second, third) == (0, 1, 2)
    raw = json.loads(redis.Redis(port=redis_port, db=1).get(ours._key(sender)))
    assert raw["conversation_id"] == sender
    assert [json.loads(t)["number"] for t in raw["tickets"]] == [0, 1, 2]
    ours.cleanup(sender, 0)
    ours.cleanup(sender, 2)
    assert [t.number for t in rasas.get_lock(sender).tickets] == [1]
    ours.update_lock(sender)  # nothing expired: kept as it is
    assert [t.number for t in rasas.get_lock(sender).tickets] == [1]
    ours.cleanup(sender, 1)
    assert rasas.get_lock(sender) is None


def test_an_uncontended_turn_costs_two_round_trips(redis_port, monkeypatch):
    one, sender = store(redis_port), conversation()
    sent: List[bytes] = []
    real_send = redis.connection.Connection.send_packed_command

    def counting_send(connection, command, *args, **kwargs):
        sent.append(command if isinstance(command, bytes) else b"".join(command))
        return real_send(connection, command, *args, **kwargs)

    async def turn() -> None:
        async with one.lock(sender):
            pass

    asyncio.run(turn())  # loads the script once
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting_send)
    asyncio.run(turn())
    assert len(sent) == 2, sent
    assert all(b"EVALSHA" in command for command in sent), sent


def test_redis_down_is_rasas_lock_error(redis_port):
    dead = AtomicRedisLockStore(host="127.0.0.1", port=free_ports(1)[0], db=1, key_prefix="test")

    async def turn() -> None:
        async with dead.lock(conversation()):
            pass

    with pytest.raises(LockError):
        asyncio.run(turn())
