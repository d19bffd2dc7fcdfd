"""Rasa input channels that bind a conversation to a verified identity.

Rasa's stock socket.io channel lets the browser choose the conversation (``session_id``)
and sends bot replies to a room named after it, so anyone who guesses or copies a session
id can write into that conversation and read its replies. The stock REST channel lets the
caller choose ``sender`` outright. These channels never take a conversation id from the
client:

* a message carrying a valid HS256 token (``metadata.token``) goes to the conversation of
  the token's subject: ``u-<HMAC(secret, sub)>``;
* a message without a token, or with a bad or expired one, goes to an anonymous
  conversation derived from the client's session: ``anon-<HMAC(secret, session)>``.

Because both ids are HMACs under ``HELPDESK_JWT_SECRET`` they cannot be guessed. Rasa's stock
REST channel (sender chosen by the caller) is replaced by ``BoundRestInput`` under the same
name and URL (``POST /webhooks/rest/webhook``).

**No credential at rest**: the token is verified here and dropped. What goes on to Rasa (the
tracker store, ``session_started_metadata``, logs, the action server) is an identity claim
(``metadata.identity``, helpdesk.identity.identity_claim): signed with a server-side key, bound to
the conversation id, valid for minutes. A client-sent ``identity`` is dropped too.

**Ratings of older answers** (helpdesk/ratings.py): the buttons of a "was this helpful?" prompt carry
the prompt's id as they are sent (here for REST, in helpdesk/relay.py for the socket); a click on
them is looked up in the whole stored conversation and what was found goes on as
``metadata.rated_prompt`` (a client-sent one is dropped).

**Limits at the edge** (helpdesk/settings.py): a message over ``HELPDESK_MAX_MESSAGE_CHARS`` or
metadata over ``HELPDESK_MAX_METADATA_BYTES`` is answered here (``utter_message_too_long`` of
actions/responses.yml, in the message's language) and never reaches the NLU; a body that is not
a JSON object gets 400; request bodies are capped at ``MAX_REQUEST_BYTES``; socket.io accepts
only the configured help-center origins.

**Hand-offs** (helpdesk/relay.py; ``Relay.incoming`` alone decides, for every channel): while the
conversation has an open hand-off (waiting or taken) a message is kept in the hand-off's transcript
for the console and never reaches Rasa. The socket pushes the agent's replies live; a REST caller
gets them in its responses (see ``VerifiedRestInput``).

Configured in credentials.yml::

    helpdesk.channel.VerifiedSocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      socketio_path: /socket.io
    helpdesk.channel.VerifiedRestInput: {}     # POST /webhooks/verified/webhook
    helpdesk.channel.BoundRestInput: {}        # POST /webhooks/rest/webhook (same binding)

Note: with python-socketio 5.x ``AsyncServer.enter_room`` is a coroutine; Rasa 3.6's stock
channel calls it without ``await``, so its ``session_persistence`` silently never joins the
room. This channel awaits it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request
from socketio import AsyncServer

from helpdesk import channel_texts, ratings, settings
from helpdesk.identity import Identity, identity_claim, jwt_secret, verify_token
from helpdesk.relay import SENT, SENT_AFTER_HOURS, Relay
from helpdesk.text import detect_language

logger = logging.getLogger(__name__)

MAX_SESSION_ID_LENGTH = 100
MAX_REQUEST_BYTES = 1_000_000  # Sanic's and engine.io's body cap (Sanic's default is 100 MB)
# never passed on: the token stays here, claims and the rated prompt come from us
CLIENT_ONLY_KEYS = ("token", "identity", ratings.RATED_KEY)
TOO_LONG = "utter_message_too_long"


def too_long_reply(text: str, limit: int) -> str:
    """The edge's answer to an oversized message, in the language of its beginning."""
    lang = detect_language(text[:limit]) if isinstance(text, str) else "vi"
    return channel_texts.render(TOO_LONG, lang, limit=f"{limit:,}".replace(",", "." if lang == "vi" else ","))


def over_limits(text: Any, metadata: Any) -> bool:
    """Whether a message must be answered at the edge instead of reaching the NLU."""
    limits = settings.current()
    if isinstance(text, str) and len(text) > limits.max_message_chars:
        return True
    if metadata:
        try:
            size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8"))
        except (TypeError, ValueError):
            return True
        if size > limits.max_metadata_bytes:
            return True
    return False


def edge_metadata(
    metadata: Dict[str, Any],
    sender_id: str,
    identity: Optional[Identity],
    secret: str,
    rated: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """What Rasa may keep: the client's metadata without any token or claim, plus our own claim
    and the rated prompt we found (rated_prompt)."""
    kept = {key: value for key, value in metadata.items() if key not in CLIENT_ONLY_KEYS}
    if identity is not None:
        kept["identity"] = identity_claim(identity, sender_id, secret)
    if rated is not None:
        kept[ratings.RATED_KEY] = rated
    return kept


def _tracker_store(app: Any) -> Any:
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    return getattr(agent, "tracker_store", None)


async def rated_prompt(app: Any, sender_id: str, text: str, secret: str) -> Optional[Dict[str, str]]:
    """The prompt a clicked rating names, as the stored conversation has it, signed for this
    conversation (ratings.prompt_claim); None for any other message, or a prompt not found."""
    timestamp = ratings.requested_prompt(text)
    store = _tracker_store(app) if timestamp is not None else None
    if store is None or timestamp is None:
        return None
    try:
        found = await ratings.find_in_store(store, sender_id, timestamp)
    except Exception:  # the action still looks in its own turns: never lose the message over it
        logger.exception("could not look up the rated prompt of %s", sender_id)
        return None
    return ratings.prompt_claim(found, sender_id, secret) if found is not None else None


def _cap_request_size(blueprint: Blueprint) -> None:
    for name in (TOO_LONG, SENT, SENT_AFTER_HOURS):
        channel_texts.texts(name)  # read at start, not on the first message that needs them

    @blueprint.listener("before_server_start")
    async def cap(app: Any, _loop: Any) -> None:
        if app.config.REQUEST_MAX_SIZE > MAX_REQUEST_BYTES:
            app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES


def token_subject(token: Any, secret: str) -> Optional[str]:
    """The verified ``sub`` of a token, or None for a missing, bad or expired token."""
    verified = verify_token(token, secret)
    return verified.sub if verified is not None else None


def _digest(secret: str, kind: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def user_sender_id(sub: str, secret: str) -> str:
    """The conversation id of a verified user (stable across reloads and token renewals)."""
    return "u-" + _digest(secret, "sub", sub)


def anonymous_sender_id(client_session: str, secret: str) -> str:
    """The conversation id of an anonymous visitor, derived from their client session."""
    return "anon-" + _digest(secret, "session", client_session)


def bind(metadata: Any, client_session: str, secret: str) -> Tuple[str, Optional[Identity]]:
    """(conversation id, verified identity or None) for a message's metadata."""
    token = metadata.get("token") if isinstance(metadata, dict) else None
    identity = verify_token(token, secret)
    if identity is not None:
        return user_sender_id(identity.sub, secret), identity
    return anonymous_sender_id(client_session, secret), None


def sender_for(metadata: Any, client_session: str, secret: str) -> str:
    return bind(metadata, client_session, secret)[0]


def _clean_session_id(value: Any) -> Optional[str]:
    if isinstance(value, str) and 0 < len(value) <= MAX_SESSION_ID_LENGTH and value.isprintable():
        return value
    return None


def _metadata_of(data: Dict[str, Any], key: str) -> Dict[str, Any]:
    metadata = data.get(key) or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = {}
    return metadata if isinstance(metadata, dict) else {}


class VerifiedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel with conversations bound to the token's subject."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"  # the widget protocol is the stock one; actions see "socketio"

    def __init__(self, *args: Any, secret: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._secret = secret

    @property
    def secret(self) -> str:
        if self._secret is None:
            self._secret = jwt_secret()
        return self._secret

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # Only the configured help-center origins may open the socket (``[]`` would turn the check
        # off); a client without an Origin header (not a browser) is not subject to it.
        origins: List[str] = list(settings.current().allowed_origins)
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=origins, max_http_buffer_size=MAX_REQUEST_BYTES)
        socketio_webhook = SocketBlueprint(sio, self.socketio_path, "verified_socketio_webhook", __name__)
        _cap_request_size(socketio_webhook)
        logger.info("chat socket: %s; origins %s", settings.current().banner(), ", ".join(origins))
        self.sio = sio
        # hand-offs: messages kept, the bot skipped while a person holds it, agent replies pushed
        relay = Relay(sio, self.namespace, self.bot_message_evt, lambda: self.secret)
        self.relay = relay
        server: Dict[str, Any] = {}  # the Sanic app, whose agent holds the tracker store

        @socketio_webhook.listener("after_server_start")
        async def start_relay(app: Any, _loop: Any) -> None:
            server["app"] = app
            app.add_task(relay.poll_forever())

        # per socket: the client's session id (anonymous key) and the rooms it may read
        client_sessions: Dict[str, str] = {}

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            client_sessions[sid] = uuid.uuid4().hex
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text) -> None:
            client_sessions.pop(sid, None)

        async def bind_socket(sid: str, metadata: Dict[str, Any]) -> Tuple[str, Optional[Identity]]:
            sender_id, identity = bind(metadata, client_sessions.get(sid) or sid, self.secret)
            # leave any conversation this socket read before (e.g. after a logout)
            for room in list(sio.rooms(sid, namespace=self.namespace)):
                if room not in (sid, sender_id) and (room.startswith("u-") or room.startswith("anon-")):
                    await sio.leave_room(sid, room, namespace=self.namespace)
            await sio.enter_room(sid, sender_id, namespace=self.namespace)
            return sender_id, identity

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict] = None) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = _clean_session_id(data.get("session_id")) or uuid.uuid4().hex
            client_sessions[sid] = session_id
            metadata = _metadata_of(data, self.metadata_key)
            sender_id = None
            if not over_limits("", metadata):
                sender_id, _ = await bind_socket(sid, metadata)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            if sender_id is not None:
                await relay.announce(sid, sender_id)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            if not isinstance(data, dict):
                return
            session_id = _clean_session_id(data.get("session_id"))
            if session_id and sid not in client_sessions:
                client_sessions[sid] = session_id
            metadata = _metadata_of(data, self.metadata_key)
            text = data.get("message", "")
            text = text if isinstance(text, str) else ""
            if over_limits(text, metadata):
                # answered to this socket only, before any binding: the text never reaches the NLU
                reply = too_long_reply(text, settings.current().max_message_chars)
                await sio.emit(self.bot_message_evt, {"text": reply}, room=sid, namespace=self.namespace)
                return
            sender_id, identity = await bind_socket(sid, metadata)
            if await relay.incoming(sender_id, text, metadata, identity) is not None:
                return  # a person holds this conversation: the console shows the message, the bot stays quiet
            rated = await rated_prompt(server.get("app"), sender_id, text, self.secret)
            message = UserMessage(
                text,
                relay.output(sender_id, identity),
                sender_id,
                input_channel=self.name(),
                metadata=edge_metadata(metadata, sender_id, identity, self.secret, rated),
            )
            await on_new_message(message)

        return socketio_webhook


class VerifiedRestInput(RestInput):
    """REST channel (``POST /webhooks/verified/webhook``) with the same sender binding.

    The ``sender`` of the request only names an anonymous session; a valid token in
    ``metadata.token`` always wins and names the user's own conversation. The body must be a
    JSON object (``message`` a string, ``sender`` a string, ``metadata`` an object): anything
    else gets 400 with a message, never a server error; a message over the limits is answered
    at the edge, hand-off or not.

    Hand-offs, the same decision as the socket's (``Relay.rest_incoming``):

    * while the conversation (the one bound to the verified identity, or the anonymous one of
      ``sender``) has a hand-off waiting or taken, a message is kept in the hand-off's transcript
      and not sent to Rasa. The answer is a list in the stock shape: first the agent's replies and
      the hand-off notices no REST response has carried yet, oldest first, then an acknowledgement
      in the message's language ("Đã gửi tin nhắn cho nhân viên hỗ trợ…"); every item is
      ``{"recipient_id", "text", "custom": {"sender": "agent" | "system", "handoff": {"status":
      "waiting" | "taken", "after_hours": bool}}}`` (replies and notices add ``at`` and
      ``message_id``);
    * a message with empty text (``"message": ""`` or none, metadata with the token only) is a
      poll: while a hand-off is open it gets what is owed, or, when nothing is, one item with the
      state alone (``custom`` without ``text``); after the hand-off it gets what is still owed;
      only with no hand-off open and nothing owed does it go to the bot, as it always did. A REST
      client polls this way (every few seconds) while ``custom.handoff.status`` is "waiting" or
      "taken";
    * each agent reply reaches the REST caller once, in order, whichever Rasa server answers
      (one cursor per conversation in the database); one conversation's caller never gets
      another's;
    * once the agent hands back or closes, messages go to the bot again; the first response after
      that starts with what was still owed (the last replies and the notice, ``status``
      "returned" or "closed"), then the bot's replies;
    * "/restart" ends the hand-off as it does on the socket, and skips what was still owed;
    * the request for a person itself gets the bot's reply and ``custom.handoff`` (the action's
      socket payload ``{"data": ...}`` given as its content).

    The bot's replies and the customer's messages are kept as the socket's are, so the console and
    ``/helpcenter/history`` show the REST conversation too.
    """

    @classmethod
    def name(cls) -> Text:
        return "verified"

    def __init__(self, secret: Optional[str] = None) -> None:
        self._secret = secret

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    @property
    def secret(self) -> str:
        return self._secret or jwt_secret()

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()  # never let the caller claim another channel

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        body = request.json if isinstance(request.json, dict) else {}
        return _metadata_of(body, "metadata")

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        body = req.json if isinstance(req.json, dict) else {}
        client_session = _clean_session_id(body.get("sender")) or uuid.uuid4().hex
        return sender_for(self.get_metadata(req), client_session, self.secret)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"bound_{self.name()}_webhook", __name__)
        _cap_request_size(webhook)
        relay = Relay(secret=lambda: self.secret)  # hand-offs: held messages, agent replies (helpdesk/relay.py)
        self.relay = relay

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Any:
            body, problem = _rest_body(request)
            if problem:
                return response.json({"error": "bad_request", "message": problem}, status=400)
            text, metadata = body.get("message") or "", _metadata_of(body, "metadata")
            client_session = _clean_session_id(body.get("sender")) or uuid.uuid4().hex
            if over_limits(text, body.get("metadata")):
                reply = too_long_reply(text, settings.current().max_message_chars)
                return response.json(
                    [
                        {
                            "recipient_id": body.get("sender")
                            if isinstance(body.get("sender"), str) and len(body["sender"]) <= MAX_SESSION_ID_LENGTH
                            else "",
                            "text": reply,
                        }
                    ]
                )
            sender_id, identity = bind(metadata, client_session, self.secret)
            turn = await relay.rest_incoming(sender_id, text, metadata, identity)
            if turn.answer is not None:
                return response.json(turn.answer)  # a person holds the conversation, or a poll: not the bot
            collector = relay.collector(sender_id, identity)
            rated = await rated_prompt(request.app, sender_id, text, self.secret)
            try:
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        sender_id,
                        input_channel=self.name(),
                        metadata=edge_metadata(metadata, sender_id, identity, self.secret, rated),
                    )
                )
            except CancelledError:
                logger.error("message handling timed out for a %s message", self.name())
            except Exception:
                logger.exception("an exception occurred while handling a %s message", self.name())
            await collector.keep_replies()
            return response.json(turn.owed + collector.messages)

        return webhook


class BoundRestInput(VerifiedRestInput):
    """Replaces Rasa's stock REST channel at its URL (``POST /webhooks/rest/webhook``): same
    request and answer, but the conversation comes from the verified token, never ``sender``."""

    @classmethod
    def name(cls) -> Text:
        return "rest"


def _rest_body(request: Request) -> Tuple[Dict[str, Any], Optional[str]]:
    """The request's JSON object, or a reason to answer 400."""
    try:
        body = request.json
    except Exception:  # Sanic raises its BadRequest for a body that is not JSON
        return {}, 'The body must be JSON: {"sender": "...", "message": "..."}.'
    if not isinstance(body, dict):
        return {}, 'The body must be a JSON object: {"sender": "...", "message": "..."}.'
    if not isinstance(body.get("message", ""), str):
        return {}, '"message" must be a string.'
    if body.get("sender") is not None and not isinstance(body.get("sender"), str):
        return {}, '"sender" must be a string.'
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, (dict, str)):
        return {}, '"metadata" must be a JSON object.'
    return body, None
