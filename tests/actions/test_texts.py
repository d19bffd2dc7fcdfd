"""actions/texts.py and actions/responses.yml: every text an action sends exists in both languages,
lives in one file only, and is filled the way Rasa fills a domain response."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from tests.actions.conftest import ACTION_TEXTS, DOMAIN, ROOT

EN = [{"type": "slot", "name": "language", "value": "en"}]
# Texts in responses.yml that no action says: nginx says utter_try_again for the action servers
# when none can answer (scripts/prod/prodstack.py renders it into deploy/nginx.conf.template).
SAID_BY_NGINX = {"utter_try_again"}
# ... and what the chat channels say themselves: to a message over the limits (helpdesk/channel.py), and
# over REST to a message a person's hand-off holds (helpdesk/relay.py).
SAID_BY_CHANNEL = {"utter_message_too_long", "utter_handoff_message_sent", "utter_handoff_message_sent_after_hours"}
# Domain responses that actions only look for in the conversation, never say: the feedback topic
# is the question answered before utter_ask_helpful (actions/feedback.py).
READ_FROM_EVENTS = {"utter_ask_helpful"}
ACTION_SOURCES = {path.name: path.read_text(encoding="utf-8") for path in (ROOT / "actions").glob("*.py")}


def names_in_actions():
    """Every "utter_..." literal the action modules send, and which ones go through Rasa (response=)."""
    literal, via_rasa = set(), set()
    for source in ACTION_SOURCES.values():
        literal |= set(re.findall(r"[\"'](utter_\w+)[\"']", source))
        via_rasa |= set(re.findall(r"response=[\"'](utter_\w+)[\"']", source))
    # utter_invalid(...) says f"utter_invalid_{slot}" for the plan slots it has no special text for
    form_slots = {slot for spec in DOMAIN["forms"].values() for slot in spec["required_slots"]}
    literal |= {f"utter_invalid_{slot}" for slot in form_slots - {"checkout_confirmed"}}
    literal.discard("utter_action")  # Rasa's metadata key that names the text of a bot event, not a text
    return literal - via_rasa - READ_FROM_EVENTS, via_rasa


def test_names_the_actions_only_read_are_domain_responses_they_never_say():
    for name in READ_FROM_EVENTS:
        assert name in DOMAIN["responses"] and name not in ACTION_TEXTS
        for source in ACTION_SOURCES.values():
            assert not re.search(r"say\([^)]*[\"']" + name, source), f"an action says {name}"


def test_every_text_the_actions_say_exists_in_vietnamese_and_english():
    said, via_rasa = names_in_actions()
    assert len(said) > 50  # the scan really reads the actions
    for name in sorted(said):
        assert name in ACTION_TEXTS, f"actions say {name} but actions/responses.yml lacks it"
        variants = ACTION_TEXTS[name]
        assert [v for v in variants if not v.get("condition")], f"{name}: no Vietnamese default"
        assert [v for v in variants if v.get("condition") == EN], f"{name}: no English variation"
    for name in via_rasa:
        assert name in DOMAIN["responses"], f"actions send {name} through Rasa but domain.yml lacks it"


def test_no_text_lives_in_both_files_and_none_is_unused():
    assert not set(ACTION_TEXTS) & set(DOMAIN["responses"])
    said, _ = names_in_actions()
    assert set(ACTION_TEXTS) <= said | SAID_BY_NGINX | SAID_BY_CHANNEL, set(ACTION_TEXTS) - said - SAID_BY_NGINX
    assert not SAID_BY_NGINX & said  # an action saying it too would make the allowance needless


def test_the_texts_the_channels_say_are_really_said_by_them():
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "helpdesk").glob("*.py"))
    for name in SAID_BY_CHANNEL:
        assert f'"{name}"' in sources, f"no channel says {name}: the allowance is needless"
        assert name not in DOMAIN["responses"]


def test_the_texts_nginx_says_are_really_rendered_into_its_configuration(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts" / "prod"))
    import prodstack

    config = prodstack.ProdConfig(
        var_dir=tmp_path,
        jwt_secret="j" * 32,
        pg_password="p",
        redis_password="r",
        rasa_api_token="t",
        vnpay_tmn_code="TMN",
        vnpay_hash_secret="h",
    )
    conf = prodstack.ProdStack(config).nginx_conf().read_text(encoding="utf-8")
    for name in SAID_BY_NGINX:
        assert name not in DOMAIN["responses"]
        for variant in ACTION_TEXTS[name]:
            body = json.dumps(prodstack.try_again_reply(variant["text"]))
            assert prodstack.nginx_single_quoted(body) in conf, f"{name}: {variant['text'][:40]!r} not in nginx.conf"


def test_the_language_picks_the_variation_and_vietnamese_is_the_default():
    vi, en, other = (CollectingDispatcher() for _ in range(3))
    texts.say(vi, "vi", "utter_agent_workspace", workspace="demo-trial")
    texts.say(en, "en", "utter_agent_workspace", workspace="demo-trial")
    texts.say(other, "fr", "utter_agent_workspace", workspace="demo-trial")
    default = next(v for v in ACTION_TEXTS["utter_agent_workspace"] if not v.get("condition"))["text"]
    english = next(v for v in ACTION_TEXTS["utter_agent_workspace"] if v.get("condition"))["text"]
    assert vi.messages[0]["text"] == default.replace("{workspace}", "demo-trial")
    assert en.messages[0]["text"] == english.replace("{workspace}", "demo-trial")
    assert other.messages[0]["text"] == vi.messages[0]["text"]
    assert vi.messages[0]["utter_action"] == "utter_agent_workspace"


def test_buttons_of_the_text_come_first_then_the_actions_own():
    dispatcher = CollectingDispatcher()
    link = {"title": "Pay", "payload": "https://pay.example/x", "url": "https://pay.example/x", "type": "web_url"}
    texts.say(dispatcher, "en", "utter_my_plan", buttons=[link])
    own = next(v for v in ACTION_TEXTS["utter_my_plan"] if v.get("condition"))["buttons"]
    assert own and dispatcher.messages[0]["buttons"] == own + [link]
    assert not re.search(r"[À-ỹ]", dispatcher.messages[0]["text"])  # the English variation


def test_a_missing_value_leaves_the_text_unfilled_like_rasa_and_never_raises():
    dispatcher = CollectingDispatcher()
    texts.say(dispatcher, "vi", "utter_cancel_downgrade_confirm", product="Xây dựng ứng dụng")  # no tier, date
    template = next(v for v in ACTION_TEXTS["utter_cancel_downgrade_confirm"] if not v.get("condition"))["text"]
    assert dispatcher.messages[0]["text"] == template  # Rasa's interpolator returns the response as written


@pytest.mark.parametrize(
    "template, values, expected",
    [
        ("{a} and {b}", {"a": 1, "b": "x"}, "1 and x"),
        ("{a}", {"a": None}, "None"),  # as Rasa formats an empty value
        ("{{a}} stays", {"a": 1}, "{a} stays"),
        ("{a.b}", {"a.b": "dot"}, "dot"),
        ("{0}", {"0": "zero"}, "{0}"),  # a digit indexes, and fails, in Rasa too: left as written
        ("{a:>5}", {"a": 1}, "{a:>5}"),  # no format specs in Rasa's templates: left as written
    ],
)
def test_fill_matches_rasas_interpolator(template, values, expected):
    from rasa.core.nlg.interpolator import interpolate_text

    assert texts.fill(template, values) == expected == interpolate_text(template, values)


def test_an_unknown_name_sends_nothing(caplog):
    dispatcher = CollectingDispatcher()
    texts.say(dispatcher, "vi", "utter_nowhere")
    assert dispatcher.messages == [] and "utter_nowhere" in caplog.text


def test_the_texts_are_read_once():
    assert texts.responses() is texts.responses()
    assert Path(texts.RESPONSES_FILE) == ROOT / "actions" / "responses.yml"
