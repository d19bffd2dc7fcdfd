"""Rasa's Redis ticket lock, made safe for several Rasa servers.

Rasa 3.6's ``RedisLockStore`` changes a conversation's lock by GET, modify in Python, SET.
Inside one server that is safe (no ``await`` between the two), but two servers interleave:
tickets issued at the same moment get the same number or overwrite each other, and a waiter's
periodic clean-up can write back a ticket that was just served, which then blocks the
conversation until it expires (``TICKET_LOCK_LIFETIME``, 60 s). Measured here: a burst of 24
messages into one conversation through two servers timed out after 60 s for 20 of them.

This store does every read-modify-write of a lock in one Redis transaction (WATCH/MULTI/EXEC,
retried on conflict), so tickets are unique and served in the order they were issued, whichever
server issued them. It also polls a waiting ticket every ``poll_interval`` seconds (0.05 by
default) instead of Rasa's 1 s, so a queue of messages drains at processing speed.

endpoints.yml::

    lock_store:
      type: deploy.redis_lock_store.AtomicRedisLockStore
      url: 127.0.0.1
      port: 6379
      password: ...
      db: 1
      key_prefix: helpdesk
      poll_interval: 0.05
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, Optional, Text, Tuple

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

DEFAULT_POLL_INTERVAL = 0.05


class AtomicRedisLockStore(RedisLockStore):
    def __init__(
        self, endpoint_config: Any = None, poll_interval: float = DEFAULT_POLL_INTERVAL, **kwargs: Any
    ) -> None:
        if endpoint_config is not None:  # created by Rasa from endpoints.yml
            settings = dict(endpoint_config.kwargs)
            poll_interval = float(settings.pop("poll_interval", poll_interval))
            kwargs = {"host": endpoint_config.url or "localhost", **settings, **kwargs}
        super().__init__(**kwargs)
        self.poll_interval = poll_interval

    def _key(self, conversation_id: Text) -> Text:
        return self.key_prefix + conversation_id

    def _atomically(
        self, conversation_id: Text, change: Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], Any]]
    ) -> Any:
        """Apply ``change(lock) -> (new lock or None to delete, result)`` as one transaction."""
        key = self._key(conversation_id)
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    new_lock, result = change(lock)
                    pipe.multi()
                    if new_lock is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, new_lock.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another server changed this lock meanwhile: read it again

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: Optional[TicketLock]):
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._atomically(conversation_id, issue)
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: Text) -> None:
        def drop_expired(lock: Optional[TicketLock]):
            if lock is None:
                return None, None
            lock.remove_expired_tickets()
            return lock, None

        self._atomically(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self.cleanup(conversation_id, ticket_number)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Remove the served ticket, and the lock itself when no one else waits: one transaction."""

        def finish(lock: Optional[TicketLock]):
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._atomically(conversation_id, finish)

    @asynccontextmanager
    async def lock(
        self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        async with super().lock(conversation_id, lock_lifetime, min(wait_time_in_seconds, self.poll_interval)) as lock:
            yield lock
