"""The catalog as data: ``load_catalog(path=None) -> Catalog`` reads and validates catalog.yaml.

Everything an operator may change (products, tiers, sample prices, capacity packs and quotas,
features, the ordered plan-change rules) lives in the YAML file; this module turns it into
frozen dataclasses and refuses a malformed file with a ``CatalogError`` that names the file,
the entry and the problem. The default catalog is loaded once and cached: deciding a change
never touches the disk.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Set, Tuple, Union

import yaml

from billing_core.domain.errors import CatalogError
from billing_core.domain.messages import has_message
from billing_core.domain.rules import fact_domains

__all__ = [
    "Catalog",
    "CatalogError",
    "CapacityKind",
    "CapacityQuota",
    "Feature",
    "LocalizedText",
    "Product",
    "RuleCase",
    "Tier",
    "TierOffer",
    "load_catalog",
    "clear_catalog_cache",
    "DEFAULT_CATALOG_PATH",
]

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same rules, faster
DEFAULT_CATALOG_PATH = Path(__file__).resolve().parents[1] / "catalog.yaml"
CATALOG_PATH_ENV = "BILLING_CATALOG_PATH"
OUTCOMES = ("IMMEDIATE", "NEXT_CYCLE", "BLOCKED")
TOP_LEVEL_KEYS = (
    "catalog_version",
    "prices_are_samples",
    "currency",
    "trial_days",
    "min_paid_seats",
    "max_seats",
    "order_expiry_minutes",
    "default_cycle",
    "retention",
    "cycles",
    "tiers",
    "features",
    "capacity",
    "products",
    "change_rules",
    "decisions",
)
ROLES = ("base", "addon")
LANGS = ("vi", "en")


@dataclass(frozen=True)
class LocalizedText:
    vi: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


@dataclass(frozen=True)
class Tier:
    key: str
    rank: int
    paid: bool
    name: LocalizedText


@dataclass(frozen=True)
class CapacityQuota:
    included: int  # in the kind's unit, part of the plan
    max_extra: int  # the most extended capacity the tier may carry (bought on top)


@dataclass(frozen=True)
class TierOffer:
    """A tier as a product offers it: per-seat prices, capacity quotas, features."""

    tier: str
    prices: Mapping[str, int]  # cycle -> VND per seat per cycle (empty for Free)
    capacity: Mapping[str, CapacityQuota]
    features: Tuple[str, ...]


@dataclass(frozen=True)
class Product:
    key: str
    role: str  # base | addon
    name: LocalizedText
    requires: Tuple[str, ...]
    tiers: Mapping[str, TierOffer]  # in catalog order

    @property
    def is_addon(self) -> bool:
        return self.role == "addon"


@dataclass(frozen=True)
class CapacityKind:
    key: str
    name: LocalizedText
    unit: LocalizedText
    product: str  # the product whose tier sets this kind's quota
    pack_size: int
    pack_prices: Mapping[str, int]  # cycle -> VND per pack per cycle
    max_order_amount: int


@dataclass(frozen=True)
class Feature:
    key: str
    name: LocalizedText


@dataclass(frozen=True)
class RuleCase:
    id: str
    when: Mapping[str, FrozenSet[object]]  # fact -> allowed values
    outcome: str
    reason: str
    notes: Tuple[str, ...]
    conditions: Tuple[Tuple[str, FrozenSet[object]], ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        # A plain tuple walks faster than the mapping: this runs for every rule of every decision.
        object.__setattr__(self, "conditions", tuple(self.when.items()))

    def matches(self, facts: Mapping[str, Any]) -> bool:
        for fact, allowed in self.conditions:
            if facts[fact] not in allowed:
                return False
        return True


@dataclass(frozen=True)
class Catalog:
    path: str
    prices_are_samples: bool
    currency: str
    trial_days: int
    min_paid_seats: int
    max_seats: int
    order_expiry_minutes: int
    default_cycle: str
    capacity_retention_days: int
    feature_data_retention_days: int
    cycles: Tuple[str, ...]
    tiers: Mapping[str, Tier]
    products: Mapping[str, Product]
    capacity: Mapping[str, CapacityKind]
    features: Mapping[str, Feature]
    change_rules: Tuple[RuleCase, ...]
    decisions: Tuple[Mapping[str, str], ...]

    # -- look-ups used on the hot path: plain dict access, no validation ----------------
    @cached_property
    def base_product(self) -> str:
        return next(p.key for p in self.products.values() if p.role == "base")

    def offer(self, product: str, tier: str) -> Optional[TierOffer]:
        return self.products[product].tiers.get(tier)

    def seat_price(self, product: str, tier: str, cycle: str) -> int:
        """VND per seat for one cycle (0 for a free tier)."""
        offer = self.products[product].tiers.get(tier)
        if offer is None or not self.tiers[tier].paid:
            return 0
        return offer.prices[cycle]

    def features_of(self, product: str, tier: Optional[str]) -> Tuple[str, ...]:
        offer = self.products[product].tiers.get(tier) if tier else None
        return offer.features if offer else ()

    def quota(self, kind: str, tier: Optional[str]) -> CapacityQuota:
        """The quota of ``kind`` under ``tier`` of the kind's owning product (zero when absent)."""
        owner = self.products[self.capacity[kind].product]
        offer = owner.tiers.get(tier) if tier else None
        return (offer.capacity.get(kind) if offer else None) or CapacityQuota(0, 0)

    def product_name(self, product: str, lang: str) -> str:
        item = self.products.get(product)
        return item.name.get(lang) if item else product

    def tier_name(self, tier: str, lang: str) -> str:
        item = self.tiers.get(tier)
        return item.name.get(lang) if item else tier


# --------------------------------------------------------------------------------------------
_cache: Dict[str, Catalog] = {}
_cache_lock = threading.Lock()


def _resolve(path: Optional[Union[str, os.PathLike[str]]]) -> Path:
    if path is None:
        path = os.environ.get(CATALOG_PATH_ENV) or DEFAULT_CATALOG_PATH
    return _absolute(os.fspath(path))


@lru_cache(maxsize=64)
def _absolute(path: str) -> Path:
    # resolving walks the file system (a stat per part of the path): once per path, not per answer
    # (it was a twentieth of the action server's time, every answer reads the catalog)
    return Path(path).resolve()


def load_catalog(path: Optional[Union[str, os.PathLike[str]]] = None, *, use_cache: bool = True) -> Catalog:
    """Load and validate the catalog (the packaged file, or ``BILLING_CATALOG_PATH``); cached per path."""
    resolved = _resolve(path)
    key = str(resolved)
    if use_cache:
        cached = _cache.get(key)
        if cached is not None:
            return cached
    catalog = _Loader(resolved).load()
    if use_cache:
        with _cache_lock:
            _cache[key] = catalog
    return catalog


def clear_catalog_cache() -> None:
    """Forget loaded catalogs and resolved paths (after an operator edited or moved the file, or in tests)."""
    with _cache_lock:
        _cache.clear()
        _absolute.cache_clear()


# --------------------------------------------------------------------------------------------
class _Loader:
    """Builds a Catalog from YAML; every problem becomes a CatalogError naming file and entry."""

    def __init__(self, path: Path):
        self.path = path
        self.file = str(path)

    def fail(self, entry: str, problem: str) -> CatalogError:
        return CatalogError(self.file, entry, problem)

    # -- small typed readers -------------------------------------------------------------
    def mapping(self, value: Any, entry: str) -> Dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(entry, f"expected a mapping, got {type(value).__name__}")
        return value

    def require(self, data: Dict[str, Any], key: str, entry: str) -> Any:
        if key not in data:
            raise self.fail(f"{entry}.{key}" if entry else key, "missing")
        return data[key]

    def positive_int(self, value: Any, entry: str, allow_zero: bool = False) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(entry, f"expected a whole number, got {value!r}")
        if value < 0 or (value == 0 and not allow_zero):
            raise self.fail(entry, f"must be {'zero or more' if allow_zero else 'positive'}, got {value}")
        return value

    def text(self, value: Any, entry: str) -> LocalizedText:
        data = self.mapping(value, entry)
        for lang in LANGS:
            if not isinstance(data.get(lang), str) or not data[lang].strip():
                raise self.fail(f"{entry}.{lang}", "missing or empty text")
        return LocalizedText(vi=data["vi"], en=data["en"])

    # -- the whole file -------------------------------------------------------------------
    def load(self) -> Catalog:
        try:
            raw_text = self.path.read_text(encoding="utf-8")
        except OSError as error:
            raise self.fail("(file)", f"cannot read the catalog: {error.strerror or error}") from error
        try:
            data = yaml.load(raw_text, Loader=_SafeLoader)
        except yaml.YAMLError as error:
            raise self.fail("(file)", f"not valid YAML: {error}") from error
        data = self.mapping(data, "(top level)")
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                raise self.fail(str(key), f"unknown key (known: {', '.join(TOP_LEVEL_KEYS)})")

        if data.get("prices_are_samples") not in (True, False):
            raise self.fail("prices_are_samples", "must be true or false (say whether the prices are samples)")
        cycles = self.require(data, "cycles", "")
        if not isinstance(cycles, list) or sorted(cycles) != ["monthly", "yearly"]:
            raise self.fail("cycles", "must list exactly monthly and yearly")
        cycles = tuple(cycles)
        default_cycle = data.get("default_cycle", "monthly")
        if default_cycle not in cycles:
            raise self.fail("default_cycle", f"unknown cycle {default_cycle!r}")
        retention = self.mapping(self.require(data, "retention", ""), "retention")

        tiers = self.load_tiers(self.require(data, "tiers", ""))
        features = self.load_features(self.require(data, "features", ""))
        capacity_raw = self.mapping(self.require(data, "capacity", ""), "capacity")
        products_raw = self.mapping(self.require(data, "products", ""), "products")
        capacity = self.load_capacity(capacity_raw, set(products_raw), cycles)
        products = self.load_products(products_raw, tiers, capacity, features, cycles)

        catalog = Catalog(
            path=self.file,
            prices_are_samples=data["prices_are_samples"],
            currency=str(data.get("currency", "VND")),
            trial_days=self.positive_int(self.require(data, "trial_days", ""), "trial_days"),
            min_paid_seats=self.positive_int(self.require(data, "min_paid_seats", ""), "min_paid_seats"),
            max_seats=self.positive_int(self.require(data, "max_seats", ""), "max_seats"),
            order_expiry_minutes=self.positive_int(
                self.require(data, "order_expiry_minutes", ""), "order_expiry_minutes"
            ),
            default_cycle=default_cycle,
            capacity_retention_days=self.positive_int(
                self.require(retention, "capacity_days", "retention"), "retention.capacity_days"
            ),
            feature_data_retention_days=self.positive_int(
                self.require(retention, "feature_data_days", "retention"), "retention.feature_data_days"
            ),
            cycles=cycles,
            tiers=MappingProxyType(tiers),
            products=MappingProxyType(products),
            capacity=MappingProxyType(capacity),
            features=MappingProxyType(features),
            change_rules=(),
            decisions=self.load_decisions(data.get("decisions", [])),
        )
        if catalog.max_seats < catalog.min_paid_seats:
            raise self.fail("max_seats", "must be at least min_paid_seats")
        rules = self.load_rules(self.require(data, "change_rules", ""), catalog)
        object.__setattr__(catalog, "change_rules", rules)
        return catalog

    def load_tiers(self, raw: Any) -> Dict[str, Tier]:
        raw = self.mapping(raw, "tiers")
        tiers: Dict[str, Tier] = {}
        ranks: Dict[int, str] = {}
        for key, value in raw.items():
            entry = f"tiers.{key}"
            value = self.mapping(value, entry)
            rank = self.positive_int(self.require(value, "rank", entry), f"{entry}.rank", allow_zero=True)
            if rank in ranks:
                raise self.fail(f"{entry}.rank", f"rank {rank} is already the rank of tier {ranks[rank]!r}")
            ranks[rank] = key
            paid = value.get("paid")
            if paid not in (True, False):
                raise self.fail(f"{entry}.paid", "must be true or false")
            tiers[key] = Tier(key=key, rank=rank, paid=paid, name=self.text(value.get("name"), f"{entry}.name"))
        if not tiers:
            raise self.fail("tiers", "no tiers")
        return dict(sorted(tiers.items(), key=lambda item: item[1].rank))

    def load_features(self, raw: Any) -> Dict[str, Feature]:
        raw = self.mapping(raw, "features")
        return {key: Feature(key=key, name=self.text(value, f"features.{key}")) for key, value in raw.items()}

    def cycle_prices(self, raw: Any, entry: str, cycles: Tuple[str, ...]) -> Dict[str, int]:
        raw = self.mapping(raw, entry)
        for cycle in raw:
            if cycle not in cycles:
                raise self.fail(f"{entry}.{cycle}", f"unknown cycle {cycle!r}")
        prices = {}
        for cycle in cycles:
            if cycle not in raw:
                raise self.fail(f"{entry}.{cycle}", "missing price")
            prices[cycle] = self.positive_int(raw[cycle], f"{entry}.{cycle}")
        return prices

    def load_capacity(
        self, raw: Dict[str, Any], product_keys: Set[str], cycles: Tuple[str, ...]
    ) -> Dict[str, CapacityKind]:
        kinds: Dict[str, CapacityKind] = {}
        for key, value in raw.items():
            entry = f"capacity.{key}"
            value = self.mapping(value, entry)
            product = self.require(value, "product", entry)
            if product not in product_keys:
                raise self.fail(f"{entry}.product", f"unknown product {product!r}")
            kinds[key] = CapacityKind(
                key=key,
                name=self.text(value.get("name"), f"{entry}.name"),
                unit=self.text(value.get("unit"), f"{entry}.unit"),
                product=product,
                pack_size=self.positive_int(self.require(value, "pack_size", entry), f"{entry}.pack_size"),
                pack_prices=MappingProxyType(
                    self.cycle_prices(self.require(value, "pack_price", entry), f"{entry}.pack_price", cycles)
                ),
                max_order_amount=self.positive_int(
                    self.require(value, "max_order_amount", entry), f"{entry}.max_order_amount"
                ),
            )
        return kinds

    def load_products(
        self,
        raw: Dict[str, Any],
        tiers: Dict[str, Tier],
        capacity: Dict[str, CapacityKind],
        features: Dict[str, Feature],
        cycles: Tuple[str, ...],
    ) -> Dict[str, Product]:
        products: Dict[str, Product] = {}
        for key, value in raw.items():
            entry = f"products.{key}"
            value = self.mapping(value, entry)
            role = self.require(value, "role", entry)
            if role not in ROLES:
                raise self.fail(f"{entry}.role", f"must be one of {', '.join(ROLES)}, got {role!r}")
            requires = value.get("requires", [])
            if not isinstance(requires, list):
                raise self.fail(f"{entry}.requires", "must be a list of product keys")
            for required in requires:
                if required not in raw:
                    raise self.fail(f"{entry}.requires", f"unknown product {required!r}")
            offers: Dict[str, TierOffer] = {}
            tiers_raw = self.mapping(self.require(value, "tiers", entry), f"{entry}.tiers")
            for tier_key, offer_raw in tiers_raw.items():
                offers[tier_key] = self.load_offer(
                    f"{entry}.tiers.{tier_key}", tier_key, offer_raw, key, tiers, capacity, features, cycles
                )
            if not offers:
                raise self.fail(f"{entry}.tiers", "no tiers")
            ordered = dict(sorted(offers.items(), key=lambda item: tiers[item[0]].rank))
            previous = None
            for tier_key, offer in ordered.items():
                if previous is not None and not set(previous.features) <= set(offer.features):
                    lost = sorted(set(previous.features) - set(offer.features))
                    raise self.fail(
                        f"{entry}.tiers.{tier_key}.features",
                        f"a higher tier must keep the features of {previous.tier!r} (missing {', '.join(lost)})",
                    )
                previous = offer
            products[key] = Product(
                key=key,
                role=role,
                name=self.text(value.get("name"), f"{entry}.name"),
                requires=tuple(requires),
                tiers=MappingProxyType(ordered),
            )
        bases = [p.key for p in products.values() if p.role == "base"]
        if len(bases) != 1:
            raise self.fail("products", f"exactly one product must have role base, found {len(bases)}")
        for product in products.values():
            if product.role == "addon" and bases[0] not in product.requires:
                raise self.fail(f"products.{product.key}.requires", f"an add-on must require {bases[0]!r}")
        return products

    def load_offer(
        self,
        entry: str,
        tier_key: str,
        raw: Any,
        product: str,
        tiers: Dict[str, Tier],
        capacity: Dict[str, CapacityKind],
        features: Dict[str, Feature],
        cycles: Tuple[str, ...],
    ) -> TierOffer:
        if tier_key not in tiers:
            raise self.fail(entry, f"unknown tier {tier_key!r} (known: {', '.join(tiers)})")
        raw = self.mapping(raw if raw is not None else {}, entry)
        if tiers[tier_key].paid:
            if "price" not in raw:
                raise self.fail(f"{entry}.price", "missing price for a paid tier")
            prices = self.cycle_prices(raw["price"], f"{entry}.price", cycles)
        else:
            if "price" in raw:
                raise self.fail(f"{entry}.price", "a free tier has no price")
            prices = {}
        quotas: Dict[str, CapacityQuota] = {}
        for kind, quota_raw in self.mapping(raw.get("capacity", {}), f"{entry}.capacity").items():
            kind_entry = f"{entry}.capacity.{kind}"
            if kind not in capacity:
                raise self.fail(kind_entry, f"unknown capacity kind {kind!r}")
            if capacity[kind].product != product:
                raise self.fail(kind_entry, f"{kind!r} is governed by product {capacity[kind].product!r}")
            quota_raw = self.mapping(quota_raw, kind_entry)
            quotas[kind] = CapacityQuota(
                included=self.positive_int(
                    self.require(quota_raw, "included", kind_entry), f"{kind_entry}.included", allow_zero=True
                ),
                max_extra=self.positive_int(
                    self.require(quota_raw, "max_extra", kind_entry), f"{kind_entry}.max_extra", allow_zero=True
                ),
            )
        feature_list = raw.get("features", [])
        if not isinstance(feature_list, list):
            raise self.fail(f"{entry}.features", "must be a list of feature keys")
        for feature in feature_list:
            if feature not in features:
                raise self.fail(f"{entry}.features", f"unknown feature {feature!r}")
        return TierOffer(
            tier=tier_key,
            prices=MappingProxyType(prices),
            capacity=MappingProxyType(quotas),
            features=tuple(feature_list),
        )

    def load_decisions(self, raw: Any) -> Tuple[Mapping[str, str], ...]:
        if not isinstance(raw, list):
            raise self.fail("decisions", "must be a list of {id, text}")
        decisions = []
        for index, item in enumerate(raw):
            item = self.mapping(item, f"decisions[{index}]")
            if not item.get("id") or not item.get("text"):
                raise self.fail(f"decisions[{index}]", "needs an id and a text")
            decisions.append(MappingProxyType({"id": str(item["id"]), "text": str(item["text"])}))
        return tuple(decisions)

    # -- rules ------------------------------------------------------------------------------
    def load_rules(self, raw: Any, catalog: Catalog) -> Tuple[RuleCase, ...]:
        domains = fact_domains(catalog)
        if not isinstance(raw, list) or not raw:
            raise self.fail("change_rules", "must be a non-empty list of rule cases")
        rules: List[RuleCase] = []
        seen_ids: Dict[str, int] = {}
        for index, case in enumerate(raw):
            label = f"change_rules[{index}]"
            case = self.mapping(case, label)
            case_id = case.get("id")
            if not isinstance(case_id, str) or not case_id:
                raise self.fail(label, "missing id")
            entry = f"{label} (id: {case_id})"
            for key in case:
                if key not in ("id", "when", "then"):
                    raise self.fail(entry, f"unknown key {key!r} (a rule case has id, when, then)")
            if case_id in seen_ids:
                raise self.fail(entry, f"duplicate id (also change_rules[{seen_ids[case_id]}])")
            seen_ids[case_id] = index
            when_raw = case.get("when", {})
            if when_raw is None:
                when_raw = {}
            when_raw = self.mapping(when_raw, f"{entry}.when")
            when: Dict[str, FrozenSet[object]] = {}
            for fact, value in when_raw.items():
                if fact not in domains:
                    raise self.fail(entry, f"unknown fact {fact!r} (known: {', '.join(sorted(domains))})")
                values = value if isinstance(value, list) else [value]
                if not values:
                    raise self.fail(entry, f"fact {fact!r} lists no values")
                for item in values:
                    if item not in domains[fact]:
                        allowed = ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in domains[fact])
                        raise self.fail(entry, f"fact {fact!r} has no value {item!r} (allowed: {allowed})")
                when[fact] = frozenset(values)
            then = self.mapping(case.get("then"), f"{entry}.then")
            for key in then:
                if key not in ("outcome", "reason", "notes"):
                    raise self.fail(entry, f"unknown key {key!r} in then (outcome, reason, notes)")
            outcome = then.get("outcome")
            if outcome not in OUTCOMES:
                raise self.fail(entry, f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
            reason = then.get("reason")
            if not reason:
                raise self.fail(
                    entry, "missing reason code" + (" for a BLOCKED outcome" if outcome == "BLOCKED" else "")
                )
            if not has_message(reason):
                raise self.fail(entry, f"reason code {reason!r} has no message in billing_core/domain/messages.py")
            notes = then.get("notes", []) or []
            if not isinstance(notes, list):
                raise self.fail(entry, "notes must be a list of codes")
            for note in notes:
                if not has_message(note):
                    raise self.fail(entry, f"note code {note!r} has no message in billing_core/domain/messages.py")
            rule = RuleCase(id=case_id, when=MappingProxyType(when), outcome=outcome, reason=reason, notes=tuple(notes))
            for earlier_index, earlier in enumerate(rules):
                if _always_matches_first(earlier, rule):
                    where = f"change_rules[{earlier_index}] (id: {earlier.id})"
                    raise self.fail(
                        entry,
                        f"can never match: it comes after the catch-all {where}"
                        if not earlier.when
                        else f"can never match: {where} matches whenever it does",
                    )
            rules.append(rule)
        last = rules[-1]
        if last.when:
            raise self.fail(
                f"change_rules[{len(rules) - 1}] (id: {last.id})",
                "the last rule must be a catch-all (empty `when`)",
            )
        return tuple(rules)


def _always_matches_first(earlier: RuleCase, later: RuleCase) -> bool:
    """True when every fact set matching ``later`` also matches ``earlier``.

    That holds when each condition of ``earlier`` is also a condition of ``later`` with the
    same or fewer allowed values (a catch-all ``earlier`` shadows everything).
    """
    for fact, allowed in earlier.when.items():
        if fact not in later.when or not later.when[fact] <= allowed:
            return False
    return True
