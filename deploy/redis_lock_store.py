"""Rasa's Redis ticket lock, made safe for several Rasa servers.

Rasa 3.6's ``RedisLockStore`` changes a conversation's lock by GET, modify in Python, SET.
Inside one server that is safe (no ``await`` between the two), but two servers interleave:
tickets issued at the same moment get the same number or overwrite each other, and a waiter's
periodic clean-up can write back a ticket that was just served, which then blocks the
conversation until it expires (``TICKET_LOCK_LIFETIME``, 60 s). Measured here: a burst of 24
messages into one conversation through two servers timed out after 60 s for 20 of them.

This store makes every change of a lock one Lua script, which Redis runs atomically, so tickets
are unique and served in the order they were issued, whichever server issued them. The script
also returns the lock it left, so an uncontended turn costs two round trips (issue the ticket and
read the lock; remove the ticket and drop the lock) instead of seven for Rasa's GET/SET sequence
(seven for a WATCH/MULTI/EXEC version of it). The lock keeps Rasa's JSON form
(``TicketLock.dumps``): Rasa's own store reads it. A waiting ticket is polled every
``poll_interval`` seconds (0.05 by default) instead of Rasa's 1 s, so a queue of messages drains
at processing speed.

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

import asyncio
import json
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Optional, Text, Tuple

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

DEFAULT_POLL_INTERVAL = 0.05

# KEYS[1] the lock; ARGV: now (the server's clock, as TicketLock reads it), the change ("issue",
# "expire", "finish"), its argument (the new ticket's lifetime, or the ticket served), the
# conversation. Each change first drops the expired tickets, as TicketLock does before each read.
# Returns {the ticket issued or -1, the lock's JSON or false when there is no lock}. The JSON is
# written by hand: cjson would write an empty ticket list as {}.
_CHANGE_LOCK = """
local raw = redis.call('GET', KEYS[1])
local now, change, argument = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
if not raw and change ~= 'issue' then
  return {-1, false}
end
local conversation, tickets = ARGV[4], {}
if raw then
  local lock = cjson.decode(raw)
  conversation = lock.conversation_id
  for _, text in ipairs(lock.tickets) do
    local ticket = cjson.decode(text)
    if ticket.expires >= now then
      table.insert(tickets, ticket)
    end
  end
end
local issued = -1
if change == 'issue' then
  issued = 0
  if #tickets > 0 then
    issued = tickets[#tickets].number + 1
  end
  table.insert(tickets, {number = issued, expires = now + argument})
elseif change == 'finish' then
  for i, ticket in ipairs(tickets) do
    if ticket.number == argument then
      table.remove(tickets, i)
      break
    end
  end
  if #tickets == 0 then
    redis.call('DEL', KEYS[1])
    return {issued, false}
  end
end
local parts = {}
for i, ticket in ipairs(tickets) do
  parts[i] = cjson.encode(cjson.encode({number = ticket.number, expires = ticket.expires}))
end
local lock = '{"conversation_id": ' .. cjson.encode(conversation) .. ', "tickets": [' .. table.concat(parts, ', ') .. ']}'
redis.call('SET', KEYS[1], lock)
return {issued, lock}
"""


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
        self._script = self.red.register_script(_CHANGE_LOCK)

    def _key(self, conversation_id: Text) -> Text:
        return self.key_prefix + conversation_id

    def _change(self, conversation_id: Text, change: Text, argument: float = 0) -> Tuple[int, Optional[TicketLock]]:
        """One change of a conversation's lock, done by Redis in one round trip: (the ticket issued,
        or -1; the lock afterwards, None when there is none)."""
        number, raw = self._script(
            keys=[self._key(conversation_id)], args=[repr(time.time()), change, repr(argument), conversation_id]
        )
        return int(number), (TicketLock.from_dict(json.loads(raw)) if raw else None)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._issue(conversation_id, lock_lifetime)[0]

    def _issue(self, conversation_id: Text, lock_lifetime: float) -> Tuple[int, Optional[TicketLock]]:
        try:
            return self._change(conversation_id, "issue", lock_lifetime)
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: Text) -> None:
        self._change(conversation_id, "expire")

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self.cleanup(conversation_id, ticket_number)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Remove the served ticket, and the lock itself when no one else waits."""
        self._change(conversation_id, "finish", ticket_number)

    @asynccontextmanager
    async def lock(
        self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's ``LockStore.lock`` with its reads folded into the changes: the ticket is issued and
        the lock read back in one round trip, and a waiter's clean-up returns the lock it left, so an
        uncontended turn costs two round trips (issue, finish) instead of Rasa's seven."""
        wait = min(wait_time_in_seconds, self.poll_interval)
        ticket, lock = self._issue(conversation_id, lock_lifetime)
        try:
            while True:
                # our ticket expired while it waited (a turn ahead held the lock for its lifetime):
                # Rasa's loop would wait for ever for a ticket that no longer exists
                if lock is None or all(t.number != ticket for t in lock.tickets):
                    raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
                if not lock.is_locked(ticket):
                    break
                await asyncio.sleep(wait)
                _, lock = self._change(conversation_id, "expire")
            yield lock
        finally:
            self.cleanup(conversation_id, ticket)
