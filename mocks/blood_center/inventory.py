"""The blood centre's seeded inventory: products, and bags with valid ISBT 128 DINs, groups, volumes, dates and prices.

The seed is deterministic for a given day, so a spec can name what it expects ("the A RhD+ red cells"). Dates are
relative to the day the store is seeded; a few bags are already expired, so the rule that expired bags are never
issued has something to bite on.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from harness.contract.isbt128 import make_din

FACILITY = "B3201"
"""α + pppp of the DINs this centre assigns (the first five characters, the facility identification number)."""


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    unit: str
    """How orders count it: U (units per bag), mL (volume), TQ (one therapeutic dose per bag)."""
    bags: tuple[tuple[int, Decimal], ...]
    """(volume mL, units per bag) choices."""
    shelf_days: int
    price_per_unit: Decimal
    """Yuan per unit (U, mL or TQ); fen and parts of a fen, so that bills and reconciliations add up fractions."""


PRODUCTS: dict[str, Product] = {p.code: p for p in (
    Product("E0001", "悬浮红细胞", "U", ((150, Decimal(1)), (300, Decimal(2))), 35, Decimal("220.50")),
    Product("E0002", "去白细胞悬浮红细胞", "U", ((150, Decimal(1)), (300, Decimal(2))), 35, Decimal("280.35")),
    Product("E0003", "洗涤红细胞", "U", ((130, Decimal(1)), (260, Decimal(2))), 1, Decimal("316.45")),
    Product("E0004", "新鲜冰冻血浆", "mL", ((100, Decimal(100)), (200, Decimal(200))), 365, Decimal("0.835")),
    Product("E0005", "单采血小板", "TQ", ((250, Decimal(1)),), 5, Decimal("1653.25")),
    Product("E0006", "冷沉淀凝血因子", "U", ((25, Decimal(1)),), 365, Decimal("152.65")),
)}
GROUPS = (("A", "POS"), ("B", "POS"), ("O", "POS"), ("AB", "POS"), ("A", "NEG"), ("B", "NEG"), ("O", "NEG"), ("AB", "NEG"))
PER_GROUP = {"POS": 6, "NEG": 2}


def bag_price(product: Product, units: Decimal) -> Decimal:
    return (product.price_per_unit * units).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def seed_bags(now: datetime, seed: int = 2025) -> list[dict[str, Any]]:
    """Every bag of the starting inventory as a store document, keyed by DIN.

    Per product and group: 6 RhD-positive or 2 RhD-negative bags in date, and one expired bag; AB RhD-negative red
    cells (E0001) exist only expired, so an order for them cannot be issued.

    The bags are a function of the day (and time zone) of `now` alone, and the mock seeds them again on every reset
    (each scenario): they are made once per day and seed and handed out as fresh documents (a bag's values are
    strings and numbers, so a copy of each is the caller's own to change).
    """
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [dict(bag) for bag in _bags(today, today.tzinfo, seed)]


@functools.lru_cache(maxsize=8)
def _bags(today: datetime, zone: tzinfo | None, seed: int) -> tuple[dict[str, Any], ...]:
    """The bags of `seed_bags`; `zone` is in the key because aware times of one instant in two zones compare
    equal, while their dates and written offsets differ."""
    rng = random.Random(seed)
    year = f"{today.year % 100:02d}"
    sequence = 100000
    bags: list[dict[str, Any]] = []
    for product in PRODUCTS.values():
        for abo, rhd in GROUPS:
            wanted = PER_GROUP[rhd]
            if (product.code, abo, rhd) == ("E0001", "AB", "NEG"):
                wanted = 0
            for index in range(wanted + 1):
                sequence += 1
                volume, units = product.bags[index % len(product.bags)]
                expired = index == wanted
                if expired:
                    expires = today - timedelta(days=1 + rng.randrange(3), minutes=1)
                else:
                    expires = today + timedelta(days=max(1, product.shelf_days - rng.randrange(product.shelf_days)), hours=23, minutes=59)
                collected = (expires - timedelta(days=product.shelf_days)).date()
                din = make_din(f"{FACILITY}{year}{sequence:06d}")
                bags.append({
                    "din": din, "productCode": product.code, "abo": abo, "rhd": rhd, "volume": volume,
                    "units": str(units), "collectedOn": collected.isoformat(), "expiresAt": expires.isoformat(timespec="seconds"),
                    "price": str(bag_price(product, units)), "status": "AVAILABLE",
                })
    return tuple(bags)
