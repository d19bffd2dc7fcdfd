"""Serve the HTML files of webapp/templates (helpcenter_*, agent_*) without a template engine.

The pages are static HTML; the only dynamic part is a JSON configuration block read by the
page's script, serialised so that no value can close the <script> element.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

from sanic import response

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
CONFIG_MARK = "{{CONFIG_JSON}}"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=None)
def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def script_safe_json(value: Dict[str, Any]) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def content_security_policy(connect_sources: str) -> str:
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
        f"connect-src 'self' {connect_sources}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ).replace("  ", " ")


def page(name: str, config: Dict[str, Any], connect_sources: str = "") -> Any:
    html = _template(name).replace(CONFIG_MARK, script_safe_json(config))
    headers = dict(SECURITY_HEADERS)
    headers["Content-Security-Policy"] = content_security_policy(connect_sources)
    return response.html(html, headers=headers)


def widget_built() -> bool:
    return (STATIC / "dist" / "widget.js").exists()
