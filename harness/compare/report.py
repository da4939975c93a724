"""report.html of `hih compare`: "线上报文变化 / What changed on the wire", one self-contained page.

Built from compare.json through a jinja2 template with autoescaping on (every value is untrusted text, masked in the
runs' evidence already); no request leaves the page (a Content-Security-Policy allows only its inline style).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

HERE = Path(__file__).parent
KIND_LABEL = {"changed": ("字段不同", "fields differ"), "only_old": ("仅旧版发送", "sent by OLD only"),
              "only_new": ("仅新版发送", "sent by NEW only")}


def render(document: dict[str, Any]) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("compare.html.j2").render(doc=document, kinds=KIND_LABEL)
