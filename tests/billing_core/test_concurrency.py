"""Two changes to one workspace at once never both apply from the same starting version.

Threads race for real: a barrier holds each transaction just before its first commit until the
other one is there too (or, on PostgreSQL, until it is clear the other one is waiting for the row
lock). Each commit writes an audit entry carrying the version it wrote, so "exactly one commit
per starting version" reads: the audit versions are distinct and consecutive.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, List

from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
from billing_core.domain import errors
from billing_core.domain.rules import ChangeRequest
from billing_core.service_layer import services
from billing_core.service_layer.demo import seed_demo
from tests.billing_core.factories import DW, NOW

BARRIER_TIMEOUT = 1.0  # seconds; only reached on PostgreSQL, where the row lock serialises


class RacingUnitOfWork(SqlAlchemyUnitOfWork):
    """Waits at a shared barrier before its first commit, so both transactions overlap."""

    def __init__(self, url: str, barrier: threading.Barrier):
        super().__init__(url)
        self.barrier = barrier
        self.waited = False

    def commit(self) -> None:
        if not self.waited:
            self.waited = True
            try:
                self.barrier.wait(timeout=BARRIER_TIMEOUT)
            except threading.BrokenBarrierError:
                pass  # the other transaction is blocked on our row lock (PostgreSQL): go on
        super().commit()


def race(url: str, *jobs: Callable) -> List:
    """Run each job(uow) in its own thread at once; return each result or exception."""
    barrier = threading.Barrier(len(jobs))
    results: List = [None] * len(jobs)

    def run(index: int, job: Callable) -> None:
        try:
            results[index] = job(RacingUnitOfWork(url, barrier))
        except Exception as problem:  # noqa: BLE001 - the test inspects it
            results[index] = problem

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing transaction hung"
    return results


def committed_versions(url: str, workspace_id: str, since_version: int) -> List[int]:
    uow = SqlAlchemyUnitOfWork(url)
    with uow:
        entries = uow.workspaces.audit_entries(workspace_id)
    return [e.detail["version"] for e in entries if e.action != "demo_seeded" and e.detail["version"] > since_version]


def load(url: str, workspace_id: str):
    uow = SqlAlchemyUnitOfWork(url)
    with uow:
        return uow.workspaces.get(workspace_id)


def test_two_downgrades_at_once_never_both_apply_from_one_version(database_url):
    seed_demo(SqlAlchemyUnitOfWork(database_url), NOW)
    start = load(database_url, "demo-downgrade-scheduled").version
    to_starter = ChangeRequest(DW, "starter")
    to_fewer_seats = ChangeRequest(DW, "standard", seats=10)
    results = race(
        database_url,
        lambda uow: services.schedule_downgrade(uow, "demo-downgrade-scheduled", to_starter, "A", True, NOW),
        lambda uow: services.schedule_downgrade(uow, "demo-downgrade-scheduled", to_fewer_seats, "B", True, NOW),
    )
    applied = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, errors.ConcurrentUpdateError) for r in refused), refused
    assert applied, "at least one of two valid changes applies"
    versions = committed_versions(database_url, "demo-downgrade-scheduled", start)
    assert sorted(versions) == list(range(start + 1, start + 1 + len(applied)))  # one commit per version
    final = load(database_url, "demo-downgrade-scheduled")
    assert final.version == start + len(applied)
    assert len(final.scheduled_changes) == 1  # the later one replaced the earlier, never two
    uow = SqlAlchemyUnitOfWork(database_url)
    with uow:
        scheduled = [
            e for e in uow.workspaces.audit_entries("demo-downgrade-scheduled") if e.action == "downgrade_scheduled"
        ]
    last = max(scheduled, key=lambda e: e.detail["version"])
    assert (last.detail["tier"], last.detail["seats"]) == (
        final.scheduled_changes[0].tier,
        final.scheduled_changes[0].seats,
    )


def test_the_same_upgrade_twice_at_once_applies_once(database_url):
    seed_demo(SqlAlchemyUnitOfWork(database_url), NOW)
    start = load(database_url, "demo-monthly").version
    upgrade = ChangeRequest(DW, "standard")
    results = race(
        database_url,
        lambda uow: services.apply_upgrade(uow, "demo-monthly", upgrade, NOW, actor="first"),
        lambda uow: services.apply_upgrade(uow, "demo-monthly", upgrade, NOW, actor="second"),
    )
    applied = [r for r in results if not isinstance(r, Exception)]
    assert len(applied) == 1, results
    [loser] = [r for r in results if isinstance(r, Exception)]
    # Lost the race: retried on the new state, where the plan is already Standard (NO_CHANGE),
    # or lost twice. Either way it wrote nothing.
    assert isinstance(loser, (errors.ChangeNotAllowedError, errors.ConcurrentUpdateError)), loser
    assert committed_versions(database_url, "demo-monthly", start) == [start + 1]
    final = load(database_url, "demo-monthly")
    assert (final.version, final.subscription(DW).tier) == (start + 1, "standard")


def test_without_a_retry_the_later_writer_gets_a_concurrent_update_error(database_url):
    seed_demo(SqlAlchemyUnitOfWork(database_url), NOW)
    start = load(database_url, "demo-yearly").version
    barrier = threading.Barrier(2)

    def add_seats(seats: int) -> Callable:
        def job(uow):
            with uow:
                workspace = uow.workspaces.get("demo-yearly")  # no lock: optimistic only
                barrier.wait(timeout=5)  # both have read version `start`
                workspace.subscription(DW).seats = seats
                workspace.touch()
                uow.commit()
                return seats

        return job

    results = race(database_url, add_seats(11), add_seats(12))
    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], errors.ConcurrentUpdateError)
    final = load(database_url, "demo-yearly")
    assert (final.version, final.subscription(DW).seats) == (start + 1, winners[0])


def test_for_update_makes_a_second_writer_wait_on_postgresql(postgres_url):
    # (SQLite has no row locks: there the version column alone refuses the later writer.)
    database_url = postgres_url
    seed_demo(SqlAlchemyUnitOfWork(database_url), NOW)
    holder_has_lock = threading.Event()
    events: List[str] = []

    def holder() -> None:
        uow = SqlAlchemyUnitOfWork(database_url)
        with uow:
            workspace = uow.workspaces.get("demo-free", for_update=True)
            holder_has_lock.set()
            time.sleep(0.5)
            workspace.subscription(DW).seats = 9
            workspace.touch()
            events.append("holder commits")
            uow.commit()

    def waiter() -> None:
        holder_has_lock.wait(timeout=5)
        uow = SqlAlchemyUnitOfWork(database_url)
        with uow:
            workspace = uow.workspaces.get("demo-free", for_update=True)
            events.append(f"waiter reads seats={workspace.subscription(DW).seats}")

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert events == ["holder commits", "waiter reads seats=9"]


def test_many_writers_keep_one_history(database_url):
    """Four threads schedule, replace and cancel downgrades of one workspace as fast as they can:
    nothing fails except in the expected, typed ways, and every commit has a version of its own."""
    seed_demo(SqlAlchemyUnitOfWork(database_url), NOW)
    start = load(database_url, "demo-downgrade-scheduled").version
    expected = (errors.ConcurrentUpdateError, errors.NoScheduledChangeError, errors.ChangeNotAllowedError)
    successes, surprises = [], []
    requests = [ChangeRequest(DW, "starter"), ChangeRequest(DW, "standard", seats=10), ChangeRequest(DW, "standard")]

    def writer(number: int) -> None:
        uow = SqlAlchemyUnitOfWork(database_url)
        for step in range(8):
            try:
                if (number + step) % 3 == 2:
                    services.cancel_scheduled_change(uow, "demo-downgrade-scheduled", DW, NOW)
                else:
                    services.schedule_downgrade(
                        uow, "demo-downgrade-scheduled", requests[(number + step) % 3], f"writer {number}", True, NOW
                    )
                successes.append(number)
            except expected:
                pass
            except Exception as problem:  # noqa: BLE001
                surprises.append(repr(problem))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert surprises == []
    assert successes
    versions = committed_versions(database_url, "demo-downgrade-scheduled", start)
    # Asking again for exactly the scheduled downgrade succeeds without a write (nothing changes).
    assert 0 < len(versions) <= len(successes)
    assert sorted(versions) == list(range(start + 1, start + 1 + len(versions)))
    final = load(database_url, "demo-downgrade-scheduled")
    assert final.version == start + len(versions)
    assert len(final.scheduled_changes) <= 1
