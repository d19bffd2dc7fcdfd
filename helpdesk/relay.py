"""The channels' side of a hand-off: the conversation's messages kept, the bot skipped while a
person holds the conversation, and the agent's messages delivered to the customer.

Used by helpdesk/channel.py, inside the Rasa server, by the verified socket.io channel and the two
REST channels alike:

* ``incoming`` is the one place that decides whether a message is held: every customer message is
  kept (``chat_messages``: the widget's history on any device, the console's view); while the
  conversation has an active hand-off (waiting or taken) it goes to the console only and the bot
  does not answer. "/restart" (the widget's "Trò chuyện mới") ends the hand-off: the customer
  chose to start over with the bot.
* ``output`` (socket) and ``collector`` (REST): the bot's replies, kept as they are sent, one
  message per reply text (Rasa's stock outputs cut a text at every blank line into separate
  bubbles); the buttons of a "was this helpful?" prompt carry the prompt's id (helpdesk/ratings.py),
  in the widget, the REST answer and the history.
* socket: ``poll_forever`` reads agent replies and hand-off notices written by the web app (the
  console) from the store every ``HELPDESK_HANDOFF_POLL_SECONDS`` (default 1 s) and emits them to
  the conversation's room. Each Rasa server polls for itself and reaches the sockets it holds, so
  this works with several Rasa servers behind one proxy; a socket that was not connected reads the
  messages from its history when it comes back.
* REST (``rest_incoming``): a REST client has no socket, so it gets the agent's replies and the
  hand-off notices in the responses to its own calls: every REST response starts with the ones no
  REST response has carried yet, oldest first, each once (``conversation_store.claim_for_rest``,
  one cursor per conversation in the database, so whichever Rasa server answers). A message the
  hand-off holds is answered by the channel with a short acknowledgement in the message's
  language (``utter_handoff_message_sent`` of actions/responses.yml); a message with empty text is
  a poll: while a hand-off is open, or while something is owed, it is answered with what is owed
  (or, when nothing is, with the hand-off state alone) and never reaches the bot. Every item the
  relay writes has the stock REST shape, ``recipient_id``, ``text`` and ``custom``:
  ``{"sender": "agent" | "system", "handoff": {"status", "after_hours"}}`` (agent replies and
  notices also carry ``at`` and ``message_id``). "/restart" skips whatever was still owed.

A store failure is logged and never stops the bot from answering.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.channels.socketio import SocketIOOutput

from helpdesk import channel_texts, conversation_store, ratings, settings
from helpdesk.identity import Identity
from helpdesk.support_hours import moment_text
from helpdesk.text import detect_language

log = logging.getLogger(__name__)

RESTART = "/restart"
MAX_SHOWN = 200
SENT = "utter_handoff_message_sent"
SENT_AFTER_HOURS = "utter_handoff_message_sent_after_hours"


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


def rest_state(handoff: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """A hand-off's state as REST responses carry it (``status`` None: nobody holds the conversation)."""
    if handoff is None:
        return {"status": None, "after_hours": False}
    return {"status": handoff["status"], "after_hours": bool(handoff["after_hours"])}


def rest_delivered(recipient_id: str, row: Dict[str, Any], handoff: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """An agent reply or a hand-off notice as an item of a REST response (the stock shape)."""
    return {
        "recipient_id": recipient_id,
        "text": row["text"],
        "custom": {
            "sender": row["role"],
            "at": _iso(row["created_at"]),
            "message_id": row["id"],
            "handoff": rest_state(handoff),
        },
    }


def shown_text(text: str, metadata: Any) -> str:
    """What the customer's message showed: a button's title (not its intent), or the text typed."""
    if text.startswith("/"):
        title = metadata.get("shown") if isinstance(metadata, dict) else None
        return title[:MAX_SHOWN] if isinstance(title, str) and title.strip() else ""
    return text


def acknowledgement(handoff: Dict[str, Any], lang: str, now: Optional[datetime] = None) -> str:
    """What a REST client reads when the hand-off holds its message: sent to the agent, and, while a
    request made after hours still waits, by when a person answers."""
    expected = handoff.get("expected_by")
    if handoff["status"] == conversation_store.WAITING and handoff.get("after_hours") and expected is not None:
        expected = expected.replace(tzinfo=timezone.utc) if expected.tzinfo is None else expected
        if expected > (now or datetime.now(timezone.utc)):
            return channel_texts.render(SENT_AFTER_HOURS, lang, answer_by=moment_text(expected, lang))
    return channel_texts.render(SENT, lang)


@dataclass
class RestTurn:
    """What the relay makes of a REST message: ``answer`` is the whole response when the relay answers
    it (held, or a poll); None means the bot answers, after ``owed`` (agent replies and notices)."""

    answer: Optional[List[Dict[str, Any]]] = None
    owed: List[Dict[str, Any]] = field(default_factory=list)


class RecordingOutput(SocketIOOutput):
    """Rasa's socket.io output that keeps what it sends, one message per reply text."""

    def __init__(
        self, sio: Any, bot_message_evt: str, relay: "Relay", sender_id: str, who: Tuple[Optional[str], Optional[str]]
    ) -> None:
        super().__init__(sio, bot_message_evt)
        self.relay, self.sender_id, self.who = relay, sender_id, who

    async def _send_message(self, socket_id: str, response: Any) -> None:
        await super()._send_message(socket_id, response)
        if isinstance(response, dict):
            await self.relay.keep_reply(
                self.sender_id, response.get("text") or "", response.get("quick_replies"), self.who
            )

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"text": text.strip()})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: Any, **kwargs: Any) -> None:
        buttons = ratings.stamp_buttons(buttons, kwargs.get("timestamp"))
        replies = [{"content_type": "text", "title": b["title"], "payload": b["payload"]} for b in buttons]
        await self._send_message(recipient_id, {"text": text.strip(), "quick_replies": replies})


class RecordingCollector(CollectingOutputChannel):
    """Rasa's REST output (the stock response list) that keeps the bot's replies as the socket's does.

    A custom message written for the socket (``{"data": {...}}``, the payload socket.io emits, as the
    hand-off request's ``{"data": {"handoff": ...}}``) is given as its payload, so a REST client
    reads ``custom.handoff`` there as in every item the relay writes."""

    def __init__(self, relay: "Relay", sender_id: str, who: Tuple[Optional[str], Optional[str]]) -> None:
        super().__init__()
        self.relay, self.sender_id, self.who = relay, sender_id, who
        self.replies: List[Tuple[str, Any]] = []  # kept together by ``keep_replies`` once the turn ends

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await super().send_text_message(recipient_id, text, **kwargs)
        self.replies.append((text.strip(), None))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: Any, **kwargs: Any) -> None:
        buttons = ratings.stamp_buttons(buttons, kwargs.get("timestamp"))
        await super().send_text_with_buttons(recipient_id, text, buttons, **kwargs)
        self.replies.append((text.strip(), buttons))

    async def keep_replies(self) -> None:
        """The turn's replies in one write (a REST answer leaves only when the turn is over)."""
        replies, self.replies = self.replies, []
        await self.relay.keep_replies(self.sender_id, replies, self.who)

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        payload = json_message.get("data") if isinstance(json_message, dict) else None
        if isinstance(payload, dict) and set(json_message) == {"data"}:
            json_message = payload
        await super().send_custom_json(recipient_id, json_message, **kwargs)


class Relay:
    """One per channel: the socket's with its server (``sio``) to push to, the REST channels' without."""

    def __init__(
        self,
        sio: Any = None,
        namespace: Optional[str] = None,
        bot_message_evt: str = "bot_uttered",
        secret: Optional[Callable[[], str]] = None,
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
            await asyncio.to_thread(
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

    async def keep_reply(
        self, sender_id: str, text: str, buttons: Any, who: Tuple[Optional[str], Optional[str]]
    ) -> None:
        """Keep one bot reply (text, buttons as {title, payload}) as the customer saw it."""
        await self.keep_replies(sender_id, [(text, buttons)], who)

    async def keep_replies(
        self, sender_id: str, replies: List[Tuple[str, Any]], who: Tuple[Optional[str], Optional[str]]
    ) -> None:
        """Keep bot replies, in order, in one write (each with its buttons as {title, payload})."""
        kept = []
        for text, buttons in replies:
            shown = [
                {"title": b.get("title", ""), "payload": b.get("payload", "")}
                for b in buttons or []
                if isinstance(b, dict)
            ]
            if text or shown:
                kept.append((text, shown))
        if not kept:
            return
        try:
            await asyncio.to_thread(
                conversation_store.add_bot_replies, sender_id, kept, user_sub=who[0], workspace_id=who[1], url=self.url
            )
        except Exception:
            log.exception("could not keep the bot replies of %s", sender_id)

    async def incoming(
        self, sender_id: str, text: str, metadata: Dict[str, Any], identity: Optional[Identity]
    ) -> Optional[Dict[str, Any]]:
        """Keep the customer's message; the hand-off holding the conversation (skip the bot), or None."""
        who = self.who(identity)
        try:
            if text.strip() == RESTART:
                await asyncio.to_thread(conversation_store.cancel_by_customer, sender_id, self.url)
                await self.keep(sender_id, "restart", "", who)  # the history starts again from here
                return None
            handoff, _ = await asyncio.to_thread(
                conversation_store.open_turn,
                sender_id,
                shown_text(text, metadata),
                claim_rest=False,
                user_sub=who[0],
                workspace_id=who[1],
                url=self.url,
            )
        except Exception:
            log.exception("hand-off state of %s unknown: the bot answers", sender_id)
            return None
        return handoff

    async def _handoffs_of(
        self, rows: List[Dict[str, Any]], known: Optional[Dict[str, Any]] = None
    ) -> Dict[Any, Optional[Dict[str, Any]]]:
        """The hand-off of each message that has one, as it is now (None: it no longer exists)."""
        found: Dict[Any, Optional[Dict[str, Any]]] = {known["id"]: known} if known else {}
        for row in rows:
            handoff_id = row.get("handoff_id")
            if handoff_id is not None and handoff_id not in found:
                try:
                    found[handoff_id] = await asyncio.to_thread(conversation_store.get_handoff, handoff_id, self.url)
                except conversation_store.HandoffError:
                    found[handoff_id] = None
        return found

    async def rest_incoming(
        self, sender_id: str, text: str, metadata: Dict[str, Any], identity: Optional[Identity]
    ) -> RestTurn:
        """A REST message: kept and held as ``incoming`` decides, with what the REST caller is owed,
        in one transaction (``conversation_store.open_turn``)."""
        if text.strip() == RESTART:
            await self.incoming(sender_id, text, metadata, identity)
            try:
                await asyncio.to_thread(conversation_store.skip_for_rest, sender_id, self.url)
            except Exception:
                log.exception("could not skip the agent messages owed to %s", sender_id)
            return RestTurn()
        who = self.who(identity)
        try:
            holding, rows = await asyncio.to_thread(
                conversation_store.open_turn,
                sender_id,
                shown_text(text, metadata),
                user_sub=who[0],
                workspace_id=who[1],
                url=self.url,
            )
            handoffs = await self._handoffs_of(rows, holding)
        except Exception:
            log.exception("hand-off state of %s unknown: the bot answers", sender_id)
            return RestTurn()
        owed = [rest_delivered(sender_id, row, handoffs.get(row.get("handoff_id"))) for row in rows]
        if holding is not None:
            state = {"sender": "system", "handoff": rest_state(holding)}
            if text.strip():
                lang = detect_language(text, default=holding.get("language") or "vi")
                return RestTurn(
                    owed + [{"recipient_id": sender_id, "text": acknowledgement(holding, lang), "custom": state}]
                )
            return RestTurn(owed or [{"recipient_id": sender_id, "custom": state}])  # a poll
        if not text.strip() and owed:
            return RestTurn(owed)  # a poll that finds the hand-off over: its last messages, not the bot
        return RestTurn(None, owed)

    def output(self, sender_id: str, identity: Optional[Identity]) -> RecordingOutput:
        return RecordingOutput(self.sio, self.bot_message_evt, self, sender_id, self.who(identity))

    def collector(self, sender_id: str, identity: Optional[Identity]) -> RecordingCollector:
        return RecordingCollector(self, sender_id, self.who(identity))

    async def announce(self, sid: str, sender_id: str) -> None:
        """Tell a (re)connected socket who holds its conversation."""
        try:
            handoff = await asyncio.to_thread(conversation_store.active_handoff, sender_id, self.url)
        except Exception:
            log.exception("hand-off state of %s unknown", sender_id)
            return
        state = (
            {"status": handoff["status"], "after_hours": bool(handoff["after_hours"])} if handoff else {"status": None}
        )
        await self.sio.emit("handoff_state", state, room=sid, namespace=self.namespace)

    async def push_new(self, cursor: int) -> int:
        """Emit the agent and hand-off messages written after ``cursor``; the new cursor."""
        rows = await asyncio.to_thread(conversation_store.messages_to_push, cursor, self.url)
        handoffs = await self._handoffs_of(rows)
        for row in rows:
            cursor = max(cursor, row["id"])
            handoff = handoffs.get(row.get("handoff_id"))
            await self.sio.emit(
                self.bot_message_evt,
                pushed_message(row, handoff["status"] if handoff else None),
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
                    cursor = await asyncio.to_thread(conversation_store.last_message_id, self.url)
                else:
                    cursor = await self.push_new(cursor)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not read agent messages; retrying")
            await asyncio.sleep(interval)
