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

Because both ids are HMACs under ``HELPDESK_JWT_SECRET`` they cannot be guessed, even by
someone who can reach another channel where the sender id is free. The metadata (with the
token) is passed on unchanged: the actions verify the token again on every turn.

Configured in credentials.yml::

    helpdesk.channel.VerifiedSocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      socketio_path: /socket.io
    helpdesk.channel.VerifiedRestInput: {}     # POST /webhooks/verified/webhook

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
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request
from socketio import AsyncServer

from helpdesk.identity import jwt_secret, verify_token
from helpdesk.relay import Relay

logger = logging.getLogger(__name__)

MAX_SESSION_ID_LENGTH = 100


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


def sender_for(metadata: Any, client_session: str, secret: str) -> str:
    token = metadata.get("token") if isinstance(metadata, dict) else None
    sub = token_subject(token, secret)
    if sub is not None:
        return user_sender_id(sub, secret)
    return anonymous_sender_id(client_session, secret)


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
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        socketio_webhook = SocketBlueprint(sio, self.socketio_path, "verified_socketio_webhook", __name__)
        self.sio = sio
        # hand-offs: messages kept, the bot skipped while a person holds it, agent replies pushed
        relay = Relay(sio, self.namespace, self.bot_message_evt, lambda: self.secret)
        self.relay = relay

        @socketio_webhook.listener("after_server_start")
        async def start_relay(app: Any, _loop: Any) -> None:
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

        async def bind(sid: str, metadata: Dict[str, Any]) -> str:
            sender_id = sender_for(metadata, client_sessions.get(sid) or sid, self.secret)
            # leave any conversation this socket read before (e.g. after a logout)
            for room in list(sio.rooms(sid, namespace=self.namespace)):
                if room not in (sid, sender_id) and (room.startswith("u-") or room.startswith("anon-")):
                    await sio.leave_room(sid, room, namespace=self.namespace)
            await sio.enter_room(sid, sender_id, namespace=self.namespace)
            return sender_id

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict] = None) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = _clean_session_id(data.get("session_id")) or uuid.uuid4().hex
            client_sessions[sid] = session_id
            sender_id = await bind(sid, _metadata_of(data, self.metadata_key))
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            await relay.announce(sid, sender_id)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            if not isinstance(data, dict):
                return
            session_id = _clean_session_id(data.get("session_id"))
            if session_id and sid not in client_sessions:
                client_sessions[sid] = session_id
            metadata = _metadata_of(data, self.metadata_key)
            sender_id = await bind(sid, metadata)
            text = data.get("message", "")
            text = text if isinstance(text, str) else ""
            if await relay.incoming(sender_id, text, metadata):
                return  # a person holds this conversation: the console shows the message, the bot stays quiet
            message = UserMessage(
                text,
                relay.output(sender_id, metadata),
                sender_id,
                input_channel=self.name(),
                metadata=metadata,
            )
            await on_new_message(message)

        return socketio_webhook


class VerifiedRestInput(RestInput):
    """REST channel (``POST /webhooks/verified/webhook``) with the same sender binding.

    The ``sender`` of the request only names an anonymous session; a valid token in
    ``metadata.token`` always wins and names the user's own conversation.
    """

    @classmethod
    def name(cls) -> Text:
        return "verified"

    def __init__(self, secret: Optional[str] = None) -> None:
        self._secret = secret

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        body = req.json if isinstance(req.json, dict) else {}
        client_session = _clean_session_id(body.get("sender")) or uuid.uuid4().hex
        secret = self._secret or jwt_secret()
        return sender_for(self.get_metadata(req), client_session, secret)

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()  # never let the caller claim another channel

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        body = request.json if isinstance(request.json, dict) else {}
        return _metadata_of(body, "metadata")
