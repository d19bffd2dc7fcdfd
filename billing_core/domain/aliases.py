"""Catalog names as aliases of catalog keys: "Không gian làm việc số", "khong gian lam viec so",
"Digital Workspace" and "digital_workspace" all mean the product ``digital_workspace``.

Every alias comes from the catalog (product, tier and capacity names in Vietnamese and English)
or, for billing cycles, from the cycle labels of ``messages`` (the catalog lists cycle keys only);
nothing is spelled here. Matching ignores case, diacritics (đ = d), and the difference between
spaces, hyphens and underscores. A name two keys share is no alias (the key must be used).
"""

from __future__ import annotations

import enum
import re
import threading
import unicodedata
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional, Tuple

from billing_core.domain.messages import LABELS
from billing_core.domain.rules import ChangeRequest

if TYPE_CHECKING:  # pragma: no cover
    from billing_core.domain.catalog import Catalog

GROUPS = ("product", "tier", "cycle", "kind")
_SEPARATORS = re.compile(r"[\s_\-]+")
_cache: Dict[int, Tuple[Any, Dict[str, Dict[str, str]]]] = {}
_lock = threading.Lock()


def fold(text: str) -> str:
    """Lower case, no diacritics, one space between words: the form aliases are compared in."""
    text = unicodedata.normalize("NFD", text.strip().casefold().replace("đ", "d"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", text).strip()


def _names(catalog: "Catalog", group: str) -> Iterable[Tuple[str, Iterable[str]]]:
    if group == "product":
        return ((k, (p.name.vi, p.name.en)) for k, p in catalog.products.items())
    if group == "tier":
        return ((k, (t.name.vi, t.name.en)) for k, t in catalog.tiers.items())
    if group == "kind":
        return ((k, (c.name.vi, c.name.en)) for k, c in catalog.capacity.items())
    labels = LABELS["cycle"]
    return ((k, tuple(labels[k].values()) if k in labels else ()) for k in catalog.cycles)


def _build(catalog: "Catalog") -> Dict[str, Dict[str, str]]:
    table: Dict[str, Dict[str, str]] = {}
    for group in GROUPS:
        keys: Dict[str, str] = {}
        names: Dict[str, Optional[str]] = {}
        for key, spellings in _names(catalog, group):
            keys[fold(key)] = key
            for name in spellings:
                folded = fold(name)
                names[folded] = key if names.get(folded, key) == key else None  # shared name: no alias
        table[group] = {**{n: k for n, k in names.items() if k is not None}, **keys}  # keys win
    return table


def aliases(catalog: "Catalog") -> Dict[str, Dict[str, str]]:
    """{group: {folded spelling: key}} for ``catalog`` (built once per catalog object)."""
    cached = _cache.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    with _lock:
        table = _build(catalog)
        _cache[id(catalog)] = (catalog, table)
    return table


def canonical_key(catalog: "Catalog", group: str, value: Any) -> Any:
    """The catalog key ``value`` names in ``group`` (product | tier | cycle | kind); anything that
    names none (or is not text) comes back unchanged, for the rules to refuse with their message."""
    if isinstance(value, enum.Enum):  # Cycle.YEARLY
        value = value.value
    if not isinstance(value, str):
        return value
    return aliases(catalog)[group].get(fold(value), value)


def canonical_request(catalog: "Catalog", request: ChangeRequest) -> ChangeRequest:
    """``request`` with every name replaced by its key (capacity amounts of one kind added up)."""
    addons: Dict[Any, Any] = {}
    for kind, amount in dict(request.addons or {}).items():
        key = canonical_key(catalog, "kind", kind)
        previous = addons.get(key)
        if previous is None:
            addons[key] = amount
        elif type(previous) is int and type(amount) is int:
            addons[key] = previous + amount  # "storage" and "Data storage" are one kind
        elif type(previous) is int:
            addons[key] = amount  # a bad amount is kept, for the rules to refuse with its message
    return replace(
        request,
        product=canonical_key(catalog, "product", request.product),
        tier=canonical_key(catalog, "tier", request.tier),
        cycle=canonical_key(catalog, "cycle", request.cycle) if request.cycle is not None else None,
        addons=addons,
    )
