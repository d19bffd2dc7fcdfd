"""domain.yml and actions/responses.yml: every text speaks both languages, Vietnamese with its diacritics and the
help article's UI names; the general rules say what the article says."""

from __future__ import annotations

import re

import pytest

from helpdesk.text import has_vietnamese_marks
from tests.actions.conftest import ACTION_NAMES, ACTION_TEXTS, DOMAIN

# Rules name the domain's responses, actions send the others (actions/texts.py): both are read.
RESPONSES = {**DOMAIN["responses"], **ACTION_TEXTS}
# Responses that are only a placeholder filled by billing_core (already in the user's language).
PLACEHOLDER_ONLY = {
    name for name, variants in RESPONSES.items() if re.fullmatch(r"\{\w+\}", variants[0]["text"].strip())
}


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_response_has_a_vietnamese_default_and_an_english_variation(name):
    variants = RESPONSES[name]
    defaults = [v for v in variants if not v.get("condition")]
    english = [v for v in variants if v.get("condition") == [{"type": "slot", "name": "language", "value": "en"}]]
    assert len(defaults) == 1 and len(english) == 1
    if name not in PLACEHOLDER_ONLY:
        vi_text = re.sub(r"\{\w+\}", "", defaults[0]["text"])
        if re.search(r"[A-Za-z]{4,}", vi_text.replace("VNPAY", "").replace("Free", "")):
            assert has_vietnamese_marks(vi_text), f"{name}: Vietnamese without diacritics"
    assert set(re.findall(r"\{(\w+)\}", defaults[0]["text"])) == set(re.findall(r"\{(\w+)\}", english[0]["text"]))
    assert len(defaults[0].get("buttons", [])) == len(english[0].get("buttons", []))


def text_of(name, english=False):
    return next(v["text"] for v in RESPONSES[name] if bool(v.get("condition")) == english)


def test_upgrade_steps_are_the_articles_eight_steps():
    text = text_of("utter_upgrade_howto")
    assert [int(n) for n in re.findall(r"^(\d)\. ", text, re.M)] == list(range(1, 9))
    for ui in (
        "Thiết lập hệ thống",
        "Đăng ký & Thanh toán",
        "Thay đổi gói/Nâng cấp gói",
        "Dung lượng mở rộng",
        "Hàng năm",
        "Gia hạn thủ công",
        "Gia hạn tự động",
        "VNPAY",
        "áp dụng ngay",
    ):
        assert ui in text


def test_downgrade_steps_name_the_checkbox_the_button_and_the_next_cycle():
    text = text_of("utter_downgrade_howto")
    assert "Tôi xác nhận hạ gói và không thể truy cập các tính năng nâng cao sau khi kết thúc chu kỳ thanh toán" in text
    assert "Hạ gói" in text and "khảo sát" in text and "Gói gia hạn tiếp theo" in text
    assert "kỳ thanh toán tiếp theo" in text
    assert "next billing cycle" in text_of("utter_downgrade_howto", english=True)


def test_capacity_names_the_four_kinds():
    text = text_of("utter_extended_capacity")
    for kind in (
        "Dung lượng lưu trữ dữ liệu",
        "Số lượng Cleeksy Docs",
        "Số lượt chạy tự động",
        "Số lượng bản ghi dữ liệu",
    ):
        assert kind in text


def test_cycle_rules():
    text = text_of("utter_billing_cycle")
    assert "không thể chuyển sang thanh toán theo tháng" in text
    assert "Không gian làm việc số" in text and "trước" in text


def test_free_trial_and_retention_facts():
    assert "30 ngày" in text_of("utter_go_free") and "không có bản Free" in text_of("utter_go_free")
    retention = text_of("utter_data_retention")
    assert "7 ngày" in retention and "từ cũ đến mới" in retention and "90 ngày" in retention
    assert "mua thêm" in retention


def test_payment_success_screen_mentions_the_invoice():
    text = text_of("utter_payment")
    assert "xem và tải hóa đơn" in text and "Gia hạn thủ công" in text and "Gia hạn tự động" in text


def test_language_slot_follows_the_language_entity_and_never_steers_the_dialogue():
    slot = DOMAIN["slots"]["language"]
    assert slot["type"] == "categorical" and slot["values"] == ["vi", "en"]
    assert slot["influence_conversation"] is False
    assert slot["mappings"] == [{"type": "from_entity", "entity": "language"}]


def test_every_form_question_exists_in_both_languages():
    """Rasa asks with action_ask_<form>_<slot>, else action_ask_<slot>, else the response
    utter_ask_<form>_<slot>, else utter_ask_<slot> (a domain.yml response: Rasa renders it)."""
    from rasa_sdk.executor import ActionExecutor

    from actions.forms import AskFormQuestion

    executor = ActionExecutor()
    executor.register_package("actions")
    questions = {cls.action_name: cls.question for cls in _subclasses(AskFormQuestion)}
    for form, spec in DOMAIN["forms"].items():
        for slot in spec["required_slots"]:
            asking = next((a for a in (f"action_ask_{form}_{slot}", f"action_ask_{slot}") if a in ACTION_NAMES), None)
            if asking is not None:
                assert asking in executor.actions, f"{form} cannot ask for {slot}"
                variants = ACTION_TEXTS[questions[asking]]
            else:
                response = next(
                    (r for r in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}") if r in DOMAIN["responses"]), None
                )
                assert response, f"{form} has no question for {slot}"
                assert response not in ACTION_TEXTS
                variants = DOMAIN["responses"][response]
            assert {bool(v.get("condition")) for v in variants} == {False, True}, (form, slot)


def _subclasses(cls):
    return [c for sub in cls.__subclasses__() for c in [sub, *_subclasses(sub)]]
