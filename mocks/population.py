"""A seeded synthetic population: people with valid resident ID numbers, insurance details and cards.

Nothing here is a real person: names are drawn from common characters, ID numbers are built with a valid birth date
and GB 11643 check character under a real area code.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from harness.contract.identifiers import resident_id_check_char

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬燕彬斌宇浩凯晨辰瑞雪梅琳琪欣怡子涵"
AREAS = ("330102", "330106", "310101", "440305", "510105", "110101", "320102")


@dataclass(frozen=True)
class Person:
    """One insured person as the insurance platform knows them."""

    psn_no: str
    psn_name: str
    certno: str
    gend: str
    naty: str
    brdy: str
    insutype: str
    psn_type: str
    psn_insu_stas: str
    psn_insu_date: str
    insuplc_admdvs: str
    emp_name: str
    balc: str
    card_no: str
    """社会保障卡号: the mdtrt_cert_no for mdtrt_cert_type 03."""
    card_sn: str
    """卡识别码 of the social security card."""
    ec_token: str
    """医保电子凭证令牌: the mdtrt_cert_no for mdtrt_cert_type 01."""
    role: str = "regular"

    def age_on(self, day: date) -> int:
        born = date.fromisoformat(self.brdy)
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _person(rng: random.Random, index: int, role: str, insutype: str, status: str, balance: Decimal) -> Person:
    area = rng.choice(AREAS)
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 80))
    sequence = rng.randrange(0, 1000)
    male = rng.random() < 0.5
    seq_digit = sequence - sequence % 2 + (1 if male else 0)  # the 17th digit is odd for men, even for women
    body = f"{area}{born:%Y%m%d}{seq_digit:03d}"[:17]
    certno = body + resident_id_check_char(body)
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    admdvs = area[:4] + "00"
    return Person(
        psn_no=f"{admdvs}{index:020d}",
        psn_name=name,
        certno=certno,
        gend="1" if int(certno[16]) % 2 else "2",
        naty="01" if rng.random() < 0.9 else rng.choice(("02", "03", "04", "05")),
        brdy=born.isoformat(),
        insutype=insutype,
        psn_type="11" if insutype == "310" else "1501",
        psn_insu_stas=status,
        psn_insu_date=(born + timedelta(days=365 * 20)).isoformat(),
        insuplc_admdvs=admdvs,
        emp_name="示例单位" if insutype == "310" else "",
        balc=f"{balance:.2f}",
        card_no=f"{rng.choice('ABCDEFGH')}{rng.randrange(10**7, 10**8)}",
        card_sn=f"{rng.getrandbits(128):032X}",
        ec_token=f"{rng.getrandbits(160):040x}",
        role=role,
    )


def generate(seed: int = 20261122, size: int = 200) -> list[Person]:
    """`size` people from `seed`; the first few have fixed roles the specs ask for by name."""
    rng = random.Random(seed)
    roles = [
        ("employee", "310", "1", Decimal("1500.00")),     # 职工医保, account with money
        ("resident", "390", "1", Decimal("0.00")),        # 城乡居民, no personal account
        ("suspended", "310", "2", Decimal("800.00")),     # insurance suspended (暂停参保)
        ("low-balance", "310", "1", Decimal("20.00")),    # account smaller than the co-payment
    ]
    people = [_person(rng, i + 1, role, t, s, b) for i, (role, t, s, b) in enumerate(roles)]
    for index in range(len(people) + 1, size + 1):
        insutype = "310" if rng.random() < 0.6 else "390"
        balance = Decimal(rng.randrange(0, 500_000)) / 100 if insutype == "310" else Decimal(0)
        people.append(_person(rng, index, "regular", insutype, "1", balance))
    return people
