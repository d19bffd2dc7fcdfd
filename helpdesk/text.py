"""Text helpers shared by the NLU components, the actions and the web app.

Vietnamese customers often type without diacritics and with chat abbreviations. Everything
that compares words compares their *folded* form: NFC, lower case, marks removed, đ -> d,
and common abbreviations expanded. The original text is never replaced, only read.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, List

# Chat abbreviations -> folded full words. Keys and values are already folded.
ABBREVIATIONS = {
    "ko": "khong",
    "k": "khong",
    "kg": "khong",
    "khg": "khong",
    "hok": "khong",
    "hong": "khong",
    "dc": "duoc",
    "dk": "duoc",
    "đc": "duoc",
    "ntn": "nhu the nao",
    "nt": "nhu the",
    "j": "gi",
    "gj": "gi",
    "z": "vay",
    "v": "vay",
    "vs": "voi",
    "mk": "minh",
    "mik": "minh",
    "m": "minh",
    "bn": "bao nhieu",
    "bnh": "bao nhieu",
    "tk": "tai khoan",
    "tt": "thanh toan",
    "ng": "nguoi",
    "ngta": "nguoi ta",
    "r": "roi",
    "ns": "noi",
    "e": "em",
    "a": "anh",
    "ak": "a",
    "ah": "a",
    "oke": "ok",
    "okie": "ok",
    "okela": "ok",
    "thx": "thanks",
    "tks": "thanks",
    "ty": "thank you",
    "pls": "please",
    "plz": "please",
    "u": "you",
    "ur": "your",
    "b": "ban",
    "cx": "cung",
    "cg": "cung",
    "trc": "truoc",
    "ms": "moi",
    "lm": "lam",
    "ss": "so sanh",
    "gb": "gb",
    "khum": "khong",
    "hum": "khong",
    "bik": "biet",
    "bit": "biet",
    "s": "sao",
    "hnay": "hom nay",
    "tg": "thoi gian",
    "tgian": "thoi gian",
    "cty": "cong ty",
    "nv": "nhan vien",
    "nvien": "nhan vien",
    "mn": "moi nguoi",
    "sd": "su dung",
    "mun": "muon",
    "nhiu": "nhieu",
    "wa": "qua",
    "lun": "luon",
    "dzay": "vay",
    "nx": "nua",
    "dky": "dang ky",
    "nchung": "noi chung",
    "bh": "bao gio",
    "bgio": "bao gio",
    "hqua": "hom qua",
}

# The subset of ABBREVIATIONS that is English chat shorthand.
ENGLISH_ABBREVIATIONS = {
    key: ABBREVIATIONS[key] for key in ("thx", "tks", "ty", "pls", "plz", "u", "ur", "oke", "okie")
}

_TOKEN = re.compile(r"\w+", re.UNICODE)
_VIETNAMESE_MARKS = re.compile("[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]")

# Folded words that are common in Vietnamese chat and rare in English (and the reverse).
_VI_WORDS = frozenset(
    """toi minh em anh chi ban cua co khong duoc gi sao the nao lam muon can goi nang ha cap
    chuyen doi thanh toan nam thang dung thu mien phi xoa du lieu dung luong gia han tu dong
    thu cong bao nhieu ngay con nhe a oi vay roi nua ma la va voi cho hay hoac chu ky nguoi
    dung khong gian viec so quy trinh van hanh xay ung chao cam on tam biet duoc huy tra
    hoi giup ho tro ket noi nhan vien tai khoan hoa don phi bi loi het han tiep theo""".split()
)
_EN_WORDS = frozenset(
    """i my me we our you your the a an is are am can cannot can't could how what when why
    which where do does did to of for in on at with and or not no yes please thanks thank
    upgrade downgrade plan plans pay payment paid yearly monthly annual billing cycle trial
    free data deleted delete storage capacity renewal renew next change switch users seats
    hello hi hey bye goodbye help workspace app builder operations workflow digital will be
    there left days it this that have has get go want would like""".split()
)


def fold(text: str) -> str:
    """Folded form of ``text``: NFC, lower case, no marks, đ -> d, single spaces."""
    text = unicodedata.normalize("NFC", text or "").lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.split())


def fold_token(token: str, language: str = "vi") -> str:
    """Folded form of one token, with chat abbreviations expanded (may contain spaces).

    In English text only the English chat abbreviations are expanded: "a", "m", "v" are
    ordinary English words there, not "anh", "minh", "vay".
    """
    folded = fold(token)
    if language == "en":
        return ENGLISH_ABBREVIATIONS.get(folded, folded)
    return ABBREVIATIONS.get(folded, folded)


def folded_words(text: str) -> List[str]:
    """Folded words of ``text`` with abbreviations expanded, punctuation dropped."""
    words: List[str] = []
    for raw in _TOKEN.findall(unicodedata.normalize("NFC", text or "")):
        words.extend(fold_token(raw).split())
    return words


def has_vietnamese_marks(text: str) -> bool:
    return bool(_VIETNAMESE_MARKS.search(unicodedata.normalize("NFC", (text or "").lower())))


def detect_language(text: str, default: str = "vi") -> str:
    """``"vi"`` or ``"en"``: diacritics decide at once; otherwise count telling words.

    Ties and texts with no telling word keep ``default`` (the conversation's language so far),
    so that "ok" or "10" never flips the language of a conversation.
    """
    if has_vietnamese_marks(text):
        return "vi"
    raw_words = [w.lower() for w in _TOKEN.findall(text or "")]
    expanded = folded_words(text)
    vi = sum(1 for w in expanded if w in _VI_WORDS)
    en = sum(1 for w in raw_words if w in _EN_WORDS)
    if en > vi:
        return "en"
    if vi > en:
        return "vi"
    return default


def contains_any(words: Iterable[str], phrases: Iterable[str]) -> bool:
    """Whether any folded ``phrase`` (one or more words) occurs in the folded ``words``."""
    joined = " " + " ".join(words) + " "
    return any(" " + p + " " in joined for p in phrases)
