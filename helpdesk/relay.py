"""The channel's side of a hand-off: the conversation's messages kept, the bot skipped while a
person holds the conversation, and the agent's messages pushed live to the customer's socket.

Used by helpdesk/channel.py (the verified socket.io channel, inside the Rasa server):

* ``incoming``: every customer message is kept (``chat_messages``: the widget's history on any
  device, the console's view); while the conversation has an active hand-off it goes to the
  console only and the bot does not answer. "/restart" (the widget's "Trò chuyện mới") ends the
  hand-off: the customer chose to start over with the bot.
* ``output``: the bot's replies, kept as they are sent, one message per reply text (Rasa's stock
  output cuts a text at every blank line into separate bubbles); the buttons of a "was this
  helpful?" prompt carry the prompt's id (helpdesk/ratings.py), in the widget and in the history.
* ``poll_forever``: agent replies and hand-off notices written by the web app (the console) are
  read from the store every ``HELPDESK_HANDOFF_POLL_SECONDS`` (default 1 s) and emitted to the
  conversation's room. Each Rasa server polls for itself and reaches the sockets it holds, so this
  works with several Rasa servers behind one proxy; a socket that was not connected reads the
  messages from its history when it comes back.

A store failure is logged and never stops the bot from answering.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import timezone
from typing import Any, Callable, Dict, Optional, Tuple

from rasa.core.channels.socketio import SocketIOOutput

from helpdesk import conversation_store, ratings, settings
from helpdesk.identity import Identity

log = logging.getLogger(__name__)

RESTART = "/restart"
MAX_SHOWN = 200


def poll_seconds(environ: Optional[Dict[str, str]] = None) -> float:
    """HELPDESK_HANDOFF_POLL_SECONDS (as helpdesk/settings.py read it), kept within 0.2-30 s."""
    configured = (
        settings.current().handoff_poll_seconds if environ is None else environ.get("HELPDESK_HANDOFF_POLL_SECONDS")
    )
    text = (configured or "1").strip()
    try:
        value = float(text)
    except ValueError:
        value = 1.0
    return min(max(value, 0.2), 30.0)


async def _blocking(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


def _iso(value: Any) -> Optional[str]:
    return value.replace(tzinfo=timezone.utc).isoformat() if value is not None else None


def pushed_message(row: Dict[str, Any], status: Optional[str]) -> Dict[str, Any]:
    """What the widget receives for an agent reply or a hand-off notice."""
    message: Dict[str, Any] = {
        "text": row["text"],
        "sender": row["role"],
        "at": _iso(row["created_at"]),
        "message_id": row["id"],
    }
    if status:
        message["handoff"] = {"status": status}
    return message


class RecordingOutput(SocketIOOutput):
    """Rasa's socket.io output that keeps what it sends, one message per reply text."""

    def __init__(
        self, sio: Any, bot_message_evt: str, relay: "Relay", sender_id: str, who: Tuple[Optional[str], Optional[str]]
    ) -> None:
        super().__init__(sio, bot_message_evt)
        self.relay, self.sender_id, self.who = relay, sender_id, who

    async def _send_message(self, socket_id: str, response: Any) -> None:
        await super()._send_message(socket_id, response)
        if isinstance(response, dict) and (response.get("text") or response.get("quick_replies")):
            buttons = [
                {"title": b.get("title", ""), "payload": b.get("payload", "")}
                for b in response.get("quick_replies") or []
                if isinstance(b, dict)
            ]
            await self.relay.keep(self.sender_id, "bot", response.get("text") or "", self.who, buttons=buttons)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"text": text.strip()})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: Any, **kwargs: Any) -> None:
        buttons = ratings.stamp_buttons(buttons, kwargs.get("timestamp"))
        replies = [{"content_type": "text", "title": b["title"], "payload": b["payload"]} for b in buttons]
        await self._send_message(recipient_id, {"text": text.strip(), "quick_replies": replies})


class Relay:
    def __init__(
        self,
        sio: Any,
        namespace: Optional[str],
        bot_message_evt: str,
        secret: Callable[[], str],
        url: Optional[str] = None,
    ) -> None:
        self.sio, self.namespace, self.bot_message_evt = sio, namespace, bot_message_evt
        self._secret, self.url = secret, url

    @staticmethod
    def who(identity: Optional[Identity]) -> Tuple[Optional[str], Optional[str]]:
        """(subject, workspace) of the identity the channel verified: the key of the history on any device."""
        return (identity.sub, identity.workspace_id) if identity is not None else (None, None)

    async def keep(
        self,
        sender_id: str,
        role: str,
        text: str,
        who: Tuple[Optional[str], Optional[str]],
        buttons: Any = None,
        handoff_id: Optional[int] = None,
    ) -> None:
        try:
            await _blocking(
                conversation_store.add_message,
                sender_id,
                role,
                text,
                user_sub=who[0],
                workspace_id=who[1],
                buttons=buttons,
                handoff_id=handoff_id,
                url=self.url,
            )
        except Exception:
            log.exception("could not keep a %s message of %s", role, sender_id)

    async def incoming(self, sender_id: str, text: str, metadata: Dict[str, Any], identity: Optional[Identity]) -> bool:
        """Keep the customer's message; True when a person holds the conversation (skip the bot)."""
        who = self.who(identity)
        try:
            if text.strip() == RESTART:
                await _blocking(conversation_store.cancel_by_customer, sender_id, self.url)
                await self.keep(sender_id, "restart", "", who)  # the history starts again from here
                return False
            handoff = await _blocking(conversation_store.active_handoff, sender_id, self.url)
        except Exception:
            log.exception("hand-off state of %s unknown: the bot answers", sender_id)
            return False
        shown = text
        if text.startswith("/"):  # a button: keep the title the customer saw, not the intent
            title = metadata.get("shown") if isinstance(metadata, dict) else None
            shown = title[:MAX_SHOWN] if isinstance(title, str) and title.strip() else ""
        if shown.strip():
            await self.keep(sender_id, "user", shown, who, handoff_id=handoff["id"] if handoff else None)
        return handoff is not None

    def output(self, sender_id: str, identity: Optional[Identity]) -> RecordingOutput:
        return RecordingOutput(self.sio, self.bot_message_evt, self, sender_id, self.who(identity))

    async def announce(self, sid: str, sender_id: str) -> None:
        """Tell a (re)connected socket who holds its conversation."""
        try:
            handoff = await _blocking(conversation_store.active_handoff, sender_id, self.url)
        except Exception:
            log.exception("hand-off state of %s unknown", sender_id)
            return
        state = (
            {"status": handoff["status"], "after_hours": bool(handoff["after_hours"])} if handoff else {"status": None}
        )
        await self.sio.emit("handoff_state", state, room=sid, namespace=self.namespace)

    async def push_new(self, cursor: int) -> int:
        """Emit the agent and hand-off messages written after ``cursor``; the new cursor."""
        rows = await _blocking(conversation_store.messages_to_push, cursor, self.url)
        statuses: Dict[int, Optional[str]] = {}
        for row in rows:
            cursor = max(cursor, row["id"])
            handoff_id = row.get("handoff_id")
            if handoff_id is not None and handoff_id not in statuses:
                try:
                    found = await _blocking(conversation_store.get_handoff, handoff_id, self.url)
                    statuses[handoff_id] = found["status"]
                except conversation_store.HandoffError:
                    statuses[handoff_id] = None
            await self.sio.emit(
                self.bot_message_evt,
                pushed_message(row, statuses.get(handoff_id)),
                room=row["sender_id"],
                namespace=self.namespace,
            )
        return cursor

    async def poll_forever(self) -> None:
        interval = poll_seconds()
        cursor: Optional[int] = None
        while True:
            try:
                if cursor is None:
                    cursor = await _blocking(conversation_store.last_message_id, self.url)
                else:
                    cursor = await self.push_new(cursor)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not read agent messages; retrying")
            await asyncio.sleep(interval)
