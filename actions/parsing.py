"""Deterministic reading of plan-change details from what the customer typed.

The NLU entities are the first source; this parser is the safety net for what the statistical
extractor misses: text without diacritics, chat abbreviations, English, "10 nguoi", "50GB",
"theo nam", "kglvs". Everything is matched on the folded form (helpdesk.text) and mapped to the
canonical catalog keys of docs/design.md. Ambiguous text gives ``None``, never a guess.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

import billing_core as bc
from helpdesk.text import fold, fold_token

CYCLES = ("monthly", "yearly")
CAPACITY_KINDS = ("storage", "docs", "automation_runs", "data_records")
RENEWAL_MODES = ("manual", "auto")

MAX_SEATS = 10_000
MAX_CAPACITY = 1_000_000

# Product and tier spellings come from the catalog (keys and names in both languages) and from the
# NLU synonym blocks of data/nlu.yml (every other spelling: abbreviations, no diacritics, "gói ...").
# Adding a tier or a product is therefore catalog.yaml + its synonym block; nothing here changes.
# tests/actions/test_catalog_spellings.py fails when a catalog key has no synonym block.
NLU_FILE = Path(__file__).resolve().parent.parent / "data" / "nlu.yml"


def nlu_synonyms(path: Path = NLU_FILE) -> Dict[str, List[str]]:
    """Canonical key -> the spellings its `- synonym:` block lists (Rasa's YAML NLU format)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    synonyms: Dict[str, List[str]] = {}
    for block in data.get("nlu") or []:
        if isinstance(block, dict) and "synonym" in block:
            lines = [
                line.strip()[2:].strip()
                for line in str(block.get("examples") or "").splitlines()
                if line.strip().startswith("- ")
            ]
            synonyms.setdefault(str(block["synonym"]), []).extend(lines)
    return synonyms


def _folded_phrase(text: str) -> str:
    return folded_text(text.replace("_", " ")).strip()


@dataclass(frozen=True)
class Spellings:
    """Folded phrases per catalog key, for products and tiers."""

    products: Dict[str, List[str]]
    tiers: Dict[str, List[str]]

    @classmethod
    def from_sources(cls, catalog, synonyms: Dict[str, List[str]]) -> "Spellings":
        def phrases(key: str, names) -> List[str]:
            raw = [key, key.replace("_", " ")] + [names.get(lang) for lang in ("vi", "en")] + synonyms.get(key, [])
            folded = [_folded_phrase(r) for r in raw if r]
            return list(dict.fromkeys(p for p in folded if p))

        return cls(
            products={key: phrases(key, product.name) for key, product in catalog.products.items()},
            tiers={key: phrases(key, tier.name) for key, tier in catalog.tiers.items()},
        )


def missing_synonyms(catalog, synonyms: Dict[str, List[str]]) -> List[str]:
    """ "product <key>" / "tier <key>" for every catalog entry that has no NLU synonym block."""
    return [f"product {key}" for key in catalog.products if not synonyms.get(key)] + [
        f"tier {key}" for key in catalog.tiers if not synonyms.get(key)
    ]


@lru_cache(maxsize=1)
def spellings() -> Spellings:
    """The spellings of the catalog in use, read once per process."""
    return Spellings.from_sources(bc.load_catalog(), nlu_synonyms())


def product_phrases() -> Dict[str, List[str]]:
    return spellings().products


PRODUCTS = tuple(bc.load_catalog().products)
TIERS = tuple(bc.load_catalog().tiers)

_CYCLE_PHRASES = {
    "yearly": [
        "theo nam",
        "hang nam",
        "moi nam",
        "1 nam",
        "mot nam",
        "12 thang",
        "yearly",
        "annual",
        "annually",
        "per year",
        "a year",
        "every year",
        "year",
        "nam",
    ],
    "monthly": [
        "theo thang",
        "hang thang",
        "moi thang",
        "1 thang",
        "mot thang",
        "monthly",
        "per month",
        "a month",
        "every month",
        "month",
        "thang",
    ],
}
_RENEWAL_PHRASES = {
    "auto": [
        "gia han tu dong",
        "tu dong gia han",
        "auto renewal",
        "auto renew",
        "automatic renewal",
        "renew automatically",
        "tu dong",
        "auto",
        "automatic",
        "automatically",
    ],
    "manual": ["gia han thu cong", "thu cong", "manual renewal", "manual", "manually", "tu gia han"],
}
# Capacity units after a number, folded. Order matters: the first matching kind wins.
_CAPACITY_UNITS: List[Tuple[str, str]] = [
    ("storage", r"(?:tb|gb|g|gigabyte|gigabytes)\b"),
    ("docs", r"(?:cleeksy docs|cleeksy doc|docs|doc|tai lieu)\b"),
    ("automation_runs", r"(?:luot chay tu dong|luot chay|automation runs|automation run|runs|run|luot)\b"),
    ("data_records", r"(?:ban ghi du lieu|ban ghi|data records|records|record)\b"),
]
_SEAT_UNITS = (
    r"(?:nguoi dung|nguoi|users|user|seats|seat|thanh vien|members|member|tai khoan|accounts|licenses|license)\b"
)
_NUMBER = r"(\d{1,3}(?:[.,]\d{3})+|\d+)(k)?"
_WORKSPACE_ID = re.compile(r"\b(?:workspace|ws)\s*[:#]?\s*([a-z0-9][a-z0-9_-]{1,62})", re.I)


@dataclass
class ParsedChange:
    product: Optional[str] = None
    tier: Optional[str] = None
    cycle: Optional[str] = None
    seats: Optional[int] = None
    capacity: Dict[str, int] = field(default_factory=dict)
    renewal_mode: Optional[str] = None


_TOKENS = re.compile(r"\d{1,3}(?:[.,]\d{3})+(?!\d)|\w+", re.UNICODE)


def folded_text(text: str) -> str:
    """Folded words joined by single spaces, padded so phrase matching can use word edges.

    Like helpdesk.text.folded_words, but "5.000" / "1,000" stay one number."""
    words: List[str] = []
    for raw in _TOKENS.findall(unicodedata.normalize("NFC", text or "")):
        words.extend(fold_token(raw).split())
    return " " + " ".join(words) + " "


def _find_phrases(padded: str, table: Dict[str, List[str]]) -> List[Tuple[int, str]]:
    """(position, key) for every key whose phrase occurs in ``padded`` (longest phrases first)."""
    found: List[Tuple[int, str]] = []
    taken: List[Tuple[int, int]] = []
    pairs = sorted(((p, k) for k, ps in table.items() for p in ps), key=lambda pk: -len(pk[0]))
    for phrase, key in pairs:
        for match in re.finditer(r"(?<= )" + re.escape(phrase) + r"(?= )", padded):
            start, end = match.start(), match.end()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            found.append((start, key))
    return sorted(found)


def _single(found: List[Tuple[int, str]], padded: str) -> Optional[str]:
    """One key, or the target of a "from X to Y" phrasing, or None when ambiguous."""
    keys = {k for _, k in found}
    if len(keys) == 1:
        return keys.pop()
    if not keys:
        return None
    for marker in (" sang ", " len ", " xuong ", " qua ", " thanh ", " to ", " into "):
        idx = padded.rfind(marker)
        if idx >= 0:
            after = [k for pos, k in found if pos > idx]
            if len(set(after)) == 1:
                return after[0]
    return None


def named_value(values: List[object], canonical, parsed: Optional[str]) -> Optional[str]:
    """The one value a message names, from the NLU's entity values and the parser's reading.

    When the entities name two different values ("hạ từ Standard xuống Starter", "from Premium to
    Starter") the first one is where the customer is, not where they go: the parser's reading
    (the value after "xuống"/"sang"/"lên"/"to") wins, and without one nothing is guessed."""
    keys: List[str] = []
    for value in values:
        key = canonical(value)
        if key and key not in keys:
            keys.append(key)
    if len(keys) > 1:
        return parsed
    return keys[0] if keys else parsed


def _to_int(number: str, thousands: Optional[str]) -> Optional[int]:
    digits = re.sub(r"[.,]", "", number)
    if not digits.isdigit() or len(digits) > 9:
        return None
    value = int(digits) * (1000 if thousands else 1)
    return value


def parse_product(text: str) -> Optional[str]:
    padded = folded_text(text)
    return _single(_find_phrases(padded, spellings().products), padded)


def parse_tier(text: str) -> Optional[str]:
    padded = folded_text(text)
    return _single(_find_phrases(padded, spellings().tiers), padded)


def parse_cycle(text: str) -> Optional[str]:
    padded = _without_capacity_and_seats(folded_text(_without_workspace_ids(text)))
    # "1 nam"/"12 thang" are a yearly cycle, "1 thang" a monthly one; "5 nam" (five years) or
    # "3 thang" are durations, not cycles, and must not count as one.
    padded = padded.replace(" 12 thang ", " yearly ").replace(" 1 nam ", " yearly ")
    padded = padded.replace(" 1 thang ", " monthly ")
    padded = re.sub(r" \d+ (?:nam|thang|years?|months?)(?= )", " ", padded)
    return _single(_find_phrases(padded, _CYCLE_PHRASES), padded)


def parse_renewal_mode(text: str, requested: bool = False) -> Optional[str]:
    """Manual/auto renewal. A bare "tu dong"/"auto" only counts when we asked for it, because
    "so luot chay tu dong" (automation runs) also contains it."""
    padded = _without_capacity_and_seats(folded_text(text))
    found = _find_phrases(padded, _RENEWAL_PHRASES)
    if not requested:
        explicit = {
            "gia han tu dong",
            "tu dong gia han",
            "auto renewal",
            "auto renew",
            "automatic renewal",
            "renew automatically",
            "gia han thu cong",
            "manual renewal",
        }
        found = [(pos, key) for pos, key in found if any(padded[pos:].startswith(e + " ") for e in explicit)]
    return _single(found, padded)


_VI_DIGITS = {
    "mot": 1,
    "hai": 2,
    "ba": 3,
    "bon": 4,
    "tu": 4,
    "nam": 5,
    "lam": 5,
    "sau": 6,
    "bay": 7,
    "tam": 8,
    "chin": 9,
}
_EN_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
}


def _number_words(words: List[str]) -> Optional[int]:
    """1-99 written in words: "muoi hai" (12), "hai muoi lam" (25), "twelve", "twenty"."""
    if len(words) == 1 and words[0] in _EN_NUMBERS:
        return _EN_NUMBERS[words[0]]
    if not words or any(w not in _VI_DIGITS and w != "muoi" for w in words):
        return None
    if "muoi" not in words:
        return _VI_DIGITS[words[0]] if len(words) == 1 else None
    at = words.index("muoi")
    tens = 1 if at == 0 else (_VI_DIGITS[words[0]] if at == 1 else None)
    rest = words[at + 1 :]
    if tens is None or len(rest) > 1:
        return None
    ones = _VI_DIGITS[rest[0]] if rest else 0
    return tens * 10 + ones


def parse_seats(text: str, bare_number_is_seats: bool = False) -> Optional[int]:
    """Seats from "10 nguoi", "10 users", "for 10 seats"; a bare "10" or "muoi hai" only when we
    asked. A negative number is no number of users."""
    if re.search(r"-\s*\d", text or ""):
        return None
    padded = folded_text(text)
    match = re.search(r" " + _NUMBER + r" " + _SEAT_UNITS, padded)
    if match:
        return _to_int(match.group(1), match.group(2))
    worded = re.search(r" ((?:[a-z]+ ){1,3})" + _SEAT_UNITS, padded)
    if worded:  # "muoi hai nguoi", "twelve users": the longest run of number words before the unit
        words = worded.group(1).split()
        for start in range(len(words)):
            number = _number_words(words[start:])
            if number:
                return number
    if bare_number_is_seats:
        stripped = padded.strip()
        bare = re.fullmatch(_NUMBER + r"(?: " + _SEAT_UNITS + r")?", stripped)
        if bare:
            return _to_int(bare.group(1), bare.group(2))
        words = re.sub(r" " + _SEAT_UNITS, " ", " " + stripped + " ").split()
        return _number_words(words) if len(words) <= 3 else None
    return None


def parse_capacity(text: str) -> Dict[str, int]:
    """{kind: amount} for every "<number> <unit>" in the text ("50GB", "2 TB", "1000 ban ghi")."""
    padded = " " + re.sub(r"(\d)([a-z])", r"\1 \2", folded_text(text).strip()) + " "
    result: Dict[str, int] = {}
    for kind, unit in _CAPACITY_UNITS:
        for match in re.finditer(r" " + _NUMBER + r" (?:them |more |extra |additional )?" + unit, padded):
            amount = _to_int(match.group(1), match.group(2))
            if amount is None:
                continue
            if kind == "storage" and re.match(
                r"tb\b", padded[match.end(2) if match.group(2) else match.end(1) :].strip()
            ):
                amount *= 1024
            result[kind] = result.get(kind, 0) + amount
    return result


def _without_capacity_and_seats(padded: str) -> str:
    cleaned = re.sub(r" " + _NUMBER + r" " + _SEAT_UNITS, " ", padded)
    for _, unit in _CAPACITY_UNITS:
        cleaned = re.sub(r" " + _NUMBER + r" ?" + unit, " ", cleaned)
    return " " + " ".join(cleaned.split()) + " "


def _without_workspace_ids(text: str) -> str:
    """The text without "workspace demo-monthly": an id must not read as a cycle or a tier."""
    return _WORKSPACE_ID.sub(lambda m: " " if _is_slug(m.group(1)) else m.group(0), fold(text or ""))


def _is_slug(candidate: str) -> bool:
    # Workspace ids are slugs like "demo-monthly" or "acme_42": requiring a digit, "-" or "_"
    # keeps ordinary words ("workspace plan", "workspace cua toi") from reading as an id.
    return bool(re.search(r"[-_0-9]", candidate))


def parse_change(text: str, requested_slot: Optional[str] = None) -> ParsedChange:
    """Every detail found in ``text``. ``requested_slot`` lets a bare answer ("10", "auto") count."""
    text = _without_workspace_ids(text)
    return ParsedChange(
        product=parse_product(text),
        tier=parse_tier(text),
        cycle=parse_cycle(text),
        seats=parse_seats(text, bare_number_is_seats=requested_slot == "seats"),
        capacity=parse_capacity(text),
        renewal_mode=parse_renewal_mode(text, requested=requested_slot == "renewal_mode"),
    )


def parse_workspace_id(text: str) -> Optional[str]:
    """A workspace id named in the text ("kiểm tra workspace demo-monthly"); agents only."""
    match = _WORKSPACE_ID.search(fold(text or ""))
    if not match:
        return None
    candidate = match.group(1).lower()
    return candidate if _is_slug(candidate) else None


# --- canonicalisation of entity values (NLU synonyms should already do this; folded text may not)


def canonical_product(value: object) -> Optional[str]:
    return _canonical(value, spellings().products, parse_product)


def canonical_tier(value: object) -> Optional[str]:
    return _canonical(value, spellings().tiers, parse_tier)


def canonical_cycle(value: object) -> Optional[str]:
    return _canonical(value, CYCLES, parse_cycle)


# The slots whose entity values name one catalog key: their canonical form.
CANONICAL_BY_SLOT = {"product": canonical_product, "tier": canonical_tier, "cycle": canonical_cycle}


def canonical_renewal_mode(value: object) -> Optional[str]:
    return _canonical(value, RENEWAL_MODES, lambda t: parse_renewal_mode(t, requested=True))


def canonical_capacity_kind(value: object) -> Optional[str]:
    if not isinstance(value, str):
        return None
    key = fold(value).replace(" ", "_")
    if key in CAPACITY_KINDS:
        return key
    kinds = list(parse_capacity("1 " + value))
    return kinds[0] if len(kinds) == 1 else None


def canonical_count(value: object, maximum: int = MAX_SEATS) -> Optional[int]:
    """A positive whole number (seats, capacity amount) from an entity value or text."""
    if isinstance(value, bool):
        return None
    number: Optional[int]
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*" + _NUMBER + r"\s*", fold(value))
        if not match:
            found = re.search(_NUMBER, fold(value))
            if not found:
                return None
            match = found
        number = _to_int(match.group(1), match.group(2))
        if number is None:
            return None
    else:
        return None
    return number if 0 < number <= maximum else None


def _canonical(value: object, keys, parser) -> Optional[str]:
    if not isinstance(value, str) or not value.strip():
        return None
    key = fold(value).replace(" ", "_")
    if key in keys:
        return key
    return parser(value)
