"""The catalog file: its content matches the help article, and a malformed file is refused with an
error naming the file, the entry and the problem."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from billing_core.domain.catalog import DEFAULT_CATALOG_PATH, CatalogError, clear_catalog_cache, load_catalog
from billing_core.domain.errors import BillingError
from billing_core.domain.messages import render_error


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture
def raw():
    return yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))


def write(tmp_path: Path, data, name="catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def rule_index(data, rule_id):
    return next(i for i, rule in enumerate(data["change_rules"]) if rule["id"] == rule_id)


# --- the shipped catalog -----------------------------------------------------------------------
def test_products_tiers_and_names(catalog):
    assert list(catalog.products) == ["digital_workspace", "operations_workflow", "app_builder"]
    assert list(catalog.products["digital_workspace"].tiers) == ["free", "starter", "standard", "premium"]
    for addon in ("operations_workflow", "app_builder"):
        product = catalog.products[addon]
        assert product.role == "addon" and product.requires == ("digital_workspace",)
        assert list(product.tiers) == ["starter", "standard"]
    assert catalog.products["digital_workspace"].name.vi == "Không gian làm việc số"
    assert catalog.products["operations_workflow"].name.vi == "Quy trình vận hành"
    assert catalog.products["app_builder"].name.vi == "Xây dựng ứng dụng"
    assert [t.key for t in sorted(catalog.tiers.values(), key=lambda t: t.rank)] == [
        "free",
        "starter",
        "standard",
        "premium",
    ]


def test_policy_numbers(catalog):
    assert (catalog.trial_days, catalog.min_paid_seats, catalog.order_expiry_minutes) == (30, 2, 15)
    assert (catalog.capacity_retention_days, catalog.feature_data_retention_days) == (7, 90)
    assert catalog.cycles == ("monthly", "yearly")
    assert catalog.max_seats >= 1000


def test_prices_are_labelled_samples_and_yearly_is_cheaper(catalog):
    assert catalog.prices_are_samples is True
    assert "SAMPLE" in DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")
    for product in catalog.products.values():
        for tier, offer in product.tiers.items():
            if catalog.tiers[tier].paid:
                assert 0 < offer.prices["yearly"] < 12 * offer.prices["monthly"], (product.key, tier)
            else:
                assert not offer.prices
    for kind in catalog.capacity.values():
        assert 0 < kind.pack_prices["yearly"] < 12 * kind.pack_prices["monthly"]


def test_capacity_kinds_quotas_and_features(catalog):
    assert set(catalog.capacity) == {"storage", "docs", "automation_runs", "data_records"}
    assert catalog.capacity["docs"].name.vi == "Số lượng Cleeksy Docs"
    assert catalog.capacity["storage"].unit.en == "GB"
    free = catalog.products["digital_workspace"].tiers["free"]
    assert all(quota.max_extra == 0 for quota in free.capacity.values())
    for product in catalog.products.values():
        offers = list(product.tiers.values())
        for lower, higher in zip(offers, offers[1:], strict=False):
            assert set(lower.features) < set(higher.features), "a higher tier unlocks more"
            for kind, quota in higher.capacity.items():
                assert quota.max_extra >= lower.capacity[kind].max_extra


def test_rules_end_with_a_catch_all_and_decisions_are_listed(catalog):
    assert catalog.change_rules[-1].when == {}
    assert catalog.change_rules[-1].reason == "UNSUPPORTED_CHANGE"
    ids = {d["id"] for d in catalog.decisions}
    assert {"yearly_to_monthly_at_renewal", "free_base_with_paid_addons", "capacity_excess_oldest_first"} <= ids


def test_default_catalog_is_cached_and_env_path_is_honoured(tmp_path, monkeypatch, raw):
    clear_catalog_cache()
    assert load_catalog() is load_catalog()
    raw["trial_days"] = 14
    path = write(tmp_path, raw)
    monkeypatch.setenv("BILLING_CATALOG_PATH", str(path))
    assert load_catalog().trial_days == 14
    monkeypatch.delenv("BILLING_CATALOG_PATH")
    assert load_catalog().trial_days == 30
    clear_catalog_cache()


def test_a_cached_catalog_is_found_without_walking_the_file_system_again(monkeypatch):
    load_catalog()  # the first answer resolves the path and reads the file

    def walk(*_args, **_kwargs):
        raise AssertionError("the catalog path was resolved again")

    monkeypatch.setattr(type(DEFAULT_CATALOG_PATH), "resolve", walk)
    assert load_catalog() is load_catalog()


# --- malformed catalogs ---------------------------------------------------------------------------
def _set(path_keys, value):
    def mutate(data):
        node = data
        for key in path_keys[:-1]:
            node = node[key]
        node[path_keys[-1]] = value

    return mutate


def _delete(path_keys):
    def mutate(data):
        node = data
        for key in path_keys[:-1]:
            node = node[key]
        del node[path_keys[-1]]

    return mutate


def _rule(rule_id, **changes):
    def mutate(data):
        rule = data["change_rules"][rule_index(data, rule_id)]
        for key, value in changes.items():
            if key == "when":
                rule["when"] = value
            else:
                rule["then"][key] = value

    return mutate


def _set_rule_key(rule_id, key, value):
    def mutate(data):
        data["change_rules"][rule_index(data, rule_id)][key] = value

    return mutate


def _insert_rule(position, rule):
    def mutate(data):
        index = rule_index(data, position) + 1 if isinstance(position, str) else position
        data["change_rules"].insert(index, rule)

    return mutate


def _drop_last_rule(data):
    data["change_rules"].pop()


def _append_rule(rule):
    def mutate(data):
        data["change_rules"].append(rule)

    return mutate


def _lose_feature(data):
    data["products"]["app_builder"]["tiers"]["standard"]["features"].remove("app_forms")


DW_TIERS = ["products", "digital_workspace", "tiers"]
MALFORMED = [
    (
        "unknown tier",
        _set(["products", "app_builder", "tiers", "gold"], {"price": {"monthly": 1, "yearly": 2}}),
        "products.app_builder.tiers.gold",
        "unknown tier 'gold'",
    ),
    (
        "missing price for a cycle",
        _delete(DW_TIERS + ["standard", "price", "yearly"]),
        "products.digital_workspace.tiers.standard.price.yearly",
        "missing price",
    ),
    (
        "missing price for a paid tier",
        _delete(DW_TIERS + ["premium", "price"]),
        "products.digital_workspace.tiers.premium.price",
        "missing price for a paid tier",
    ),
    (
        "zero price",
        _set(DW_TIERS + ["starter", "price", "monthly"], 0),
        "products.digital_workspace.tiers.starter.price.monthly",
        "must be positive",
    ),
    (
        "negative pack size",
        _set(["capacity", "storage", "pack_size"], -10),
        "capacity.storage.pack_size",
        "must be positive",
    ),
    (
        "price as text",
        _set(DW_TIERS + ["starter", "price", "yearly"], "600k"),
        "products.digital_workspace.tiers.starter.price.yearly",
        "expected a whole number",
    ),
    (
        "pack price missing a cycle",
        _delete(["capacity", "docs", "pack_price", "monthly"]),
        "capacity.docs.pack_price.monthly",
        "missing price",
    ),
    (
        "unknown capacity kind in a tier",
        _set(DW_TIERS + ["starter", "capacity", "bandwidth"], {"included": 1, "max_extra": 1}),
        "products.digital_workspace.tiers.starter.capacity.bandwidth",
        "unknown capacity kind",
    ),
    (
        "capacity owned by an unknown product",
        _set(["capacity", "docs", "product"], "crm"),
        "capacity.docs.product",
        "unknown product 'crm'",
    ),
    (
        "unknown feature",
        _set(DW_TIERS + ["free", "features"], ["tasks", "teleport"]),
        "products.digital_workspace.tiers.free.features",
        "unknown feature 'teleport'",
    ),
    (
        "higher tier loses a feature",
        _lose_feature,
        "products.app_builder.tiers.standard.features",
        "must keep the features",
    ),
    (
        "unknown required product",
        _set(["products", "app_builder", "requires"], ["crm"]),
        "products.app_builder.requires",
        "unknown product 'crm'",
    ),
    ("no sample-price label", _delete(["prices_are_samples"]), "prices_are_samples", "true or false"),
    (
        "rule with an unknown fact",
        _rule("upgrade", when={"direction": "upgrade", "moon_phase": "full"}),
        "change_rules[17] (id: upgrade)",
        "unknown fact 'moon_phase'",
    ),
    (
        "rule with an unknown value",
        _rule("upgrade", when={"direction": "sideways"}),
        "change_rules[17] (id: upgrade)",
        "has no value 'sideways'",
    ),
    (
        "rule with an unknown product",
        _rule("free_after_trial", when={"product": "crm"}),
        "(id: free_after_trial)",
        "has no value 'crm'",
    ),
    (
        "rule after the catch-all",
        _append_rule(
            {"id": "too_late", "when": {"direction": "new"}, "then": {"outcome": "BLOCKED", "reason": "NO_CHANGE"}}
        ),
        "(id: too_late)",
        "can never match: it comes after the catch-all change_rules[22] (id: anything_else)",
    ),
    (
        "rule shadowed by an earlier, broader one",
        _insert_rule(
            "upgrade",
            {
                "id": "upgrade_to_yearly",
                "when": {"direction": "upgrade", "to_cycle": "yearly"},
                "then": {"outcome": "IMMEDIATE", "reason": "UPGRADE_IMMEDIATE"},
            },
        ),
        "change_rules[18] (id: upgrade_to_yearly)",
        "can never match: change_rules[17] (id: upgrade)",
    ),
    (
        "shadowed by a list of values",
        _insert_rule(
            "free_after_trial",
            {
                "id": "expired_to_free",
                "when": {"product": "digital_workspace", "to_free": True, "from_status": "expired", "trial_over": True},
                "then": {"outcome": "IMMEDIATE", "reason": "FREE_IMMEDIATE"},
            },
        ),
        "(id: expired_to_free)",
        "can never match: change_rules[21] (id: free_after_trial)",
    ),
    (
        "no catch-all at the end",
        _drop_last_rule,
        "change_rules[21] (id: free_after_trial)",
        "last rule must be a catch-all",
    ),
    (
        "blocked without a reason",
        _rule("min_paid_seats", reason=None),
        "(id: min_paid_seats)",
        "missing reason code for a BLOCKED outcome",
    ),
    (
        "reason without a message",
        _rule("min_paid_seats", reason="TOO_FEW_USERS"),
        "(id: min_paid_seats)",
        "'TOO_FEW_USERS' has no message",
    ),
    (
        "note without a message",
        _rule("upgrade", notes=["CONFETTI"]),
        "(id: upgrade)",
        "note code 'CONFETTI' has no message",
    ),
    ("unknown outcome", _rule("upgrade", outcome="LATER"), "(id: upgrade)", "outcome must be one of"),
    ("misspelt top-level key", _set(["trail_days"], 14), "trail_days", "unknown key"),
    ("misspelt rule key", _set_rule_key("upgrade", "wehn", {}), "(id: upgrade)", "unknown key 'wehn'"),
    ("misspelt then key", _rule("upgrade", reasons="UPGRADE_IMMEDIATE"), "(id: upgrade)", "unknown key 'reasons'"),
    (
        "duplicate rule id",
        _insert_rule(
            0,
            {
                "id": "upgrade",
                "when": {"direction": "new"},
                "then": {"outcome": "BLOCKED", "reason": "UNSUPPORTED_CHANGE"},
            },
        ),
        "change_rules[18] (id: upgrade)",
        "duplicate id",
    ),
]


@pytest.mark.parametrize("mutate, entry, problem", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_catalog_names_file_entry_and_problem(tmp_path, raw, mutate, entry, problem):
    data = copy.deepcopy(raw)
    mutate(data)
    path = write(tmp_path, data, "broken-catalog.yaml")
    with pytest.raises(CatalogError) as raised:
        load_catalog(path, use_cache=False)
    error = raised.value
    text = str(error)
    assert str(path) in text and entry in text and problem in text, text
    assert error.file == str(path) and entry in error.entry
    assert isinstance(error, BillingError) and error.code == "CATALOG_INVALID"
    assert str(path) in render_error(error, "vi", load_catalog()) and str(path) in render_error(
        error, "en", load_catalog()
    )


def test_invalid_yaml_and_missing_file(tmp_path):
    broken = tmp_path / "catalog.yaml"
    broken.write_text("products: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid YAML") as raised:
        load_catalog(broken, use_cache=False)
    assert str(broken) in str(raised.value)
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(CatalogError, match="cannot read") as raised:
        load_catalog(missing, use_cache=False)
    assert str(missing) in str(raised.value)


def test_a_valid_copy_loads(tmp_path, raw):
    catalog = load_catalog(write(tmp_path, raw), use_cache=False)
    assert [rule.id for rule in catalog.change_rules] == [rule["id"] for rule in raw["change_rules"]]


def test_public_api_exports_exactly_what_it_lists():
    import billing_core

    assert sorted(billing_core.__all__) == sorted(billing_core._EXPORTS)
    for name in billing_core.__all__:
        assert getattr(billing_core, name) is not None, name
    with pytest.raises(AttributeError):
        billing_core.not_a_public_name  # noqa: B018
