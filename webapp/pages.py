"""Minimal HTML pages without a template engine: every dynamic value goes through ``esc``."""

from __future__ import annotations

from html import escape
from typing import Any

import billing_core as bc


def esc(value: Any) -> str:
    """HTML-escape anything (quotes included), so user-provided text can never become markup."""
    return escape("" if value is None else str(value), quote=True)


STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f6fa;color:#1d2433;margin:0}
.brand{display:flex;align-items:center;gap:8px;background:#123f8c;color:#fff;padding:12px 20px}
.brand a{color:#fff;text-decoration:none;font-weight:bold;font-size:1.15rem}.brand span{opacity:.85}
main{max-width:560px;margin:32px auto;background:#fff;border-radius:12px;padding:28px 32px;
box-shadow:0 2px 12px rgba(0,0,0,.08);overflow-wrap:anywhere}
.actions{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center}
a.primary{display:inline-block;background:#1b5fd1;color:#fff;text-decoration:none;padding:10px 16px;border-radius:8px}
@media (max-width:600px){main{margin:12px;padding:18px 16px}dl{grid-template-columns:1fr;gap:2px}dd{margin-bottom:8px}}
h1{font-size:1.4rem;margin:0 0 12px}
.ok{color:#0a7a3d}.bad{color:#b42318}.wait{color:#9a6700}
.note{background:#fff4d6;border:1px solid #f0c36d;border-radius:8px;padding:10px 12px;margin:0 0 16px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px}dt{color:#5b6475}dd{margin:0}
button{font-size:1rem;padding:10px 16px;margin:4px 6px 4px 0;border-radius:8px;border:1px solid #c3cad6;
background:#fff;cursor:pointer}button.primary{background:#005baa;color:#fff;border-color:#005baa}
a{color:#005baa}
"""


BRAND = {"vi": "Trung tâm trợ giúp", "en": "Help center"}


def page(title: str, body_html: str, lang: str = "vi", refresh_seconds: int = 0, brand: bool = True) -> str:
    """A whole HTML document (with the Cleeksy header unless ``brand`` is False). ``body_html`` must
    already be escaped by the caller."""
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else ""
    header = (
        f'<header class="brand"><a href="/">Cleeksy</a><span>{esc(BRAND["en" if lang == "en" else "vi"])}</span>'
        "</header>"
        if brand
        else ""
    )
    return (
        f'<!doctype html><html lang="{"en" if lang == "en" else "vi"}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">{refresh}'
        f"<title>{esc(title)} – Cleeksy</title><style>{STYLE}</style></head><body>{header}<main>{body_html}</main>"
        "</body></html>"
    )


def format_vnd(amount: Any) -> str:
    """1250000 -> "1.250.000 ₫": billing_core's one money formatter, escaped for a page."""
    try:
        return esc(bc.format_vnd(int(amount), "vi"))
    except (TypeError, ValueError):
        return esc(amount)
