"""actions.parsing: plan-change details from Vietnamese (with or without diacritics), chat
abbreviations and English; ambiguous text gives nothing rather than a guess."""

from __future__ import annotations

import pytest

from actions.parsing import (
    canonical_count,
    canonical_cycle,
    canonical_product,
    canonical_tier,
    parse_capacity,
    parse_change,
    parse_workspace_id,
)


@pytest.mark.parametrize(
    "text, product, tier, cycle, seats, capacity",
    [
        (
            "Upgrade App Builder to Standard yearly for 10 users with 50 GB more storage",
            "app_builder",
            "standard",
            "yearly",
            10,
            {"storage": 50},
        ),
        (
            "nâng cấp Xây dựng ứng dụng lên gói Standard theo năm cho 10 người, thêm 50GB",
            "app_builder",
            "standard",
            "yearly",
            10,
            {"storage": 50},
        ),
        (
            "nang cap xay dung ung dung len standard theo nam cho 10 nguoi them 50gb",
            "app_builder",
            "standard",
            "yearly",
            10,
            {"storage": 50},
        ),
        ("nâng kglvs lên premium hàng tháng 25 ng", "digital_workspace", "premium", "monthly", 25, {}),
        ("qtvh starter", "operations_workflow", "starter", None, None, {}),
        ("có hạ Không gian làm việc số xuống Free được không", "digital_workspace", "free", None, None, {}),
        ("chuyen tu thang sang nam", None, None, "yearly", None, {}),
        ("mua thêm 1000 bản ghi và 2 TB", None, None, None, None, {"data_records": 1000, "storage": 2048}),
        ("thêm 5.000 lượt chạy tự động", None, None, None, None, {"automation_runs": 5000}),
    ],
)
def test_parse_change(text, product, tier, cycle, seats, capacity):
    parsed = parse_change(text)
    assert (parsed.product, parsed.tier, parsed.cycle, parsed.seats, parsed.capacity) == (
        product,
        tier,
        cycle,
        seats,
        capacity,
    )


@pytest.mark.parametrize("text", ["5 năm nữa", "3 tháng", "kiểm tra workspace demo-monthly"])
def test_durations_and_workspace_ids_are_not_cycles(text):
    assert parse_change(text).cycle is None


def test_a_bare_number_is_seats_only_when_asked():
    assert parse_change("10").seats is None
    assert parse_change("10", requested_slot="seats").seats == 10
    assert parse_change("mười", requested_slot="seats").seats == 10


def test_automation_runs_are_not_a_renewal_choice():
    assert parse_change("thêm 1000 lượt chạy tự động").renewal_mode is None
    assert parse_change("tự động", requested_slot="renewal_mode").renewal_mode == "auto"
    assert parse_change("ok gia hạn tự động nhé").renewal_mode == "auto"
    assert parse_change("manual renewal please").renewal_mode == "manual"


def test_ambiguous_products_give_nothing():
    assert parse_change("app builder hay quy trình vận hành").product is None
    assert parse_change("chuyển từ app builder sang quy trình vận hành").product == "operations_workflow"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("kiểm tra workspace demo-monthly", "demo-monthly"),
        ("ws: acme_42 ?", "acme_42"),
        ("what is my workspace plan", None),
        ("workspace của tôi", None),
    ],
)
def test_workspace_ids(text, expected):
    assert parse_workspace_id(text) == expected


def test_canonical_values_from_entities():
    assert canonical_product("Xây dựng ứng dụng") == "app_builder"
    assert canonical_product("app_builder") == "app_builder"
    assert canonical_product("gold") is None
    assert canonical_tier("tiêu chuẩn") == "standard"
    assert canonical_cycle("hàng năm") == "yearly"
    assert canonical_count("10 người") == 10
    assert canonical_count("-5") is None or canonical_count("-5") == 5  # the sign is not a number word
    assert canonical_count("0") is None
    assert canonical_count("99999999") is None
    assert canonical_count(True) is None
    assert parse_capacity("50GB") == {"storage": 50}


def test_named_value_takes_the_target_of_from_x_to_y():
    from actions.parsing import canonical_tier, named_value, parse_change

    for text, values, expected in (
        ("hạ từ Standard xuống Starter", ["Standard", "Starter"], "starter"),
        ("ha tu premium xuong standard", ["premium", "standard"], "standard"),
        ("from Premium to Starter please", ["Premium", "Starter"], "starter"),
        ("Standard hay Premium", ["Standard", "Premium"], None),  # no direction: nothing guessed
        ("lên Standard", ["Standard"], "standard"),
    ):
        assert named_value(values, canonical_tier, parse_change(text).tier) == expected, text
