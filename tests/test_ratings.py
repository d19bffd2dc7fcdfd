"""Which "was this helpful?" prompt a click answers (helpdesk/ratings.py, docs/decisions.md §22):
Rasa renders the prompt's payloads as written, the channels write the prompt's id into them as
they send it (REST and socket, also into the kept history), and the channel looks a clicked
prompt up in the whole stored conversation, signed for that conversation alone."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from helpdesk import ratings
from helpdesk.channel import CLIENT_ONLY_KEYS, edge_metadata, rated_prompt
from helpdesk.relay import RecordingCollector, RecordingOutput
from helpdesk.tracker_store import WindowedSQLTrackerStore

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
SECRET = "a-test-secret-for-the-rated-prompt-0123"
AT = 1764561234.567891


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.mark.parametrize("language, yes, no", [("vi", "Có", "Không"), ("en", "Yes", "No")])
def test_rasa_renders_the_prompts_buttons_as_rating_payloads(language, yes, no, capfd, caplog):
    # The payloads' braces are doubled in domain.yml: Rasa fills {slot} placeholders in buttons, and
    # with single braces it logs a KeyError with its traceback after every answer (then sends the
    # payload unchanged).
    tracker = DialogueStateTracker.from_events("s", [SlotSet("language", language)], DOMAIN.slots)
    generator = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    message = run(generator.generate("utter_ask_helpful", tracker, "rest"))
    assert [(b["title"], b["payload"]) for b in message["buttons"]] == [
        (yes, '/rate_answer{"rating":"yes"}'),
        (no, '/rate_answer{"rating":"no"}'),
    ]
    out, err = capfd.readouterr()
    assert "KeyError" not in out + err + caplog.text


def test_a_prompt_id_names_the_bot_event_it_was_sent_in_and_nothing_else():
    assert ratings.parse_prompt_id(ratings.prompt_id(AT)) == AT
    for bad in (None, True, float("nan"), float("inf"), -AT, 0, 1e12, "1.5"):
        assert ratings.prompt_id(bad) is None
    for bad in ("", "abc", "-1.5", "1e5", "inf", "nan", " 1.5", "1.5 ", "9" * 12, "1." + "1" * 40, 1.5, ["1.5"]):
        assert ratings.parse_prompt_id(bad) is None, bad


def test_the_channel_writes_the_prompts_id_into_its_rating_buttons_only():
    buttons = [
        {"title": "Có", "payload": '/rate_answer{"rating":"yes"}'},
        {"title": "Không", "payload": '/rate_answer{"rating":"no"}'},
        {"title": "Gặp nhân viên", "payload": "/request_human"},
    ]
    stamped = ratings.stamp_buttons(buttons, AT)
    assert [json.loads(b["payload"][len("/rate_answer") :]) for b in stamped[:2]] == [
        {"rating": "yes", "prompt": repr(AT)},
        {"rating": "no", "prompt": repr(AT)},
    ]
    assert stamped[2] == buttons[2]
    assert all(ratings.requested_prompt(b["payload"]) == AT for b in stamped[:2])
    assert ratings.stamp_buttons(buttons, None) == buttons  # no timestamp: as given
    assert ratings.requested_prompt("/request_human") is None
    assert ratings.requested_prompt('/rate_answer{"rating":"yes"}') is None
    assert ratings.requested_prompt('/rate_answer{"rating":"yes","prompt":"x"}') is None
    assert ratings.requested_prompt("/rate_answer{not json") is None


def test_rest_replies_carry_the_prompts_id():
    output = RecordingCollector(None, "s", (None, None))  # the REST channels' output
    run(
        output.send_response(
            "s",
            {
                "text": "Thông tin này có hữu ích với bạn không?",
                "buttons": [{"title": "Có", "payload": '/rate_answer{"rating":"yes"}'}],
                "timestamp": AT,
                "utter_action": "utter_ask_helpful",
            },
        )
    )
    [message] = output.messages
    assert message["buttons"] == [{"title": "Có", "payload": '/rate_answer{"rating":"yes","prompt":"%r"}' % AT}]
    assert output.replies[0][1] == message["buttons"]  # kept in the history as the customer got it


class _Sio:
    def __init__(self):
        self.sent = []

    async def emit(self, event, data, room=None, namespace=None):
        self.sent.append(data)


class _Relay:
    def __init__(self):
        self.kept = []

    async def keep_reply(self, sender_id, text, buttons, who):
        self.kept.append(buttons)


def test_socket_replies_and_the_kept_history_carry_the_prompts_id():
    sio, relay = _Sio(), _Relay()
    output = RecordingOutput(sio, "bot_uttered", relay, "s", (None, None))
    buttons = [{"title": "Có", "payload": '/rate_answer{"rating":"yes"}'}, {"title": "Hủy", "payload": "/deny"}]
    run(output.send_response("s", {"text": "Hữu ích không?", "buttons": buttons, "timestamp": AT}))
    stamped = '/rate_answer{"rating":"yes","prompt":"%r"}' % AT
    assert [b["payload"] for b in sio.sent[0]["quick_replies"]] == [stamped, "/deny"]
    assert [b["payload"] for b in relay.kept[0]] == [stamped, "/deny"]  # the history on any device


def test_a_clients_own_rated_prompt_never_reaches_rasa():
    assert ratings.RATED_KEY in CLIENT_ONLY_KEYS
    forged = {"rated_prompt": {"prompt": repr(AT), "intent": "ask_trial", "sig": "0" * 64}, "shown": "Có"}
    assert edge_metadata(forged, "s", None, SECRET) == {"shown": "Có"}
    ours = ratings.prompt_claim((repr(AT), "ask_trial"), "s", SECRET)
    assert edge_metadata(forged, "s", None, SECRET, ours)["rated_prompt"] == ours


def _store_with_a_prompt(tmp_path):
    store = WindowedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"), window_turns=2)
    tracker = run(store.get_or_create_tracker("s"))
    tracker.update(UserUttered("dùng thử bao lâu", {"name": "ask_trial", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_ask_helpful"))
    prompt = BotUttered(
        "Hữu ích không?",
        data={"buttons": [{"title": "Có", "payload": '/rate_answer{"rating":"yes"}'}]},
        metadata={"utter_action": "utter_ask_helpful"},
    )
    tracker.update(prompt)
    for turn in range(4):  # past the window
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(f"xin chào {turn}", {"name": "greet", "confidence": 1.0}))
        tracker.update(ActionExecuted("utter_greet"))
    run(store.save(tracker))
    return store, prompt.timestamp


def test_the_channel_finds_a_clicked_prompt_in_the_whole_conversation_and_signs_it(tmp_path):
    store, at = _store_with_a_prompt(tmp_path)
    app = SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store)))
    click = ratings.stamp_buttons([{"title": "Có", "payload": '/rate_answer{"rating":"yes"}'}], at)[0]["payload"]
    claim = run(rated_prompt(app, "s", click, SECRET))
    assert ratings.claimed_prompt({"rated_prompt": claim}, "s", SECRET) == (ratings.prompt_id(at), "ask_trial")
    assert ratings.claimed_prompt({"rated_prompt": claim}, "another-conversation", SECRET) is None
    assert ratings.claimed_prompt({"rated_prompt": claim}, "s", "another-secret-0123456789abcdefgh") is None
    # not a click on a prompt of this conversation: nothing to pass on
    assert run(rated_prompt(app, "someone-else", click, SECRET)) is None
    assert run(rated_prompt(app, "s", '/rate_answer{"rating":"yes","prompt":"12.5"}', SECRET)) is None
    assert run(rated_prompt(app, "s", "dùng thử bao lâu", SECRET)) is None
    assert run(rated_prompt(None, "s", click, SECRET)) is None  # no agent yet (the model is loading)


def test_a_store_that_fails_costs_the_lookup_not_the_message(tmp_path, caplog):
    class Broken:
        async def retrieve_full_tracker(self, sender_id):
            raise RuntimeError("database gone")

    app = SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=Broken())))
    click = '/rate_answer{"rating":"yes","prompt":"%r"}' % AT
    assert run(rated_prompt(app, "s", click, SECRET)) is None
    assert "could not look up the rated prompt" in caplog.text
