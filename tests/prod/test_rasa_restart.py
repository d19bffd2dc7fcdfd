"""A Rasa server restarts: its conversations continue on the other server, from the tracker
store in PostgreSQL, and nginx sends new turns only to servers that are up."""

from __future__ import annotations

import threading
import time
from typing import List

from tests.prod.helpers import say, tracker_events, user_texts


def test_conversation_continues_on_the_other_server_while_one_restarts(prod_stack):
    first, second = (f"rasa-{p}" for p in prod_stack.config.rasa_ports[:2])
    sender = f"restart-{time.time_ns()}"
    assert say(prod_stack, sender, "count 1") == ["#1 count 1"]
    assert say(prod_stack, sender, "count 2") == ["#2 count 2"]

    prod_stack.processes.stop(first)  # SIGTERM: a restart, e.g. a deploy
    assert say(prod_stack, sender, "count 3") == ["#3 count 3"]  # only the second server is up

    prod_stack.start_rasa(prod_stack.config.rasa_ports[0])
    prod_stack.wait_ready([first], timeout=120)
    prod_stack.processes.stop(second)
    # only the first server is up, and it never saw turn 3: the count comes from PostgreSQL
    assert say(prod_stack, sender, "count 4") == ["#4 count 4"]

    prod_stack.start_rasa(prod_stack.config.rasa_ports[1])
    prod_stack.wait_ready([second], timeout=120)
    assert say(prod_stack, sender, "count 5") == ["#5 count 5"]
    assert user_texts(tracker_events(prod_stack, sender)) == [f"count {n}" for n in range(1, 6)]


def test_no_turn_fails_while_a_server_restarts_under_traffic(prod_stack):
    """Conversations keep talking through nginx while one server stops and starts again."""
    first = f"rasa-{prod_stack.config.rasa_ports[0]}"
    stop_talking = threading.Event()
    failures: List[str] = []
    turns = {"count": 0}

    def talk(index: int) -> None:
        sender, n = f"traffic-{index}-{time.time_ns()}", 0
        while not stop_talking.is_set():
            n += 1
            try:
                replies = say(prod_stack, sender, f"count {n}")
                if replies != [f"#{n} count {n}"]:
                    failures.append(f"{sender} turn {n}: {replies}")
            except Exception as error:  # an HTTP error is exactly what must not happen
                failures.append(f"{sender} turn {n}: {error!r}")
            turns["count"] += 1
            time.sleep(0.05)

    talkers = [threading.Thread(target=talk, args=(i,)) for i in range(4)]
    for thread in talkers:
        thread.start()
    try:
        time.sleep(2)
        prod_stack.processes.stop(first)
        time.sleep(3)
        prod_stack.start_rasa(prod_stack.config.rasa_ports[0])
        prod_stack.wait_ready([first], timeout=120)
        time.sleep(2)
    finally:
        stop_talking.set()
        for thread in talkers:
            thread.join(timeout=90)
    assert turns["count"] > 20
    assert failures == []
