"""Mask patient identifiers in everything a report or log shows: by field name in JSON, by pattern in raw text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_FIELDS = frozenset({
    "certno", "mdtrt_cert_no", "psn_name", "card_sn", "psn_no", "tel", "addr", "coner_name", "medrcdno",
    "patient_name", "name", "id_card", "idcard", "phone", "mobile", "address", "mrn",
})
_RESIDENT_ID = re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dX])(?![\dX])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_value(value: str) -> str:
    """Keep enough to tell records apart, hide the rest: 330106********1234, 张*, 138****5678."""
    if len(value) <= 1:
        return "*"
    if len(value) <= 3:
        return value[0] + "*" * (len(value) - 1)
    keep = 4 if len(value) >= 12 else 1
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


@dataclass
class Masker:
    """Masks JSON documents by field name and free text by the shapes of ID numbers and mobile numbers."""

    fields: frozenset[str] = field(default_factory=lambda: DEFAULT_FIELDS)

    @classmethod
    def default(cls) -> Masker:
        return cls()

    def json(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (mask_value(str(v)) if k in self.fields and isinstance(v, str | int) and v != "" else self.json(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [self.json(v) for v in node]
        if isinstance(node, str):
            return self.text(node)
        return node

    def text(self, text: str) -> str:
        text = _RESIDENT_ID.sub(lambda m: m.group(1) + "*" * 8 + m.group(3)[-1:].rjust(4, "*"), text)
        return _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)

    def exchange(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A journal entry (Exchange.to_dict) with every identifier masked, parsed and raw forms alike."""
        out = dict(entry)
        for side in ("request", "response"):
            parsed = entry.get(side)
            if parsed is not None:
                out[side] = self.json(parsed)
            raw = entry.get(f"{side}_raw")
            if raw and "text" in raw:
                try:
                    out[f"{side}_raw"] = {"text": json.dumps(self.json(json.loads(raw["text"])), ensure_ascii=False)}
                except ValueError:
                    out[f"{side}_raw"] = {"text": self.text(raw["text"])}
        return out
