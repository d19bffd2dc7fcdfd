"""What the plan forms share (checkout_form here): answers read from entities and from folded
text, polite re-asks on bad values, interruptions left to the rules. ("Can I ...?" is no form any
more: tests/actions/test_questions.py.)"""

from __future__ import annotations

from actions.checkout import ValidateCheckoutForm
from actions.forms import ActionStopForm
from tests.actions.conftest import entity, make_tracker, rendered, responses, run, slot_events, token

FORM = "checkout_form"


def step(
    text,
    intent="inform",
    requested=None,
    slots=None,
    new_slots=None,
    token_value=None,
    entities=None,
    language="vi",
    confidence=0.95,
):
    all_slots = dict(slots or {})
    all_slots["requested_slot"] = requested
    tracker = make_tracker(
        text,
        intent,
        entities=entities,
        token_value=token_value,
        slots=all_slots,
        active_loop=FORM,
        new_slot_events=new_slots,
        language=language,
        confidence=confidence,
    )
    return run(ValidateCheckoutForm(), tracker)


def test_first_message_fills_what_it_names_even_without_diacritics(billing_db):
    dispatcher, events = step("nang cap kglvs len premium nhe", intent="buy_upgrade", token_value=token("demo-yearly"))
    slots = slot_events(events)
    assert slots["product"] == "digital_workspace" and slots["tier"] == "premium"
    assert slots["requested_slot"] == "cycle"
    assert dispatcher.messages == []


def test_entity_values_are_mapped_to_canonical_keys(billing_db):
    dispatcher, events = step(
        "cái đó",
        requested="product",
        token_value=token("demo-yearly"),
        entities=[entity("product", "Xây dựng ứng dụng")],
    )
    assert slot_events(events)["product"] == "app_builder"


def test_answers_kept_from_an_earlier_form_are_validated_again(billing_db):
    _, events = step(
        "/buy_upgrade",
        intent="buy_upgrade",
        token_value=token("demo-yearly"),
        new_slots={"product": "digital_workspace", "tier": "premium"},
    )
    assert slot_events(events)["product"] == "digital_workspace" and slot_events(events)["requested_slot"] == "cycle"


def test_an_entity_inside_a_question_does_not_overwrite_an_answer(billing_db):
    _, events = step(
        "chu kỳ thanh toán theo năm là sao?",
        intent="ask_billing_cycle",
        requested="seats",
        token_value=token("demo-yearly"),
        entities=[entity("cycle", "yearly")],
        slots={"product": "digital_workspace", "tier": "premium", "cycle": "monthly"},
    )
    assert set(slot_events(events)) == {"requested_slot"}


def test_invalid_seats_are_asked_again_politely(billing_db):
    dispatcher, events = step(
        "abc người",
        requested="seats",
        token_value=token("demo-yearly"),
        slots={"product": "digital_workspace", "tier": "premium", "cycle": "keep"},
    )
    slots = slot_events(events)
    assert slots["seats"] is None and slots["requested_slot"] == "seats"
    assert responses(dispatcher) == ["utter_invalid_seats"]
    assert "số nguyên dương" in rendered(dispatcher)


def test_absurd_seat_numbers_are_refused(billing_db):
    dispatcher, events = step(
        "99999999",
        requested="seats",
        token_value=token("demo-yearly"),
        slots={"product": "digital_workspace", "tier": "premium", "cycle": "keep"},
    )
    assert slot_events(events)["requested_slot"] == "seats"
    assert responses(dispatcher) == ["utter_invalid_seats"]


def test_entity_with_a_bad_value_is_cleared_and_asked_again(billing_db):
    dispatcher, events = step(
        "gói vàng",
        requested="tier",
        token_value=token("demo-yearly"),
        slots={"product": "app_builder"},
        entities=[entity("tier", "gold")],
    )
    slots = slot_events(events)
    assert slots["tier"] is None and slots["requested_slot"] == "tier"
    assert responses(dispatcher) == ["utter_invalid_tier"]


def test_keep_means_unchanged(billing_db):
    _, events = step(
        "giữ nguyên",
        requested="cycle",
        token_value=token("demo-yearly"),
        slots={"product": "digital_workspace", "tier": "premium"},
    )
    assert slot_events(events)["cycle"] == "keep"
    assert slot_events(events)["requested_slot"] == "seats"


def test_a_question_in_the_middle_is_not_read_as_an_answer(billing_db):
    # "why can't yearly go monthly" names a cycle, but it is a question: the form rejects (no slot
    # set, so Rasa lets the rules answer it) and asks again afterwards.
    dispatcher, events = step(
        "tại sao gói năm không chuyển sang tháng được?",
        intent="ask_billing_cycle",
        requested="seats",
        token_value=token("demo-yearly"),
        slots={"product": "digital_workspace", "tier": "premium", "cycle": "keep"},
    )
    assert {k for k in slot_events(events)} == {"requested_slot"}
    assert dispatcher.messages == []


def test_anonymous_user_is_told_to_log_in_and_the_form_stops(billing_db):
    dispatcher, events = step("nâng Không gian làm việc số lên Premium", intent="buy_upgrade")
    assert responses(dispatcher) == ["utter_checkout_login"]
    assert slot_events(events)["requested_slot"] is None
    assert slot_events(events)["checkout_status"] == "needs_login"


def test_stopping_the_form_forgets_the_answers(billing_db):
    dispatcher, events = run(ActionStopForm(), make_tracker("thôi", "deny", slots={"product": "app_builder"}))
    assert responses(dispatcher) == ["utter_form_stopped"]
    assert slot_events(events)["product"] is None and slot_events(events)["requested_slot"] is None


def test_a_short_answer_misread_as_another_intent_still_counts(billing_db):
    # "giữ nguyên" was classified as cancel_downgrade in a live run: the parser reads the answer.
    _, events = step(
        "giữ nguyên",
        intent="cancel_downgrade",
        requested="cycle",
        token_value=token("demo-yearly"),
        slots={"product": "digital_workspace", "tier": "premium"},
    )
    assert slot_events(events)["cycle"] == "keep"


def test_seats_in_words_and_negative_numbers(billing_db):
    slots = {"product": "digital_workspace", "tier": "premium", "cycle": "keep"}
    _, events = step(
        "mười hai người", intent="request_human", requested="seats", token_value=token("demo-yearly"), slots=slots
    )
    assert slot_events(events)["seats"] == 12
    for entities in ([], [entity("seats", "3")]):  # the extractor may drop the minus sign
        dispatcher, events = step(
            "-3",
            intent="nlu_fallback",
            requested="seats",
            token_value=token("demo-yearly"),
            slots=slots,
            entities=entities,
        )
        assert responses(dispatcher) == ["utter_invalid_seats"] and slot_events(events)["requested_slot"] == "seats"
    _, events = step(
        "à cho mười hai người nhé",
        intent="request_human",
        requested="renewal_mode",
        token_value=token("demo-yearly"),
        slots=dict(slots, seats=3),
    )
    assert slot_events(events)["seats"] == 12


def test_a_confident_other_intent_with_no_answer_is_left_to_the_rules(billing_db):
    dispatcher, events = step(
        "không đâu", intent="deny", requested="tier", token_value=token("demo-yearly"), slots={"product": "app_builder"}
    )
    assert set(slot_events(events)) == {"requested_slot"}  # Rasa rejects the form; the deny rule stops it
    assert dispatcher.messages == []


def test_giving_up_in_so_many_words_stops_whatever_the_nlu_said(billing_db):
    dispatcher, events = step(
        "thôi không mua nữa",
        intent="inform",
        requested="cycle",
        token_value=token("demo-yearly"),
        slots={"product": "digital_workspace", "tier": "premium"},
        confidence=0.4,
    )
    assert responses(dispatcher) == ["utter_form_stopped"]
    assert slot_events(events)["checkout_status"] == "stopped" and slot_events(events)["requested_slot"] is None
    # "thời gian" folds to "thoi gian": no way out
    dispatcher, events = step(
        "thời gian theo năm",
        requested="cycle",
        token_value=token("demo-yearly"),
        slots={"product": "digital_workspace", "tier": "premium"},
    )
    assert slot_events(events).get("cycle") == "yearly"


def test_a_rating_of_an_earlier_answer_is_no_answer_to_the_form(billing_db):
    # "Có" under an older answer while buying: its digits are no number of users, its yes no
    # confirmation; nothing is set, Rasa rejects the form, the rating rule records it and the form asks again
    click = '/rate_answer{"rating":"yes","prompt":"1764561234.25"}'
    slots = {"product": "digital_workspace", "tier": "premium", "cycle": "monthly"}
    for requested in ("seats", "checkout_confirmed"):
        dispatcher, events = step(
            click,
            intent="rate_answer",
            requested=requested,
            token_value=token("demo-yearly"),
            slots=slots,
            entities=[{"entity": "rating", "value": "yes"}, {"entity": "prompt", "value": "1764561234.25"}],
            confidence=1.0,
        )
        assert slot_events(events) == {} and dispatcher.messages == []
